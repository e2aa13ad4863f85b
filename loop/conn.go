package loop

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"nsqreactor/codec"
	"nsqreactor/core"
)

// Client states, numbered as upstream (they appear as "state" in /stats).
const (
	stateInit       = 0
	stateSubscribed = 3
	stateClosing    = 4
)

// conn is one client connection. Fields without a comment are owned by the
// connection's event loop.
type conn struct {
	gc  gnet.Conn
	srv *Server
	id  int64

	remoteAddr string // ip:port, or the unix socket peer
	remoteIP   string // "" for unix sockets
	connectTS  int64  // unix seconds

	magicOK  bool
	need     int   // inbound bytes needed before parsing can make progress
	now      int64 // UnixNano read once per parsed batch (parseCommands), for FIN and RDY
	state    atomic.Int32
	cmd      codec.Command
	out      []byte // this batch's write buffer
	closeNow bool   // a fatal error was queued; close after the write
	halt     bool   // stop parsing this buffer: closeNow, a layer switch, or a pause
	eof      bool   // the peer closed its side: a short body is an error now

	identity // negotiated IDENTIFY values

	// ext is nil on a plain connection that waits for nothing: the fast
	// path's only test. It holds the TLS and compression layers and the
	// pause for an asynchronous answer (TLS handshake, auth server).
	ext  *connExt
	auth *authConn // AUTH state; nil until the first AUTH

	sub *core.Subscription
	ch  *core.Channel
	dur core.Durability // --sync-every=1: records this batch's publishes wait for

	outboxMu        sync.Mutex // guards outbox and drainScheduled
	outbox          []byte     // message frames from Deliver, waiting for the loop
	spare           []byte     // the other half of the outbox double buffer (loop-owned)
	drainScheduled  bool       // the loop will look at the outbox before it sleeps
	kicked          atomic.Bool
	magicSeen       atomic.Bool
	heartbeatDue    atomic.Bool
	lastCommand     atomic.Int64 // UnixNano of the last complete command (read deadline)
	nextHeartbeat   atomic.Int64 // UnixNano
	heartbeatNanos  atomic.Int64 // 0 = heartbeats disabled
	writeStallSince int64        // loop-owned: when unsent bytes were first seen at a heartbeat

	stats  connStats
	shared atomic.Pointer[published] // what /stats may read
}

// identity holds the IDENTIFY-negotiated values. Loop-owned; the string
// fields are also read by /stats under statsMu.
type identity struct {
	identified          bool
	clientID            string
	hostname            string
	userAgent           string
	msgTimeout          time.Duration
	outputBufferSize    int
	outputBufferTimeout time.Duration
	sampleRate          int32
	topologyRegion      string
	topologyZone        string
	authed              bool
}

// Deliver implements core.Consumer: it appends msg's frame to the outbox.
// It runs with the channel lock held, on any goroutine.
func (c *conn) Deliver(m *core.Message) {
	c.outboxMu.Lock()
	c.outbox = codec.AppendMessageFrame(c.outbox, m.Timestamp, m.Attempts, (*[codec.MsgIDLength]byte)(&m.ID), m.Body)
	wake := !c.drainScheduled
	c.drainScheduled = true
	c.outboxMu.Unlock()
	if wake {
		c.gc.Wake(nil)
	}
}

// Kick implements core.Consumer: the channel was deleted, close the
// connection.
func (c *conn) Kick() {
	if c.kicked.CompareAndSwap(false, true) {
		c.gc.Close()
	}
}

// beginBatch marks the start of loop work on c: deliveries made until
// endBatch need no wake, because endBatch drains the outbox.
func (c *conn) beginBatch() {
	c.outboxMu.Lock()
	c.drainScheduled = true
	c.outboxMu.Unlock()
}

// endBatch moves the outbox into c.out and writes c.out with one Write.
func (c *conn) endBatch() error {
	c.outboxMu.Lock()
	if len(c.outbox) > 0 {
		if len(c.out) == 0 {
			// swap instead of copying: the outbox becomes this batch's buffer
			c.out, c.outbox, c.spare = c.outbox, c.spare[:0], c.out[:0]
		} else {
			c.out = append(c.out, c.outbox...)
			c.outbox = c.outbox[:0]
		}
	}
	c.drainScheduled = false
	c.outboxMu.Unlock()
	return c.flushOut()
}

// flushOut writes c.out now, through whatever layers are active (the one
// test a plain connection pays); an upgrade also uses it to put the bytes
// before the switch point on the wire.
func (c *conn) flushOut() error {
	if len(c.out) == 0 {
		return nil
	}
	if c.ext != nil {
		return c.ext.writeOut(c)
	}
	_, err := c.gc.Write(c.out)
	c.stats.bytesOut.Add(uint64(len(c.out)))
	c.recycleOut()
	return err
}

// recycleOut empties c.out after a write, dropping buffers that a burst of
// large messages made too big to keep.
func (c *conn) recycleOut() {
	c.out = c.out[:0]
	if cap(c.out) > maxRetainedBuffer {
		c.out = nil
	}
	if cap(c.spare) > maxRetainedBuffer {
		c.spare = nil
	}
}

// maxRetainedBuffer caps the write buffers a connection keeps between
// batches, so one burst of large messages does not pin memory forever.
const maxRetainedBuffer = 1 << 20

func (c *conn) respond(payload []byte) {
	c.out = codec.AppendResponse(c.out, payload)
}

// fail queues an error frame; a fatal one closes the connection after the
// batch is written.
func (c *conn) fail(e *codec.Error) {
	if e == nil { // a caller's bug: close rather than crash the event loop
		c.srv.nsqd.Logger().Logf(core.LogLevelError, "[%s] - internal error: fail(nil); closing", c.remoteAddr)
		c.closeNow, c.halt = true, true
		return
	}
	c.out = codec.AppendError(c.out, e)
	if e.Fatal {
		c.closeNow, c.halt = true, true
	}
	c.srv.nsqd.Logger().Logf(core.LogLevelError, "[%s] - %s", c.remoteAddr, e.Error())
}

// connStats are counters read by /stats from other goroutines.
type connStats struct {
	bytesIn  atomic.Uint64
	bytesOut atomic.Uint64

	mu        sync.Mutex // guards pubCounts
	pubCounts map[string]uint64
	pubTotal  atomic.Uint64
}

func (s *connStats) addPub(topic *core.Topic, n int) {
	s.pubTotal.Add(uint64(n))
	s.mu.Lock()
	if s.pubCounts == nil {
		s.pubCounts = make(map[string]uint64)
	}
	s.pubCounts[topic.Name()] += uint64(n)
	s.mu.Unlock()
}
