package queue

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestDiskPutRead(t *testing.T) {
	tests := []struct {
		name     string
		sizes    []int
		segBytes int64
		wantSegs int
	}{
		{"empty payload", []int{0}, 1024, 1},
		{"one small", []int{1}, 1024, 1},
		{"fills one segment exactly", []int{100, 100, 100, 100, 100, 100, 100, 100}, 24 + 8*120, 1},
		{"rolls", []int{100, 100, 100, 100, 100, 100, 100, 100, 100}, 24 + 8*120, 2},
		{"record bigger than a segment", []int{10, 5000, 10}, 1024, 3},
		{"many segments", diskRepeat(200, 64), 1024, 0},
		{"one MiB", []int{1 << 20, 1 << 20}, 4 << 20, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			dir := t.TempDir()
			d := openDisk(t, dir, nil, func(c *DiskConfig) { c.MaxBytesPerFile = tt.segBytes })
			var want [][]byte
			for i, n := range tt.sizes {
				p := diskPayload(i, n)
				if seq := diskPut(t, d, p); seq != uint64(i) {
					t.Fatalf("Put %d: seq %d", i, seq)
				}
				want = append(want, p)
			}
			if got := d.Depth(); got != int64(len(want)) {
				t.Fatalf("Depth: got %d, want %d", got, len(want))
			}
			if tt.wantSegs > 0 && len(diskSegFiles(t, dir)) != tt.wantSegs {
				t.Fatalf("segments: got %d, want %d", len(diskSegFiles(t, dir)), tt.wantSegs)
			}
			seqs, got := diskReadAll(t, d, false)
			diskWantPayloads(t, got, want)
			for i, s := range seqs {
				if s != uint64(i) {
					t.Fatalf("seq %d: got %d", i, s)
				}
			}
			if d.Depth() != 0 {
				t.Fatalf("Depth after reading: %d", d.Depth())
			}
			diskClose(t, d)
		})
	}
}

func diskRepeat(size, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = size
	}
	return s
}

func TestDiskErrors(t *testing.T) {
	dir := t.TempDir()
	d := openDisk(t, dir, nil, func(c *DiskConfig) { c.MinRecordSize, c.MaxRecordSize = 2, 10 })
	for _, n := range []int{1, 11} {
		if _, err := d.Put(make([]byte, n)); !errors.Is(err, ErrRecordSize) {
			t.Fatalf("Put(%d bytes): got %v, want ErrRecordSize", n, err)
		}
	}
	if _, _, err := d.Read(); !errors.Is(err, ErrEmpty) {
		t.Fatalf("Read on empty: got %v, want ErrEmpty", err)
	}
	seq := diskPut(t, d, []byte("abc"))
	if err := d.Ack(seq); !errors.Is(err, ErrSeq) {
		t.Fatalf("Ack of an unread record: got %v, want ErrSeq", err)
	}
	if err := d.WaitDurable(seq + 1); !errors.Is(err, ErrSeq) {
		t.Fatalf("WaitDurable of a record never Put: got %v, want ErrSeq", err)
	}
	if _, _, err := d.Read(); err != nil {
		t.Fatal(err)
	}
	for range 2 { // twice: idempotent
		if err := d.Ack(seq); err != nil {
			t.Fatalf("Ack: %v", err)
		}
	}
	diskClose(t, d)
	if err := d.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: got %v, want ErrClosed", err)
	}
	if _, err := d.Put([]byte("abc")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Put after Close: got %v", err)
	}
	if _, _, err := d.Read(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close: got %v", err)
	}
	if err := d.Sync(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Sync after Close: got %v", err)
	}
	if _, err := OpenDisk(DiskConfig{}); err == nil {
		t.Fatal("OpenDisk without Dir and Name: no error")
	}
}

func TestDiskPeek(t *testing.T) {
	d := openDisk(t, t.TempDir(), nil, nil)
	defer diskClose(t, d)
	diskPut(t, d, []byte("one"))
	diskPut(t, d, []byte("two"))
	for range 2 {
		seq, p, err := d.Peek()
		if err != nil || seq != 0 || string(p) != "one" {
			t.Fatalf("Peek: got %d %q %v", seq, p, err)
		}
	}
	if d.Depth() != 2 {
		t.Fatalf("Depth after Peek: %d", d.Depth())
	}
	if err := d.Ack(0); !errors.Is(err, ErrSeq) {
		t.Fatalf("Ack of a peeked record: got %v, want ErrSeq", err)
	}
	if seq, p, _ := d.Read(); seq != 0 || string(p) != "one" {
		t.Fatalf("Read: got %d %q", seq, p)
	}
	if seq, p, _ := d.Peek(); seq != 1 || string(p) != "two" {
		t.Fatalf("Peek: got %d %q", seq, p)
	}
}

// TestDiskReopen covers clean restarts: every record not acknowledged comes
// back, in order, whether it was read or not; acknowledged ones do not.
func TestDiskReopen(t *testing.T) {
	tests := []struct {
		name   string
		put    int
		read   int
		acks   []int // indexes of records to acknowledge (must be < read)
		wantFn func(i int) bool
	}{
		{"nothing read", 20, 0, nil, func(int) bool { return true }},
		{"read, none acked", 20, 20, nil, func(int) bool { return true }},
		{"prefix acked", 20, 10, diskIntRange(0, 10), func(i int) bool { return i >= 10 }},
		{"all acked", 20, 20, diskIntRange(0, 20), func(int) bool { return false }},
		{"out of order", 20, 15, []int{1, 3, 4, 7, 12, 13, 14}, func(i int) bool {
			return i != 1 && i != 3 && i != 4 && i != 7 && i < 12 || i >= 15
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			dir := t.TempDir()
			d := openDisk(t, dir, nil, nil)
			var want [][]byte
			for i := range tt.put {
				p := diskPayload(i, 90)
				diskPut(t, d, p)
				if tt.wantFn(i) {
					want = append(want, p)
				}
			}
			for range tt.read {
				if _, _, err := d.Read(); err != nil {
					t.Fatal(err)
				}
			}
			for _, i := range tt.acks {
				if err := d.Ack(uint64(i)); err != nil {
					t.Fatal(err)
				}
			}
			diskClose(t, d)
			for round := range 2 { // a second reopen must not change anything
				d = openDisk(t, dir, nil, nil)
				if got := d.Depth(); got != int64(len(want)) {
					t.Fatalf("round %d: Depth %d, want %d", round, got, len(want))
				}
				seqs, got := diskReadAll(t, d, false)
				diskWantPayloads(t, got, want)
				_ = seqs
				diskClose(t, d)
			}
			// New records after a reopen get fresh sequence numbers.
			d = openDisk(t, dir, nil, nil)
			if seq := diskPut(t, d, []byte("new")); seq != uint64(tt.put) {
				t.Fatalf("seq after reopen: got %d, want %d", seq, tt.put)
			}
			diskClose(t, d)
		})
	}
}

func diskIntRange(lo, hi int) []int {
	var s []int
	for i := lo; i < hi; i++ {
		s = append(s, i)
	}
	return s
}

// TestDiskSegmentDeletion checks that a segment goes only when every record
// in it is acknowledged, whatever the order.
func TestDiskSegmentDeletion(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	// 24-byte header + 4 records of 20+100 bytes (padded to 120) per segment.
	d := openDisk(t, dir, nil, func(c *DiskConfig) { c.MaxBytesPerFile = 24 + 4*120 })
	for i := range 12 {
		diskPut(t, d, diskPayload(i, 100))
	}
	if n := len(diskSegFiles(t, dir)); n != 3 {
		t.Fatalf("segments: %d, want 3", n)
	}
	diskReadAll(t, d, false)
	for _, s := range []uint64{1, 2, 3, 5, 6, 7} { // all of segment 0 but record 0
		if err := d.Ack(s); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(diskSegFiles(t, dir)); n != 3 {
		t.Fatalf("segments after partial acks: %d, want 3", n)
	}
	d.Ack(4) // segment 1 is complete, but 0 is not: files go in order
	if n := len(diskSegFiles(t, dir)); n != 3 {
		t.Fatalf("segments: %d, want 3", n)
	}
	d.Ack(0)
	if n := len(diskSegFiles(t, dir)); n != 3 {
		t.Fatalf("segments before the sync that drops them: %d, want 3", n)
	}
	if err := d.Sync(); err != nil { // files go after the metadata that forgets them
		t.Fatal(err)
	}
	if n := len(diskSegFiles(t, dir)); n != 1 {
		t.Fatalf("segments after acking segments 0 and 1: %d, want 1 (%v)", n, diskSegFiles(t, dir))
	}
	for s := uint64(8); s < 12; s++ {
		d.Ack(s)
	}
	// The write segment stays while it is written, as upstream's does.
	if n := len(diskSegFiles(t, dir)); n != 1 {
		t.Fatalf("segments: %d, want 1", n)
	}
	diskClose(t, d)
	d = openDisk(t, dir, nil, nil)
	if d.Depth() != 0 {
		t.Fatalf("Depth after reopen: %d", d.Depth())
	}
	if _, _, err := d.Read(); !errors.Is(err, ErrEmpty) {
		t.Fatalf("Read: %v", err)
	}
	// The sealed, fully acknowledged segment goes once the reader reaches
	// its end (and the next sync runs).
	d.Sync()
	if n := len(diskSegFiles(t, dir)); n != 0 {
		t.Fatalf("segments after reopen and read: %d, want 0", n)
	}
	diskPut(t, d, []byte("x"))
	if _, p, _ := d.Read(); string(p) != "x" {
		t.Fatalf("Read: %q", p)
	}
	diskClose(t, d)
}

func TestDiskEmptyDelete(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	d := openDisk(t, dir, nil, func(c *DiskConfig) { c.SyncEvery = 3 })
	for i := range 30 {
		diskPut(t, d, diskPayload(i, 100))
	}
	d.Read()
	if err := d.Empty(); err != nil {
		t.Fatal(err)
	}
	if d.Depth() != 0 || len(diskSegFiles(t, dir)) != 0 {
		t.Fatalf("after Empty: Depth %d, files %v", d.Depth(), diskSegFiles(t, dir))
	}
	if _, _, err := d.Read(); !errors.Is(err, ErrEmpty) {
		t.Fatalf("Read after Empty: %v", err)
	}
	if err := d.Ack(0); err != nil { // read before Empty: acknowledged by it
		t.Fatalf("Ack after Empty: %v", err)
	}
	if seq := diskPut(t, d, []byte("after")); seq != 30 {
		t.Fatalf("seq after Empty: %d, want 30", seq)
	}
	// A crash right after Empty must not bring the old records back.
	crash := diskCopyDir(t, dir)
	c := openDisk(t, crash, nil, nil)
	_, got := diskReadAll(t, c, false)
	diskWantPayloads(t, got, [][]byte{[]byte("after")})
	diskClose(t, c)

	if err := d.Delete(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("files left after Delete: %v", entries)
	}
	if err := d.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Close after Delete: %v", err)
	}
}

// TestDiskCrashAcks simulates crashes (copying the directory, never calling
// Close): everything not acknowledged comes back; acknowledgements that
// reached a sync stay; later ones may be replayed (at least once).
func TestDiskCrashAcks(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	d := openDisk(t, dir, nil, nil)
	defer diskClose(t, d)
	for i := range 40 {
		diskPut(t, d, diskPayload(i, 50))
	}
	for range 30 {
		d.Read()
	}
	for _, s := range []uint64{0, 1, 2, 5, 6, 20, 21, 29} {
		d.Ack(s)
	}
	// Crash before any sync: no metadata file, so nothing is known to be
	// acknowledged; every record comes back.
	if _, err := os.Stat(filepath.Join(dir, "q.queue.meta")); !os.IsNotExist(err) {
		t.Fatalf("metadata before the first sync: %v", err)
	}
	c := openDisk(t, diskCopyDir(t, dir), nil, nil)
	if _, got := diskReadAll(t, c, false); len(got) != 40 {
		t.Fatalf("after a crash before the first sync: %d records, want 40", len(got))
	}
	diskClose(t, c)

	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
	d.Ack(3) // after the sync: may be replayed
	c = openDisk(t, diskCopyDir(t, dir), nil, nil)
	seqs, _ := diskReadAll(t, c, false)
	want := []uint64{3, 4}
	for s := uint64(7); s < 40; s++ {
		if s != 20 && s != 21 && s != 29 {
			want = append(want, s)
		}
	}
	if !slices.Equal(seqs, want) {
		t.Fatalf("after a crash: got %v, want %v", seqs, want)
	}
	if c.Depth() != 0 {
		t.Fatalf("Depth after draining: %d", c.Depth())
	}
	diskClose(t, c)
}

// TestDiskCrashAfterSync: records Put after the last sync are in the page
// cache and come back after a process crash; a torn tail is cut at the last
// whole record.
func TestDiskCrashAfterSync(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	d := openDisk(t, dir, nil, func(c *DiskConfig) { c.MaxBytesPerFile = 600 })
	defer diskClose(t, d)
	var want [][]byte
	for i := range 30 {
		p := diskPayload(i, 90)
		diskPut(t, d, p)
		want = append(want, p)
		if i == 9 {
			if err := d.Sync(); err != nil {
				t.Fatal(err)
			}
		}
	}
	c := openDisk(t, diskCopyDir(t, dir), nil, nil)
	_, got := diskReadAll(t, c, false)
	diskWantPayloads(t, got, want)
	diskClose(t, c)

	crash := diskCopyDir(t, dir)
	segs := diskSegFiles(t, crash)
	st, _ := os.Stat(segs[len(segs)-1])
	diskTruncate(t, segs[len(segs)-1], st.Size()-50) // tear the last record
	log := &diskLog{}
	c = openDisk(t, crash, log, nil)
	_, got = diskReadAll(t, c, false)
	diskWantPayloads(t, got, want[:29])
	if c.Corruptions() != 1 || log.count("torn tail") != 1 {
		t.Fatalf("Corruptions %d; log:\n%s", c.Corruptions(), log)
	}
	diskClose(t, c)
}

// TestDiskCrashDroppedSegments: a segment created after the last metadata
// write and then dropped (fully acknowledged) keeps its file until the next
// sync, so that recovery, which probes segment numbers onwards from the
// metadata, still finds the newer segments after it.
func TestDiskCrashDroppedSegments(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	d := openDisk(t, dir, nil, func(c *DiskConfig) { c.MaxBytesPerFile = 24 + 2*120 })
	defer diskClose(t, d)
	diskPut(t, d, diskPayload(0, 100))
	if err := d.Sync(); err != nil { // metadata: next segment number 1
		t.Fatal(err)
	}
	for i := 1; i < 8; i++ { // segments 0..3, two records each
		diskPut(t, d, diskPayload(i, 100))
	}
	for range 4 { // drop segments 0 and 1
		seq, _, _ := d.Read()
		d.Ack(seq)
	}
	c := openDisk(t, diskCopyDir(t, dir), nil, nil)
	_, got := diskReadAll(t, c, false)
	diskClose(t, c)
	if len(got) != 8 { // all back: the acknowledgements were not synced
		t.Fatalf("after a crash: %d records, want 8", len(got))
	}
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
	c = openDisk(t, diskCopyDir(t, dir), nil, nil)
	_, got = diskReadAll(t, c, false)
	diskClose(t, c)
	diskWantPayloads(t, got, [][]byte{diskPayload(4, 100), diskPayload(5, 100), diskPayload(6, 100), diskPayload(7, 100)})
}

// TestDiskDurable covers the sync policy: SyncEvery counts Puts and Acks,
// WaitDurable blocks until a record is on disk, OnDurable reports it.
func TestDiskDurable(t *testing.T) {
	defer goleak.VerifyNone(t)
	var last atomic.Uint64
	d := openDisk(t, t.TempDir(), nil, func(c *DiskConfig) {
		c.OnDurable = func(v uint64) { last.Store(v) }
	})
	seq := diskPut(t, d, []byte("a"))
	if d.Durable() > seq {
		t.Fatalf("Durable %d before any sync", d.Durable())
	}
	if err := d.WaitDurable(seq); err != nil {
		t.Fatal(err)
	}
	if d.Durable() <= seq || d.Syncs() != 1 {
		t.Fatalf("after WaitDurable: Durable %d, Syncs %d", d.Durable(), d.Syncs())
	}
	if err := d.WaitDurable(seq); err != nil || d.Syncs() != 1 {
		t.Fatalf("WaitDurable of a durable record: %v, Syncs %d", err, d.Syncs())
	}
	if last.Load() != seq+1 {
		t.Fatalf("OnDurable: %d, want %d", last.Load(), seq+1)
	}
	diskClose(t, d)
}

// TestDiskSyncEvery checks the background syncer: with SyncEvery=3, the
// third Put (or Ack) starts a sync without anybody waiting for it.
func TestDiskSyncEvery(t *testing.T) {
	defer goleak.VerifyNone(t)
	synced := make(chan uint64, 10)
	d := openDisk(t, t.TempDir(), nil, func(c *DiskConfig) {
		c.SyncEvery = 3
		c.OnDurable = func(v uint64) { synced <- v }
	})
	// the first Put creates a segment, whose own sync would restart the
	// count at an arbitrary point: get it done first
	diskPut(t, d, []byte("x"))
	select {
	case <-synced: // the segment's creation sync; it restarts the count
	case <-time.After(5 * time.Second):
		diskClose(t, d)
		t.Fatal("creating the first segment started no sync")
	}
	diskPut(t, d, []byte("a"))
	diskPut(t, d, []byte("b"))
	select {
	case v := <-synced:
		t.Fatalf("sync after 2 of 3 operations (durable %d)", v)
	case <-time.After(50 * time.Millisecond):
	}
	diskPut(t, d, []byte("c"))
	select {
	case v := <-synced:
		if v != 4 {
			t.Fatalf("durable after the third Put: %d, want 4", v)
		}
	case <-time.After(5 * time.Second):
		diskClose(t, d)
		t.Fatal("no sync after the third Put within 5 s")
	}
	diskClose(t, d)
}

// TestDiskGroupCommit shows the group commit deterministically: while one
// sync is held inside OnDurable, N writers Put and wait; when it ends, one
// more sync covers all of them.
func TestDiskGroupCommit(t *testing.T) {
	defer goleak.VerifyNone(t)
	const writers = 16
	hold := make(chan struct{})
	entered := make(chan struct{}, 1)
	first := true
	d := openDisk(t, t.TempDir(), nil, func(c *DiskConfig) {
		c.OnDurable = func(uint64) {
			if first {
				first = false
				entered <- struct{}{}
				<-hold
			}
		}
	})
	seq := diskPut(t, d, []byte("first"))
	done := make(chan error, writers+1)
	go func() { done <- d.WaitDurable(seq) }()
	<-entered // the first sync is running
	var owner = make(chan struct{}, 1)
	owner <- struct{}{}
	put := make(chan struct{}, writers)
	for i := range writers {
		go func() {
			<-owner // the owner's lock: Puts are serialized
			s, err := d.Put(diskPayload(i, 64))
			owner <- struct{}{}
			put <- struct{}{}
			if err != nil {
				done <- err
				return
			}
			done <- d.WaitDurable(s)
		}()
	}
	for range writers {
		<-put
	}
	close(hold)
	for range writers + 1 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if got := d.Syncs(); got != 2 {
		t.Fatalf("Syncs for 1+%d waiting writers: got %d, want 2", writers, got)
	}
	diskClose(t, d)
}
