package auth

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a fake auth server that records each request and answers with
// a fixed status and body.
type recorder struct {
	mu     sync.Mutex
	reqs   []string // "METHOD path?query body"
	status int
	body   string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	line := req.Method + " " + req.URL.RequestURI() + " " + string(b)
	if req.Header.Get("Accept") != "application/vnd.nsq; version=1.0" {
		line += " [bad Accept " + req.Header.Get("Accept") + "]"
	}
	if req.Method == http.MethodPost && req.Header.Get("Content-Type") != "application/json" {
		line += " [bad Content-Type]"
	}
	r.reqs = append(r.reqs, line)
	status, body := r.status, r.body
	r.mu.Unlock()
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (r *recorder) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.reqs...)
}

const grant = `{"ttl":60,"identity":"user1","identity_url":"http://x/u1","authorizations":[` +
	`{"topic":"^auth_.*","channels":[".*"],"permissions":["publish","subscribe"]},` +
	`{"topic":"^ro$","channels":["^c1$"],"permissions":["subscribe"]}]}`

func newServer(t *testing.T, r *recorder) string {
	t.Helper()
	s := httptest.NewServer(r)
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

func TestQueryRequestShapes(t *testing.T) {
	req := Request{RemoteIP: "127.0.0.1", Secret: "good secret&=", CommonName: ""}
	cases := []struct {
		method string
		addr   func(hostport string) string
		want   string
	}{
		{"get", func(h string) string { return h },
			"GET /auth?common_name=&remote_ip=127.0.0.1&secret=good+secret%26%3D&tls=false "},
		{"post", func(h string) string { return h },
			`POST /auth {"common_name":[""],"remote_ip":["127.0.0.1"],"secret":["good secret\u0026="],"tls":["false"]}`},
		{"get", func(h string) string { return "http://" + h + "/custom/path" },
			"GET /custom/path?common_name=&remote_ip=127.0.0.1&secret=good+secret%26%3D&tls=false "},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.want[:12], func(t *testing.T) {
			rec := &recorder{body: grant}
			c := NewClient([]string{tc.addr(newServer(t, rec))}, tc.method, nil, time.Second, time.Second)
			defer c.Close()
			s, err := c.Query(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if got := rec.requests(); len(got) != 1 || got[0] != tc.want {
				t.Fatalf("requests %q, want [%q]", got, tc.want)
			}
			if s.Identity != "user1" || s.IdentityURL != "http://x/u1" || len(s.Authorizations) != 2 {
				t.Fatalf("state %+v", s)
			}
			if d := time.Until(s.Expires); d < 59*time.Second || d > 61*time.Second {
				t.Fatalf("expires in %s, want 60s", d)
			}
		})
	}
}

func TestQueryTLSAndCommonName(t *testing.T) {
	rec := &recorder{body: grant}
	c := NewClient([]string{newServer(t, rec)}, "get", nil, time.Second, time.Second)
	if _, err := c.Query(context.Background(), Request{RemoteIP: "10.0.0.1", TLS: true, CommonName: "client.example", Secret: "s"}); err != nil {
		t.Fatal(err)
	}
	want := "GET /auth?common_name=client.example&remote_ip=10.0.0.1&secret=s&tls=true "
	if got := rec.requests(); got[0] != want {
		t.Fatalf("got %q, want %q", got[0], want)
	}
}

func TestQueryRejectsBadAnswers(t *testing.T) {
	cases := map[string]struct {
		status int
		body   string
	}{
		"ttl 0":              {200, `{"ttl":0,"authorizations":[]}`},
		"ttl negative":       {200, `{"ttl":-5,"authorizations":[]}`},
		"unknown permission": {200, `{"ttl":5,"authorizations":[{"topic":".*","channels":[".*"],"permissions":["admin"]}]}`},
		"bad topic regexp":   {200, `{"ttl":5,"authorizations":[{"topic":"(","channels":[".*"],"permissions":["publish"]}]}`},
		"bad channel regexp": {200, `{"ttl":5,"authorizations":[{"topic":".*","channels":["[z-a]"],"permissions":["publish"]}]}`},
		"not json":           {200, `not json`},
		"wrong types":        {200, `{"ttl":"60"}`},
		"status 500":         {500, grant},
		"status 403 no port": {403, `{"message":"no"}`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rec := &recorder{status: tc.status, body: tc.body}
			c := NewClient([]string{newServer(t, rec)}, "get", nil, time.Second, time.Second)
			if s, err := c.Query(context.Background(), Request{}); err == nil {
				t.Fatalf("got state %+v, want an error", s)
			}
		})
	}
}

// A zero-authorization answer is valid here; AUTH turns it into
// E_UNAUTHORIZED.
func TestQueryEmptyAuthorizations(t *testing.T) {
	rec := &recorder{body: `{"ttl":5,"identity":"nobody"}`}
	c := NewClient([]string{newServer(t, rec)}, "get", nil, time.Second, time.Second)
	s, err := c.Query(context.Background(), Request{})
	if err != nil || len(s.Authorizations) != 0 {
		t.Fatalf("got %+v, %v", s, err)
	}
}

func TestIsAllowed(t *testing.T) {
	var s State
	if err := json.Unmarshal([]byte(grant), &s); err != nil {
		t.Fatal(err)
	}
	if err := s.validate(); err != nil {
		t.Fatal(err)
	}
	s.Authorizations = append(s.Authorizations, Authorization{Topic: "nochan", Permissions: []string{"publish", "subscribe"}})
	if err := s.validate(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		topic, channel string
		want           bool
	}{
		{"auth_x", "", true},         // publish: channel "" matches .*
		{"auth_x", "c", true},        // subscribe
		{"other", "", false},         // topic does not match
		{"xauth_x", "", false},       // anchored by the pattern itself
		{"ro", "", false},            // subscribe-only grant
		{"ro", "c1", true},           //
		{"ro", "c2", false},          // channel pattern
		{"ro", "xc1", false},         //
		{"nochan", "", false},        // no channel patterns: nothing allowed
		{"nochan", "c", false},       //
		{"prefix_auth_y", "", false}, // ^auth_ does not match
	}
	for _, tc := range cases {
		if got := s.IsAllowed([]byte(tc.topic), []byte(tc.channel)); got != tc.want {
			t.Errorf("IsAllowed(%q, %q) = %v, want %v", tc.topic, tc.channel, got, tc.want)
		}
	}
	// unanchored patterns match anywhere, as upstream's MatchString
	var u State
	json.Unmarshal([]byte(`{"ttl":1,"authorizations":[{"topic":"foo","channels":["bar"],"permissions":["subscribe"]}]}`), &u)
	u.validate()
	if !u.IsAllowed([]byte("xfooy"), []byte("xbary")) {
		t.Error("unanchored pattern did not match inside the name")
	}
}

// Every server is tried, from a random start, until one answers.
func TestQueryFailover(t *testing.T) {
	dead := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return addr
	}()
	good1, good2 := &recorder{body: grant}, &recorder{body: grant}
	addrs := []string{dead, newServer(t, good1), newServer(t, good2)}
	c := NewClient(addrs, "get", nil, time.Second, time.Second)
	for i := 0; i < 40; i++ {
		if _, err := c.Query(context.Background(), Request{}); err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
	}
	if n1, n2 := len(good1.requests()), len(good2.requests()); n1 == 0 || n2 == 0 || n1+n2 != 40 {
		t.Fatalf("servers answered %d and %d of 40 queries; want both used (random start)", n1, n2)
	}
	c2 := NewClient([]string{dead}, "get", nil, time.Second, time.Second)
	if _, err := c2.Query(context.Background(), Request{}); err == nil {
		t.Fatal("no error with only a dead server")
	}
}

// A 403 naming an https_port is retried over HTTPS on that port.
func TestQueryHTTPSRedirect(t *testing.T) {
	rec := &recorder{body: grant}
	tlsSrv := httptest.NewTLSServer(rec)
	defer tlsSrv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(tlsSrv.URL, "https://"))
	redirect := &recorder{status: 403, body: `{"message":"TLS_REQUIRED","https_port":` + port + `}`}
	cfg := &tls.Config{RootCAs: tlsSrv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	c := NewClient([]string{newServer(t, redirect)}, "post", cfg, time.Second, time.Second)
	if _, err := c.Query(context.Background(), Request{Secret: "s"}); err != nil {
		t.Fatal(err)
	}
	if len(redirect.requests()) != 1 || len(rec.requests()) != 1 {
		t.Fatalf("http requests %q, https requests %q", redirect.requests(), rec.requests())
	}
	if got := rec.requests()[0]; !strings.HasPrefix(got, "POST /auth {") {
		t.Fatalf("https request %q", got)
	}
}

// The request timeout bounds a server that never answers.
func TestQueryTimeout(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	c := NewClient([]string{strings.TrimPrefix(srv.URL, "http://")}, "get", nil, time.Second, 200*time.Millisecond)
	start := time.Now()
	if _, err := c.Query(context.Background(), Request{}); err == nil {
		t.Fatal("no error from a silent server")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("query took %s, want about the 200ms request timeout", d)
	}
}
