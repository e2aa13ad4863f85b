// Package compat is the black-box compatibility suite: every test starts a
// real nsqd binary (upstream v1.3.0 and ours, see testutil.Impls) as a
// subprocess and drives it over loopback with a raw V2 client or go-nsq
// v1.1.0. An expectation lives here only if upstream's binary meets it; the
// few deliberate differences of ours are marked "DELIBERATE DIFFERENCE".
//
// Run: NSQD_IMPLS=upstream go test -race ./test/compat/   (or ours, or both)
package compat

import (
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"nsqreactor/internal/testutil"
)

// parallelism is the default -test.parallel of this package. The tests
// spend their time waiting on daemon timers (heartbeats, msg timeouts,
// deferrals), not on CPU, so GOMAXPROCS (2 on CI) would serialize sleeps.
const parallelism = 12

func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		flag.Set("test.parallel", fmt.Sprint(parallelism))
	}
	code := m.Run()
	testutil.RemoveBuilds()
	os.Exit(code)
}

// forEachImpl marks t parallel and runs fn as a parallel subtest per
// selected implementation. fn starts its own daemon(s).
func forEachImpl(t *testing.T, fn func(t *testing.T, impl testutil.Impl)) {
	t.Parallel()
	for _, impl := range testutil.Impls(t) {
		t.Run(impl.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, impl)
		})
	}
}

// errCase is one fatal-error scenario: what to send after the magic and the
// exact error payload that must come back before the server closes.
type errCase struct {
	name string
	send []byte // raw bytes after "  V2" (and after setup, if any)
	want string // exact error frame payload
}

// runFatalCases runs each case on its own connection to d: setup (may be
// nil), the raw bytes, the exact error frame, then the close.
func runFatalCases(t *testing.T, d *testutil.Daemon, setup func(t *testing.T, c *testutil.RawConn), cases []errCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := testutil.Dial(t, d.TCPAddr)
			if setup != nil {
				setup(t, c)
			}
			c.Write(t, tc.send)
			c.ExpectError(t, tc.want)
			c.ExpectClosed(t)
		})
	}
}

// cmd returns line + "\n" as bytes.
func cmd(line string) []byte { return []byte(line + "\n") }

// cmdBody returns line, "\n", the 4-byte size of body and body.
func cmdBody(line string, body string) []byte {
	return cmdSize(line, int32(len(body)), body)
}

// cmdSize is cmdBody with an explicit (possibly lying) size.
func cmdSize(line string, size int32, body string) []byte {
	return append(testutil.AppendSize([]byte(line+"\n"), size), body...)
}

// uniq returns a topic or channel name unique to the test, so tests sharing a
// daemon never see each other's messages.
func uniq(t *testing.T, prefix string) string {
	name := []byte(prefix + "_" + t.Name())
	for i, c := range name {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			name[i] = '_'
		}
	}
	if len(name) > 54 { // keep room for "#ephemeral"
		name = name[len(name)-54:]
	}
	return string(name)
}

// subscriber dials d, optionally IDENTIFYs with identify (a JSON body, ""
// for none), subscribes to topic/channel and returns the connection with
// RDY still 0.
func subscriber(t *testing.T, d *testutil.Daemon, identify, topic, channel string) *testutil.RawConn {
	t.Helper()
	c := testutil.Dial(t, d.TCPAddr)
	if identify != "" {
		c.Identify(t, identify)
	}
	c.Sub(t, topic, channel)
	return c
}

// publish PUBs each body to topic on a fresh producer connection.
func publish(t *testing.T, d *testutil.Daemon, topic string, bodies ...string) {
	t.Helper()
	p := testutil.Dial(t, d.TCPAddr)
	for _, b := range bodies {
		p.Pub(t, topic, []byte(b))
	}
	p.Close()
}

// bodies returns n bodies "<prefix>-0" … "<prefix>-(n-1)".
func bodies(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

// between fails unless lo <= got <= hi.
func between(t *testing.T, what string, got, lo, hi time.Duration) {
	t.Helper()
	if got < lo || got > hi {
		t.Fatalf("%s after %s, want between %s and %s", what, got.Round(time.Millisecond), lo, hi)
	}
}

// collectFrom reads messages from conns, round robin, until n arrived or
// timeout passed; if fin, each message is FINed on the connection that got
// it. It returns the bodies received per connection.
func collectFrom(t *testing.T, conns []*testutil.RawConn, n int, fin bool, timeout time.Duration) [][]string {
	t.Helper()
	got := make([][]string, len(conns))
	total := 0
	deadline := time.Now().Add(timeout)
	for total < n && time.Now().Before(deadline) {
		for i, c := range conns {
			ft, payload, err := c.TryNext(20 * time.Millisecond)
			if err != nil {
				continue
			}
			if ft != testutil.FrameMessage {
				t.Fatalf("consumer %d: got %s %q, want a message", i, testutil.FrameTypeName(ft), payload)
			}
			m, err := testutil.DecodeMessage(payload)
			if err != nil {
				t.Fatal(err)
			}
			if fin {
				c.Fin(t, m.ID)
			}
			got[i] = append(got[i], string(m.Body))
			total++
		}
	}
	if total < n {
		t.Fatalf("received %d of %d messages within %s: %q", total, n, timeout, got)
	}
	return got
}
