package queue

import (
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
)

// recover rebuilds the in-memory state from the files (see "Recovery" in the
// package documentation). On error the caller drops d.segs.
func (d *Disk) recover() error {
	removeFile(d.metaPath + ".tmp") // a sync that died before its rename
	m, err := readMetaFile(d.metaPath)
	metaCorrupt := errors.Is(err, errMetaCorrupt)
	if metaCorrupt {
		d.corrupt("metadata file %s is corrupt: recovering from the segments", d.metaPath)
	} else if err != nil {
		return err
	}
	nums, err := d.findSegments(m)
	if err != nil {
		return err
	}
	if m == nil && !metaCorrupt && len(nums) > 0 {
		d.logf("no metadata file: recovering %d segments by scanning", len(nums))
	}
	if err := d.openSegments(nums); err != nil {
		return err
	}
	if err := d.dropInterruptedTail(); err != nil {
		return err
	}
	d.restore(m)
	return nil
}

// dropInterruptedTail removes trailing segment files that a kill during a
// segment roll left behind with no header and nothing else (empty or
// zero-filled). Left last, such a file would hide the real tail — records
// of the previous segment written after the last metadata sync — from
// trimTail, so nextSeq would come from the lagging metadata and new records
// would reuse acknowledged sequence numbers (found by test/chaos's crash
// loop with small segments).
func (d *Disk) dropInterruptedTail() error {
	for n := len(d.segs); n > 0; n = len(d.segs) {
		last := d.segs[n-1]
		if last.headerOK || !allZero(last.data) {
			return nil
		}
		d.logf("removing %s: its creation was interrupted (no header, no record)", last.path)
		last.drop(true)
		d.segs = d.segs[:n-1]
		if n > 1 { // the previous segment becomes the write tail: reopen it writable
			prev := d.segs[n-2]
			s, err := openSegment(prev.path, prev.num, true)
			if err != nil {
				return err
			}
			prev.drop(false)
			d.segs[n-2] = s
		}
	}
	return nil
}

// openSegments maps the segments; the last one stays open for trimTail.
func (d *Disk) openSegments(nums []uint64) error {
	for i, num := range nums {
		s, err := openSegment(d.segPath(num), num, i == len(nums)-1)
		if err != nil {
			return err
		}
		d.segs = append(d.segs, s)
		if !s.headerOK && s.end > 0 && !allZero(s.data) { // all zero: see dropInterruptedTail
			d.corrupt("bad header in %s", s.path)
		}
	}
	return nil
}

// restore derives the sequence numbers, the ledger, the reader's position
// and the depth from the metadata (nil if missing or corrupt) and the
// segments, and drops segments that are already fully acknowledged.
func (d *Disk) restore(m *meta) {
	var nextSeq, floor uint64
	if m != nil {
		nextSeq, floor, d.nextNum = m.nextSeq, m.floor, m.nextNum
	}
	if n := len(d.segs); n > 0 {
		last := d.segs[n-1]
		if lastSeq, found := d.trimTail(last, m); found {
			nextSeq = max(nextSeq, lastSeq+1)
		}
		for i, s := range d.segs {
			if s.headerOK {
				nextSeq = max(nextSeq, s.firstSeq)
			}
			if i+1 < n && d.segs[i+1].headerOK {
				s.endSeq, s.endKnown = d.segs[i+1].firstSeq, true
			} else if i+1 < n {
				// the next header is gone, and with it the bound on this
				// segment's seqs: records written after the last sync
				// would otherwise get their seqs reused
				if top, found := d.highestSeq(s, segmentHeaderSize); found {
					nextSeq = max(nextSeq, top+1)
				}
			}
		}
		last.endSeq, last.endKnown = nextSeq, true
		if m == nil && d.segs[0].headerOK {
			floor = d.segs[0].firstSeq
		}
		d.nextNum = max(d.nextNum, last.num+1)
	}
	d.nextSeq = nextSeq
	d.acks.floor = min(floor, nextSeq)
	if m != nil {
		for _, r := range m.acks {
			if r.lo > d.acks.floor && r.hi <= nextSeq {
				d.acks.ranges = append(d.acks.ranges, r)
				d.acks.count += r.hi - r.lo
			}
		}
	}
	d.readSeq = d.acks.floor
	d.depth.Store(int64(nextSeq - d.acks.floor - d.acks.count))
	d.durable.Store(nextSeq)
	if m != nil {
		for k, s := range d.segs {
			if s.num == m.floorSeg && int64(m.floorPos) >= segmentHeaderSize && int64(m.floorPos) <= s.end {
				d.ri, d.rpos = k, int64(m.floorPos)
			}
		}
	}
	d.metaOn = d.metaGen
	d.dropAcked()
}

// findSegments returns the numbers of the queue's segment files, in order.
// With metadata it probes the numbers the metadata names (then any created
// after it), so that opening one queue does not list a directory shared with
// thousands of others; without, it lists the directory.
func (d *Disk) findSegments(m *meta) ([]uint64, error) {
	var nums []uint64
	if m != nil {
		for num := m.firstSeg; ; num++ {
			_, err := os.Lstat(d.segPath(num))
			if err == nil {
				nums = append(nums, num)
				continue
			}
			if !errors.Is(err, os.ErrNotExist) {
				return nil, err
			}
			if num >= m.nextNum {
				return nums, nil
			}
		}
	}
	entries, err := os.ReadDir(d.cfg.Dir)
	if err != nil {
		return nil, err
	}
	prefix := d.cfg.Name + ".queue."
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		digits, ok := strings.CutSuffix(rest, ".seg")
		if !ok || digits == "" || strings.Trim(digits, "0123456789") != "" {
			continue
		}
		if num, err := strconv.ParseUint(digits, 10, 64); err == nil {
			nums = append(nums, num)
		}
	}
	slices.Sort(nums)
	return nums, nil
}

// trimTail finds the last valid record of the segment that was being
// written when the queue last stopped, starting from the flushed end the
// metadata records, and cuts the file after it: a torn or zero-filled tail
// would otherwise sit between this run's records and the next segment.
// Corrupt regions before that record are left for the reader, which skips
// and reports them. It returns the highest seq of its records, if there
// is one.
func (d *Disk) trimTail(s *segment, m *meta) (lastSeq uint64, found bool) {
	defer s.closeFD()
	pos := int64(segmentHeaderSize)
	if m != nil && m.endSeg == s.num && int64(m.endPos) >= pos && int64(m.endPos) <= s.end {
		pos = int64(m.endPos)
	}
	end := pos
	for pos < s.end {
		seq, _, next, ok := parseRecord(s.data, pos, s.end, d.cfg.MaxRecordSize)
		if ok {
			lastSeq, found, end, pos = max(lastSeq, seq), true, next, next
			continue
		}
		if pos = scanRecord(s.data, pos+1, s.end, d.cfg.MaxRecordSize); pos < 0 {
			break
		}
	}
	if end >= s.end {
		return lastSeq, found
	}
	if !allZero(s.data[end:s.end]) {
		d.corrupt("torn tail in %s: cut %d bytes after offset %d", s.path, s.end-end, end)
	}
	if err := truncateFile(s.fd, end); err != nil {
		d.logf("trimming %s: %s", s.path, err)
	}
	s.end = end
	return lastSeq, found
}

// highestSeq returns the highest seq among the valid records of s from pos
// on, skipping corrupt regions as the reader does.
func (d *Disk) highestSeq(s *segment, pos int64) (top uint64, found bool) {
	for pos >= 0 && pos < s.end {
		seq, _, next, ok := parseRecord(s.data, pos, s.end, d.cfg.MaxRecordSize)
		if ok {
			top, found, pos = max(top, seq), true, next
			continue
		}
		pos = scanRecord(s.data, pos+1, s.end, d.cfg.MaxRecordSize)
	}
	return top, found
}
