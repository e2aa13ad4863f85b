package core

import "nsqreactor/codec"

// parkedRun is messages published together (one PUB or DPUB, or one MPUB's
// bodies) waiting in a topic that has no channel to flow to, or is paused.
// A waiting message is a few bytes of an existing allocation, not a
// Message: the pub profile of a topic with no channel was dominated by the
// first writes to a fresh 112-byte Message per message, its allocation, and
// the GC scanning them all; a Message is made only when the run flows to the
// channels.
//
// A framed run keeps the MPUB body as it arrived (count, then each size and
// body); a list run keeps the caller's bodies slice (HTTP /mpub). Their
// messages have consecutive IDs (guidGenerator.nextN), so a batch costs no
// allocation of its own. A single run is one body and its ID.
type parkedRun struct {
	buf      []byte   // framed: MPUB body; single: the body
	list     [][]byte // list: the bodies left
	framed   bool
	id       uint64 // the first message's ID; the next ones follow
	off      int    // framed: offset in buf of the first message left
	n        int    // messages left
	ts       int64  // publish time, UnixNano
	deferred int64  // DPUB delay, ns
}

// take removes the run's first message and returns its body and ID.
func (r *parkedRun) take() (body []byte, id uint64) {
	r.n--
	id = r.id
	r.id++
	if r.list != nil {
		body, r.list = r.list[0], r.list[1:]
		return body, id
	}
	if !r.framed {
		return r.buf, id
	}
	body, r.off = codec.NextMPUBMessage(r.buf, r.off)
	return body[:len(body):len(body)], id
}

// split removes the first k messages (0 < k < r.n) and returns them as a run.
func (r *parkedRun) split(k int) parkedRun {
	head := *r
	head.n = k
	for range k {
		r.take()
	}
	return head
}

// message makes the Message for a body taken from the run.
func (r *parkedRun) message(body []byte, id uint64) *Message {
	m := acquireMessage()
	m.ID.setUint64(id)
	m.Body = body
	m.Timestamp = r.ts
	m.deferred = r.deferred
	return m
}

// appendRecord encodes the run's next message as a disk record, consuming it.
func (r *parkedRun) appendRecord(dst []byte) []byte {
	body, id := r.take()
	var mid MessageID
	mid.setUint64(id)
	kind := byte(recordMessage)
	if r.deferred > 0 {
		kind = recordDeferIn
	}
	return appendRecordParts(dst, kind, r.deferred, r.ts, 0, &mid, body)
}

// parkLocked keeps the run in the topic until it can flow: in memory up to
// --mem-queue-size messages (ephemeral topics drop the rest), then on the
// topic's disk queue (always, in durable mode). A run that does not fit is
// split. Messages the disk refuses stay in memory; the publisher is told.
func (t *Topic) parkLocked(r parkedRun, dur *Durability) error {
	limit := t.nsqd.opts.MemQueueSize
	if t.disk == nil || (limit > 0 && t.disk.Depth() == 0) {
		room := limit - int64(t.parked)
		if room >= int64(r.n) {
			t.pushParked(r)
			return nil
		}
		if room > 0 {
			t.pushParked(r.split(int(room)))
		}
		if t.disk == nil {
			return nil // ephemeral: dropped, as upstream
		}
	}
	for r.n > 0 {
		before := r
		t.scratch = r.appendRecord(t.scratch[:0])
		seq, err := t.disk.Put(t.scratch)
		t.nsqd.SetHealth(err)
		if err != nil {
			t.pushParked(before)
			return err
		}
		dur.add(t.disk, seq)
	}
	return nil
}

func (t *Topic) pushParked(r parkedRun) {
	t.queue.Push(r)
	t.parked += r.n
	t.depth.Store(int64(t.parked))
}

// dropParkedLocked forgets the messages waiting in memory.
func (t *Topic) dropParkedLocked() {
	t.queue.Clear(nil)
	t.parked = 0
	t.depth.Store(0)
}

// flushParkedLocked fans the messages waiting in memory out to chans.
func (t *Topic) flushParkedLocked(chans []*Channel, now int64) {
	for {
		r, ok := t.queue.Pop()
		if !ok {
			break
		}
		for r.n > 0 {
			fanOut(chans, r.message(r.take()), now, nil)
		}
	}
	t.parked = 0
	t.depth.Store(0)
}

// spillParkedLocked writes the messages waiting in memory to the disk queue
// (clean shutdown).
func (t *Topic) spillParkedLocked() {
	for {
		r, ok := t.queue.Pop()
		if !ok {
			break
		}
		for r.n > 0 {
			t.scratch = r.appendRecord(t.scratch[:0])
			if _, err := t.disk.Put(t.scratch); err != nil {
				t.nsqd.logf(LogLevelError, "TOPIC(%s): failed to write a message to the disk queue - %s", t.name, err)
			}
		}
	}
	t.parked = 0
	t.depth.Store(0)
}
