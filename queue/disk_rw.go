package queue

import "fmt"

// Put appends a copy of payload and returns its sequence number. It returns
// once the record is in the mapping: it is then readable, and it survives a
// crash of the process (the page cache has it) but not yet of the machine.
// Callers that need it on disk pass seq to WaitDurable, without holding
// their own lock, and share one sync with every concurrent Put
// (group commit, see the package documentation).
//
// A full disk or any other write error is returned as is (wrapped) and
// leaves the queue as it was: nothing already in it is touched, and a later
// Put may succeed. After a failed sync Put returns that error for good.
//
// Put must be serialized with the owner's other calls (see Disk).
func (d *Disk) Put(payload []byte) (seq uint64, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.closed:
		return 0, ErrClosed
	case d.failed != nil:
		return 0, d.failed
	case len(payload) < d.cfg.MinRecordSize || len(payload) > d.cfg.MaxRecordSize:
		return 0, ErrRecordSize
	}
	n := recordSize(len(payload))
	w := d.w
	if w == nil || (w.end > segmentHeaderSize && w.end+n > d.cfg.MaxBytesPerFile) {
		if w, err = d.roll(n); err != nil {
			return 0, fmt.Errorf("queue: put: %w", err)
		}
	}
	if err = w.reserve(w.end + n); err != nil {
		return 0, fmt.Errorf("queue: put: %w", err)
	}
	seq = d.nextSeq
	putRecord(w.data[w.end:w.end+n], seq, payload)
	w.end += n
	if w.end-w.written >= releaseStep {
		// written pages leave the RSS (the page cache keeps them, dirty
		// until the sync's msync writes them); see releasePages
		releasePages(w.data, w.written, w.end)
		w.written = w.end - w.end%pageSize
	}
	d.nextSeq++
	d.depth.Add(1)
	d.countOp()
	return seq, nil
}

// roll starts a new write segment big enough for an n-byte record and seals
// the old one. On error the old segment stays the write segment.
func (d *Disk) roll(n int64) (*segment, error) {
	capacity := max(d.cfg.MaxBytesPerFile, segmentHeaderSize+n)
	reserve := min(capacity, max(minReserve, segmentHeaderSize+n))
	s, err := createSegment(d.segPath(d.nextNum), d.nextNum, d.nextSeq, capacity, reserve)
	if err != nil {
		return nil, err
	}
	if old := d.w; old != nil {
		old.endSeq, old.endKnown = d.nextSeq, true
		if err := old.seal(); err != nil {
			d.logf("sealing %s: %s", old.path, err)
		}
		releasePages(old.data, old.written, old.end+pageSize-1) // the rest, last partial page included
		old.written = old.end
	}
	d.segs = append(d.segs, s)
	d.w = s
	d.nextNum++
	d.dirty = true
	d.metaGen++
	d.kickSyncer() // as upstream, a roll is a reason to sync
	return s, nil
}

// Peek returns the next unacknowledged record without consuming it. The
// payload aliases the mapping: it is valid until the next Read, Ack, Empty,
// Delete or Close, and must not be modified. It returns ErrEmpty when there
// is nothing to read.
func (d *Disk) Peek() (seq uint64, payload []byte, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return 0, nil, ErrClosed
	}
	if !d.locate() {
		return 0, nil, ErrEmpty
	}
	return d.peekSeq, d.peekBuf, nil
}

// Read returns the next unacknowledged record and moves past it. The record
// stays on disk, and comes back after a restart, until Ack(seq). The payload
// aliases the mapping: it is valid until the next Read, Ack, Empty, Delete
// or Close, and must not be modified; copy it to keep it. It returns
// ErrEmpty when there is nothing to read.
func (d *Disk) Read() (seq uint64, payload []byte, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return 0, nil, ErrClosed
	}
	if !d.locate() {
		return 0, nil, ErrEmpty
	}
	seq, payload = d.peekSeq, d.peekBuf
	d.rpos = d.peekEnd
	d.readSeq = seq + 1
	d.peeked, d.peekBuf = false, nil
	d.depth.Add(-1)
	return seq, payload, nil
}

// locate positions the reader on the next record to deliver and caches it in
// peek*. It skips acknowledged and duplicate records, steps over corrupt
// regions (resync), and turns sequence numbers that are missing from the
// files (lost to corruption or a crash) into acknowledged ones. It reports
// false when there is nothing to read. d.mu must be held.
func (d *Disk) locate() bool {
	if d.peeked {
		return true
	}
	for d.ri < len(d.segs) {
		s := d.segs[d.ri]
		if d.rpos < segmentHeaderSize {
			d.rpos = segmentHeaderSize
		}
		if d.rpos >= s.end {
			if !s.sealed || d.ri == len(d.segs)-1 {
				d.reachedEnd(s)
				return false
			}
			d.ri++ // first, so that leave may drop s
			d.rpos = 0
			d.leave(s)
			continue
		}
		seq, payload, next, ok := parseRecord(s.data, d.rpos, s.end, d.cfg.MaxRecordSize)
		switch {
		case !ok:
			d.resync(s)
		case seq < d.readSeq: // a duplicate, or below the floor after a restart
			d.rpos = next
		default:
			if seq > d.readSeq { // the records in between are gone
				d.depth.Add(-int64(d.acks.add(d.readSeq, seq)))
				d.readSeq = seq
			}
			if d.acks.has(seq) { // acknowledged before a restart
				d.readSeq = seq + 1
				d.rpos = next
				continue
			}
			d.peeked, d.peekSeq, d.peekBuf, d.peekEnd = true, seq, payload, next
			return true
		}
	}
	d.reachedEnd(nil)
	return false
}

// reachedEnd is called when the reader is past every record in the files:
// sequence numbers below nextSeq that it never saw are lost, not pending.
func (d *Disk) reachedEnd(s *segment) {
	if d.readSeq < d.nextSeq {
		d.depth.Add(-int64(d.acks.add(d.readSeq, d.nextSeq)))
		d.readSeq = d.nextSeq
		d.metaGen++
	}
	if s != nil && s.sealed {
		d.leave(s)
	}
}

// leave records that the reader is done with sealed segment s, which can go
// once everything it held is acknowledged.
func (d *Disk) leave(s *segment) {
	if !s.endKnown {
		s.endSeq, s.endKnown = d.readSeq, true
	}
	d.dropAcked()
}

// resync steps the reader over the bad bytes at rpos in s: to the next valid
// record, or to the end of the segment. A zero-filled tail is the normal end
// of a segment whose trim did not reach the disk and is not reported.
func (d *Disk) resync(s *segment) {
	from := d.rpos
	if allZero(s.data[from:s.end]) {
		d.rpos = s.end
		return
	}
	if q := scanRecord(s.data, from+1, s.end, d.cfg.MaxRecordSize); q >= 0 {
		d.corrupt("corrupt record at %d of %s: skipped %d bytes to the next valid record", from, s.path, q-from)
		d.rpos = q
		return
	}
	d.corrupt("corrupt record at %d of %s: skipped the last %d bytes of the segment", from, s.path, s.end-from)
	d.rpos = s.end
}

// Ack acknowledges the record seq returned by Read: it will not come back
// after a restart, and its segment is deleted (by the next sync) once every
// record in it is acknowledged. Acknowledging twice is a no-op; acknowledging a record not
// yet read returns ErrSeq. The acknowledgement reaches the disk with the
// next sync (it counts towards SyncEvery).
func (d *Disk) Ack(seq uint64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	if seq >= d.readSeq {
		if !d.acks.has(seq) {
			return ErrSeq
		}
		return nil
	}
	if d.acks.add(seq, seq+1) == 0 {
		return nil
	}
	d.metaGen++
	d.countOp()
	if len(d.segs) > 0 && d.segs[0].endKnown && d.acks.floor >= d.segs[0].endSeq {
		d.dropAcked()
	}
	return nil
}

// dropAcked drops the leading sealed segments whose records are all
// acknowledged. Their files are unlinked by the next sync, after it has
// written metadata that no longer names them: recovery probes segment
// numbers from the metadata onwards, and must never find a hole among
// segments created after it. d.mu must be held.
func (d *Disk) dropAcked() {
	k := 0
	for k < len(d.segs) {
		s := d.segs[k]
		if !s.sealed || !s.endKnown || d.acks.floor < s.endSeq {
			break
		}
		s.drop(false)
		d.unlinks = append(d.unlinks, s.num)
		k++
	}
	if k == 0 {
		return
	}
	n := copy(d.segs, d.segs[k:])
	clear(d.segs[n:])
	d.segs = d.segs[:n]
	if d.ri -= k; d.ri < 0 { // the reader was at the end of a dropped segment
		d.ri, d.rpos, d.peeked = 0, 0, false
	}
	d.metaGen++
}

// countOp counts a Put or Ack towards SyncEvery. d.mu must be held.
func (d *Disk) countOp() {
	d.ops++
	if d.cfg.SyncEvery > 0 && d.ops >= d.cfg.SyncEvery {
		d.kickSyncer()
	}
}

// kickSyncer wakes the syncing goroutine, once per sync. d.mu must be held.
func (d *Disk) kickSyncer() {
	if d.kick == nil || d.kicked {
		return
	}
	d.kicked = true
	select {
	case d.kick <- struct{}{}:
	default:
	}
}
