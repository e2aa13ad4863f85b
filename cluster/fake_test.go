package cluster

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"nsqreactor/core"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitTimeout bounds every wait in this package's tests.
const waitTimeout = 5 * time.Second

// fakeLookupd speaks nsqlookupd's TCP protocol (answering OK, or its
// IDENTIFY JSON) and serves GET /channels over HTTP. It records what nsqd
// sends, one string per command: "MAGIC <m>", "IDENTIFY <json>",
// "REGISTER t c", …
type fakeLookupd struct {
	ln   net.Listener
	http *httptest.Server

	mu       sync.Mutex
	cmds     []string
	next     int // first command not yet matched by expect
	conns    []net.Conn
	identify []byte              // IDENTIFY answer; nil = the usual JSON
	channels map[string][]string // /channels answers by topic
	delay    time.Duration       // before answering /channels
	wg       sync.WaitGroup
}

func newFakeLookupd(t *testing.T) *fakeLookupd {
	t.Helper()
	return newFakeLookupdAt(t, "127.0.0.1:0")
}

// newFakeLookupdAt listens on addr (retrying for a while: the port may
// have just been released).
func newFakeLookupdAt(t *testing.T, addr string) *fakeLookupd {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	for deadline := time.Now().Add(waitTimeout); err != nil && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		ln, err = net.Listen("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeLookupd{ln: ln, channels: map[string][]string{}}
	f.http = httptest.NewServer(http.HandlerFunc(f.serveHTTP))
	f.wg.Add(1)
	go f.accept(ln)
	t.Cleanup(f.close)
	return f
}

func (f *fakeLookupd) addr() string { return f.ln.Addr().String() }

func (f *fakeLookupd) accept(ln net.Listener) {
	defer f.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns = append(f.conns, c)
		f.mu.Unlock()
		f.wg.Add(1)
		go f.serve(c)
	}
}

func (f *fakeLookupd) record(s string) {
	f.mu.Lock()
	f.cmds = append(f.cmds, s)
	f.mu.Unlock()
}

func (f *fakeLookupd) serve(c net.Conn) {
	defer f.wg.Done()
	defer c.Close()
	r := bufio.NewReader(c)
	magic := make([]byte, 4)
	if _, err := io.ReadFull(r, magic); err != nil {
		return
	}
	f.record("MAGIC " + string(magic))
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSuffix(line, "\n")
		resp := []byte("OK")
		if line == "IDENTIFY" {
			var size int32
			binary.Read(r, binary.BigEndian, &size)
			body := make([]byte, size)
			io.ReadFull(r, body)
			line += " " + string(body)
			resp = f.identifyAnswer()
		}
		f.record(line)
		binary.Write(c, binary.BigEndian, int32(len(resp)))
		c.Write(resp)
	}
}

func (f *fakeLookupd) identifyAnswer() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.identify != nil {
		return f.identify
	}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(f.http.URL, "http://"))
	return fmt.Appendf(nil, `{"tcp_port":%d,"http_port":%s,"version":"1.3.0","broadcast_address":"127.0.0.1","hostname":"fake"}`,
		f.ln.Addr().(*net.TCPAddr).Port, port)
}

func (f *fakeLookupd) serveHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	delay, names := f.delay, f.channels[r.URL.Query().Get("topic")]
	f.mu.Unlock()
	select {
	case <-time.After(delay):
	case <-r.Context().Done():
		return
	}
	if names == nil {
		names = []string{}
	}
	json.NewEncoder(w).Encode(map[string][]string{"channels": names})
}

// dropConns closes every connection from the server side (a lookupd
// restart as nsqd sees it).
func (f *fakeLookupd) dropConns() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		c.Close()
	}
	f.conns = nil
}

func (f *fakeLookupd) close() {
	f.ln.Close()
	f.dropConns()
	f.http.Close()
	f.wg.Wait()
}

// expect waits until the next commands recorded are exactly want.
func (f *fakeLookupd) expect(t *testing.T, want ...string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		f.mu.Lock()
		got := slices.Clone(f.cmds[f.next:])
		if len(got) >= len(want) {
			f.next += len(want)
		}
		f.mu.Unlock()
		if len(got) >= len(want) {
			if !slices.Equal(got[:len(want)], want) {
				t.Fatalf("lookupd got\n\t%s\nwant\n\t%s", strings.Join(got[:len(want)], "\n\t"), strings.Join(want, "\n\t"))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s lookupd got only\n\t%s\nwant\n\t%s", waitTimeout, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// quiet fails if lookupd receives any command within d.
func (f *fakeLookupd) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	time.Sleep(d)
	f.mu.Lock()
	defer f.mu.Unlock()
	if extra := f.cmds[f.next:]; len(extra) > 0 {
		t.Fatalf("unexpected lookupd commands: %q", extra)
	}
}

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitLog waits until the log contains s.
func (l *logBuffer) waitLog(t *testing.T, s string) {
	t.Helper()
	waitFor(t, "log line "+s, func() bool { return strings.Contains(l.String(), s) })
}

// waitFor polls cond every 5 ms for at most waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", waitTimeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitConnected waits until every lookupd peer of c has identified and
// taken its registration snapshot: from then on changes are sent as
// events (before, they are part of the snapshot).
func waitConnected(t *testing.T, c *Cluster) {
	t.Helper()
	waitFor(t, "every lookupd peer to be connected", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, p := range c.peers {
			if !p.connected {
				return false
			}
		}
		return len(c.peers) > 0
	})
}

// testCluster starts an NSQD and its Cluster on ports 4150/4151 (only
// reported to lookupd) with mod applied to the options; both are stopped in
// t.Cleanup. The log goes to the returned buffer (and to t.Log on failure).
func testCluster(t *testing.T, mod func(*core.Options)) (*core.NSQD, *Cluster, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	opts := core.NewOptions()
	opts.Logger = logs
	opts.LogLevel = core.LogLevelDebug
	opts.BroadcastAddress = "127.0.0.1"
	opts.DataPath = t.TempDir()
	if mod != nil {
		mod(opts)
	}
	n := core.New(opts)
	c := New(n)
	c.backoffMin = 20 * time.Millisecond
	c.backoffMax = 200 * time.Millisecond
	n.Start()
	c.Start(4150, 4151)
	t.Cleanup(func() {
		c.Stop()
		n.Exit()
		if t.Failed() {
			t.Logf("nsqd log:\n%s", logs)
		}
	})
	return n, c, logs
}

// lookupdAt sets --lookupd-tcp-address.
func lookupdAt(addrs ...string) func(*core.Options) {
	return func(o *core.Options) { o.NSQLookupdTCPAddresses = addrs }
}

// testConsumer is a core.Consumer that drops what it gets.
type testConsumer struct{}

func (testConsumer) Deliver(*core.Message)         {}
func (testConsumer) Kick()                         {}
func (testConsumer) Stats(string) core.ClientStats { return core.ClientStats{} }
func (testConsumer) IsProducer() bool              { return false }
func subscribeAndLeave(t *testing.T, ch *core.Channel) {
	t.Helper()
	s, err := ch.AddClient(testConsumer{}, core.SubscribeOptions{MsgTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ch.RemoveClient(s)
}
