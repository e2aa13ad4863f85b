package core

// The channel's disk queue: spilling past --mem-queue-size, durable mode
// (--mem-queue-size=0: a record per message until it is finished), reading
// back, and the flush at a clean shutdown. Functions named ...Locked run with
// ch.mu held.

// durable reports whether every message goes through the disk queue
// (--mem-queue-size=0), so that it survives a crash until it is finished.
func (ch *Channel) durable() bool { return ch.disk != nil && ch.nsqd.opts.MemQueueSize == 0 }

func (ch *Channel) diskDepth() int64 {
	if ch.disk == nil {
		return 0
	}
	return ch.disk.Depth()
}

// spillLocked moves m to the disk queue: a new record, the old one (if any)
// acknowledged, the Message recycled.
func (ch *Channel) spillLocked(m *Message, kind byte, extra int64, dur *Durability) error {
	ch.scratch = appendRecord(ch.scratch[:0], m, kind, extra)
	seq, err := ch.disk.Put(ch.scratch)
	ch.nsqd.SetHealth(err)
	if err != nil {
		return err
	}
	dur.add(ch.disk, seq)
	if m.onDisk {
		ch.disk.Ack(m.diskSeq)
	}
	releaseMessage(m)
	return nil
}

// writeThroughLocked records m on disk while it is handed straight to a
// consumer (durable mode, nothing queued): Put, then Read to move the
// reader past it without copying it back.
func (ch *Channel) writeThroughLocked(m *Message, dur *Durability) error {
	ch.scratch = appendRecord(ch.scratch[:0], m, recordMessage, 0)
	seq, err := ch.disk.Put(ch.scratch)
	ch.nsqd.SetHealth(err)
	if err != nil {
		return err
	}
	dur.add(ch.disk, seq)
	if rseq, _, err := ch.disk.Read(); err != nil || rseq != seq {
		// cannot happen while the disk queue was empty; keep the record
		// unacknowledged and carry on (at worst a duplicate after restart)
		ch.nsqd.logf(LogLevelError, "CHANNEL(%s): write-through read %d != %d (%v)", ch.name, rseq, seq, err)
	}
	m.onDisk, m.diskSeq = true, seq
	return nil
}

// nextLocked returns the next queued message: memory first, then the disk
// queue. Deferred records read from disk go to the deferred heap.
func (ch *Channel) nextLocked(now int64) (*Message, bool) {
	if m, ok := ch.popLocked(); ok {
		return m, true
	}
	for ch.diskDepth() > 0 {
		seq, p, err := ch.disk.Read()
		if err != nil {
			return nil, false
		}
		m, kind, extra, err := decodeRecord(p)
		if err != nil {
			ch.nsqd.logf(LogLevelError, "CHANNEL(%s): dropping disk record %d - %s", ch.name, seq, err)
			ch.disk.Ack(seq)
			continue
		}
		m.onDisk, m.diskSeq = true, seq
		if kind == recordDeferred && extra > now {
			ch.deferred.Push(m, extra)
			ch.deferredCount.Store(int64(ch.deferred.Len()))
			ch.updateDeadlineLocked()
			continue
		}
		return m, true
	}
	return nil, false
}

// close is exit for a clean shutdown: every queued, in-flight and deferred
// message is written to the disk queue — deferred ones with their due time,
// in-flight ones with their attempts — and the queue is closed. Messages
// already recorded (durable mode) get a fresh record and the old one is
// acknowledged, so attempts are current after the restart.
func (ch *Channel) close() {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.stopLocked()
	if ch.disk == nil {
		ch.emptyLocked()
		return
	}
	ch.nsqd.logf(LogLevelInfo, "CHANNEL(%s): flushing %d memory %d in-flight %d deferred messages to backend",
		ch.name, ch.queue.Len(), len(ch.inFlight), ch.deferred.Len())
	failed := 0
	spill := func(m *Message, kind byte, extra int64) {
		if ch.spillLocked(m, kind, extra, nil) != nil {
			failed++
			releaseMessage(m)
		}
	}
	for {
		m, ok := ch.popLocked()
		if !ok {
			break
		}
		spill(m, recordMessage, 0)
	}
	ch.inFlightPQ.Clear(nil)
	for id, m := range ch.inFlight {
		delete(ch.inFlight, id)
		spill(m, recordMessage, 0)
	}
	for {
		m, due, ok := ch.deferred.Peek()
		if !ok {
			break
		}
		ch.deferred.Pop()
		spill(m, recordDeferred, due)
	}
	if failed > 0 {
		ch.nsqd.logf(LogLevelError, "CHANNEL(%s): failed to write %d messages to the disk queue", ch.name, failed)
	}
	if err := ch.disk.Close(); err != nil {
		ch.nsqd.logf(LogLevelError, "CHANNEL(%s): closing disk queue - %s", ch.name, err)
	}
}

// BackendDepth is the number of messages waiting in the disk queue.
func (ch *Channel) BackendDepth() int64 {
	if d := ch.disk; d != nil {
		return d.Depth()
	}
	return 0
}
