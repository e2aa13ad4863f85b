package queue

import (
	"fmt"
	"time"
)

// flushItem is one dirty byte range of a segment, taken (with a reference)
// under d.mu and flushed without it.
type flushItem struct {
	seg      *segment
	data     []byte
	from, to int64
}

// Sync makes everything Put and acknowledged before the call durable: the
// dirty part of every segment is msynced, a new segment's directory entry
// fsynced and, if the acknowledgement state changed, the metadata file
// rewritten; then the files of fully acknowledged segments are unlinked. A sync already running when Sync is called does not count (it
// may have missed the caller's last Ack); one that starts later is shared by
// every caller waiting for it. Safe for concurrent use; blocks, so call it
// without holding the owner's lock.
func (d *Disk) Sync() error {
	d.durMu.Lock()
	defer d.durMu.Unlock()
	want := d.started + 1
	for {
		switch {
		case d.syncErr != nil:
			return d.syncErr
		case d.finished >= want:
			return nil
		case d.shut:
			return ErrClosed
		case !d.flushing:
			d.runSync()
		default:
			d.durCond.Wait()
		}
	}
}

// WaitDurable blocks until the record seq (returned by Put) is on disk. This
// is group commit: the first waiter to find no sync running runs one for
// everybody (every record Put so far), the others wait for it, and those
// whose records arrived too late for it share the next one. N concurrent
// writers thus cost one sync per round, not N. It returns ErrSeq for a seq
// never returned by Put, ErrClosed if the queue was closed first, or the
// sync's error. Safe for concurrent use; call it without holding the
// owner's lock.
func (d *Disk) WaitDurable(seq uint64) error {
	if d.durable.Load() > seq {
		return nil
	}
	d.mu.Lock()
	next := d.nextSeq
	d.mu.Unlock()
	if seq >= next {
		return ErrSeq
	}
	d.durMu.Lock()
	defer d.durMu.Unlock()
	for {
		switch {
		case d.durable.Load() > seq:
			return nil
		case d.syncErr != nil:
			return d.syncErr
		case d.shut:
			return ErrClosed
		case !d.flushing:
			d.runSync()
		default:
			d.durCond.Wait()
		}
	}
}

// runSync runs one sync as the leader. d.durMu must be held and no sync
// running; it is released during the I/O and held again on return.
func (d *Disk) runSync() {
	d.flushing = true
	d.started++
	d.durMu.Unlock()
	target, err := d.flush()
	if err == nil {
		if target > d.durable.Load() {
			d.durable.Store(target)
		}
		if d.cfg.OnDurable != nil {
			d.cfg.OnDurable(target)
		}
	}
	d.durMu.Lock()
	if err != nil && d.syncErr == nil {
		d.syncErr = err
	}
	d.flushing = false
	d.finished++
	d.durCond.Broadcast()
}

// syncJob is what one sync does, captured under d.mu. Its slices are owned
// by the sync leader (see flushing) and reused.
type syncJob struct {
	target  uint64      // every seq < target is in the mapping
	items   []flushItem // dirty ranges, each holding a segment reference
	drops   []flushItem // read ranges to release, each holding a reference
	dirty   bool        // fsync the directory
	meta    []byte      // the metadata file to write, or nil
	metaBuf []byte      // meta's storage
	unlinks []uint64    // numbers of dropped segments
}

// flush is one sync: a snapshot under d.mu, then the I/O without it. It
// returns the durable bound it established. Only the sync leader calls it.
func (d *Disk) flush() (uint64, error) {
	job := &d.job
	d.snapshot(job)
	var err error
	for i, it := range job.items {
		if err == nil {
			err = syncMapped(it.data, it.from, it.to)
		}
		it.seg.release()
		job.items[i] = flushItem{}
	}
	for i, it := range job.drops {
		releasePages(it.data, it.from, it.to)
		it.seg.release()
		job.drops[i] = flushItem{}
	}
	if err == nil && job.dirty {
		err = syncDir(d.cfg.Dir)
	}
	if err == nil && job.meta != nil {
		err = writeMetaFile(d.metaPath, job.meta)
	}
	for _, num := range job.unlinks {
		if err != nil { // the new metadata may not be on disk: keep it for later
			d.mu.Lock()
			d.unlinks = append(d.unlinks, num)
			d.mu.Unlock()
			continue
		}
		path := d.segPath(num)
		if uerr := removeFile(path); uerr != nil && !isNotExist(uerr) {
			d.logf("removing %s: %s", path, uerr)
		}
	}
	clear(job.unlinks)
	d.syncs.Add(1)
	if err != nil {
		err = fmt.Errorf("queue: sync: %w", err)
		d.logf("%s", err)
		d.mu.Lock()
		d.failed = err
		d.mu.Unlock()
	}
	return job.target, err
}

// snapshot fills job with the current dirty state and resets it.
func (d *Disk) snapshot(job *syncJob) {
	d.mu.Lock()
	defer d.mu.Unlock()
	job.target = d.nextSeq
	job.items = job.items[:0]
	for _, s := range d.segs {
		if s.synced < s.end {
			s.refs.Add(1)
			job.items = append(job.items, flushItem{seg: s, data: s.data, from: s.synced, to: s.end})
			s.synced = s.end
		}
	}
	// What the reader has passed need not stay mapped in: the segments
	// before its own whole, its own up to its position.
	job.drops = job.drops[:0]
	for k := 0; k < len(d.segs) && k <= d.ri; k++ {
		s := d.segs[k]
		hi := s.end // never past the write segment's end: its reserve stays prefaulted
		if k == d.ri {
			hi = min(d.rpos, s.end)
		}
		hi -= hi % pageSize
		if hi > s.released {
			s.refs.Add(1)
			job.drops = append(job.drops, flushItem{seg: s, data: s.data, from: s.released, to: hi})
			s.released = hi
		}
	}
	job.dirty = d.dirty
	job.meta = nil
	if d.metaGen != d.metaOn {
		job.metaBuf = d.appendMeta(job.metaBuf[:0])
		job.meta = job.metaBuf
		d.metaOn = d.metaGen
	}
	job.unlinks = append(job.unlinks[:0], d.unlinks...)
	clear(d.unlinks)
	d.unlinks = d.unlinks[:0]
	d.dirty, d.ops, d.kicked = false, 0, false
}

// appendMeta encodes the current state as a metadata file. d.mu must be held.
func (d *Disk) appendMeta(b []byte) []byte {
	m := meta{nextSeq: d.nextSeq, floor: d.acks.floor, firstSeg: d.nextNum, nextNum: d.nextNum, endSeg: d.nextNum, acks: d.acks.ranges}
	if len(d.segs) > 0 {
		m.firstSeg = d.segs[0].num
		last := d.segs[len(d.segs)-1]
		m.endSeg, m.endPos = last.num, uint64(last.end)
	}
	m.floorSeg = m.firstSeg
	// The files this sync will unlink (after writing this metadata) stay
	// named by it: a kill between the rename and the unlinks leaves them
	// for recovery to find, see fully acknowledged, and drop again —
	// instead of orphaning them below firstSeg, where recovery never looks.
	for _, num := range d.unlinks {
		m.firstSeg = min(m.firstSeg, num)
	}
	if d.readSeq == d.acks.floor && d.ri < len(d.segs) { // restart where the reader is
		m.floorSeg, m.floorPos = d.segs[d.ri].num, uint64(d.rpos)
	}
	return appendMeta(b, &m)
}

// syncLoop is the background syncer: it runs a sync when Put/Ack counted
// SyncEvery operations (or a segment rolled) and every SyncTimeout while
// there is activity.
func (d *Disk) syncLoop() {
	defer close(d.done)
	var tick <-chan time.Time
	if d.cfg.SyncTimeout > 0 {
		t := time.NewTicker(d.cfg.SyncTimeout)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-d.quit:
			return
		case <-d.kick:
		case <-tick:
			d.mu.Lock()
			idle := d.ops == 0 && d.metaGen == d.metaOn && !d.dirty
			d.mu.Unlock()
			if idle {
				continue
			}
		}
		d.Sync() // errors are sticky, logged by flush and returned to callers
	}
}
