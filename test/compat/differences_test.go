package compat

// DELIBERATE DIFFERENCES: the three places where ours improves on upstream
// nsqd v1.3.0 on purpose. Each test asserts upstream's actual behaviour for
// upstream (or nothing, where upstream's is a timing accident) and the
// improvement for ours, so the difference stays visible and intended.

import (
	"strings"
	"testing"
	"time"

	"nsqreactor/internal/testutil"
)

// DELIBERATE DIFFERENCE (1), spec §4.8: when a consumer disconnects,
// upstream leaves its in-flight messages in flight until their msg timeout
// expires (here 2 s after delivery); ours requeues them at once (< 500 ms).
// Both redeliver with attempts 2.
func TestDisconnectRequeue(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		topic := uniq(t, "gone")
		warmUp(t, d, topic, "c")
		leaver := subscriber(t, d, `{"msg_timeout":2000}`, topic, "c")
		stayer := subscriber(t, d, "", topic, "c")
		leaver.Rdy(t, 2)
		sent := time.Now() // delivery, the timeout's origin, is after this
		publish(t, d, topic, "a", "b")
		leaver.ExpectMessages(t, 2)
		stayer.Rdy(t, 10)
		stayer.ExpectNoFrame(t, 100*time.Millisecond)
		leaver.Close()
		closed := time.Now()

		stayer.Timeout = 2000*time.Millisecond + late
		ms := stayer.ExpectMessages(t, 2)
		if impl.Ours {
			between(t, "requeue after disconnect (ours: immediate)", time.Since(closed), 0, 500*time.Millisecond)
		} else {
			between(t, "requeue after disconnect (upstream: msg timeout after publish)", time.Since(sent), 2000*time.Millisecond, 2000*time.Millisecond+late)
		}
		for _, m := range ms {
			if m.Attempts != 2 {
				t.Fatalf("message %q redelivered with attempts %d, want 2", m.Body, m.Attempts)
			}
			stayer.Fin(t, m.ID)
		}
		stayer.ExpectNoFrame(t, 300*time.Millisecond)
	})
}

// DELIBERATE DIFFERENCE (2), spec §2.5: a lone message to a consumer with
// RDY > 1 waits in upstream's output buffer until the output-buffer timer
// fires (up to output_buffer_timeout: 250 ms by default); ours writes it at
// once and uses the timeout only as an upper bound. Asserted for ours only:
// upstream's latency depends on the timer's phase.
func TestLoneMessageNoBufferDelay(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		for _, tc := range []struct{ name, identify string }{
			{"default", `{}`},
			{"output_buffer_timeout 1000", `{"output_buffer_timeout":1000}`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				topic := uniq(t, "lone")
				c := subscriber(t, d, tc.identify, topic, "c")
				c.Rdy(t, 10)
				p := testutil.Dial(t, d.TCPAddr)
				rounds := 5
				if !impl.Ours {
					rounds = 2 // only logged: upstream's latency is the flush timer's phase
				}
				slow := 0 // rounds over 150 ms; one is forgiven as scheduling noise
				for i := range rounds {
					p.Pub(t, topic, []byte("lone")) // the OK comes back before the delivery can
					start := time.Now()
					m := c.ExpectMessage(t)
					latency := time.Since(start)
					if latency > 150*time.Millisecond {
						slow++
					}
					t.Logf("lone message %d delivered after %s", i, latency.Round(time.Millisecond))
					c.Fin(t, m.ID)
					time.Sleep(50 * time.Millisecond)
				}
				if impl.Ours && slow > 1 {
					t.Fatalf("ours delivered %d of %d lone messages after more than 150ms, want no output-buffer delay", slow, rounds)
				}
			})
		}
	})
}

// DELIBERATE DIFFERENCE (3), spec §1.6.8: upstream never checks MPUB's
// declared body size against its content and desynchronises (a larger
// declared size leaves the rest to be parsed as commands; a smaller one is
// ignored); ours rejects the MPUB with a fatal E_BAD_BODY or E_BAD_MESSAGE
// error and closes.
func TestMPUBBodySizeMismatch(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		topic := uniq(t, "mismatch")
		content := mpubRaw(1, 1, "x") // 9 bytes
		trailer := string(cmdBody("PUB "+topic, "y"))
		for _, tc := range []struct {
			name string
			size int32
			rest string // bytes after the declared content
		}{
			{"declared larger", int32(len(content) + len(trailer)), trailer},
			{"declared smaller", 5, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				c := testutil.Dial(t, d.TCPAddr)
				c.Write(t, cmdSize("MPUB "+topic, tc.size, content+tc.rest))
				if !impl.Ours {
					c.ExpectResponse(t, "OK") // upstream: MPUB of 1 message
					if tc.rest != "" {
						c.ExpectResponse(t, "OK") // upstream: the trailer ran as a PUB
					}
					c.ExpectAlive(t)
					return
				}
				ft, payload := c.Next(t)
				if ft != testutil.FrameError || !(strings.HasPrefix(string(payload), "E_BAD_BODY ") || strings.HasPrefix(string(payload), "E_BAD_MESSAGE ")) {
					t.Fatalf("got %s %q, want an E_BAD_BODY or E_BAD_MESSAGE error", testutil.FrameTypeName(ft), payload)
				}
				c.ExpectClosed(t)
			})
		}
	})
}
