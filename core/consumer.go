package core

import (
	"sync/atomic"
	"time"
)

// Consumer is a subscribed connection as seen from a channel. Package loop
// implements it.
type Consumer interface {
	// Deliver hands an in-flight message to the connection. It is called with
	// the channel's lock held, possibly from another event loop or the
	// scanner goroutine: it must copy what it needs from msg (the frame
	// bytes), must not block, and must not call back into core.
	Deliver(msg *Message)
	// Kick asks the connection to close (its channel was deleted). Same
	// constraints as Deliver.
	Kick()
	// Client gives /stats the connection's figures.
	Client
}

// SubscribeOptions are a subscriber's negotiated IDENTIFY values.
type SubscribeOptions struct {
	ClientID   int64
	MsgTimeout time.Duration // in-flight deadline for messages sent to it
	SampleRate int32         // 0 = all; 1..99 keep ≈ (rate+1)%
	// ZoneLocal and RegionLocal say the client's IDENTIFY topology_zone /
	// topology_region equal this node's (the topology-aware-consumption
	// experiment prefers such subscribers).
	ZoneLocal, RegionLocal bool
}

// Subscription is one connection's membership of one channel. Its RDY and
// in-flight accounting are guarded by the channel's lock; the exported
// counters are atomics for /stats.
type Subscription struct {
	ch       *Channel
	consumer Consumer
	opts     SubscribeOptions

	rdy      int64 // guarded by ch.mu: max in flight (RDY is a window, not a credit)
	inFlight int64 // guarded by ch.mu
	closing  bool  // guarded by ch.mu: CLS received; no new deliveries
	removed  bool  // guarded by ch.mu

	ReadyCount    atomic.Int64  // last RDY, for stats
	InFlightCount atomic.Int64  // mirror of inFlight, for stats
	MessageCount  atomic.Uint64 // messages sent
	FinishCount   atomic.Uint64
	RequeueCount  atomic.Uint64
}

// Channel returns the channel subscribed to.
func (s *Subscription) Channel() *Channel { return s.ch }

// ClientID returns the subscriber's client id.
func (s *Subscription) ClientID() int64 { return s.opts.ClientID }

// ready reports whether s may receive another message. ch.mu must be held.
func (s *Subscription) ready() bool {
	return !s.closing && !s.removed && s.inFlight < s.rdy
}
