package queue

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Errors returned by Disk. Callers test with errors.Is.
var (
	// ErrClosed is returned by every call after Close or Delete.
	ErrClosed = errors.New("queue: closed")
	// ErrEmpty is returned by Read and Peek when no record is waiting.
	ErrEmpty = errors.New("queue: no record to read")
	// ErrSeq is returned by Ack for a record not yet read and by
	// WaitDurable for a seq that Put never returned.
	ErrSeq = errors.New("queue: no such record")
	// ErrRecordSize is returned by Put for a payload outside
	// [MinRecordSize, MaxRecordSize].
	ErrRecordSize = errors.New("queue: record size out of range")
)

// Defaults and limits for DiskConfig.
const (
	DefaultMaxBytesPerFile = 100 << 20 // upstream's --max-bytes-per-file default
	DefaultMaxRecordSize   = 4 << 20
	maxSegmentBytes        = 1 << 30  // a mapping per segment; bigger segments only waste address space
	minReserve             = 64 << 10 // the write segment's first reservation of real blocks
	maxReserve             = 4 << 20  // and its largest step
	releaseStep            = 1 << 20  // Put releases the written pages of the write segment in steps of this size
)

// DiskConfig configures a Disk. Zero values select the defaults noted.
type DiskConfig struct {
	Dir  string // existing directory for the files
	Name string // file-name prefix: <Name>.queue.<NNNNNNNNNN>.seg and <Name>.queue.meta

	// MaxBytesPerFile is upstream's --max-bytes-per-file: a record that would
	// take a segment past it goes to a new segment, unless the segment is
	// empty (a bigger record gets a segment of its own). Default 100 MiB,
	// capped at 1 GiB.
	MaxBytesPerFile int64
	// MinRecordSize and MaxRecordSize bound the payloads Put accepts
	// (defaults 0 and 4 MiB). Recovery treats a longer stored record as
	// corrupt, and ImportUpstream checks upstream's length prefixes against
	// both, since they carry no checksum.
	MinRecordSize, MaxRecordSize int

	// SyncEvery is upstream's --sync-every: a sync (data and metadata) is
	// started after this many Puts plus Acks; an Ack plays the part of
	// upstream's read, the event that moves the durable read position. 0
	// means never by count. SyncTimeout is upstream's --sync-timeout: a sync
	// is started this long after activity if none ran meanwhile; 0 means
	// never by time. Either one starts the background syncing goroutine.
	SyncEvery   int64
	SyncTimeout time.Duration

	// Logf receives one line per corruption or recovery event (nil:
	// discard). It may be called from any method and from the syncer.
	Logf func(format string, args ...any)
	// OnDurable, if set, is called after every successful sync with the new
	// durable bound (every seq < durable is on disk). It runs on whichever
	// goroutine ran the sync, never concurrently with itself and with no
	// lock held, and delays the release of WaitDurable callers: it must be
	// quick (wake a loop, not do work) and must not call Sync or
	// WaitDurable, which would wait for the sync that is calling it.
	OnDurable func(durable uint64)
}

// Disk is a segmented, memory-mapped, checksummed FIFO of byte records with
// at-least-once semantics: a record stays on disk, and comes back after a
// restart, until it is acknowledged. See the package documentation for the
// file formats and the group-commit design.
//
// Threading: Put, Peek, Read, Ack, Empty, ImportUpstream, Delete and Close
// must be serialized by the caller (core holds the topic's or channel's
// lock); the payload returned by Peek and Read stays valid until the next
// Read, Ack, Empty, Delete or Close. Sync, WaitDurable, Durable, Depth,
// Corruptions and Syncs are safe for concurrent use, also with the owner's
// calls; WaitDurable and Sync block, so call them without holding the
// caller's lock. An internal mutex makes the owner's calls safe against the
// one background syncing goroutine; it is held for memory work only, except
// when Put creates, grows or seals a segment (file calls) and when Ack or
// Read drops a fully acknowledged one (munmap; the unlink waits for a sync).
type Disk struct {
	cfg      DiskConfig
	prefix   string // cfg.Dir + "/" + cfg.Name + ".queue."
	metaPath string

	mu      sync.Mutex // guards the fields below (see Threading)
	segs    []*segment // oldest first; the last one is w, if w != nil
	w       *segment   // write segment; nil until the first Put after OpenDisk or Empty
	nextNum uint64     // file number of the next segment
	nextSeq uint64     // sequence number of the next Put
	acks    ackSet
	ri      int    // reader: index in segs (== len(segs): waiting for a segment)
	rpos    int64  // reader: offset in segs[ri]; 0 = the segment's first record
	readSeq uint64 // every seq < readSeq was read or acknowledged
	peeked  bool   // peekSeq/peekBuf/peekEnd describe the record at rpos
	peekSeq uint64
	peekBuf []byte
	peekEnd int64
	ops     int64    // Puts plus Acks since the last sync started
	metaGen uint64   // bumped by every change the metadata file records
	metaOn  uint64   // metaGen captured by the last sync that wrote the metadata
	dirty   bool     // a segment was created: the directory needs an fsync
	unlinks []uint64 // numbers of dropped segments, whose files the next sync unlinks
	kicked  bool     // the syncer has been signalled and has not started yet
	failed  error    // sticky sync failure: Put refuses to add to a queue that cannot sync
	closed  bool

	durMu    sync.Mutex // guards the group-commit state below; never held with mu
	durCond  sync.Cond  // signalled when a sync ends
	flushing bool       // a sync is running; its goroutine owns job
	started  uint64     // syncs started
	finished uint64     // syncs finished
	syncErr  error
	shut     bool
	job      syncJob // owned by the sync leader

	durable     atomic.Uint64 // every seq < durable is on disk
	depth       atomic.Int64  // unread records
	corruptions atomic.Uint64
	syncs       atomic.Uint64

	kick chan struct{} // nil without a syncer; capacity 1
	quit chan struct{}
	done chan struct{}
}

// OpenDisk opens the queue named cfg.Name in cfg.Dir, creating nothing until
// the first Put. Existing files are recovered: every record that was not
// acknowledged before the last sync is readable again, in order (see the
// package documentation). A missing or corrupt metadata file is logged and
// replaced by a scan of the segments. A background syncing goroutine is
// started when cfg.SyncEvery or cfg.SyncTimeout is set; Close or Delete
// stops it.
func OpenDisk(cfg DiskConfig) (*Disk, error) {
	if cfg.Dir == "" || cfg.Name == "" {
		return nil, errors.New("queue: DiskConfig needs Dir and Name")
	}
	if cfg.MaxBytesPerFile <= 0 {
		cfg.MaxBytesPerFile = DefaultMaxBytesPerFile
	}
	cfg.MaxBytesPerFile = min(cfg.MaxBytesPerFile, maxSegmentBytes)
	if cfg.MaxRecordSize <= 0 {
		cfg.MaxRecordSize = DefaultMaxRecordSize
	}
	cfg.MaxRecordSize = min(cfg.MaxRecordSize, maxSegmentBytes-segmentHeaderSize-recordHeaderSize)
	cfg.MinRecordSize = max(cfg.MinRecordSize, 0)
	d := &Disk{cfg: cfg, prefix: cfg.Dir + "/" + cfg.Name + ".queue."}
	d.metaPath = d.prefix + "meta"
	d.durCond.L = &d.durMu
	if err := d.recover(); err != nil {
		for _, s := range d.segs {
			s.drop(false)
		}
		return nil, err
	}
	if cfg.SyncEvery > 0 || cfg.SyncTimeout > 0 {
		d.kick = make(chan struct{}, 1)
		d.quit = make(chan struct{})
		d.done = make(chan struct{})
		go d.syncLoop()
	}
	return d, nil
}

// Depth returns the number of records not yet read (after a restart: not
// yet acknowledged). Safe for concurrent use.
func (d *Disk) Depth() int64 { return d.depth.Load() }

// Corruptions returns how many corruption events (a bad record or region
// skipped, a torn tail cut, a bad header or metadata file) were met since
// OpenDisk; each was logged once. Safe for concurrent use.
func (d *Disk) Corruptions() uint64 { return d.corruptions.Load() }

// Syncs returns how many syncs (one msync per dirty segment, plus the
// metadata file when it changed) ran since OpenDisk. Safe for concurrent use.
func (d *Disk) Syncs() uint64 { return d.syncs.Load() }

// Durable returns the durable bound: every record with seq < Durable() is
// on disk. Safe for concurrent use.
func (d *Disk) Durable() uint64 { return d.durable.Load() }

// Empty drops every record, read or not, deletes the segment files and
// persists the empty state (a sync). Sequence numbers and file numbers keep
// counting up, so a stale seq can never name a new record.
func (d *Disk) Empty() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return ErrClosed
	}
	for _, s := range d.segs {
		d.unlinks = append(d.unlinks, s.num) // by the Sync below, with the metadata
	}
	err := d.dropSegments(false)
	d.acks.reset(d.nextSeq)
	d.readSeq = d.nextSeq
	d.depth.Store(0)
	d.metaGen++
	d.mu.Unlock()
	if serr := d.Sync(); err == nil {
		err = serr
	}
	return err
}

// Close syncs everything, trims the write segment to its records, stops the
// syncer and releases the files. WaitDurable callers are released. Further
// calls return ErrClosed.
func (d *Disk) Close() error { return d.shutdown(true) }

// Delete stops the queue like Close, without a final sync, and removes all
// its files.
func (d *Disk) Delete() error { return d.shutdown(false) }

func (d *Disk) shutdown(keep bool) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return ErrClosed
	}
	if keep && d.w != nil {
		d.w.seal() // trim the reserved tail; the mapping stays for the sync
		d.w = nil
	}
	d.metaGen++ // the final sync writes the metadata even if nothing changed
	d.mu.Unlock()
	if d.quit != nil {
		close(d.quit)
		<-d.done
	}
	var err error
	if keep {
		err = d.Sync()
	}
	d.durMu.Lock()
	for d.flushing { // wait out a sync started by a WaitDurable caller
		d.durCond.Wait()
	}
	d.shut = true
	d.durCond.Broadcast()
	d.durMu.Unlock()

	d.mu.Lock()
	if derr := d.dropSegments(!keep); err == nil {
		err = derr
	}
	if !keep {
		paths := []string{d.metaPath}
		for _, num := range d.unlinks {
			paths = append(paths, d.segPath(num))
		}
		for _, path := range paths {
			if rerr := removeFile(path); rerr != nil && !isNotExist(rerr) && err == nil {
				err = rerr
			}
		}
		d.unlinks = nil
	}
	d.closed = true
	d.mu.Unlock()
	return err
}

// dropSegments releases (and with unlink deletes) every segment and parks
// the reader and writer. d.mu must be held.
func (d *Disk) dropSegments(unlink bool) error {
	var err error
	for i, s := range d.segs {
		if derr := s.drop(unlink); derr != nil && err == nil {
			err = derr
		}
		d.segs[i] = nil
	}
	d.segs = d.segs[:0]
	d.w = nil
	d.ri, d.rpos, d.peeked, d.peekBuf = 0, 0, false, nil
	return err
}

func (d *Disk) segPath(num uint64) string {
	var b [20]byte
	digits := strconv.AppendUint(b[:0], num, 10)
	pad := "0000000000"[min(len(digits), 10):]
	return d.prefix + pad + string(digits) + ".seg"
}

func (d *Disk) logf(format string, args ...any) {
	if d.cfg.Logf != nil {
		d.cfg.Logf("DISKQUEUE("+d.cfg.Name+") "+format, args...)
	}
}

// corrupt counts one corruption event and logs it.
func (d *Disk) corrupt(format string, args ...any) {
	d.corruptions.Add(1)
	d.logf(format, args...)
}
