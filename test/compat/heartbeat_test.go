package compat

import (
	"testing"
	"time"

	"nsqreactor/internal/testutil"
)

// Spec §2.3: heartbeats arrive every heartbeat_interval, to producers and
// consumers alike; a connection that sends nothing for 2x the interval is
// closed without an error frame; answering with NOP keeps it open.
func TestHeartbeats(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		for _, role := range []string{"producer", "consumer"} {
			connect := func(t *testing.T) (*testutil.RawConn, time.Time) {
				c := testutil.Dial(t, d.TCPAddr)
				start := time.Now() // the interval starts when IDENTIFY is processed, after this
				c.Identify(t, `{"heartbeat_interval":1000}`)
				if role == "consumer" {
					c.Sub(t, uniq(t, "hb"), "c")
				}
				return c, start
			}
			t.Run(role+" silent is closed", func(t *testing.T) {
				t.Parallel()
				c, start := connect(t)
				// Raw read: the first frame is a heartbeat at ~1 s, byte for byte.
				c.Timeout = 3 * time.Second
				ft, payload, err := c.ReadFrame()
				if err != nil || ft != testutil.FrameResponse || string(payload) != testutil.Heartbeat {
					t.Fatalf("got %s %q (%v), want a %q response", testutil.FrameTypeName(ft), payload, err, testutil.Heartbeat)
				}
				between(t, "first heartbeat", time.Since(start), 900*time.Millisecond, 1800*time.Millisecond)
				c.ExpectClosedWithin(t, 4*time.Second)
				between(t, "close of a silent connection", time.Since(start), 1800*time.Millisecond, 3500*time.Millisecond)
			})
			t.Run(role+" answering stays", func(t *testing.T) {
				t.Parallel()
				c, _ := connect(t)
				c.AnswerHeartbeats = true
				c.ExpectNoFrame(t, 4500*time.Millisecond)
				if c.Heartbeats < 3 || c.Heartbeats > 5 {
					t.Fatalf("got %d heartbeats in 4.5 s, want 4 (one per second)", c.Heartbeats)
				}
				c.ExpectAlive(t)
			})
		}
		// Any command resets the read deadline, not only NOP.
		t.Run("any command keeps alive", func(t *testing.T) {
			t.Parallel()
			c := testutil.Dial(t, d.TCPAddr)
			c.Identify(t, `{"heartbeat_interval":1000}`)
			for range 4 {
				time.Sleep(900 * time.Millisecond)
				c.ExpectAlive(t) // a PUB every 0.9 s, heartbeats left unanswered
			}
			if c.Heartbeats < 2 {
				t.Fatalf("saw %d heartbeats in 3.6 s, want at least 2", c.Heartbeats)
			}
		})
	})
}
