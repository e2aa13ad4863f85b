package core

import "nsqreactor/queue"

// queued is a message waiting in a channel's memory queue. A backlog is a
// ring of these values, not of Messages: when publishers outpace consumers
// every waiting message would otherwise hold a pooled Message that cannot
// return to the pool, and the fan-out profile was dominated by allocating
// them, the first writes to each, and the GC scanning millions of them. A
// Message is built again (acquireMessage) only when the entry is delivered or
// spilled to disk.
//
// The fields are everything a queued message keeps: deferred is consumed
// before a message is queued, and owner, deliveryTS and index are set afresh
// when it is delivered.
type queued struct {
	body      []byte
	id        MessageID
	timestamp int64
	diskSeq   uint64 // its record on the channel's disk queue, if onDisk
	attempts  uint16
	onDisk    bool
}

// queuedOf copies what a queued message keeps from m.
func queuedOf(m *Message) queued {
	return queued{
		body:      m.Body,
		id:        m.ID,
		timestamp: m.Timestamp,
		diskSeq:   m.diskSeq,
		attempts:  m.Attempts,
		onDisk:    m.onDisk,
	}
}

// message builds the Message for a queued entry.
func (q *queued) message() *Message {
	m := acquireMessage()
	m.ID = q.id
	m.Body = q.body
	m.Timestamp = q.timestamp
	m.Attempts = q.attempts
	m.onDisk = q.onDisk
	m.diskSeq = q.diskSeq
	return m
}

// pushLocked queues m as an entry and recycles the Message.
func (ch *Channel) pushLocked(m *Message) {
	ch.queue.Push(queuedOf(m))
	ch.depth.Store(int64(ch.queue.Len()))
	releaseMessage(m)
}

// popLocked removes the head of the memory queue as a Message.
func (ch *Channel) popLocked() (*Message, bool) {
	q, ok := ch.queue.Pop()
	if !ok {
		return nil, false
	}
	return q.message(), true
}

// putCopy is put for a fan-out copy that has no Message yet: when the copy
// can only wait in memory (the queue is not empty or no subscriber is ready,
// and it neither spills nor is dropped) it is queued as an entry and never
// becomes a Message. Otherwise it takes put's path with a Message.
func (ch *Channel) putCopy(q *queued, deferred int64, now int64, dur *Durability) error {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.exiting {
		return nil
	}
	if deferred == 0 && int64(ch.queue.Len()) < ch.nsqd.opts.MemQueueSize &&
		(ch.disk == nil || ch.disk.Depth() == 0) &&
		(ch.queue.Len() > 0 || ch.paused || !ch.anyReadyLocked()) {
		ch.MessageCount.Add(1)
		ch.queue.Push(*q)
		ch.depth.Store(int64(ch.queue.Len()))
		return nil
	}
	m := q.message()
	m.deferred = deferred
	return ch.putLocked(m, now, dur)
}

// anyReadyLocked reports whether pickReadyLocked would find a subscriber,
// without moving the round-robin cursor.
func (ch *Channel) anyReadyLocked() bool {
	for _, s := range ch.subs {
		if s.ready() {
			return true
		}
	}
	return false
}

// queueBlock is a fixed-size run of entries: a backlog grows by blocks, so a
// large one is never copied (doubling a contiguous ring of 64-byte entries
// copied hundreds of MiB at once, unpreemptibly, with write barriers).
const queueBlock = 512

type entryQueue struct {
	blocks queue.Ring[*[queueBlock]queued] // pointers only: cheap to grow
	head   int                             // next entry to pop in the first block
	tail   int                             // next free slot in the last block
	n      int
	spare  *[queueBlock]queued // one emptied block kept for reuse
}

func (q *entryQueue) Len() int { return q.n }

func (q *entryQueue) Push(e queued) {
	if q.blocks.Len() == 0 || q.tail == queueBlock {
		b := q.spare
		q.spare = nil
		if b == nil {
			b = new([queueBlock]queued)
		}
		q.blocks.Push(b)
		q.tail = 0
		if q.blocks.Len() == 1 {
			q.head = 0
		}
	}
	b, _ := q.blocks.PeekLast()
	b[q.tail] = e
	q.tail++
	q.n++
}

func (q *entryQueue) Pop() (e queued, ok bool) {
	if q.n == 0 {
		return e, false
	}
	b, _ := q.blocks.Peek()
	e = b[q.head]
	b[q.head] = queued{}
	q.head++
	q.n--
	if q.head == queueBlock || q.n == 0 {
		if q.n == 0 {
			q.blocks.Clear(nil)
		} else {
			q.blocks.Pop()
		}
		q.spare = b
		q.head = 0
		if q.n == 0 {
			q.tail = 0
		}
	}
	return e, true
}

// Clear drops every entry.
func (q *entryQueue) Clear() {
	for q.n > 0 {
		q.Pop()
	}
}
