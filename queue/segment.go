package queue

import (
	"encoding/binary"
	"hash/crc32"
	"sync/atomic"
)

// Record and segment-header layout; the byte diagrams are in doc.go.
const (
	recordMagic      = 0xD7C35A1E // first word of every record; zero = no record here
	recordHeaderSize = 20         // magic, length, seq, crc
	recordAlign      = 8          // records start on 8-byte boundaries (resync steps by 8)

	segmentMagic      = 0x5351524E // "NRQS" little-endian
	segmentVersion    = 1
	segmentHeaderSize = 24 // magic, version, first seq, crc, zero
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// recordSize is the number of bytes a record with an n-byte payload occupies,
// padding included.
func recordSize(n int) int64 {
	return (recordHeaderSize + int64(n) + recordAlign - 1) &^ (recordAlign - 1)
}

// putRecord encodes a record for payload p with sequence number seq at the
// start of b, which must hold recordSize(len(p)) bytes (padding is left as
// is: segments are zero-filled).
func putRecord(b []byte, seq uint64, p []byte) {
	binary.LittleEndian.PutUint32(b[4:8], uint32(len(p)))
	binary.LittleEndian.PutUint64(b[8:16], seq)
	copy(b[recordHeaderSize:], p)
	crc := crc32.Update(0, castagnoli, b[4:16])
	crc = crc32.Update(crc, castagnoli, p)
	binary.LittleEndian.PutUint32(b[16:20], crc)
	binary.LittleEndian.PutUint32(b[0:4], recordMagic)
}

// parseRecord decodes the record at data[pos:limit]. ok is false when there
// is no valid record there: wrong magic, a length that would cross limit or
// exceed maxPayload, or a checksum mismatch. next is where the following
// record starts (never past limit). payload aliases data.
func parseRecord(data []byte, pos, limit int64, maxPayload int) (seq uint64, payload []byte, next int64, ok bool) {
	if pos < 0 || pos+recordHeaderSize > limit {
		return 0, nil, 0, false
	}
	h := data[pos : pos+recordHeaderSize]
	if binary.LittleEndian.Uint32(h[0:4]) != recordMagic {
		return 0, nil, 0, false
	}
	n := int64(binary.LittleEndian.Uint32(h[4:8]))
	end := pos + recordHeaderSize + n
	if n > int64(maxPayload) || end > limit {
		return 0, nil, 0, false
	}
	payload = data[pos+recordHeaderSize : end : end]
	crc := crc32.Update(0, castagnoli, h[4:16])
	if crc32.Update(crc, castagnoli, payload) != binary.LittleEndian.Uint32(h[16:20]) {
		return 0, nil, 0, false
	}
	next = min(pos+recordSize(int(n)), limit)
	return binary.LittleEndian.Uint64(h[8:16]), payload, next, true
}

// scanRecord returns the position of the first valid record at or after from
// (rounded up to the record alignment) in data[:limit], or -1. It is the
// resynchronisation step after a bad record: the magic word is cheap to test
// and the checksum rejects payload bytes that happen to match it.
func scanRecord(data []byte, from, limit int64, maxPayload int) int64 {
	from = (from + recordAlign - 1) &^ (recordAlign - 1)
	for p := from; p+recordHeaderSize <= limit; p += recordAlign {
		if binary.LittleEndian.Uint32(data[p:p+4]) != recordMagic {
			continue
		}
		if _, _, _, ok := parseRecord(data, p, limit, maxPayload); ok {
			return p
		}
	}
	return -1
}

// allZero reports whether b holds only zero bytes: the unwritten tail of a
// segment, as opposed to garbage.
func allZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func putSegmentHeader(b []byte, firstSeq uint64) {
	binary.LittleEndian.PutUint32(b[0:4], segmentMagic)
	binary.LittleEndian.PutUint32(b[4:8], segmentVersion)
	binary.LittleEndian.PutUint64(b[8:16], firstSeq)
	binary.LittleEndian.PutUint32(b[16:20], crc32.Checksum(b[0:16], castagnoli))
}

func parseSegmentHeader(b []byte) (firstSeq uint64, ok bool) {
	if len(b) < segmentHeaderSize ||
		binary.LittleEndian.Uint32(b[0:4]) != segmentMagic ||
		binary.LittleEndian.Uint32(b[4:8]) != segmentVersion ||
		binary.LittleEndian.Uint32(b[16:20]) != crc32.Checksum(b[0:16], castagnoli) {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b[8:16]), true
}

// segment is one data file and its mapping. Fields other than refs are
// guarded by the owning Disk's mu.
type segment struct {
	num  uint64 // file number, the NNNNNNNNNN in the name
	path string
	fd   int    // open only while this is the write segment; -1 otherwise
	data []byte // the mapping: capacity for the write segment, file size otherwise

	end      int64 // bytes that may hold records: the write offset, or the file's size once sealed
	reserved int64 // write segment: bytes backed by real blocks (end <= reserved <= len(data))
	synced   int64 // bytes [0, synced) were flushed by a completed or running sync
	released int64 // bytes [0, released) were read and handed to releasePages
	written  int64 // write segment: bytes [0, written) were handed to releasePages after the writes
	sealed   bool  // no more writes; end is final

	firstSeq uint64 // from the header (valid when headerOK)
	headerOK bool
	endSeq   uint64 // every record in the file has seq < endSeq (valid when endKnown)
	endKnown bool

	// refs counts the owner's reference plus one per running sync that is
	// flushing this mapping; the last release unmaps it.
	refs atomic.Int32
}

// createSegment creates the file for a new write segment whose first record
// will be firstSeq, maps capacity bytes of it and reserves the first reserve
// bytes. On error nothing is left behind.
func createSegment(path string, num, firstSeq uint64, capacity, reserve int64) (*segment, error) {
	fd, err := openFile(path, flagsCreate)
	if err != nil {
		return nil, err
	}
	s := &segment{num: num, path: path, fd: fd, end: segmentHeaderSize}
	capacity = (capacity + pageSize - 1) &^ (pageSize - 1)
	if err = reserveFile(fd, 0, reserve); err == nil {
		s.reserved = reserve
		s.data, err = mapFile(fd, capacity, true)
	}
	if err == nil {
		prefault(s.data[:reserve])
	}
	if err != nil {
		closeFile(fd)
		removeFile(path)
		return nil, err
	}
	putSegmentHeader(s.data, firstSeq)
	s.firstSeq, s.headerOK = firstSeq, true
	s.refs.Store(1)
	return s, nil
}

// openSegment maps an existing segment read-only. With keepOpen the file
// stays open (read-write) so that recovery can truncate a torn tail.
func openSegment(path string, num uint64, keepOpen bool) (*segment, error) {
	flags := flagsRead
	if keepOpen {
		flags = flagsWrite
	}
	fd, err := openFile(path, flags)
	if err != nil {
		return nil, err
	}
	s := &segment{num: num, path: path, fd: fd, sealed: true}
	size, err := fileSize(fd)
	if err == nil && size > 0 {
		s.data, err = mapFile(fd, size, false)
	}
	if err != nil {
		closeFile(fd)
		return nil, err
	}
	s.end, s.reserved, s.synced = size, size, size
	s.firstSeq, s.headerOK = parseSegmentHeader(s.data)
	s.refs.Store(1)
	if !keepOpen {
		s.closeFD()
	}
	return s, nil
}

// reserve makes sure [0, upTo) is backed by real blocks and mapped. The
// reservation doubles, from minReserve up to steps of maxReserve, so that
// an idle queue holds little and a busy one seldom calls in.
func (s *segment) reserve(upTo int64) error {
	if upTo <= s.reserved {
		return nil
	}
	step := min(max(s.reserved, minReserve), maxReserve)
	target := min(max(upTo, s.reserved+step), int64(len(s.data)))
	if err := reserveFile(s.fd, s.reserved, target-s.reserved); err != nil {
		return err
	}
	prefault(s.data[s.reserved:target])
	s.reserved = target
	return nil
}

// seal ends writing: the file is cut to the bytes written and closed. The
// mapping stays (readers may be in it); nothing past end is touched again.
func (s *segment) seal() error {
	s.sealed = true
	var err error
	if s.fd >= 0 {
		err = truncateFile(s.fd, s.end)
		s.closeFD()
	}
	return err
}

func (s *segment) closeFD() {
	if s.fd >= 0 {
		closeFile(s.fd)
		s.fd = -1
	}
}

// release drops one reference; the last one unmaps. It may run on a syncing
// goroutine after the owner has dropped the segment, so it touches nothing
// but the mapping (the owner closes the descriptor first).
func (s *segment) release() {
	if s.refs.Add(-1) == 0 && s.data != nil {
		unmapFile(s.data)
		s.data = nil
	}
}

// drop closes, optionally unlinks, and releases the owner's reference.
func (s *segment) drop(unlink bool) error {
	s.closeFD()
	var err error
	if unlink {
		err = removeFile(s.path)
	}
	s.release()
	return err
}
