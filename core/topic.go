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

	// channels is a copy-on-write snapshot read without the lock by Put.
	channels atomic.Pointer[[]*Channel]
	flowing  atomic.Bool // started && !paused: messages go to channels
	exiting  atomic.Bool

	mu      sync.Mutex // guards the fields below and writers of channels/flowing
	byName  map[string]*Channel
	paused  bool
	started bool // false until lookupd channel pre-creation is done
	queue  queue.Ring[*Message] // waiting for a channel, or while paused

	depth        atomic.Int64
	MessageCount atomic.Uint64
	MessageBytes atomic.Uint64
}

func newTopic(n *NSQD, name string) *Topic {
	t := &Topic{name: name, ephemeral: isEphemeral(name), nsqd: n, byName: make(map[string]*Channel)}
	t.guid.node = uint64(n.opts.ID)
	empty := []*Channel{}
	t.channels.Store(&empty)
	return t
}

// Name returns the topic name.
func (t *Topic) Name() string { return t.name }

// Ephemeral reports whether the name ends in #ephemeral.
func (t *Topic) Ephemeral() bool { return t.ephemeral }

// Put publishes one message. body must not be modified afterwards (it is
// shared by every channel's copy); defer > 0 makes it a deferred message
// (DPUB), due defer after it reaches each channel.
func (t *Topic) Put(body []byte, deferDur time.Duration) error {
	if t.exiting.Load() {
		return ErrExiting
	}
	m := acquireMessage()
	m.ID.setUint64(t.guid.next())
	m.Body = body
	m.Timestamp = t.nsqd.now()
	m.deferred = int64(deferDur)
	t.MessageCount.Add(1)
	t.MessageBytes.Add(uint64(len(body)))
	t.route(m, m.Timestamp)
	return nil
}

// PutMulti publishes several messages (MPUB) with one timestamp. The
// bodies must not be modified afterwards.
func (t *Topic) PutMulti(bodies [][]byte) error {
	if t.exiting.Load() {
		return ErrExiting
	}
	now := t.nsqd.now()
	for _, body := range bodies {
		m := acquireMessage()
		m.ID.setUint64(t.guid.next())
		m.Body = body
		m.Timestamp = now
		t.MessageCount.Add(1)
		t.MessageBytes.Add(uint64(len(body)))
		t.route(m, now)
	}
	return nil
}

// route fans m out to the channels, or queues it on the topic when there is
// no channel or the topic is paused.
func (t *Topic) route(m *Message, now int64) {
	chans := *t.channels.Load()
	if len(chans) == 0 || !t.flowing.Load() {
		t.mu.Lock()
		chans = *t.channels.Load()
		if len(chans) == 0 || !t.flowing.Load() {
			t.queueLocked(m)
			t.mu.Unlock()
			return
		}
		t.mu.Unlock()
	}
	fanOut(chans, m, now)
}

func (t *Topic) queueLocked(m *Message) {
	// TODO(#5): spill to the topic's disk queue past --mem-queue-size.
	if t.ephemeral && int64(t.queue.Len()) >= t.nsqd.opts.MemQueueSize {
		releaseMessage(m)
		return
	}
	t.queue.Push(m)
	t.depth.Store(int64(t.queue.Len()))
}

// fanOut gives each channel its own copy of m (the first channel gets m
// itself). Copies are made before any channel sees m, because a channel may
// deliver, finish and recycle m at once on another goroutine.
func fanOut(chans []*Channel, m *Message, now int64) {
	if len(chans) == 1 {
		chans[0].put(m, now)
		return
	}
	var stack [8]*Message
	copies := stack[:0]
	for range chans[1:] {
		c := acquireMessage()
		c.ID, c.Body, c.Timestamp, c.Attempts, c.deferred = m.ID, m.Body, m.Timestamp, m.Attempts, m.deferred
		copies = append(copies, c)
	}
	chans[0].put(m, now)
	for i, ch := range chans[1:] {
		ch.put(copies[i], now)
	}
}

// flushQueueLocked moves the topic's waiting messages to its channels.
func (t *Topic) flushQueueLocked() {
	chans := *t.channels.Load()
	if len(chans) == 0 || !t.flowing.Load() {
		return
	}
	now := t.nsqd.now()
	for {
		m, ok := t.queue.Pop()
		if !ok {
			break
		}
		fanOut(chans, m, now)
	}
	t.depth.Store(0)
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
	ch := newChannel(t, name)
	t.byName[name] = ch
	t.publishChannelsLocked()
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
	t.publishChannelsLocked()
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

func (t *Topic) publishChannelsLocked() {
	// unsorted: sorting here made creating N channels O(N² log N)
	list := make([]*Channel, 0, len(t.byName))
	for _, ch := range t.byName {
		list = append(list, ch)
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

// Empty drops the messages waiting in the topic (not its channels').
func (t *Topic) Empty() {
	t.mu.Lock()
	t.queue.Clear(releaseMessage)
	t.depth.Store(0)
	t.mu.Unlock()
}

// Depth is the number of messages waiting in the topic.
func (t *Topic) Depth() int64 { return t.depth.Load() }

// exit deletes every channel and drops the topic's messages.
func (t *Topic) exit() {
	t.exiting.Store(true)
	t.mu.Lock()
	for _, ch := range t.byName {
		delete(t.byName, ch.name)
		ch.exit()
	}
	t.publishChannelsLocked()
	t.queue.Clear(releaseMessage)
	t.depth.Store(0)
	t.mu.Unlock()
	t.nsqd.channelsChanged()
}
