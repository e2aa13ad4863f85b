package queue

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
)

// The metadata file, <name>.queue.meta (layout in doc.go). It is a hint and a
// ledger: the positions spare recovery a scan, the acknowledgement state is
// the one thing the segments cannot tell. It is rewritten whole, atomically
// (temp file, fdatasync, rename), by the syncing goroutine.

const (
	metaMagic      = 0x4D51524E // "NRQM" little-endian
	metaVersion    = 1
	metaHeaderSize = 16 // magic, version, body length, crc
	metaFixedSize  = 8 * 8
)

var errMetaCorrupt = errors.New("queue: corrupt metadata")

// seqRange is the half-open interval [lo, hi) of sequence numbers.
type seqRange struct{ lo, hi uint64 }

// meta is the decoded metadata file.
type meta struct {
	nextSeq  uint64 // sequence number of the next Put
	floor    uint64 // every seq < floor is acknowledged
	firstSeg uint64 // number of the oldest segment
	nextNum  uint64 // number the next segment file will get
	floorSeg uint64 // where reading restarts: a segment number …
	floorPos uint64 // … and offset whose record has seq >= floor (0 = segment start)
	endSeg   uint64 // a segment number …
	endPos   uint64 // … and offset up to which its records were flushed
	acks     []seqRange
}

// appendMeta encodes m after b.
func appendMeta(b []byte, m *meta) []byte {
	start := len(b)
	b = binary.LittleEndian.AppendUint32(b, metaMagic)
	b = binary.LittleEndian.AppendUint32(b, metaVersion)
	b = binary.LittleEndian.AppendUint64(b, 0) // length and crc, filled below
	for _, v := range [...]uint64{m.nextSeq, m.floor, m.firstSeg, m.nextNum, m.floorSeg, m.floorPos, m.endSeg, m.endPos} {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	b = binary.AppendUvarint(b, uint64(len(m.acks)))
	prev := m.floor
	for _, r := range m.acks {
		b = binary.AppendUvarint(b, r.lo-prev)
		b = binary.AppendUvarint(b, r.hi-r.lo)
		prev = r.hi
	}
	body := b[start+metaHeaderSize:]
	binary.LittleEndian.PutUint32(b[start+8:], uint32(len(body)))
	binary.LittleEndian.PutUint32(b[start+12:], crc32.Checksum(body, castagnoli))
	return b
}

// parseMeta decodes a metadata file. Any inconsistency is errMetaCorrupt:
// the caller then recovers from the segments alone.
func parseMeta(b []byte) (*meta, error) {
	if len(b) < metaHeaderSize+metaFixedSize ||
		binary.LittleEndian.Uint32(b[0:4]) != metaMagic ||
		binary.LittleEndian.Uint32(b[4:8]) != metaVersion {
		return nil, errMetaCorrupt
	}
	body := b[metaHeaderSize:]
	if int(binary.LittleEndian.Uint32(b[8:12])) != len(body) ||
		binary.LittleEndian.Uint32(b[12:16]) != crc32.Checksum(body, castagnoli) {
		return nil, errMetaCorrupt
	}
	m := &meta{}
	for i, p := range [...]*uint64{&m.nextSeq, &m.floor, &m.firstSeg, &m.nextNum, &m.floorSeg, &m.floorPos, &m.endSeg, &m.endPos} {
		*p = binary.LittleEndian.Uint64(body[8*i:])
	}
	body = body[metaFixedSize:]
	count, n := binary.Uvarint(body)
	if n <= 0 || count > uint64(len(body)) {
		return nil, errMetaCorrupt
	}
	body = body[n:]
	m.acks = make([]seqRange, 0, count)
	prev := m.floor
	for range count {
		gap, n1 := binary.Uvarint(body)
		if n1 <= 0 {
			return nil, errMetaCorrupt
		}
		length, n2 := binary.Uvarint(body[n1:])
		if n2 <= 0 || gap == 0 || length == 0 || prev+gap < prev || prev+gap+length < prev+gap {
			return nil, errMetaCorrupt
		}
		body = body[n1+n2:]
		r := seqRange{prev + gap, prev + gap + length}
		m.acks = append(m.acks, r)
		prev = r.hi
	}
	if len(body) != 0 || m.floor > m.nextSeq || prev > m.nextSeq {
		return nil, errMetaCorrupt
	}
	return m, nil
}

// writeMetaFile replaces path with b atomically: a crash leaves either the
// old or the new file, never a mix. The directory is not fsynced (as
// upstream): losing the rename only replays acknowledgements, never data.
func writeMetaFile(path string, b []byte) error {
	tmp := path + ".tmp"
	fd, err := openFile(tmp, flagsMeta)
	if err != nil {
		return err
	}
	err = writeAll(fd, b)
	if err == nil {
		err = syncFile(fd)
	}
	if cerr := closeFile(fd); err == nil {
		err = cerr
	}
	if err == nil {
		err = renameFile(tmp, path)
	}
	if err != nil {
		removeFile(tmp)
	}
	return err
}

// readMetaFile returns the decoded file, (nil, nil) when it does not exist,
// or errMetaCorrupt.
func readMetaFile(path string) (*meta, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	return parseMeta(b)
}
