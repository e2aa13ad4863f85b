package compat

import (
	"strconv"
	"testing"
	"time"

	"nsqreactor/internal/testutil"
)

// late is how long after its due time a timed event (in-flight timeout,
// REQ delay, DPUB delay) may be observed on a warmed-up channel: upstream
// scans every 100 ms; the rest is scheduling slack on a loaded 2-core box.
// Nothing may ever be observed early.
const late = 1500 * time.Millisecond

// warmUp creates the (durable) channels of topic and returns once the daemon
// has fired a timed event on a channel created after them, so that timing
// assertions on them measure the timers rather than start-up.
//
// Upstream quirk (not in the spec): the queue-scan loop that fires in-flight
// timeouts and deferred messages refreshes its channel list only every 5 s
// (QueueScanRefreshInterval, not a flag), so on a channel younger than that a
// timeout or deferral can fire up to ~5 s late. The probe here absorbs that.
func warmUp(t *testing.T, d *testutil.Daemon, topic string, channels ...string) {
	t.Helper()
	for _, ch := range channels {
		subscriber(t, d, "", topic, ch).Close()
	}
	probeTopic := uniq(t, "probe")
	c := subscriber(t, d, `{"msg_timeout":1000}`, probeTopic, "probe")
	c.Rdy(t, 1)
	publish(t, d, probeTopic, "probe")
	c.ExpectMessage(t)
	c.Timeout = 10 * time.Second
	m := c.ExpectMessage(t) // redelivered after the 1 s timeout
	c.Fin(t, m.ID)
	c.Close()
}

// Spec §4.7: a message not finished within the connection's msg_timeout is
// redelivered with attempts+1, same id, timestamp and body.
func TestMsgTimeoutRedelivery(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		topic := uniq(t, "timeout")
		warmUp(t, d, topic, "c")
		c := subscriber(t, d, `{"msg_timeout":1000}`, topic, "c")
		c.Rdy(t, 1)
		sent := time.Now() // the deadline is set at delivery, after this
		publish(t, d, topic, "slow")
		m1 := c.ExpectMessage(t)
		c.Timeout = 1000*time.Millisecond + late
		m2 := c.ExpectMessage(t)
		between(t, "redelivery after publish", time.Since(sent), 1000*time.Millisecond, 1000*time.Millisecond+late)
		if m2.ID != m1.ID || m2.Timestamp != m1.Timestamp || string(m2.Body) != "slow" || m2.Attempts != 2 {
			t.Fatalf("redelivered %+v, want %+v with attempts 2", m2, m1)
		}
		c.Fin(t, m2.ID)
		c.ExpectNoFrame(t, 1000*time.Millisecond+late) // finished: no third delivery, no error
	})
}

// Spec §1.6.6 / §4.7: REQ 0 requeues at once, REQ d after d; attempts grow on
// the next delivery; a delay above --max-req-timeout is clamped, not refused.
func TestReqRequeue(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t, "--max-req-timeout=2s")
		topic := uniq(t, "req")
		warmUp(t, d, topic, "c")
		c := subscriber(t, d, "", topic, "c")
		c.Rdy(t, 1)
		publish(t, d, topic, "again")
		m := c.ExpectMessage(t)
		c.Timeout = 5 * time.Second
		for i, step := range []struct {
			reqMs  int
			lo, hi time.Duration
		}{
			{0, 0, late},
			{1000, 1000 * time.Millisecond, 1000*time.Millisecond + late},
			{3600000, 2000 * time.Millisecond, 2000*time.Millisecond + late}, // clamped to 2 s
		} {
			start := time.Now()
			c.Req(t, m.ID, step.reqMs)
			next := c.ExpectMessage(t)
			between(t, "REQ "+strconv.Itoa(step.reqMs)+" redelivery", time.Since(start), step.lo, step.hi)
			if next.ID != m.ID || next.Attempts != uint16(i+2) {
				t.Fatalf("after REQ %d got id %s attempts %d, want id %s attempts %d", step.reqMs, next.ID, next.Attempts, m.ID, i+2)
			}
			m = next
		}
		c.Fin(t, m.ID)
		c.ExpectNoFrame(t, 300*time.Millisecond)
	})
}

// Spec §1.6.8 / §4.9: DPUB delays delivery by the given ms (never earlier);
// DPUB 0 and an empty delay mean no delay.
func TestDPUBDelay(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		topic := uniq(t, "dpub")
		warmUp(t, d, topic, "c")
		c := subscriber(t, d, "", topic, "c")
		c.Rdy(t, 1)
		p := testutil.Dial(t, d.TCPAddr)

		start := time.Now()
		p.CommandBody(t, "DPUB "+topic+" 1500", []byte("deferred"))
		p.ExpectResponse(t, "OK")
		for _, line := range []string{"PUB " + topic, "DPUB " + topic + " 0", "DPUB " + topic + " "} {
			p.CommandBody(t, line, []byte("now"))
			p.ExpectResponse(t, "OK")
			m := c.ExpectMessage(t)
			if string(m.Body) != "now" || m.Attempts != 1 {
				t.Fatalf("after %q got %q attempts %d first, want %q attempts 1", line, m.Body, m.Attempts, "now")
			}
			c.Fin(t, m.ID)
		}
		c.Timeout = 1500*time.Millisecond + late
		m := c.ExpectMessage(t)
		between(t, "DPUB 1500 delivery", time.Since(start), 1500*time.Millisecond, 1500*time.Millisecond+late)
		if string(m.Body) != "deferred" || m.Attempts != 1 {
			t.Fatalf("got %q attempts %d, want %q attempts 1", m.Body, m.Attempts, "deferred")
		}
	})
}

// Spec §1.6.7: TOUCH resets the deadline to now + msg_timeout.
func TestTouchExtendsDeadline(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		topic := uniq(t, "touch")
		warmUp(t, d, topic, "c")
		c := subscriber(t, d, `{"msg_timeout":2000}`, topic, "c")
		c.Rdy(t, 1)
		publish(t, d, topic, "touched")
		m := c.ExpectMessage(t)
		// Held for 4.8 s, over twice the timeout, touching every 400 ms (the
		// margin absorbs a loaded machine).
		for range 12 {
			c.ExpectNoFrame(t, 400*time.Millisecond)
			c.Touch(t, m.ID)
		}
		c.Fin(t, m.ID)
		c.ExpectNoFrame(t, 2000*time.Millisecond+late) // the FIN succeeded: no error, no redelivery
	})
}

// Spec §1.6.7: TOUCH cannot keep a message past delivery + --max-msg-timeout.
func TestTouchMaxMsgTimeout(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t, "--msg-timeout=2s", "--max-msg-timeout=3s")
		topic := uniq(t, "touchmax")
		warmUp(t, d, topic, "c")
		c := subscriber(t, d, `{"msg_timeout":2000}`, topic, "c")
		c.Rdy(t, 1)
		sent := time.Now() // delivery, the cap's origin, is after this
		publish(t, d, topic, "capped")
		m := c.ExpectMessage(t)
		for time.Since(sent) < 3000*time.Millisecond+late {
			c.Touch(t, m.ID)
			ft, payload, err := c.TryNext(400 * time.Millisecond)
			if err != nil {
				continue // no frame yet
			}
			if ft == testutil.FrameError && string(payload) == "E_TOUCH_FAILED TOUCH "+m.ID.String()+" failed ID not in flight" {
				continue // a TOUCH that raced the timeout
			}
			m2, err := testutil.DecodeMessage(payload)
			if ft != testutil.FrameMessage || err != nil {
				t.Fatalf("got %s %q, want the redelivered message", testutil.FrameTypeName(ft), payload)
			}
			between(t, "redelivery despite TOUCH, after publish", time.Since(sent), 3000*time.Millisecond, 3000*time.Millisecond+late)
			if m2.ID != m.ID || m2.Attempts != 2 {
				t.Fatalf("got id %s attempts %d, want id %s attempts 2", m2.ID, m2.Attempts, m.ID)
			}
			return
		}
		t.Fatalf("message kept in flight by TOUCH for %s, want redelivery at ~3s (max-msg-timeout)", time.Since(sent))
	})
}
