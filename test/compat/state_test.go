package compat

import (
	"testing"
	"time"

	"nsqreactor/internal/testutil"
)

// anyID is a well-formed (16-byte) message id that is never in flight.
const anyID = "0123456789abcdef"

// Spec §1.4: which commands each state allows. Every row runs on a fresh
// connection brought into the state, sends one command and checks the
// exact answer: a fatal error then close, a response, or silence.
func TestStateTable(t *testing.T) {
	type row struct {
		state string // init, subscribed, closing
		send  []byte
		want  string // exact error; "" = no response (then the connection must be alive); "OK" = response OK
	}
	rows := []row{
		{"init", cmd("RDY 1"), "E_INVALID cannot RDY in current state"},
		{"init", cmd("RDY"), "E_INVALID cannot RDY in current state"},
		{"init", cmd("FIN " + anyID), "E_INVALID cannot FIN in current state"},
		{"init", cmd("FIN"), "E_INVALID cannot FIN in current state"},
		{"init", cmd("REQ " + anyID + " 0"), "E_INVALID cannot REQ in current state"},
		{"init", cmd("TOUCH " + anyID), "E_INVALID cannot TOUCH in current state"},
		{"init", cmd("CLS"), "E_INVALID cannot CLS in current state"},
		{"init", cmd("NOP"), ""},
		{"init", cmdBody("PUB state_pub", "x"), "OK"},
		{"init", cmdBody("IDENTIFY", "{}"), "OK"},

		{"subscribed", cmdBody("IDENTIFY", "{}"), "E_INVALID cannot IDENTIFY in current state"},
		{"subscribed", cmdBody("AUTH", "secret"), "E_INVALID cannot AUTH in current state"},
		{"subscribed", cmd("SUB state_t c"), "E_INVALID cannot SUB in current state"},
		{"subscribed", cmd("SUB state_other c2"), "E_INVALID cannot SUB in current state"},
		{"subscribed", cmd("SUB"), "E_INVALID cannot SUB in current state"},
		{"subscribed", cmd("NOP"), ""},
		{"subscribed", cmd("RDY 0"), ""},
		{"subscribed", cmdBody("PUB state_pub", "x"), "OK"},
		{"subscribed", cmdBody("MPUB state_pub", string(testutil.MPUBBody([]byte("a"), []byte("b")))), "OK"},
		{"subscribed", cmdBody("DPUB state_pub 10", "x"), "OK"},

		{"closing", cmdBody("IDENTIFY", "{}"), "E_INVALID cannot IDENTIFY in current state"},
		{"closing", cmdBody("AUTH", "secret"), "E_INVALID cannot AUTH in current state"},
		{"closing", cmd("SUB state_t c"), "E_INVALID cannot SUB in current state"},
		{"closing", cmd("CLS"), "E_INVALID cannot CLS in current state"},
		{"closing", cmd("RDY 5"), ""},
		{"closing", cmd("RDY garbage"), ""}, // ignored without parsing
		{"closing", cmd("RDY -1"), ""},
		{"closing", cmd("NOP"), ""},
		{"closing", cmdBody("PUB state_pub", "x"), "OK"},
		{"closing", cmd("FIN " + anyID), "E_FIN_FAILED FIN " + anyID + " failed ID not in flight"},
		{"closing", cmd("REQ " + anyID + " 0"), "E_REQ_FAILED REQ " + anyID + " failed ID not in flight"},
		{"closing", cmd("TOUCH " + anyID), "E_TOUCH_FAILED TOUCH " + anyID + " failed ID not in flight"},
		{"closing", cmd("FIN x"), "E_INVALID invalid message ID"},
	}
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		for _, r := range rows {
			t.Run(r.state+" "+string(r.send), func(t *testing.T) {
				t.Parallel()
				c := testutil.Dial(t, d.TCPAddr)
				switch r.state {
				case "subscribed":
					c.Sub(t, "state_t", "c")
				case "closing":
					c.Sub(t, "state_t", "c")
					c.Command(t, "CLS")
					c.ExpectResponse(t, "CLOSE_WAIT")
				}
				c.Write(t, r.send)
				switch {
				case r.want == "":
					c.ExpectAlive(t)
				case r.want == "OK":
					c.ExpectResponse(t, "OK")
					c.ExpectAlive(t)
				case isNonFatal(r.want):
					c.ExpectError(t, r.want)
					c.ExpectAlive(t)
				default:
					c.ExpectError(t, r.want)
					c.ExpectClosed(t)
				}
			})
		}
	})
}

// isNonFatal reports whether an error payload is one of the three non-fatal
// codes (spec §1.5).
func isNonFatal(payload string) bool {
	for _, code := range []string{"E_FIN_FAILED ", "E_REQ_FAILED ", "E_TOUCH_FAILED "} {
		if len(payload) > len(code) && payload[:len(code)] == code {
			return true
		}
	}
	return false
}

// Spec §1.6.9 / §2.4: CLS answers CLOSE_WAIT, keeps the connection open,
// stops deliveries (RDY forced to 0 and later RDYs ignored), and FIN, PUB
// still work.
func TestCLS(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		topic := uniq(t, "cls")
		c := subscriber(t, d, "", topic, "c")
		c.Rdy(t, 1) // with m1 in flight the window is full before CLS: no race with RDY 0
		publish(t, d, topic, "m1")
		m := c.ExpectMessage(t)

		c.Command(t, "CLS")
		c.ExpectResponse(t, "CLOSE_WAIT")
		c.Command(t, "RDY 10")
		publish(t, d, topic, "m2", "m3")
		c.ExpectNoFrame(t, 400*time.Millisecond)

		c.Fin(t, m.ID) // still owned after CLS: no error
		c.CommandBody(t, "PUB "+topic, []byte("m4"))
		c.ExpectResponse(t, "OK")
		c.ExpectNoFrame(t, 300*time.Millisecond)

		// The three undelivered messages are still in the channel.
		c2 := subscriber(t, d, "", topic, "c")
		c2.Rdy(t, 10)
		got := collectFrom(t, []*testutil.RawConn{c2}, 3, true, testutil.DefaultTimeout)[0]
		if len(got) != 3 {
			t.Fatalf("second consumer got %q, want m2, m3, m4", got)
		}

		c.Command(t, "CLS")
		c.ExpectError(t, "E_INVALID cannot CLS in current state")
		c.ExpectClosed(t)
	})
}

// Spec §1.6.10 / §1.5: NOP, RDY, FIN, REQ and TOUCH never answer on success;
// NOP takes any parameters.
func TestNoResponseOnSuccess(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		topic := uniq(t, "quiet")
		c := subscriber(t, d, "", topic, "c")
		c.Command(t, "NOP")
		c.Command(t, "NOP a b c")
		c.Rdy(t, 3)
		publish(t, d, topic, "a", "b", "c")
		ms := c.ExpectMessages(t, 3)
		c.Fin(t, ms[0].ID)
		c.Touch(t, ms[1].ID)
		c.Req(t, ms[2].ID, 60000)
		c.Fin(t, ms[1].ID)
		c.Rdy(t, 0)
		c.ExpectNoFrame(t, 300*time.Millisecond)
		c.ExpectAlive(t)
	})
}
