package loop

import (
	"time"

	"nsqreactor/codec"
)

// setHeartbeat sets the heartbeat interval (0 = disabled) and the next
// heartbeat time.
func (c *conn) setHeartbeat(interval time.Duration, now int64) {
	c.heartbeatNanos.Store(int64(interval))
	if interval > 0 {
		c.nextHeartbeat.Store(now + int64(interval))
	}
}

// tick runs on the ticker goroutine (not the loop): it may only read atomics
// and call gnet's concurrency-safe methods.
func (c *conn) tick(now int64) {
	if !c.magicOK_() {
		return // upstream never times out a connection before the magic
	}
	hb := c.heartbeatNanos.Load()
	if hb <= 0 {
		return
	}
	// read deadline: 2 × heartbeat interval since the last complete command
	if now-c.lastCommand.Load() > 2*hb {
		c.gc.Close()
		return
	}
	if now >= c.nextHeartbeat.Load() {
		c.nextHeartbeat.Store(now + hb)
		c.heartbeatDue.Store(true)
		c.gc.Wake(nil)
	}
}

// magicOK_ reports, from any goroutine, whether the magic was received; the
// loop publishes it by arming the read deadline (lastCommand > 0 after the
// first command). Before the first command the deadline still runs from
// OnOpen, as upstream's first read deadline does.
func (c *conn) magicOK_() bool { return c.magicSeen.Load() }

// heartbeat runs on the loop: it queues a _heartbeat_ frame and enforces the
// write deadline — a connection whose unsent bytes have not drained for a
// whole heartbeat interval is closed, like upstream's per-write deadline.
func (c *conn) heartbeat() {
	now := time.Now().UnixNano()
	if c.gc.OutboundBuffered() > 0 {
		if c.writeStallSince == 0 {
			c.writeStallSince = now
		} else if now-c.writeStallSince >= c.heartbeatNanos.Load() {
			c.closeNow, c.halt = true, true
			return
		}
	} else {
		c.writeStallSince = 0
	}
	c.out = codec.AppendResponse(c.out, codec.RespHeartbeat)
}
