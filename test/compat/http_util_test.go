package compat

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"nsqreactor/internal/testutil"
)

// Helpers of the HTTP API tests (spec §5). Requests are written by hand on a
// fresh connection, so a test controls every byte (odd paths, chunked
// bodies, lying Content-Length) and no client-side normalization hides what
// the server does.

// httpTimeout bounds one request: connect, write and read.
const httpTimeout = 10 * time.Second

// httpResult is one response.
type httpResult struct {
	Status int
	Header http.Header
	Body   string
}

// req describes one request. Body is sent with a Content-Length unless
// Chunked is set (then with Transfer-Encoding: chunked, in one chunk) or
// NoLength is set (then Content-Length is taken from Headers).
type req struct {
	Method, Target string
	Body           string
	Chunked        bool
	Headers        []string // "Name: value"
}

// httpDo sends r to addr (host:port, or a unix socket path) and returns the
// response; the connection is closed afterwards.
func httpDo(t *testing.T, addr string, r req) httpResult {
	t.Helper()
	return httpsDo(t, addr, nil, r)
}

// httpsDo is httpDo over TLS with cfg (plain HTTP when cfg is nil).
func httpsDo(t *testing.T, addr string, cfg *tls.Config, r req) httpResult {
	t.Helper()
	conn := dialHTTP(t, addr)
	if cfg != nil {
		conn = tls.Client(conn, cfg)
	}
	defer conn.Close()
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: nsqd\r\nConnection: close\r\n", r.Method, r.Target)
	for _, h := range r.Headers {
		b.WriteString(h + "\r\n")
	}
	hasLength := false
	for _, h := range r.Headers {
		hasLength = hasLength || strings.HasPrefix(strings.ToLower(h), "content-length:")
	}
	switch {
	case r.Chunked:
		b.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		if r.Body != "" {
			fmt.Fprintf(&b, "%x\r\n%s\r\n", len(r.Body), r.Body)
		}
		b.WriteString("0\r\n\r\n")
	case hasLength:
		b.WriteString("\r\n" + r.Body)
	case r.Body != "" || r.Method == "POST" || r.Method == "PUT":
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(r.Body), r.Body)
	default:
		b.WriteString("\r\n")
	}
	if _, err := conn.Write(b.Bytes()); err != nil {
		t.Fatalf("%s %s: write: %v", r.Method, r.Target, err)
	}
	return readHTTP(t, conn, r.Method, r.Target)
}

// get is httpDo for a body-less GET.
func get(t *testing.T, addr, target string) httpResult {
	t.Helper()
	return httpDo(t, addr, req{Method: "GET", Target: target})
}

// post is httpDo for a POST with body.
func post(t *testing.T, addr, target, body string) httpResult {
	t.Helper()
	return httpDo(t, addr, req{Method: "POST", Target: target, Body: body})
}

func dialHTTP(t *testing.T, addr string) net.Conn {
	t.Helper()
	network := "tcp"
	if strings.HasPrefix(addr, "/") {
		network = "unix"
	}
	conn, err := net.DialTimeout(network, addr, httpTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	conn.SetDeadline(time.Now().Add(httpTimeout))
	return conn
}

func readHTTP(t *testing.T, conn net.Conn, method, target string) httpResult {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: read response: %v", method, target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, target, err)
	}
	return httpResult{Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
}

// expectV1Error checks a V1 error answer: status, exact JSON body, JSON
// Content-Type and the X-NSQ-Content-Type header.
func expectV1Error(t *testing.T, what string, r httpResult, status int, code string) {
	t.Helper()
	want := `{"message":"` + code + `"}`
	if r.Status != status || r.Body != want {
		t.Errorf("%s: got %d %q, want %d %q", what, r.Status, r.Body, status, want)
	}
	expectHeader(t, what, r, "Content-Type", "application/json; charset=utf-8")
	expectHeader(t, what, r, "X-Nsq-Content-Type", "nsq; version=1.0")
}

// expectV1 checks a V1 success: 200, exact body, Content-Type (none when
// want is "") and X-NSQ-Content-Type.
func expectV1(t *testing.T, what string, r httpResult, body, contentType string) {
	t.Helper()
	if r.Status != 200 || r.Body != body {
		t.Errorf("%s: got %d %q, want 200 %q", what, r.Status, r.Body, body)
	}
	expectHeader(t, what, r, "Content-Type", contentType)
	expectHeader(t, what, r, "X-Nsq-Content-Type", "nsq; version=1.0")
}

// expectHeader checks one header; want "" means absent.
func expectHeader(t *testing.T, what string, r httpResult, name, want string) {
	t.Helper()
	got, present := r.Header.Get(name), len(r.Header.Values(name)) > 0
	if want == "" && present {
		t.Errorf("%s: header %s = %q, want none", what, name, got)
	} else if want != "" && got != want {
		t.Errorf("%s: header %s = %q, want %q", what, name, got, want)
	}
}

// statsJSON fetches /stats?format=json<extra> and decodes it.
func statsJSON(t *testing.T, d *testutil.Daemon, extra string) map[string]any {
	t.Helper()
	r := get(t, d.HTTPAddr, "/stats?format=json"+extra)
	if r.Status != 200 {
		t.Fatalf("/stats: got %d %q", r.Status, r.Body)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(r.Body), &v); err != nil {
		t.Fatalf("/stats: %v in %q", err, r.Body)
	}
	return v
}

// Volatile parts of /stats, replaced before comparing documents.
var (
	volatileJSON = []*regexp.Regexp{
		regexp.MustCompile(`"(start_time|connect_ts)":\d+`),
		regexp.MustCompile(`"memory":\{[^}]*\}`),
		regexp.MustCompile(`"(remote_address)":"[^"]*"`),
	}
	volatileText = []*regexp.Regexp{
		regexp.MustCompile(`(?m)^(start_time|uptime) .*$`),
		regexp.MustCompile(`(?m)^(   [a-z_0-9]+ +\t)\d+$`),
		regexp.MustCompile(`connected: \S+`),
		regexp.MustCompile(`:\d+( |\s*\])`),
		regexp.MustCompile(`\(built w/[^)]*\)`),
	}
)

// normalizeJSON blanks start_time, connect_ts, remote_address and the
// memory figures.
func normalizeJSON(s string) string {
	s = volatileJSON[0].ReplaceAllString(s, `"$1":0`)
	s = volatileJSON[1].ReplaceAllString(s, `"memory":{}`)
	return volatileJSON[2].ReplaceAllString(s, `"$1":"-"`)
}

// normalizeText blanks the times, memory figures, ports and durations of a
// text /stats.
func normalizeText(s string) string {
	s = volatileText[0].ReplaceAllString(s, "$1 -")
	s = volatileText[1].ReplaceAllString(s, "${1}0")
	s = volatileText[2].ReplaceAllString(s, "connected: -")
	s = volatileText[3].ReplaceAllString(s, ":PORT$1")
	return volatileText[4].ReplaceAllString(s, "(built w/go)")
}

// waitFor polls cond every 10 ms for at most 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
