package httpfast

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/goleak"

	"nsqreactor/core"
)

func TestMain(m *testing.M) {
	// fasthttp keeps two goroutines that are not ours to stop: the
	// process-wide Date header updater, and the worker-pool cleaner, which
	// notices a stopped pool only after its idle sleep (10 s).
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"))
}

// syncBuffer is a log sink safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testServer starts a daemon core and an HTTP server on loopback (or on
// addr if given); both are stopped in t.Cleanup.
func testServer(t *testing.T, addr string, tweak func(*core.Options)) (*core.NSQD, *Server, *syncBuffer) {
	t.Helper()
	logs := new(syncBuffer)
	opts := core.NewOptions()
	opts.DataPath = t.TempDir()
	opts.Logger = logs
	if tweak != nil {
		tweak(opts)
	}
	n := core.New(opts)
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	s, err := Listen(n, addr, 4150)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		n.Exit()
	})
	return n, s, logs
}

// roundTrip writes raw to addr and returns the response status line,
// headers and body, waiting at most 5 s.
func roundTrip(t *testing.T, network, addr, raw string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading response to %q: %v", raw[:min(len(raw), 60)], err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func httpGet(t *testing.T, s *Server, target string) (*http.Response, string) {
	t.Helper()
	return roundTrip(t, "tcp", s.Addr(), "GET "+target+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
}

// A panicking handler is answered 500 INTERNAL_ERROR (V1) and logged, as
// upstream's router PanicHandler does.
func TestPanicIsInternalError(t *testing.T) {
	_, s, logs := testServer(t, "", nil)
	s.routes.static["/panic"] = []*route{{method: "GET", path: "/panic", kind: kindV1, log: true,
		serve: func(ctx *fasthttp.RequestCtx, _ string) *apiError {
			ctx.SetBodyString("partial")
			panic("boom")
		}}}
	resp, body := httpGet(t, s, "/panic")
	if resp.StatusCode != 500 || body != `{"message":"INTERNAL_ERROR"}` {
		t.Fatalf("got %d %q, want 500 INTERNAL_ERROR", resp.StatusCode, body)
	}
	if got := resp.Header.Get("X-Nsq-Content-Type"); got != "nsq; version=1.0" {
		t.Errorf("X-Nsq-Content-Type %q", got)
	}
	if !strings.Contains(logs.String(), "ERROR: panic in HTTP handler - boom") || !strings.Contains(logs.String(), "500 GET /panic (127.0.0.1:") {
		t.Errorf("log:\n%s", logs)
	}
	// the server keeps serving
	if resp, body := httpGet(t, s, "/ping"); resp.StatusCode != 200 || body != "OK" {
		t.Errorf("after panic: %d %q", resp.StatusCode, body)
	}
}

// /ping and /stats report core's health (spec §8.7).
func TestHealth(t *testing.T) {
	n, s, _ := testServer(t, "", nil)
	n.SetHealth(errors.New("disk <full>"))
	resp, body := httpGet(t, s, "/ping")
	if resp.StatusCode != 500 || body != "NOK - disk <full>" {
		t.Errorf("/ping unhealthy: %d %q", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("/ping unhealthy Content-Type %q", ct)
	}
	if _, body := httpGet(t, s, "/stats?format=json&include_mem=false"); !strings.Contains(body, `"health":"NOK - disk \u003cfull\u003e"`) {
		t.Errorf("/stats unhealthy: %s", body)
	}
	if _, body := httpGet(t, s, "/stats?include_mem=false"); !strings.Contains(body, "\nHealth: NOK - disk <full>\n") {
		t.Errorf("text /stats unhealthy: %s", body)
	}
	n.SetHealth(nil)
	if resp, body := httpGet(t, s, "/ping"); resp.StatusCode != 200 || body != "OK" {
		t.Errorf("/ping healthy again: %d %q", resp.StatusCode, body)
	}
}

// An oversized body is refused without being read: a huge Content-Length
// gets its 413 after a single byte, and a chunked upload that never ends
// gets it once limit+1 bytes have arrived.
func TestOversizedBodyNotBuffered(t *testing.T) {
	_, s, _ := testServer(t, "", func(o *core.Options) { o.MaxMsgSize = 100; o.MaxBodySize = 1000 })
	for target, code := range map[string]string{"/pub?topic=t": "MSG_TOO_BIG", "/mpub?topic=t": "BODY_TOO_BIG"} {
		resp, body := roundTrip(t, "tcp", s.Addr(), "POST "+target+" HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\nx")
		if resp.StatusCode != 413 || body != `{"message":"`+code+`"}` {
			t.Errorf("%s with a 1 GiB Content-Length: %d %q", target, resp.StatusCode, body)
		}
		if !resp.Close {
			t.Errorf("%s: the connection must close (the unread body cannot be drained)", target)
		}
	}
	chunk := strings.Repeat("x", 2000)
	for target, code := range map[string]string{"/pub?topic=t": "MSG_TOO_BIG", "/mpub?topic=t": "BODY_TOO_BIG", "/config/log_level": "INVALID_VALUE"} {
		method := "POST"
		if strings.HasPrefix(target, "/config") {
			method = "PUT"
		}
		raw := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", method, target, len(chunk), chunk)
		resp, body := roundTrip(t, "tcp", s.Addr(), raw) // no terminating chunk
		if resp.StatusCode != 413 || body != `{"message":"`+code+`"}` {
			t.Errorf("%s chunked without end: %d %q", target, resp.StatusCode, body)
		}
	}
}

// The unix-socket listener: path as address, port -1, socket removed by
// Close.
func TestUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "http.sock")
	_, s, _ := testServer(t, sock, nil)
	if s.Addr() != sock || s.Port() != -1 {
		t.Fatalf("Addr %q Port %d, want %q -1", s.Addr(), s.Port(), sock)
	}
	_, body := roundTrip(t, "unix", sock, "GET /info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if !strings.Contains(body, `"http_port":-1,"tcp_port":4150,`) {
		t.Errorf("/info: %s", body)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket still there after Close: %v", err)
	}
}

// PUT /config/nsqlookupd_tcp_addresses reaches the OnLookupdChange hook.
func TestLookupdHook(t *testing.T) {
	_, s, _ := testServer(t, "", func(o *core.Options) { o.NSQLookupdTCPAddresses = []string{"a:1"} })
	var got []string
	s.OnLookupdChange(func(addrs []string) { got = addrs })
	if a := s.LookupdTCPAddresses(); len(a) != 1 || a[0] != "a:1" {
		t.Fatalf("initial %q", a)
	}
	resp, body := roundTrip(t, "tcp", s.Addr(), "PUT /config/nsqlookupd_tcp_addresses HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 17\r\n\r\n[\"b:2\", \"c:3\"]   ")
	if resp.StatusCode != 200 || body != `["b:2","c:3"]` {
		t.Fatalf("PUT: %d %q", resp.StatusCode, body)
	}
	if len(got) != 2 || got[1] != "c:3" || len(s.LookupdTCPAddresses()) != 2 {
		t.Errorf("hook got %q, server has %q", got, s.LookupdTCPAddresses())
	}
}

// Close returns promptly with idle keep-alive connections open, and a
// Close racing with Listen's Serve still stops it (goleak checks).
func TestCloseWithIdleConnections(t *testing.T) {
	n := core.New(func() *core.Options {
		o := core.NewOptions()
		o.DataPath = t.TempDir()
		o.Logger = io.Discard
		return o
	}())
	defer n.Exit()
	for range 20 {
		s, err := Listen(n, "127.0.0.1:0", 1)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(conn, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
		if _, err := http.ReadResponse(bufio.NewReader(conn), nil); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d >= shutdownTimeout {
			t.Errorf("Close took %s: it waited for the idle connection", d)
		}
		conn.Close()
		s2, err := Listen(n, "127.0.0.1:0", 1)
		if err != nil {
			t.Fatal(err)
		}
		s2.Close() // immediately
	}
}

// The request log line has upstream's shape; /pub is not logged.
func TestRequestLog(t *testing.T) {
	_, s, logs := testServer(t, "", nil)
	httpGet(t, s, "/info?x=1")
	httpGet(t, s, "/nope")
	roundTrip(t, "tcp", s.Addr(), "POST /pub?topic=t HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx")
	log := logs.String()
	for _, want := range []string{"INFO: 200 GET /info?x=1 (127.0.0.1:", "INFO: 404 GET /nope (127.0.0.1:"} {
		if !strings.Contains(log, want) {
			t.Errorf("no %q in log:\n%s", want, log)
		}
	}
	if strings.Contains(log, "POST /pub") {
		t.Errorf("/pub logged:\n%s", log)
	}
}

// GetStats must not hold any core lock while it asks clients for their
// figures: a client whose Stats takes the registry, topic, channel and
// client-list locks itself must not deadlock /stats.
func TestStatsHoldsNoLockAcrossClientStats(t *testing.T) {
	n, s, _ := testServer(t, "", nil)
	topic, _ := n.GetTopic("t")
	ch, _ := topic.GetChannel("c")
	c := &lockingClient{n: n, ch: ch}
	if _, err := ch.AddClient(c, core.SubscribeOptions{ClientID: 1, MsgTimeout: time.Minute}); err != nil {
		t.Fatal(err)
	}
	n.AddClient(1, c)
	done := make(chan string, 1)
	go func() {
		_, body := httpGet(t, s, "/stats?format=json&include_mem=false")
		done <- body
	}()
	select {
	case body := <-done:
		if strings.Count(body, `"client_id":"locker"`) != 2 {
			t.Errorf("want the client as subscriber and producer: %s", body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("/stats deadlocked: a core lock is held across Client.Stats")
	}
}

// lockingClient is a subscriber and producer whose Stats takes every core
// lock a careless /stats might hold.
type lockingClient struct {
	n  *core.NSQD
	ch *core.Channel
}

func (c *lockingClient) Deliver(*core.Message) {}
func (c *lockingClient) Kick()                 {}
func (c *lockingClient) IsProducer() bool      { return true }
func (c *lockingClient) Stats(string) core.ClientStats {
	c.ch.Pause() // Channel.mu
	c.ch.UnPause()
	c.n.GetTopic("created_inside_stats") // NSQD.mu (write) and Topic.mu
	c.ch.Topic().GetChannel("c2")
	c.n.AddClient(99, c) // the client registry lock
	c.n.RemoveClient(99)
	return core.ClientStats{ClientID: "locker", Version: "V2"}
}

// A Go client writing a body far over the limit gets the 413, with or
// without "Expect: 100-continue", never a connection reset (linger.go).
func TestRefusedBodyNoReset(t *testing.T) {
	_, s, _ := testServer(t, "", func(o *core.Options) { o.MaxMsgSize = 100 })
	for _, expect := range []bool{false, true} {
		for i := range 5 {
			rq, _ := http.NewRequest("POST", "http://"+s.Addr()+"/pub?topic=t", bytes.NewReader(make([]byte, 8<<20)))
			if expect {
				rq.Header.Set("Expect", "100-continue")
			}
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{ExpectContinueTimeout: 5 * time.Second}}
			resp, err := client.Do(rq)
			if err != nil {
				t.Fatalf("Expect %v, try %d: %v", expect, i, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			client.CloseIdleConnections()
			if resp.StatusCode != 413 || string(body) != `{"message":"MSG_TOO_BIG"}` {
				t.Errorf("Expect %v, try %d: %d %q", expect, i, resp.StatusCode, body)
			}
		}
	}
}
