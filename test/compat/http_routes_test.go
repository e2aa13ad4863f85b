package compat

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"nsqreactor/internal/testutil"
)

// Spec §5.1/§5.2: the router. Unknown paths, wrong methods, OPTIONS, HEAD,
// trailing-slash and case redirects (httprouter's), removed pre-1.0 aliases
// and the pprof routes upstream has (and the ones it lacks).
func TestHTTPRouting(t *testing.T) {
	type want struct {
		status   int
		allow    string // Allow header; "" = absent
		location string // Location header; "" = absent
		body     string // exact body; "*" = any
		ctype    string // Content-Type; "*" = any, "" = absent
		v1       bool   // X-Nsq-Content-Type expected
	}
	notFound := want{404, "", "", `{"message":"NOT_FOUND"}`, "application/json; charset=utf-8", true}
	notAllowed := func(allow string) want {
		return want{405, allow, "", `{"message":"METHOD_NOT_ALLOWED"}`, "application/json; charset=utf-8", true}
	}
	moved := func(loc string) want {
		return want{301, "", loc, `<a href="` + strings.ReplaceAll(loc, "&", "&amp;") + `">Moved Permanently</a>.` + "\n\n", "text/html; charset=utf-8", false}
	}
	temporary := func(loc string) want { return want{307, "", loc, "", "", false} }
	options := func(allow string) want { return want{200, allow, "", "", "", false} }

	cases := []struct {
		method, target string
		want           want
	}{
		{"GET", "/ping", want{200, "", "", "OK", "text/plain; charset=utf-8", false}},
		{"GET", "/nope", notFound},
		{"POST", "/nope", notFound},
		{"GET", "/", notFound},
		{"OPTIONS", "/nope", notFound},
		{"OPTIONS", "/ping/", notFound},
		{"PATCH", "/nope", notFound},
		{"POST", "/ping", notAllowed("GET, OPTIONS")},
		{"DELETE", "/ping", notAllowed("GET, OPTIONS")},
		{"HEAD", "/ping", want{405, "GET, OPTIONS", "", "", "application/json; charset=utf-8", true}},
		{"GET", "/pub", notAllowed("OPTIONS, POST")},
		{"GET", "/pub?topic=t", notAllowed("OPTIONS, POST")},
		{"PUT", "/stats", notAllowed("GET, OPTIONS")},
		{"POST", "/config/log_level", notAllowed("GET, OPTIONS, PUT")},
		{"GET", "/topic/create?topic=t", notAllowed("OPTIONS, POST")},
		{"GET", "/debug/setblockrate", notAllowed("OPTIONS, PUT")},
		{"GET", "/debug/freememory", notAllowed("OPTIONS, POST")},
		{"PUT", "/debug/pprof/symbol", notAllowed("GET, OPTIONS, POST")},
		{"OPTIONS", "/ping", options("GET, OPTIONS")},
		{"OPTIONS", "/pub", options("OPTIONS, POST")},
		{"OPTIONS", "/config/anything", options("GET, OPTIONS, PUT")},
		{"OPTIONS", "/debug/pprof/symbol", options("GET, OPTIONS, POST")},
		// redirects: trailing slash, then cleaned + case-insensitive path
		{"GET", "/ping/", moved("/ping")},
		{"GET", "/PING", moved("/ping")},
		{"GET", "/Ping/", moved("/ping")},
		{"GET", "//ping", moved("/ping")},
		{"GET", "/a/../ping", moved("/ping")},
		{"GET", "/./ping", moved("/ping")},
		{"GET", "/ping%2F", moved("/ping")},
		{"GET", "/stats/?format=json&topic=a", moved("/stats?format=json&topic=a")},
		{"GET", "/debug/pprof", moved("/debug/pprof/")},
		{"GET", "/Debug/Pprof/", moved("/debug/pprof/")},
		{"GET", "/config/msg_timeout/", moved("/config/msg_timeout")},
		{"GET", "/CONFIG/msg_timeout", moved("/config/msg_timeout")},
		{"POST", "/pub/?topic=a", temporary("/pub?topic=a")},
		{"POST", "/PUB?topic=a", temporary("/pub?topic=a")},
		{"POST", "/Topic/Create?topic=a", temporary("/topic/create?topic=a")},
		{"PUT", "/config/log_level/", temporary("/config/log_level")},
		{"GET", "/ping?x=1/", want{200, "", "", "OK", "text/plain; charset=utf-8", false}},
		{"GET", "/pub/", notFound},
		{"PUT", "/pub/", notFound},
		{"GET", "/config", notFound},
		{"GET", "/config/", notFound},
		{"GET", "/config/a/b", notFound},
		{"GET", "/pingx", notFound},
		{"GET", "/ping%00", notFound},
		{"GET", "/p%zzing", want{400, "", "", "400 Bad Request", "text/plain; charset=utf-8", false}},
		{"GET", "/ping%2", want{400, "", "", "400 Bad Request", "text/plain; charset=utf-8", false}},
		// pre-1.0 aliases are gone
		{"POST", "/put?topic=a", notFound},
		{"POST", "/mput?topic=a", notFound},
		{"GET", "/create_topic?topic=a", notFound},
		{"GET", "/delete_topic?topic=a", notFound},
		{"GET", "/empty_topic?topic=a", notFound},
		{"GET", "/pause_topic?topic=a", notFound},
		{"GET", "/unpause_topic?topic=a", notFound},
		{"GET", "/create_channel?topic=a&channel=b", notFound},
		{"GET", "/delete_channel?topic=a&channel=b", notFound},
		{"GET", "/empty_channel?topic=a&channel=b", notFound},
		{"GET", "/pause_channel?topic=a&channel=b", notFound},
		{"GET", "/unpause_channel?topic=a&channel=b", notFound},
		// pprof: the routed ones, and the ones upstream lacks
		{"GET", "/debug/pprof/", want{200, "", "", "*", "text/html; charset=utf-8", false}},
		{"GET", "/debug/pprof/cmdline", want{200, "", "", "*", "text/plain; charset=utf-8", false}},
		{"GET", "/debug/pprof/symbol", want{200, "", "", "*", "text/plain; charset=utf-8", false}},
		{"POST", "/debug/pprof/symbol", want{200, "", "", "num_symbols: 1\n", "text/plain; charset=utf-8", false}},
		{"GET", "/debug/pprof/heap", want{200, "", "", "*", "application/octet-stream", false}},
		{"GET", "/debug/pprof/goroutine?debug=1", want{200, "", "", "*", "text/plain; charset=utf-8", false}},
		{"GET", "/debug/pprof/block", want{200, "", "", "*", "application/octet-stream", false}},
		{"GET", "/debug/pprof/threadcreate", want{200, "", "", "*", "application/octet-stream", false}},
		{"GET", "/debug/pprof/profile?seconds=1", want{200, "", "", "*", "application/octet-stream", false}},
		{"GET", "/debug/pprof/allocs", notFound},
		{"GET", "/debug/pprof/mutex", notFound},
		{"GET", "/debug/pprof/trace", notFound},
		{"GET", "/debug/pprof/heap/", moved("/debug/pprof/heap")},
	}
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		for _, tc := range cases {
			t.Run(tc.method+" "+tc.target, func(t *testing.T) {
				t.Parallel()
				r := httpDo(t, d.HTTPAddr, req{Method: tc.method, Target: tc.target})
				w := tc.want
				if r.Status != w.status || (w.body != "*" && r.Body != w.body) {
					t.Errorf("got %d %q, want %d %q", r.Status, r.Body, w.status, w.body)
				}
				expectHeader(t, "Allow", r, "Allow", w.allow)
				expectHeader(t, "Location", r, "Location", w.location)
				if w.ctype != "*" {
					expectHeader(t, "Content-Type", r, "Content-Type", w.ctype)
				}
				v1 := ""
				if w.v1 {
					v1 = "nsq; version=1.0"
				}
				expectHeader(t, "X-Nsq-Content-Type", r, "X-Nsq-Content-Type", v1)
			})
		}
	})
}

// Spec §5.1: the HTTP listener on a unix socket (a path as --http-address):
// same API, "HTTP: listening on <path>", /info http_port -1, the socket
// file removed at shutdown.
func TestHTTPUnixSocket(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		sock := filepath.Join(t.TempDir(), "h.sock")
		d := impl.Start(t, "--http-address="+sock)
		if d.HTTPAddr != sock {
			t.Fatalf("HTTP: listening on %q, want %q", d.HTTPAddr, sock)
		}
		if r := get(t, sock, "/ping"); r.Status != 200 || r.Body != "OK" {
			t.Fatalf("/ping: got %d %q", r.Status, r.Body)
		}
		info := get(t, sock, "/info")
		if !strings.Contains(info.Body, `"http_port":-1,`) {
			t.Errorf("/info: %s, want http_port -1", info.Body)
		}
		for opt, want := range map[string]string{"broadcast_http_port": "0", "statsd_prefix": "nsq." + hostKey(t) + "_0."} {
			if r := get(t, sock, "/config/"+opt); r.Body != want {
				t.Errorf("/config/%s: got %q, want %q", opt, r.Body, want)
			}
		}
		d.Stop()
		if _, err := os.Stat(sock); !os.IsNotExist(err) {
			t.Errorf("socket %s still exists after shutdown (%v)", sock, err)
		}
		if !strings.Contains(d.Logs(), "HTTP: closing "+sock) {
			t.Errorf("no %q log line:\n%s", "HTTP: closing "+sock, d.Logs())
		}
	})
}

// Spec §5.1: --http-address="" disables HTTP; the TCP listener still works.
func TestHTTPDisabled(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t, "--http-address=")
		if d.HTTPAddr != "" {
			t.Fatalf("HTTP: listening on %q with --http-address=\"\"", d.HTTPAddr)
		}
		testutil.Dial(t, d.TCPAddr).Pub(t, "t", []byte("x"))
	})
}

// The listening and closing log lines, with the real bound address.
func TestHTTPLogLines(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		if !regexp.MustCompile(`^127\.0\.0\.1:[1-9][0-9]*$`).MatchString(d.HTTPAddr) {
			t.Fatalf("HTTP: listening on %q, want 127.0.0.1:<port>", d.HTTPAddr)
		}
		// Both daemons log their listening lines a moment before they
		// install their SIGTERM handler; a signal in between kills them
		// without the closing lines.
		get(t, d.HTTPAddr, "/ping")
		time.Sleep(200 * time.Millisecond)
		d.Stop()
		// (upstream prints these lines from its listener goroutines, so
		// their order varies; ours prints TCP then HTTP)
		logs := d.Logs()
		if !strings.Contains(logs, "TCP: closing "+d.TCPAddr) || !strings.Contains(logs, "HTTP: closing "+d.HTTPAddr) {
			t.Errorf("want \"TCP: closing %s\" and \"HTTP: closing %s\" in:\n%s", d.TCPAddr, d.HTTPAddr, logs)
		}
	})
}

// hostKey is upstream's statsd host key of the default broadcast address
// (the OS hostname): dots and colons become underscores.
func hostKey(t *testing.T) string {
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return strings.NewReplacer(".", "_", ":", "_").Replace(h)
}
