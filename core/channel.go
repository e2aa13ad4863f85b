package core

import (
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"nsqreactor/queue"
)

// Channel is a named consumer group of a topic: every message of the topic
// reaches every channel, and each channel's message goes to one subscriber.
type Channel struct {
	topic     *Topic
	name      string
	ephemeral bool
	nsqd      *NSQD

	disk *queue.Disk // nil for ephemeral channels; calls serialized by mu

	mu         sync.Mutex // guards the fields below
	scratch    []byte     // disk record encoding buffer
	queue      entryQueue // compact entries (channel_queue.go)
	inFlight   map[MessageID]*Message
	inFlightPQ queue.Heap[*Message] // by deadline
	deferred   queue.Heap[*Message] // by due time
	subs       []*Subscription
	next       int // round-robin cursor into subs
	paused     bool
	exiting    bool
	everSubbed bool // an ephemeral channel is only auto-deleted after it had a subscriber

	// nextDeadline is the earliest in-flight deadline or deferred due time
	// (UnixNano), math.MaxInt64 when none; the scanner reads it without the lock.
	nextDeadline atomic.Int64

	depth         atomic.Int64 // len(queue), for stats without the lock
	deferredCount atomic.Int64
	inFlightCount atomic.Int64
	clientCount   atomic.Int64
	MessageCount  atomic.Uint64
	RequeueCount  atomic.Uint64
	TimeoutCount  atomic.Uint64
	FinishCount   atomic.Uint64 // FINs on this channel (not in upstream's /stats; for /metrics)

	// deliveries by locality, counted only with the topology-aware-consumption
	// experiment (upstream's v1.3.0 has no such stats; they are omitted at 0)
	zoneLocalMsgs   atomic.Uint64
	regionLocalMsgs atomic.Uint64
	globalMsgs      atomic.Uint64
	topology        bool // the experiment is on; immutable
}

func newChannel(t *Topic, name string) (*Channel, error) {
	ch := &Channel{
		topic:     t,
		name:      name,
		ephemeral: isEphemeral(name),
		nsqd:      t.nsqd,
		inFlight:  make(map[MessageID]*Message),
	}
	ch.inFlightPQ.SetIndex = setMessageIndex
	ch.deferred.SetIndex = setMessageIndex
	ch.nextDeadline.Store(math.MaxInt64)
	ch.topology = t.nsqd.opts.HasExperiment("topology-aware-consumption")
	if !ch.ephemeral && !t.ephemeral {
		d, err := t.nsqd.openDisk(t.name + ":" + name)
		if err != nil {
			return nil, err
		}
		ch.disk = d
	}
	return ch, nil
}

// Name returns the channel name.
func (ch *Channel) Name() string { return ch.name }

// Topic returns the channel's topic.
func (ch *Channel) Topic() *Topic { return ch.topic }

// Ephemeral reports whether the name ends in #ephemeral.
func (ch *Channel) Ephemeral() bool { return ch.ephemeral }

// put adds a message published to the topic (or coming back from the topic's
// queue). ch.mu must not be held.
func (ch *Channel) put(m *Message, now int64, dur *Durability) error {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.putLocked(m, now, dur)
}

func (ch *Channel) putLocked(m *Message, now int64, dur *Durability) error {
	if ch.exiting {
		releaseMessage(m)
		return nil
	}
	ch.MessageCount.Add(1)
	if m.deferred > 0 {
		due := now + m.deferred
		m.deferred = 0
		return ch.deferLocked(m, due, dur)
	}
	return ch.enqueueLocked(m, now, dur)
}

// deferLocked holds m until due. In durable mode its record (with the due
// time) goes to disk first.
func (ch *Channel) deferLocked(m *Message, due int64, dur *Durability) error {
	if ch.durable() && !m.onDisk {
		err := ch.spillLocked(m, recordDeferred, due, dur)
		if err == nil {
			ch.pumpAllLocked(ch.nsqd.now()) // the reader moves it to the deferred heap
			return nil
		}
	}
	ch.deferred.Push(m, due)
	ch.deferredCount.Store(int64(ch.deferred.Len()))
	ch.updateDeadlineLocked()
	return nil
}

// enqueueLocked hands m to a ready subscriber or queues it: in memory up to
// --mem-queue-size, then on the disk queue (always on disk in durable mode,
// where a message keeps its record until it is finished). Once the disk
// queue holds messages, new ones queue behind them. ch.mu must be held.
func (ch *Channel) enqueueLocked(m *Message, now int64, dur *Durability) error {
	if ch.queue.Len() == 0 && !ch.paused && ch.diskDepth() == 0 {
		if s := ch.pickReadyLocked(); s != nil {
			var err error
			if ch.durable() && !m.onDisk {
				err = ch.writeThroughLocked(m, dur)
			}
			ch.deliverLocked(s, m, now)
			return err
		}
	}
	if ch.disk != nil && !(ch.durable() && m.onDisk) &&
		(ch.durable() || int64(ch.queue.Len()) >= ch.nsqd.opts.MemQueueSize || ch.disk.Depth() > 0) {
		if err := ch.spillLocked(m, recordMessage, 0, dur); err == nil {
			return nil
		} else if !m.onDisk {
			// keep it in memory rather than lose it; the publisher is told
			ch.pushLocked(m)
			return err
		}
	}
	if ch.disk == nil && int64(ch.queue.Len()) >= ch.nsqd.opts.MemQueueSize {
		releaseMessage(m) // upstream: ephemeral channels drop what does not fit
		return nil
	}
	ch.pushLocked(m)
	return nil
}

// pickReadyLocked returns the next ready subscriber in round-robin order;
// with the topology experiment, zone-local subscribers first, then
// region-local ones, then any.
func (ch *Channel) pickReadyLocked() *Subscription {
	if ch.topology {
		return ch.pickByTopologyLocked()
	}
	return ch.pickRoundRobinLocked(nil)
}

func (ch *Channel) pickByTopologyLocked() *Subscription {
	if s := ch.pickRoundRobinLocked(func(s *Subscription) bool { return s.opts.ZoneLocal }); s != nil {
		return s
	}
	if s := ch.pickRoundRobinLocked(func(s *Subscription) bool { return s.opts.RegionLocal }); s != nil {
		return s
	}
	return ch.pickRoundRobinLocked(nil)
}

func (ch *Channel) pickRoundRobinLocked(want func(*Subscription) bool) *Subscription {
	n := len(ch.subs)
	for i := 0; i < n; i++ {
		if ch.next >= n {
			ch.next = 0
		}
		s := ch.subs[ch.next]
		ch.next++
		if s.ready() && (want == nil || want(s)) {
			return s
		}
	}
	return nil
}

// deliverLocked puts m in flight to s and hands it to the connection.
func (ch *Channel) deliverLocked(s *Subscription, m *Message, now int64) {
	if r := s.opts.SampleRate; r > 0 && rand.Int32N(100) > r {
		// upstream's sample_rate consumes the message for everyone
		releaseMessage(m)
		return
	}
	if ch.topology {
		switch {
		case s.opts.ZoneLocal:
			ch.zoneLocalMsgs.Add(1)
		case s.opts.RegionLocal:
			ch.regionLocalMsgs.Add(1)
		default:
			ch.globalMsgs.Add(1)
		}
	}
	m.Attempts++
	m.owner = s
	m.deliveryTS = now
	ch.inFlight[m.ID] = m
	ch.inFlightPQ.Push(m, now+int64(s.opts.MsgTimeout))
	ch.inFlightCount.Store(int64(len(ch.inFlight)))
	s.inFlight++
	s.InFlightCount.Store(s.inFlight)
	s.MessageCount.Add(1)
	ch.updateDeadlineLocked()
	s.consumer.Deliver(m)
}

// pumpLocked sends queued messages to s while it is ready.
func (ch *Channel) pumpLocked(s *Subscription, now int64) {
	if ch.paused {
		return
	}
	for s.ready() {
		m, ok := ch.nextLocked(now)
		if !ok {
			break
		}
		ch.deliverLocked(s, m, now)
	}
	ch.depth.Store(int64(ch.queue.Len()))
}

// pumpAllLocked offers queued messages to every subscriber in turn.
func (ch *Channel) pumpAllLocked(now int64) {
	if ch.paused {
		return
	}
	for ch.queue.Len() > 0 || ch.diskDepth() > 0 {
		s := ch.pickReadyLocked()
		if s == nil {
			break
		}
		m, ok := ch.nextLocked(now)
		if !ok {
			break
		}
		ch.deliverLocked(s, m, now)
	}
	ch.depth.Store(int64(ch.queue.Len()))
}

func (ch *Channel) updateDeadlineLocked() {
	next := int64(math.MaxInt64)
	if _, k, ok := ch.inFlightPQ.Peek(); ok {
		next = k
	}
	if _, k, ok := ch.deferred.Peek(); ok && k < next {
		next = k
	}
	if ch.nextDeadline.Load() != next {
		ch.nextDeadline.Store(next)
	}
}

// AddClient subscribes a connection. It fails with ErrExiting when the
// channel is being deleted (the caller retries with a fresh channel, as
// upstream does) and ErrTooManyClients past --max-channel-consumers.
func (ch *Channel) AddClient(c Consumer, opts SubscribeOptions) (*Subscription, error) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.exiting {
		return nil, ErrExiting
	}
	if max := ch.nsqd.opts.MaxChannelConsumers; max > 0 && len(ch.subs) >= max {
		return nil, ErrTooManyClients
	}
	s := &Subscription{ch: ch, consumer: c, opts: opts}
	ch.subs = append(ch.subs, s)
	ch.everSubbed = true
	ch.clientCount.Store(int64(len(ch.subs)))
	return s, nil
}

// RemoveClient unsubscribes a closed connection. Its in-flight messages go
// straight back to the queue — deliberately better than upstream, which
// leaves them in flight until their timeout (spec §4.8). They are counted in
// timeout_count, as upstream would eventually count them. An ephemeral
// channel left without subscribers is deleted.
func (ch *Channel) RemoveClient(s *Subscription) {
	now := ch.nsqd.now()
	ch.mu.Lock()
	if s.removed {
		ch.mu.Unlock()
		return
	}
	s.removed = true
	for i, x := range ch.subs {
		if x == s {
			copy(ch.subs[i:], ch.subs[i+1:])
			ch.subs[len(ch.subs)-1] = nil
			ch.subs = ch.subs[:len(ch.subs)-1]
			break
		}
	}
	ch.clientCount.Store(int64(len(ch.subs)))
	if s.inFlight > 0 {
		for _, m := range ch.inFlight {
			if m.owner != s {
				continue
			}
			ch.inFlightPQ.Remove(m.index)
			delete(ch.inFlight, m.ID)
			m.owner = nil
			ch.TimeoutCount.Add(1)
			ch.enqueueLocked(m, now, nil)
		}
		s.inFlight = 0
		s.InFlightCount.Store(0)
		ch.inFlightCount.Store(int64(len(ch.inFlight)))
		ch.updateDeadlineLocked()
	}
	remove := ch.ephemeral && len(ch.subs) == 0 && !ch.exiting
	ch.mu.Unlock()
	if remove {
		ch.topic.deleteChannelIfUnused(ch)
	}
}

// SetRDY sets the subscriber's max-in-flight window and sends what it now
// allows.
func (ch *Channel) SetRDY(s *Subscription, n int64) { ch.SetRDYAt(s, n, ch.nsqd.now()) }

// SetRDYAt is SetRDY with the time (UnixNano) already read by the caller,
// as for FinishAt.
func (ch *Channel) SetRDYAt(s *Subscription, n int64, now int64) {
	ch.mu.Lock()
	s.rdy = n
	s.ReadyCount.Store(n)
	ch.pumpLocked(s, now)
	ch.mu.Unlock()
}

// StartClose handles CLS: no more deliveries to s.
func (ch *Channel) StartClose(s *Subscription) {
	ch.mu.Lock()
	s.closing = true
	s.rdy = 0
	s.ReadyCount.Store(0)
	ch.mu.Unlock()
}

// takeInFlightLocked removes the in-flight message id owned by s.
func (ch *Channel) takeInFlightLocked(s *Subscription, id *MessageID) (*Message, error) {
	m, ok := ch.inFlight[*id]
	if !ok {
		return nil, ErrNotInFlight
	}
	if m.owner != s {
		return nil, ErrNotOwner
	}
	ch.inFlightPQ.Remove(m.index)
	delete(ch.inFlight, *id)
	ch.inFlightCount.Store(int64(len(ch.inFlight)))
	m.owner = nil
	s.inFlight--
	s.InFlightCount.Store(s.inFlight)
	return m, nil
}

// Finish acknowledges an in-flight message (FIN). On success the freed RDY
// slot is refilled from the queue at once.
func (ch *Channel) Finish(s *Subscription, id *MessageID) error {
	return ch.FinishAt(s, id, ch.nsqd.now())
}

// FinishAt is Finish with the time (UnixNano) already read by the caller:
// an event loop reads the clock once per batch of commands, not per FIN
// (the clock read per FIN was ≈ 20% of the fan-out profile's CPU).
func (ch *Channel) FinishAt(s *Subscription, id *MessageID, now int64) error {
	ch.mu.Lock()
	m, err := ch.takeInFlightLocked(s, id)
	if err != nil {
		ch.mu.Unlock()
		return err
	}
	s.FinishCount.Add(1)
	ch.FinishCount.Add(1)
	if m.onDisk {
		ch.disk.Ack(m.diskSeq)
	}
	ch.updateDeadlineLocked()
	ch.pumpLocked(s, now)
	ch.mu.Unlock()
	ch.nsqd.e2eSample(ch, now-m.Timestamp)
	releaseMessage(m)
	return nil
}

// Requeue returns an in-flight message to the queue (REQ), after delay when
// delay > 0. The caller clamps delay to --max-req-timeout.
func (ch *Channel) Requeue(s *Subscription, id *MessageID, delay time.Duration) error {
	now := ch.nsqd.now()
	ch.mu.Lock()
	defer ch.mu.Unlock()
	m, err := ch.takeInFlightLocked(s, id)
	if err != nil {
		return err
	}
	s.RequeueCount.Add(1)
	ch.RequeueCount.Add(1)
	if delay > 0 {
		ch.deferLocked(m, now+int64(delay), nil)
	} else {
		ch.enqueueLocked(m, now, nil)
	}
	ch.updateDeadlineLocked()
	ch.pumpLocked(s, now)
	return nil
}

// Touch resets an in-flight message's deadline to now + the subscriber's msg
// timeout, but never past delivery + --max-msg-timeout.
func (ch *Channel) Touch(s *Subscription, id *MessageID) error {
	now := ch.nsqd.now()
	ch.mu.Lock()
	defer ch.mu.Unlock()
	m, ok := ch.inFlight[*id]
	if !ok {
		return ErrNotInFlight
	}
	if m.owner != s {
		return ErrNotOwner
	}
	deadline := now + int64(s.opts.MsgTimeout)
	if max := m.deliveryTS + int64(ch.nsqd.opts.MaxMsgTimeout); deadline > max {
		deadline = max
	}
	ch.inFlightPQ.Remove(m.index)
	ch.inFlightPQ.Push(m, deadline)
	ch.updateDeadlineLocked()
	return nil
}

// processTimeouts requeues in-flight messages whose deadline passed and
// deferred messages that are due. It is the scanner's per-channel step and is
// a pure function of now, so tests drive it directly.
func (ch *Channel) processTimeouts(now int64) {
	if ch.nextDeadline.Load() > now {
		return
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	for {
		m, ok := ch.inFlightPQ.PopIfDue(now)
		if !ok {
			break
		}
		delete(ch.inFlight, m.ID)
		if s := m.owner; s != nil {
			s.inFlight--
			s.InFlightCount.Store(s.inFlight)
		}
		m.owner = nil
		ch.TimeoutCount.Add(1)
		ch.enqueueLocked(m, now, nil)
	}
	ch.inFlightCount.Store(int64(len(ch.inFlight)))
	for {
		m, ok := ch.deferred.PopIfDue(now)
		if !ok {
			break
		}
		ch.enqueueLocked(m, now, nil)
	}
	ch.deferredCount.Store(int64(ch.deferred.Len()))
	ch.pumpAllLocked(now)
	ch.updateDeadlineLocked()
}

// Pause stops deliveries to every subscriber.
func (ch *Channel) Pause() { ch.setPaused(true) }

// UnPause resumes deliveries.
func (ch *Channel) UnPause() { ch.setPaused(false) }

func (ch *Channel) setPaused(p bool) {
	ch.mu.Lock()
	ch.paused = p
	if !p {
		ch.pumpAllLocked(ch.nsqd.now())
	}
	ch.mu.Unlock()
}

// IsPaused reports whether the channel is paused.
func (ch *Channel) IsPaused() bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.paused
}

// Empty drops every queued, in-flight and deferred message; subscribers'
// in-flight counts go to 0 and their later FINs fail (as upstream).
func (ch *Channel) Empty() {
	ch.mu.Lock()
	ch.emptyLocked()
	ch.mu.Unlock()
}

func (ch *Channel) emptyLocked() {
	if ch.disk != nil {
		if err := ch.disk.Empty(); err != nil {
			ch.nsqd.logf(LogLevelError, "CHANNEL(%s): failed to empty disk queue - %s", ch.name, err)
		}
	}
	ch.emptyMemoryLocked()
}

func (ch *Channel) emptyMemoryLocked() {
	ch.queue.Clear()
	ch.inFlightPQ.Clear(nil)
	for id, m := range ch.inFlight {
		delete(ch.inFlight, id)
		releaseMessage(m)
	}
	ch.deferred.Clear(releaseMessage)
	for _, s := range ch.subs {
		s.inFlight = 0
		s.InFlightCount.Store(0)
	}
	ch.depth.Store(0)
	ch.inFlightCount.Store(0)
	ch.deferredCount.Store(0)
	ch.updateDeadlineLocked()
	for _, s := range ch.subs {
		ch.pumpLocked(s, ch.nsqd.now())
	}
}

// exit marks the channel deleted, kicks its subscribers and drops its
// messages and disk queue files. The topic has already unlinked it.
func (ch *Channel) exit() {
	ch.mu.Lock()
	ch.stopLocked()
	ch.emptyMemoryLocked()
	ch.mu.Unlock()
	if ch.disk != nil {
		ch.disk.Delete() // after the unlock: it removes files
	}
}

// stopLocked refuses new subscribers and messages and kicks the current ones.
func (ch *Channel) stopLocked() {
	ch.exiting = true
	for _, s := range ch.subs {
		s.removed = true
		s.consumer.Kick()
	}
	ch.subs = nil
	ch.clientCount.Store(0)
}

// Depth is the number of queued messages, memory and disk (excluding in
// flight and deferred).
func (ch *Channel) Depth() int64 { return ch.depth.Load() + ch.BackendDepth() }

// InFlightCount is the number of messages in flight.
func (ch *Channel) InFlightCount() int64 { return ch.inFlightCount.Load() }

// DeferredCount is the number of deferred messages.
func (ch *Channel) DeferredCount() int64 { return ch.deferredCount.Load() }

// ClientCount is the number of subscribers.
func (ch *Channel) ClientCount() int64 { return ch.clientCount.Load() }

// Subscriptions returns a snapshot of the channel's subscriptions.
func (ch *Channel) Subscriptions() []*Subscription {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return append([]*Subscription(nil), ch.subs...)
}
