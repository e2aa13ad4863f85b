package compat

import (
	"testing"
	"time"

	"nsqreactor/internal/testutil"
)

// Spec §1.6.4: RDY parsing and range, all errors fatal.
func TestRdyErrors(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		d10 := impl.Start(t, "--max-rdy-count=10")
		sub := func(t *testing.T, c *testutil.RawConn) { c.Sub(t, uniq(t, "rdy"), "c") }
		t.Run("default max", func(t *testing.T) {
			runFatalCases(t, d, sub, []errCase{
				{"-1", cmd("RDY -1"), "E_INVALID RDY could not parse count -1"},
				{"+1", cmd("RDY +1"), "E_INVALID RDY could not parse count +1"},
				{"1x", cmd("RDY 1x"), "E_INVALID RDY could not parse count 1x"},
				{"2501", cmd("RDY 2501"), "E_INVALID RDY count 2501 out of range 0-2500"},
				{"huge", cmd("RDY 99999999999"), "E_INVALID RDY count 99999999999 out of range 0-2500"},
			})
		})
		t.Run("flag max", func(t *testing.T) {
			runFatalCases(t, d10, sub, []errCase{
				{"11", cmd("RDY 11"), "E_INVALID RDY count 11 out of range 0-10"},
			})
		})
		for _, line := range []string{"RDY 2500", "RDY 0", "RDY 0002", "RDY 1 extra"} {
			t.Run(line, func(t *testing.T) {
				t.Parallel()
				c := testutil.Dial(t, d.TCPAddr)
				sub(t, c)
				c.Command(t, line)
				c.ExpectAlive(t)
			})
		}
	})
}

// Spec §1.6.4: "RDY" without a count means 1, "RDY " (empty count) means 0.
func TestRdyDefaults(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		t.Run("missing is 1", func(t *testing.T) {
			t.Parallel()
			topic := uniq(t, "rdy")
			c := subscriber(t, d, "", topic, "c")
			publish(t, d, topic, "a", "b", "c")
			c.Command(t, "RDY")
			c.ExpectMessage(t)
			c.ExpectNoFrame(t, 400*time.Millisecond)
		})
		t.Run("empty is 0", func(t *testing.T) {
			t.Parallel()
			topic := uniq(t, "rdy")
			c := subscriber(t, d, "", topic, "c")
			// Not preceded by a higher RDY: upstream applies a lowered RDY
			// asynchronously, so a racing message could still slip through.
			c.Command(t, "RDY ")
			publish(t, d, topic, "a")
			c.ExpectNoFrame(t, 400*time.Millisecond)
			c.Rdy(t, 1)
			c.ExpectMessage(t)
		})
	})
}

// Spec §1.6.5-1.6.7: parameter and id errors are fatal; an id that is not in
// flight is a non-fatal *_FAILED error. Ids are any 16 bytes.
func TestFinReqTouchErrors(t *testing.T) {
	const notHex = "zzzzzzzzzzzzzzzz"
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		sub := func(t *testing.T, c *testutil.RawConn) { c.Sub(t, uniq(t, "fin"), "c") }
		t.Run("fatal", func(t *testing.T) {
			runFatalCases(t, d, sub, []errCase{
				{"FIN", cmd("FIN"), "E_INVALID FIN insufficient number of params"},
				{"FIN short", cmd("FIN 0123456789abcde"), "E_INVALID invalid message ID"},
				{"FIN long", cmd("FIN 0123456789abcdef0"), "E_INVALID invalid message ID"},
				{"FIN empty", cmd("FIN "), "E_INVALID invalid message ID"},
				{"REQ", cmd("REQ"), "E_INVALID REQ insufficient number of params"},
				{"REQ no timeout", cmd("REQ " + anyID), "E_INVALID REQ insufficient number of params"},
				{"REQ short", cmd("REQ 0123 0"), "E_INVALID invalid message ID"},
				{"REQ bad timeout", cmd("REQ " + anyID + " x"), "E_INVALID REQ could not parse timeout x"},
				{"REQ negative", cmd("REQ " + anyID + " -1"), "E_INVALID REQ could not parse timeout -1"},
				{"REQ id before timeout", cmd("REQ 0123 x"), "E_INVALID invalid message ID"},
				{"TOUCH", cmd("TOUCH"), "E_INVALID TOUCH insufficient number of params"},
				{"TOUCH short", cmd("TOUCH 0123"), "E_INVALID invalid message ID"},
			})
		})
		for _, tc := range []struct{ name, line, want string }{
			{"FIN", "FIN " + anyID, "E_FIN_FAILED FIN " + anyID + " failed ID not in flight"},
			{"FIN not hex", "FIN " + notHex, "E_FIN_FAILED FIN " + notHex + " failed ID not in flight"},
			{"REQ", "REQ " + anyID + " 0", "E_REQ_FAILED REQ " + anyID + " failed ID not in flight"},
			{"REQ empty timeout", "REQ " + anyID + " ", "E_REQ_FAILED REQ " + anyID + " failed ID not in flight"},
			{"REQ huge timeout", "REQ " + anyID + " 99999999999", "E_REQ_FAILED REQ " + anyID + " failed ID not in flight"},
			{"TOUCH", "TOUCH " + anyID, "E_TOUCH_FAILED TOUCH " + anyID + " failed ID not in flight"},
		} {
			t.Run("not in flight "+tc.name, func(t *testing.T) {
				t.Parallel()
				c := testutil.Dial(t, d.TCPAddr)
				sub(t, c)
				c.Command(t, tc.line)
				c.ExpectError(t, tc.want)
				c.ExpectAlive(t)
			})
		}
	})
}

// Spec §1.6.5-1.6.7: FIN/REQ/TOUCH of a message in flight to another
// connection fail with "client does not own message" (non-fatal) and leave
// the message with its owner.
func TestFinReqTouchNotOwner(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		topic := uniq(t, "own")
		owner := subscriber(t, d, "", topic, "c")
		other := subscriber(t, d, "", topic, "c")
		owner.Rdy(t, 1)
		publish(t, d, topic, "mine")
		m := owner.ExpectMessage(t)
		id := m.ID.String()

		other.Fin(t, m.ID)
		other.ExpectError(t, "E_FIN_FAILED FIN "+id+" failed client does not own message")
		other.Req(t, m.ID, 0)
		other.ExpectError(t, "E_REQ_FAILED REQ "+id+" failed client does not own message")
		other.Touch(t, m.ID)
		other.ExpectError(t, "E_TOUCH_FAILED TOUCH "+id+" failed client does not own message")
		other.ExpectAlive(t)

		owner.Fin(t, m.ID)
		owner.Fin(t, m.ID)
		owner.ExpectError(t, "E_FIN_FAILED FIN "+id+" failed ID not in flight")
		owner.ExpectAlive(t)
	})
}
