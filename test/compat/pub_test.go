package compat

import (
	"strings"
	"testing"
	"time"

	"nsqreactor/internal/testutil"
)

// Limits of the daemon used by the publish tests: small, so the "too big"
// cases need no big writes.
var pubLimits = []string{"--max-msg-size=1024", "--max-body-size=4096"}

// mpubRaw builds an MPUB body from a count and (size, body) pairs that may
// lie about their sizes.
func mpubRaw(count int32, parts ...any) string {
	b := testutil.AppendSize(nil, count)
	for _, p := range parts {
		switch v := p.(type) {
		case int:
			b = testutil.AppendSize(b, int32(v))
		case string:
			b = append(b, v...)
		}
	}
	return string(b)
}

// Spec §1.6.8: PUB errors, all fatal.
func TestPubErrors(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t, pubLimits...)
		runFatalCases(t, d, nil, []errCase{
			{"no topic", cmdBody("PUB", "x"), "E_INVALID PUB insufficient number of parameters"},
			{"bad topic", cmdBody("PUB bad!", "x"), `E_BAD_TOPIC PUB topic name "bad!" is not valid`},
			{"topic 65", cmdBody("PUB "+strings.Repeat("t", 65), "x"), `E_BAD_TOPIC PUB topic name "` + strings.Repeat("t", 65) + `" is not valid`},
			{"size 0", cmdSize("PUB t", 0, ""), "E_BAD_MESSAGE PUB invalid message body size 0"},
			{"size -5", cmdSize("PUB t", -5, ""), "E_BAD_MESSAGE PUB invalid message body size -5"},
			{"size max+1", cmdSize("PUB t", 1025, strings.Repeat("x", 1025)), "E_BAD_MESSAGE PUB message too big 1025 > 1024"},
			{"size 2GB", cmdSize("PUB t", 1<<31-1, "x"), "E_BAD_MESSAGE PUB message too big 2147483647 > 1024"},
			{"size 4GB", cmdSize("PUB t", -1, "x"), "E_BAD_MESSAGE PUB invalid message body size -1"},
		})
		t.Run("size max accepted", func(t *testing.T) {
			t.Parallel()
			testutil.Dial(t, d.TCPAddr).Pub(t, uniq(t, "max"), []byte(strings.Repeat("x", 1024)))
		})
	})
}

// Spec §1.6.8: DPUB errors (fatal) and the accepted delay range.
func TestDPUBErrors(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t, pubLimits...)
		d10 := impl.Start(t, "--max-req-timeout=10s")
		runFatalCases(t, d, nil, []errCase{
			{"no params", cmdBody("DPUB", "x"), "E_INVALID DPUB insufficient number of parameters"},
			{"no delay", cmdBody("DPUB t", "x"), "E_INVALID DPUB insufficient number of parameters"},
			{"bad topic", cmdBody("DPUB bad! 10", "x"), `E_BAD_TOPIC DPUB topic name "bad!" is not valid`},
			{"bad topic bad delay", cmdBody("DPUB bad! x", "x"), `E_BAD_TOPIC DPUB topic name "bad!" is not valid`},
			{"delay -1", cmdBody("DPUB t -1", "x"), "E_INVALID DPUB could not parse timeout -1"},
			{"delay x", cmdBody("DPUB t 1x", "x"), "E_INVALID DPUB could not parse timeout 1x"},
			{"delay max+1", cmdBody("DPUB t 3600001", "x"), "E_INVALID DPUB timeout 3600001 out of range 0-3600000"},
			{"size 0", cmdSize("DPUB t 10", 0, ""), "E_BAD_MESSAGE DPUB invalid message body size 0"},
			{"size -5", cmdSize("DPUB t 10", -5, ""), "E_BAD_MESSAGE DPUB invalid message body size -5"},
			{"size max+1", cmdSize("DPUB t 10", 1025, strings.Repeat("x", 1025)), "E_BAD_MESSAGE DPUB message too big 1025 > 1024"},
			{"size 2GB", cmdSize("DPUB t 10", 1<<31-1, "x"), "E_BAD_MESSAGE DPUB message too big 2147483647 > 1024"},
		})
		t.Run("flag range", func(t *testing.T) {
			runFatalCases(t, d10, nil, []errCase{
				{"delay max+1", cmdBody("DPUB t 10001", "x"), "E_INVALID DPUB timeout 10001 out of range 0-10000"},
			})
		})
		for _, line := range []string{"DPUB t 3600000", "DPUB t 0", "DPUB t ", "DPUB t 00010", "DPUB t 10 extra"} {
			t.Run(line, func(t *testing.T) {
				t.Parallel()
				c := testutil.Dial(t, d.TCPAddr)
				c.CommandBody(t, line, []byte("x"))
				c.ExpectResponse(t, "OK")
				c.ExpectAlive(t)
			})
		}
	})
}

// Spec §1.6.8: MPUB errors, all fatal, in check order; note the duplicated
// code in the bad-topic text.
func TestMPUBErrors(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t, pubLimits...)
		d0 := impl.Start(t) // default --max-body-size=5242880
		runFatalCases(t, d, nil, []errCase{
			{"no topic", cmdBody("MPUB", mpubRaw(1, 1, "x")), "E_INVALID MPUB insufficient number of parameters"},
			{"bad topic", cmdBody("MPUB bad!", mpubRaw(1, 1, "x")), `E_BAD_TOPIC E_BAD_TOPIC MPUB topic name "bad!" is not valid`},
			{"body size 0", cmdSize("MPUB t", 0, ""), "E_BAD_BODY MPUB invalid body size 0"},
			{"body size -1", cmdSize("MPUB t", -1, ""), "E_BAD_BODY MPUB invalid body size -1"},
			{"body size max+1", cmdSize("MPUB t", 4097, mpubRaw(1, 1, "x")), "E_BAD_BODY MPUB body too big 4097 > 4096"},
			{"body size 2GB", cmdSize("MPUB t", 1<<31-1, mpubRaw(1, 1, "x")), "E_BAD_BODY MPUB body too big 2147483647 > 4096"},
			{"count 0", cmdBody("MPUB t", mpubRaw(0)), "E_BAD_BODY MPUB invalid message count 0"},
			{"count -1", cmdBody("MPUB t", mpubRaw(-1, 1, "x")), "E_BAD_BODY MPUB invalid message count -1"},
			// count > (max-body-size - 4) / 5 = 818
			{"count 819", cmdBody("MPUB t", mpubRaw(819, 1, "x")), "E_BAD_BODY MPUB invalid message count 819"},
			{"message(0) size 0", cmdBody("MPUB t", mpubRaw(2, 0, "", 1, "x")), "E_BAD_MESSAGE MPUB invalid message(0) body size 0"},
			{"message(1) size -3", cmdBody("MPUB t", mpubRaw(2, 1, "x", -3, "")), "E_BAD_MESSAGE MPUB invalid message(1) body size -3"},
			{"message(2) too big", cmdBody("MPUB t", mpubRaw(3, 1, "a", 1, "b", 1025, strings.Repeat("x", 1025))), "E_BAD_MESSAGE MPUB message too big 1025 > 1024"},
			{"message 2GB", cmdBody("MPUB t", mpubRaw(1, 1<<31-1, "x")), "E_BAD_MESSAGE MPUB message too big 2147483647 > 1024"},
		})
		t.Run("default limits", func(t *testing.T) {
			runFatalCases(t, d0, nil, []errCase{
				{"count 1048576", cmdBody("MPUB t", mpubRaw(1048576, 1, "x")), "E_BAD_BODY MPUB invalid message count 1048576"},
				{"body size max+1", cmdSize("MPUB t", 5242881, mpubRaw(1, 1, "x")), "E_BAD_BODY MPUB body too big 5242881 > 5242880"},
			})
		})
		t.Run("limits accepted", func(t *testing.T) {
			t.Parallel()
			c := testutil.Dial(t, d.TCPAddr)
			c.MPUB(t, uniq(t, "lim"), []byte(strings.Repeat("x", 1024)), []byte("y"))
			c.ExpectResponse(t, "OK")
			c.ExpectAlive(t)
		})
	})
}

// Spec §1.6.8: MPUB is all-or-nothing: one bad message and none is enqueued.
func TestMPUBAllOrNothing(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t, pubLimits...)
		topic := uniq(t, "atomic")
		c := subscriber(t, d, "", topic, "c")
		c.Rdy(t, 10)
		p := testutil.Dial(t, d.TCPAddr)
		p.Write(t, cmdBody("MPUB "+topic, mpubRaw(3, 1, "a", 1, "b", 1025, strings.Repeat("x", 1025))))
		p.ExpectError(t, "E_BAD_MESSAGE MPUB message too big 1025 > 1024")
		p.ExpectClosed(t)
		c.ExpectNoFrame(t, 500*time.Millisecond)

		p = testutil.Dial(t, d.TCPAddr)
		p.MPUB(t, topic, []byte("a"), []byte("b"), []byte("c"))
		p.ExpectResponse(t, "OK")
		got := collectFrom(t, []*testutil.RawConn{c}, 3, true, testutil.DefaultTimeout)[0]
		if strings.Join(got, "") != "abc" {
			t.Fatalf("got %q, want a, b, c in order", got)
		}
	})
}

// A size field claiming gigabytes is rejected before anything is allocated
// or awaited, and the daemon keeps serving other connections.
func TestHugeSizesRejected(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t) // default limits
		topic := uniq(t, "huge")
		t.Run("rejected", func(t *testing.T) {
			runFatalCases(t, d, nil, []errCase{
				{"PUB 2GB", cmdSize("PUB "+topic, 1<<31-1, ""), "E_BAD_MESSAGE PUB message too big 2147483647 > 1048576"},
				{"PUB 4GB", cmdSize("PUB "+topic, -1, ""), "E_BAD_MESSAGE PUB invalid message body size -1"},
				{"PUB 3GB", cmdSize("PUB "+topic, -1<<30, ""), "E_BAD_MESSAGE PUB invalid message body size -1073741824"},
				{"DPUB 2GB", cmdSize("DPUB "+topic+" 1", 1<<31-1, ""), "E_BAD_MESSAGE DPUB message too big 2147483647 > 1048576"},
				{"MPUB 2GB", cmdSize("MPUB "+topic, 1<<31-1, ""), "E_BAD_BODY MPUB body too big 2147483647 > 5242880"},
				{"MPUB message 2GB", cmdBody("MPUB "+topic, mpubRaw(1, 1<<31-1)), "E_BAD_MESSAGE MPUB message too big 2147483647 > 1048576"},
				{"IDENTIFY 2GB", cmdSize("IDENTIFY", 1<<31-1, ""), "E_BAD_BODY IDENTIFY body too big 2147483647 > 5242880"},
			})
		})
		t.Run("still serving", func(t *testing.T) {
			c := subscriber(t, d, "", topic, "c")
			c.Rdy(t, 1)
			publish(t, d, topic, "fine")
			if m := c.ExpectMessage(t); string(m.Body) != "fine" {
				t.Fatalf("got %q, want %q", m.Body, "fine")
			}
		})
	})
}
