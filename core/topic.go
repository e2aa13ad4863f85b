package core

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"nsqreactor/queue"
)

// Topic is a named stream of messages; every message is copied to each of
// its channels.
type Topic struct {
	name      string
	ephemeral bool
	nsqd      *NSQD
	guid      guidGenerator

	// channels is a snapshot read without the lock by Put; see
	// addChannelLocked and removeChannelLocked for how it changes.
	channels atomic.Pointer[[]*Channel]
	flowing  atomic.Bool // started && !paused: messages go to channels
	exiting  atomic.Bool

	mu      sync.Mutex // guards the fields below and writers of channels/flowing
	byName  map[string]*Channel
	paused  bool
	started bool                  // false until lookupd channel pre-creation is done
	queue   queue.Ring[parkedRun] // waiting for a channel, or while paused
	parked  int                   // messages in queue
	scratch []byte                // disk record encoding buffer

	disk *queue.Disk // nil for ephemeral topics; calls serialized by mu

	depth        atomic.Int64
	MessageCount atomic.Uint64
	MessageBytes atomic.Uint64
}

func newTopic(n *NSQD, name string) (*Topic, error) {
	t := &Topic{name: name, ephemeral: isEphemeral(name), nsqd: n, byName: make(map[string]*Channel)}
	t.guid.node = uint64(n.opts.ID)
	empty := []*Channel{}
	t.channels.Store(&empty)
	if !t.ephemeral {
		d, err := n.openDisk(name)
		if err != nil {
			return nil, err
		}
		t.disk = d
	}
	return t, nil
}

// Name returns the topic name.
func (t *Topic) Name() string { return t.name }

// Ephemeral reports whether the name ends in #ephemeral.
func (t *Topic) Ephemeral() bool { return t.ephemeral }

// Put publishes one message. body must not be modified afterwards (it is
// shared by every channel's copy); defer > 0 makes it a deferred message
// (DPUB), due defer after it reaches each channel.
func (t *Topic) Put(body []byte, deferDur time.Duration) error {
	return t.PutDurable(body, deferDur, nil)
}

// PutDurable is Put that, with --sync-every=1, notes in dur the disk
// records the caller must wait for (dur.Wait) before acknowledging the
// publish. dur may be nil. An error means at least one channel could not
// store the message on disk (it is kept in memory there).
func (t *Topic) PutDurable(body []byte, deferDur time.Duration, dur *Durability) error {
	return t.PutDurableAt(body, deferDur, dur, t.nsqd.now())
}

// PutDurableAt is PutDurable with the publish time (UnixNano) already read
// by the caller: an event loop reads the clock once per batch of commands
// (a clock read per PUB was 5–8% of the daemon's CPU in the layers profiles).
func (t *Topic) PutDurableAt(body []byte, deferDur time.Duration, dur *Durability, now int64) error {
	if t.exiting.Load() {
		return ErrExiting
	}
	r := parkedRun{buf: body, id: t.guid.next(now), n: 1, ts: now, deferred: int64(deferDur)}
	t.MessageCount.Add(1)
	t.MessageBytes.Add(uint64(len(body)))
	return t.putRun(&r, t.nsqd.syncing(dur))
}

// PutMulti publishes several messages (MPUB) with one timestamp. Neither
// the bodies nor the bodies slice may be modified afterwards: while the
// topic has no channel, the batch waits as it is.
func (t *Topic) PutMulti(bodies [][]byte) error { return t.PutMultiDurable(bodies, nil) }

// PutMultiDurable is PutMulti with dur as for PutDurable.
func (t *Topic) PutMultiDurable(bodies [][]byte, dur *Durability) error {
	if t.exiting.Load() {
		return ErrExiting
	}
	dur = t.nsqd.syncing(dur)
	now := t.nsqd.now()
	var first error
	for len(bodies) > 0 {
		// one block of consecutive IDs per run
		n := min(len(bodies), maxBlock)
		r := parkedRun{list: bodies[:n:n], n: n, id: t.guid.nextN(now, n), ts: now}
		for _, b := range bodies[:n] {
			t.MessageBytes.Add(uint64(len(b)))
		}
		t.MessageCount.Add(uint64(n))
		bodies = bodies[n:]
		if err := t.putRun(&r, dur); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// PutFramedDurable publishes an MPUB body as it arrived on the wire (a
// message count, then each message's size and body; validated by the
// caller) with one timestamp, now (UnixNano, read by the caller as for
// PutDurableAt), dur as for PutDurable. buf must not be modified
// afterwards; it is kept whole while any of its messages lives.
func (t *Topic) PutFramedDurable(buf []byte, count int, dur *Durability, now int64) error {
	if t.exiting.Load() {
		return ErrExiting
	}
	dur = t.nsqd.syncing(dur)
	t.MessageCount.Add(uint64(count))
	t.MessageBytes.Add(uint64(len(buf) - 4 - 4*count))
	var first error
	for off := 4; count > 0; {
		// one block of consecutive IDs per run
		r := parkedRun{buf: buf, framed: true, off: off, n: min(count, maxBlock), ts: now}
		r.id = t.guid.nextN(now, r.n)
		count -= r.n
		if count > 0 {
			next := r
			for range r.n {
				next.take()
			}
			off = next.off
		}
		if err := t.putRun(&r, dur); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// flowTo returns the channels messages flow to now; false when there is no
// channel or the topic is paused (messages then wait in the topic).
func (t *Topic) flowTo() ([]*Channel, bool) {
	chans := *t.channels.Load()
	return chans, len(chans) > 0 && t.flowing.Load()
}

// putRun fans r's messages out to the channels, or parks the run in the
// topic when there is no channel or the topic is paused.
func (t *Topic) putRun(r *parkedRun, dur *Durability) error {
	chans, ok := t.flowTo()
	if !ok {
		t.mu.Lock()
		if chans, ok = t.flowTo(); !ok {
			err := t.parkLocked(*r, dur)
			t.mu.Unlock()
			return err
		}
		t.mu.Unlock()
	}
	var first error
	for r.n > 0 {
		if err := fanOut(chans, r.message(r.take()), r.ts, dur); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// fanOut gives each channel its own copy of m (the first channel gets m
// itself). The fields are read before any channel sees m, because a channel
// may deliver, finish and recycle m at once on another goroutine; the copies
// are built from them, so any number of channels costs no allocation beyond
// the pooled Messages; a copy that can only wait in a channel's memory queue
// never becomes a Message (Channel.putCopy).
func fanOut(chans []*Channel, m *Message, now int64, dur *Durability) error {
	if len(chans) == 1 {
		return chans[0].put(m, now, dur)
	}
	q := queued{id: m.ID, body: m.Body, timestamp: m.Timestamp, attempts: m.Attempts}
	deferred := m.deferred
	first := chans[0].put(m, now, dur)
	for _, ch := range chans[1:] {
		if err := ch.putCopy(&q, deferred, now, dur); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// flushQueueLocked moves the topic's waiting messages, memory then disk, to
// its channels. A disk record is acknowledged once its copies are in the
// channels; in durable mode the channels' disk queues are synced first, so a
// crash never loses a message between the two queues (this is the one place
// core waits for I/O under a lock: it runs only when a topic gets its first
// channel or is unpaused).
func (t *Topic) flushQueueLocked() {
	chans := *t.channels.Load()
	if len(chans) == 0 || !t.flowing.Load() {
		return
	}
	now := t.nsqd.now()
	t.flushParkedLocked(chans, now)
	if t.disk == nil || t.disk.Depth() == 0 {
		return
	}
	var acks []uint64
	for t.disk.Depth() > 0 {
		seq, p, err := t.disk.Read()
		if err != nil {
			break
		}
		m, kind, extra, err := decodeRecord(p)
		if err == nil {
			if kind == recordDeferIn {
				m.deferred = extra
			}
			fanOut(chans, m, now, nil)
		} else {
			t.nsqd.logf(LogLevelError, "TOPIC(%s): dropping disk record %d - %s", t.name, seq, err)
		}
		acks = append(acks, seq)
	}
	if t.nsqd.opts.MemQueueSize == 0 {
		for _, ch := range chans {
			if ch.disk != nil {
				ch.disk.Sync()
			}
		}
	}
	for _, seq := range acks {
		t.disk.Ack(seq)
	}
}

// GetChannel returns the named channel, creating it if needed.
func (t *Topic) GetChannel(name string) (*Channel, error) {
	t.mu.Lock()
	if t.exiting.Load() {
		t.mu.Unlock()
		return nil, ErrExiting
	}
	if ch, ok := t.byName[name]; ok {
		t.mu.Unlock()
		return ch, nil
	}
	ch, err := newChannel(t, name)
	if err != nil {
		t.mu.Unlock()
		t.nsqd.logf(LogLevelError, "TOPIC(%s): failed to create channel(%s) - %s", t.name, name, err)
		return nil, err
	}
	t.byName[name] = ch
	t.addChannelLocked(ch)
	t.nsqd.channelsChanged()
	t.flushQueueLocked()
	t.mu.Unlock()
	t.nsqd.logf(LogLevelInfo, "TOPIC(%s): new channel(%s)", t.name, name)
	if !ch.ephemeral {
		t.nsqd.metadataChanged()
	}
	if h := t.nsqd.hooks.ChannelCreated; h != nil {
		h(ch)
	}
	return ch, nil
}

// GetExistingChannel returns the named channel or ErrChanNotFound.
func (t *Topic) GetExistingChannel(name string) (*Channel, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ch, ok := t.byName[name]; ok {
		return ch, nil
	}
	return nil, ErrChanNotFound
}

// DeleteExistingChannel deletes a channel, kicking its subscribers. An
// ephemeral topic left without channels is deleted too.
func (t *Topic) DeleteExistingChannel(name string) error {
	t.mu.Lock()
	ch, ok := t.byName[name]
	if !ok {
		t.mu.Unlock()
		return ErrChanNotFound
	}
	t.removeChannelLocked(ch)
	last := len(t.byName) == 0
	t.mu.Unlock()
	t.channelDeleted(ch, last)
	return nil
}

func (t *Topic) removeChannelLocked(ch *Channel) {
	delete(t.byName, ch.name)
	t.dropChannelLocked(ch)
	t.nsqd.channelsChanged()
	t.nsqd.logf(LogLevelInfo, "TOPIC(%s): deleting channel %s", t.name, ch.name)
	ch.exit()
}

// deleteChannelIfUnused deletes an ephemeral channel whose last subscriber
// left, unless someone subscribed again meanwhile.
func (t *Topic) deleteChannelIfUnused(ch *Channel) {
	t.mu.Lock()
	if t.byName[ch.name] != ch {
		t.mu.Unlock()
		return
	}
	ch.mu.Lock()
	unused := len(ch.subs) == 0
	ch.mu.Unlock()
	if !unused {
		t.mu.Unlock()
		return
	}
	t.removeChannelLocked(ch)
	last := len(t.byName) == 0
	t.mu.Unlock()
	t.channelDeleted(ch, last)
}

// channelDeleted runs the hook, and deletes an ephemeral topic whose last
// channel went (upstream's rule). No lock may be held.
func (t *Topic) channelDeleted(ch *Channel, last bool) {
	if !ch.ephemeral {
		t.nsqd.metadataChanged()
	}
	if h := t.nsqd.hooks.ChannelDeleted; h != nil {
		h(ch)
	}
	if last && t.ephemeral {
		t.nsqd.DeleteExistingTopic(t.name)
	}
}

// addChannelLocked publishes a snapshot with ch appended. A published
// snapshot's elements never change: the append writes past the length of
// every snapshot sharing the backing array (a removal always starts a new
// array), so readers of older snapshots are undisturbed, and creating N
// channels costs amortized O(1) each instead of a rebuild from the map
// (which made subscribing 10,000 ephemeral channels quadratic).
func (t *Topic) addChannelLocked(ch *Channel) {
	list := append(*t.channels.Load(), ch)
	t.channels.Store(&list)
}

// dropChannelLocked publishes a fresh snapshot without ch: a pointer copy,
// O(channels), with no map walk.
func (t *Topic) dropChannelLocked(ch *Channel) {
	old := *t.channels.Load()
	list := make([]*Channel, 0, max(len(old)-1, 0))
	for _, c := range old {
		if c != ch {
			list = append(list, c)
		}
	}
	t.channels.Store(&list)
}

// Channels returns the channels sorted by name (a fresh slice).
func (t *Topic) Channels() []*Channel {
	list := append([]*Channel(nil), *t.channels.Load()...)
	sort.Slice(list, func(i, j int) bool { return list[i].name < list[j].name })
	return list
}

// Pause stops moving messages to channels; they wait in the topic.
func (t *Topic) Pause() { t.setFlow(true, false) }

// UnPause resumes the flow to channels.
func (t *Topic) UnPause() { t.setFlow(false, false) }

// Start lets messages flow to channels. A topic created at runtime waits for
// it while lookupd channel pre-creation runs (upstream blocks the creating
// request instead; we never block an event loop), so the first messages
// still reach the pre-created channels.
func (t *Topic) Start() { t.setFlow(false, true) }

func (t *Topic) setFlow(pause, start bool) {
	t.mu.Lock()
	if start {
		t.started = true
	} else {
		t.paused = pause
	}
	t.flowing.Store(t.started && !t.paused)
	t.flushQueueLocked()
	t.mu.Unlock()
}

// IsPaused reports whether the topic is paused.
func (t *Topic) IsPaused() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.paused
}

// Empty drops the messages waiting in the topic (not its channels'),
// memory and disk.
func (t *Topic) Empty() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dropParkedLocked()
	if t.disk != nil {
		return t.disk.Empty()
	}
	return nil
}

// Depth is the number of messages waiting in the topic, memory and disk.
func (t *Topic) Depth() int64 { return t.depth.Load() + t.BackendDepth() }

// BackendDepth is the number of messages waiting in the topic's disk queue.
func (t *Topic) BackendDepth() int64 {
	if t.disk != nil {
		return t.disk.Depth()
	}
	return 0
}

// exit deletes every channel and drops the topic's messages and files.
func (t *Topic) exit() {
	t.exiting.Store(true)
	t.mu.Lock()
	for _, ch := range t.byName {
		delete(t.byName, ch.name)
		ch.exit()
	}
	empty := []*Channel{}
	t.channels.Store(&empty)
	t.dropParkedLocked()
	t.mu.Unlock()
	if t.disk != nil {
		t.disk.Delete()
	}
	t.nsqd.channelsChanged()
}

// close is exit for a clean shutdown: channels write their messages to
// their disk queues, and the topic's waiting messages go to its own.
func (t *Topic) close() {
	t.exiting.Store(true)
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, ch := range t.byName {
		ch.close()
	}
	if t.disk == nil {
		t.dropParkedLocked()
		return
	}
	t.spillParkedLocked()
	if err := t.disk.Close(); err != nil {
		t.nsqd.logf(LogLevelError, "TOPIC(%s): closing disk queue - %s", t.name, err)
	}
}
