package compat

import (
	"net"
	"regexp"
	"strings"
	"testing"

	"nsqreactor/internal/testutil"
)

var httpsListenRE = regexp.MustCompile(`HTTPS: listening on (\S+)`)

// httpsAddr waits for the daemon's "HTTPS: listening on <addr>" line.
func httpsAddr(t *testing.T, d *testutil.Daemon) string {
	t.Helper()
	var addr string
	waitFor(t, "HTTPS: listening on", func() bool {
		if m := httpsListenRE.FindStringSubmatch(d.Logs()); m != nil {
			addr = m[1]
		}
		return addr != ""
	})
	return addr
}

// Spec §5.1: with a TLS certificate the same API is served over HTTPS on
// --https-address (and /info there reports the plain HTTP port); without
// one there is no HTTPS listener.
func TestHTTPS(t *testing.T) {
	pki := newTestPKI(t)
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t, pki.flags()...)
		addr := httpsAddr(t, d)
		cfg := pki.clientConfig(nil)
		_, httpPort, _ := net.SplitHostPort(d.HTTPAddr)
		if r := httpsDo(t, addr, cfg, req{Method: "GET", Target: "/info"}); r.Status != 200 || !strings.Contains(r.Body, `"http_port":`+httpPort+`,`) {
			t.Errorf("HTTPS /info: %d %s", r.Status, r.Body)
		}
		if r := httpsDo(t, addr, cfg, req{Method: "POST", Target: "/pub?topic=tls", Body: "x"}); r.Status != 200 || r.Body != "OK" {
			t.Errorf("HTTPS /pub: %d %s", r.Status, r.Body)
		}
		expectV1Error(t, "HTTPS /nope", httpsDo(t, addr, cfg, req{Method: "GET", Target: "/nope"}), 404, "NOT_FOUND")
		if r := get(t, d.HTTPAddr, "/ping"); r.Status != 200 {
			t.Errorf("plain /ping without --tls-required: %d %s", r.Status, r.Body)
		}
		d.Stop()
		if logs := d.Logs(); !strings.Contains(logs, "HTTP: closing "+d.HTTPAddr) || !strings.Contains(logs, "HTTPS: closing "+addr) {
			t.Errorf("closing lines missing:\n%s", logs)
		}

		plain := impl.Start(t)
		get(t, plain.HTTPAddr, "/ping")
		if strings.Contains(plain.Logs(), "HTTPS:") {
			t.Errorf("HTTPS listener without a certificate:\n%s", plain.Logs())
		}
	})
}

// Spec §5.1: under --tls-required=true the plain listener answers every
// request (any path, any method) 403 with upstream's exact body; HTTPS works.
// --tls-required=tcp-https leaves plain HTTP alone.
func TestHTTPTLSRequired(t *testing.T) {
	pki := newTestPKI(t)
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t, pki.flags("--tls-required=true")...)
		addr := httpsAddr(t, d)
		_, httpsPort, _ := net.SplitHostPort(addr)
		want := `{"message": "TLS_REQUIRED", "https_port": ` + httpsPort + `}`
		for _, r := range []req{
			{Method: "GET", Target: "/ping"}, {Method: "GET", Target: "/nope"}, {Method: "OPTIONS", Target: "/ping"},
			{Method: "POST", Target: "/pub?topic=t", Body: "x"}, {Method: "GET", Target: "/ping/"},
		} {
			got := httpDo(t, d.HTTPAddr, r)
			if got.Status != 403 || got.Body != want {
				t.Errorf("%s %s: got %d %q, want 403 %q", r.Method, r.Target, got.Status, got.Body, want)
			}
			expectHeader(t, r.Target, got, "Content-Type", "application/json; charset=utf-8")
			expectHeader(t, r.Target, got, "X-Nsq-Content-Type", "nsq; version=1.0")
		}
		if r := httpsDo(t, addr, pki.clientConfig(nil), req{Method: "GET", Target: "/ping"}); r.Status != 200 || r.Body != "OK" {
			t.Errorf("HTTPS /ping: %d %q", r.Status, r.Body)
		}

		d2 := impl.Start(t, pki.flags("--tls-required=tcp-https")...)
		if r := get(t, d2.HTTPAddr, "/ping"); r.Status != 200 || r.Body != "OK" {
			t.Errorf("plain /ping under tcp-https: %d %q", r.Status, r.Body)
		}
	})
}
