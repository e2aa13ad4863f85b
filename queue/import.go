package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Reading go-diskqueue v1.1.0's files (upstream nsqd's disk queue), so that
// an upstream data directory upgrades in place. Format (nsqd-spec §7.3):
//
//	<name>.diskqueue.<NNNNNN>.dat   records [int32 big-endian length][payload], no checksum
//	<name>.diskqueue.meta.dat       "<depth>\n<readFileNum>,<readPos>\n<writeFileNum>,<writePos>\n"
//
// Nothing here is derived from go-diskqueue's code; it follows the spec and
// files written by upstream's binary (queue/testdata/disk/upstream).

// UpstreamQueue names one go-diskqueue queue in Dir and the length bounds
// its records must satisfy: with no checksum, an impossible length prefix is
// the only sign of corruption (upstream nsqd uses 26 and 26+--max-msg-size).
// Not safe for concurrent use.
type UpstreamQueue struct {
	Dir, Name                    string
	MinRecordSize, MaxRecordSize int
	Logf                         func(format string, args ...any) // one line per corrupt file (nil: discard)

	bad     []string // segments Each found corrupt, renamed *.bad by Remove
	corrupt int
}

// upstreamMeta is the decoded metadata file.
type upstreamMeta struct {
	depth              int64
	readNum, readPos   int64
	writeNum, writePos int64
}

// Each calls fn, in order, with every record go-diskqueue had not handed out:
// from readFileNum/readPos in the metadata through the end of the last
// segment, including records past the metadata's writePos (written but not
// synced before a crash; go-diskqueue reads them too). Without a metadata
// file (upstream writes none before its first sync) every segment is read
// from its start, where upstream would have ignored them: at least once.
// The payload is valid only during the call. A corrupt length prefix or a
// truncated record ends that segment (logged once; the segment is renamed
// *.bad by Remove) and reading goes on with the next, as upstream does. It
// stops at fn's first error and returns it. n counts the records passed to
// fn.
func (u *UpstreamQueue) Each(fn func(payload []byte) error) (n int, err error) {
	u.bad, u.corrupt = nil, 0
	m, err := u.readMeta()
	if err != nil {
		return 0, err
	}
	nums, err := u.segments()
	if err != nil {
		return 0, err
	}
	for _, num := range nums {
		if m != nil && num < m.readNum {
			continue // already consumed; upstream deletes these
		}
		start := int64(0)
		if m != nil && num == m.readNum {
			start = m.readPos
		}
		k, err := u.eachIn(u.segPath(num), start, fn)
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// eachIn yields the records of one segment from offset start.
func (u *UpstreamQueue) eachIn(path string, start int64, fn func([]byte) error) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	size := int64(len(b))
	n := 0
	for pos := start; pos < size; {
		length := int64(-1)
		if pos+4 <= size {
			length = int64(int32(binary.BigEndian.Uint32(b[pos:])))
		}
		if length < int64(u.MinRecordSize) || length > int64(u.MaxRecordSize) || pos+4+length > size {
			u.bad = append(u.bad, path)
			u.corrupt++
			if u.Logf != nil {
				u.Logf("DISKQUEUE(%s) reading at %d of %s - invalid record length %d: skipping %d bytes",
					u.Name, pos, path, length, size-pos)
			}
			break
		}
		if err := fn(b[pos+4 : pos+4+length]); err != nil {
			return n, err
		}
		n++
		pos += 4 + length
	}
	return n, nil
}

// Corruptions returns how many corrupt segments the last Each met.
func (u *UpstreamQueue) Corruptions() int { return u.corrupt }

// Remove deletes the queue's go-diskqueue files: segments, metadata and
// leftover temporary metadata. Segments the last Each found corrupt are
// renamed <segment>.bad instead, as upstream does; existing *.bad files are
// left alone. Call it only once the records Each yielded are safe.
func (u *UpstreamQueue) Remove() error {
	entries, err := os.ReadDir(u.Dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		path := u.Dir + "/" + name
		switch {
		case u.isSegment(name) && slices.Contains(u.bad, path):
			errs = append(errs, renameFile(path, path+".bad"))
		case u.isSegment(name), name == u.Name+".diskqueue.meta.dat",
			strings.HasPrefix(name, u.Name+".diskqueue.meta.dat.") && strings.HasSuffix(name, ".tmp"):
			errs = append(errs, removeFile(path))
		}
	}
	return errors.Join(errs...)
}

func (u *UpstreamQueue) segPath(num int64) string {
	return fmt.Sprintf("%s/%s.diskqueue.%06d.dat", u.Dir, u.Name, num)
}

// segNum parses "<Name>.diskqueue.<digits>.dat".
func (u *UpstreamQueue) segNum(file string) (int64, bool) {
	return parseUpstreamSegment(file, u.Name)
}

func (u *UpstreamQueue) isSegment(file string) bool {
	_, ok := u.segNum(file)
	return ok
}

func parseUpstreamSegment(file, name string) (int64, bool) {
	rest, ok := strings.CutPrefix(file, name+".diskqueue.")
	if !ok {
		return 0, false
	}
	digits, ok := strings.CutSuffix(rest, ".dat")
	if !ok || digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	num, err := strconv.ParseInt(digits, 10, 64)
	return num, err == nil
}

// segments lists the queue's segment numbers in order.
func (u *UpstreamQueue) segments() ([]int64, error) {
	entries, err := os.ReadDir(u.Dir)
	if err != nil {
		return nil, err
	}
	var nums []int64
	for _, e := range entries {
		if num, ok := u.segNum(e.Name()); ok {
			nums = append(nums, num)
		}
	}
	slices.Sort(nums)
	return nums, nil
}

// readMeta returns the metadata, nil if there is none, or an error for a
// file that does not parse (importing from the wrong position could replay
// or skip a backlog, so that is for an operator to look at).
func (u *UpstreamQueue) readMeta() (*upstreamMeta, error) {
	path := u.Dir + "/" + u.Name + ".diskqueue.meta.dat"
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m upstreamMeta
	if _, err := fmt.Sscanf(string(b), "%d\n%d,%d\n%d,%d\n", &m.depth, &m.readNum, &m.readPos, &m.writeNum, &m.writePos); err != nil {
		return nil, fmt.Errorf("queue: %s: %w", path, err)
	}
	if m.readNum < 0 || m.readPos < 0 || m.writeNum < m.readNum || m.writePos < 0 {
		return nil, fmt.Errorf("queue: %s: impossible positions", path)
	}
	return &m, nil
}

// UpstreamNames returns the names of the go-diskqueue queues with files in
// dir (a segment or a metadata file), sorted, for a caller that imports a
// whole data directory with one listing.
func UpstreamNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		file := e.Name()
		if name, ok := strings.CutSuffix(file, ".diskqueue.meta.dat"); ok {
			names = append(names, name)
			continue
		}
		i := strings.LastIndex(file, ".diskqueue.")
		if i <= 0 {
			continue
		}
		if _, ok := parseUpstreamSegment(file, file[:i]); ok {
			names = append(names, file[:i])
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// ImportUpstream moves the go-diskqueue queue name in d's directory into d:
// every unread record (see UpstreamQueue.Each) is Put in order, d is synced,
// and only then are the old files removed, so a crash at any point loses
// nothing (at worst a record is imported twice). Length bounds and logging
// come from d's config; corrupt upstream segments count as Corruptions. It
// must be serialized with the owner's other calls, and blocks on a sync.
func (d *Disk) ImportUpstream(name string) (int, error) {
	u := UpstreamQueue{Dir: d.cfg.Dir, Name: name, MinRecordSize: d.cfg.MinRecordSize,
		MaxRecordSize: d.cfg.MaxRecordSize, Logf: d.cfg.Logf}
	n, err := u.Each(func(p []byte) error {
		_, err := d.Put(p)
		return err
	})
	d.corruptions.Add(uint64(u.corrupt))
	if err != nil {
		return n, fmt.Errorf("queue: import %s: %w", name, err)
	}
	if err := d.Sync(); err != nil {
		return n, err
	}
	return n, u.Remove()
}
