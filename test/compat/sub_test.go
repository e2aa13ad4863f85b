package compat

import (
	"strings"
	"testing"
	"time"

	"nsqreactor/internal/testutil"
)

// Spec §1.6.3 and §4.1: SUB errors and the name rules (1-64 bytes including
// any "#ephemeral" suffix, [.a-zA-Z0-9_-]+(#ephemeral)?).
func TestSubErrors(t *testing.T) {
	name64 := strings.Repeat("n", 64)
	name65 := strings.Repeat("n", 65)
	eph64 := strings.Repeat("e", 54) + "#ephemeral"
	eph65 := strings.Repeat("e", 55) + "#ephemeral"
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		runFatalCases(t, d, nil, []errCase{
			{"no params", cmd("SUB"), "E_INVALID SUB insufficient number of parameters"},
			{"no channel", cmd("SUB t"), "E_INVALID SUB insufficient number of parameters"},
			{"bad topic", cmd("SUB t! c"), `E_BAD_TOPIC SUB topic name "t!" is not valid`},
			{"bad topic and channel", cmd("SUB t! c!"), `E_BAD_TOPIC SUB topic name "t!" is not valid`},
			{"bad channel", cmd("SUB t c!"), `E_BAD_CHANNEL SUB channel name "c!" is not valid`},
			{"empty channel", cmd("SUB t "), `E_BAD_CHANNEL SUB channel name "" is not valid`},
			{"topic 65", cmd("SUB " + name65 + " c"), `E_BAD_TOPIC SUB topic name "` + name65 + `" is not valid`},
			{"channel 65", cmd("SUB t " + name65), `E_BAD_CHANNEL SUB channel name "` + name65 + `" is not valid`},
			{"ephemeral topic 65", cmd("SUB " + eph65 + " c"), `E_BAD_TOPIC SUB topic name "` + eph65 + `" is not valid`},
			{"ephemeral channel 65", cmd("SUB t " + eph65), `E_BAD_CHANNEL SUB channel name "` + eph65 + `" is not valid`},
			{"suffix then text", cmd("SUB t#ephemeralx c"), `E_BAD_TOPIC SUB topic name "t#ephemeralx" is not valid`},
			{"double suffix", cmd("SUB t c#ephemeral#ephemeral"), `E_BAD_CHANNEL SUB channel name "c#ephemeral#ephemeral" is not valid`},
			{"bare suffix", cmd("SUB #ephemeral c"), `E_BAD_TOPIC SUB topic name "#ephemeral" is not valid`},
			{"hash", cmd("SUB t c#other"), `E_BAD_CHANNEL SUB channel name "c#other" is not valid`},
			{"quoted control byte", cmd("SUB t\x01\"\\é c"), `E_BAD_TOPIC SUB topic name "t\x01\"\\é" is not valid`},
			{"quoted invalid utf8", cmd("SUB t\xff c"), `E_BAD_TOPIC SUB topic name "t\xff" is not valid`},
		})
		for _, tc := range []struct{ name, topic, channel string }{
			{"64 64", name64, name64},
			{"ephemeral 64", eph64, eph64},
			{"all classes", "aZ09._-", "-_.09Za"},
			{"single chars", "a", "."},
		} {
			t.Run("valid "+tc.name, func(t *testing.T) {
				t.Parallel()
				testutil.Dial(t, d.TCPAddr).Sub(t, tc.topic, tc.channel)
			})
		}
	})
}

// Spec §1.6.3 step 2: a connection with heartbeats disabled cannot SUB; the
// check comes before the parameter checks.
func TestSubHeartbeatsDisabled(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		noHeartbeat := func(t *testing.T, c *testutil.RawConn) { c.Identify(t, `{"heartbeat_interval":-1}`) }
		runFatalCases(t, d, noHeartbeat, []errCase{
			{"valid", cmd("SUB t c"), "E_INVALID cannot SUB with heartbeats disabled"},
			{"no params", cmd("SUB"), "E_INVALID cannot SUB with heartbeats disabled"},
		})
		t.Run("publishing allowed", func(t *testing.T) {
			t.Parallel()
			c := testutil.Dial(t, d.TCPAddr)
			noHeartbeat(t, c)
			c.ExpectAlive(t)
		})
	})
}

// Spec §4.13: --max-channel-consumers=N refuses SUB number N+1 on a channel
// (fatal); other channels are unaffected.
func TestSubMaxChannelConsumers(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t, "--max-channel-consumers=2")
		topic := uniq(t, "max")
		subscriber(t, d, "", topic, "c")
		subscriber(t, d, "", topic, "c")
		c := testutil.Dial(t, d.TCPAddr)
		c.Command(t, "SUB "+topic+" c")
		c.ExpectError(t, "E_SUB_FAILED SUB failed consumers for "+topic+":c exceeds limit of 2")
		c.ExpectClosed(t)
		subscriber(t, d, "", topic, "other")
	})
}

// Spec §1.6.3: SUB answers OK and RDY starts at 0, so nothing is delivered
// before RDY.
func TestSubStartsWithRdyZero(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		topic := uniq(t, "rdy0")
		c := subscriber(t, d, "", topic, "c")
		publish(t, d, topic, "waiting")
		c.ExpectNoFrame(t, 400*time.Millisecond)
		c.Rdy(t, 1)
		if m := c.ExpectMessage(t); string(m.Body) != "waiting" {
			t.Fatalf("got body %q, want %q", m.Body, "waiting")
		}
	})
}
