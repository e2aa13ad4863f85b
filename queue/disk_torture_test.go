package queue

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestDiskTorture drives random Puts, Reads, out-of-order Acks, Syncs,
// Empties, clean reopens and simulated crashes against a model, with the
// background syncer and a concurrent Sync/WaitDurable caller running. It is
// bounded by time (2 s, 300 ms with -short) and operation count.
func TestDiskTorture(t *testing.T) {
	defer goleak.VerifyNone(t)
	budget := 2 * time.Second
	if testing.Short() {
		budget = 300 * time.Millisecond
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	seed := rng.Uint64()
	if s, err := strconv.ParseUint(os.Getenv("QUEUE_TORTURE_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d", seed)
	rng = rand.New(rand.NewPCG(seed, 2))

	dir := t.TempDir()
	cfg := func(c *DiskConfig) {
		c.MaxBytesPerFile = 4096
		c.SyncEvery = 1 + rng.Int64N(50)
		c.SyncTimeout = time.Millisecond
	}
	tt := &diskTorture{t: t, rng: rng, unacked: map[uint64][]byte{}, lateAcks: map[uint64][]byte{}}
	tt.d = openDisk(t, dir, nil, cfg)
	tt.startHelper()

	deadline := time.Now().Add(budget)
	op := 0
	defer func() { t.Logf("%d operations, %d syncs", op, tt.d.Syncs()) }()
	for ; op < 200000 && time.Now().Before(deadline); op++ {
		switch r := rng.IntN(1000); {
		case r < 400:
			tt.put()
		case r < 650:
			tt.read()
		case r < 900:
			tt.ack()
		case r < 960:
			tt.sync()
		case r < 975:
			tt.crash(dir)
		case r < 990:
			tt.stopHelper()
			diskClose(t, tt.d)
			tt.d = openDisk(t, dir, nil, cfg)
			tt.reloaded()
			tt.startHelper()
		default:
			tt.empty()
		}
	}
	tt.stopHelper()
	diskClose(t, tt.d)
	d := openDisk(t, dir, nil, nil)
	seqs, _ := diskReadAll(t, d, false)
	if want := tt.unackedSeqs(); !slices.Equal(seqs, want) {
		t.Fatalf("final: got %d records, want %d", len(seqs), len(want))
	}
	diskClose(t, d)
}

type diskTorture struct {
	t        *testing.T
	rng      *rand.Rand
	d        *Disk
	unacked  map[uint64][]byte // every record Put and not acknowledged
	pending  []uint64          // read, not acknowledged
	lateAcks map[uint64][]byte // acknowledged since the last Sync: a crash may bring them back
	stop     chan struct{}
	wg       sync.WaitGroup
	lastPut  uint64
}

func (tt *diskTorture) put() {
	p := diskPayload(int(tt.rng.Uint32()), 8+tt.rng.IntN(600))
	if tt.rng.IntN(100) == 0 {
		p = diskPayload(int(tt.rng.Uint32()), 5000+tt.rng.IntN(10000)) // bigger than a segment
	}
	seq := diskPut(tt.t, tt.d, p)
	tt.unacked[seq] = p
	tt.lastPut = seq
}

func (tt *diskTorture) read() {
	seq, p, err := tt.d.Read()
	if errors.Is(err, ErrEmpty) {
		if len(tt.unacked) != len(tt.pending) {
			tt.t.Fatalf("ErrEmpty with %d unacknowledged, %d read", len(tt.unacked), len(tt.pending))
		}
		return
	}
	if err != nil {
		tt.t.Fatal(err)
	}
	if want, ok := tt.unacked[seq]; !ok || !bytes.Equal(p, want) {
		tt.t.Fatalf("Read %d: unexpected record (known %v)", seq, ok)
	}
	tt.pending = append(tt.pending, seq)
}

func (tt *diskTorture) ack() {
	if len(tt.pending) == 0 {
		return
	}
	i := tt.rng.IntN(len(tt.pending))
	if tt.rng.IntN(3) > 0 {
		i = 0 // mostly in order, as consumers do
	}
	seq := tt.pending[i]
	tt.pending = slices.Delete(tt.pending, i, i+1)
	if err := tt.d.Ack(seq); err != nil {
		tt.t.Fatal(err)
	}
	tt.lateAcks[seq] = tt.unacked[seq]
	delete(tt.unacked, seq)
}

func (tt *diskTorture) sync() {
	if err := tt.d.Sync(); err != nil {
		tt.t.Fatal(err)
	}
	clear(tt.lateAcks)
}

func (tt *diskTorture) empty() {
	if err := tt.d.Empty(); err != nil {
		tt.t.Fatal(err)
	}
	clear(tt.unacked)
	clear(tt.lateAcks)
	tt.pending = tt.pending[:0]
}

// crash opens a copy of the directory (the files as a process crash leaves
// them) and checks it holds every unacknowledged record, in order, and
// nothing acknowledged before the last Sync.
func (tt *diskTorture) crash(dir string) {
	c := openDisk(tt.t, diskCopyDir(tt.t, dir), nil, nil)
	defer diskClose(tt.t, c)
	seqs, payloads := diskReadAll(tt.t, c, false)
	if !slices.IsSorted(seqs) {
		tt.t.Fatal("crash copy: records out of order")
	}
	got := map[uint64]bool{}
	for i, s := range seqs {
		want, ok := tt.unacked[s]
		if !ok {
			want, ok = tt.lateAcks[s]
		}
		if !ok || !bytes.Equal(payloads[i], want) {
			tt.t.Fatalf("crash copy: record %d came back (unknown or acknowledged before the last Sync)", s)
		}
		got[s] = true
	}
	for s := range tt.unacked {
		if !got[s] {
			tt.t.Fatalf("crash copy: unacknowledged record %d lost", s)
		}
	}
}

// reloaded resets the model after a clean reopen: nothing is read, every
// acknowledgement is on disk.
func (tt *diskTorture) reloaded() {
	tt.pending = tt.pending[:0]
	clear(tt.lateAcks)
	if tt.d.Depth() != int64(len(tt.unacked)) {
		tt.t.Fatalf("Depth after reopen: %d, want %d", tt.d.Depth(), len(tt.unacked))
	}
}

func (tt *diskTorture) unackedSeqs() []uint64 {
	return slices.Sorted(func(yield func(uint64) bool) {
		for s := range tt.unacked {
			if !yield(s) {
				return
			}
		}
	})
}

// startHelper runs a goroutine that calls Sync and WaitDurable concurrently
// with the owner, as publishers waiting for durability would.
func (tt *diskTorture) startHelper() {
	tt.stop = make(chan struct{})
	d := tt.d
	tt.wg.Add(1)
	go func() {
		defer tt.wg.Done()
		for i := 0; ; i++ {
			select {
			case <-tt.stop:
				return
			default:
			}
			var err error
			if i%2 == 0 {
				err = d.Sync()
			} else if dur := d.Durable(); dur > 0 {
				err = d.WaitDurable(dur - 1)
			}
			if err != nil {
				tt.t.Error(err)
				return
			}
			time.Sleep(200 * time.Microsecond)
		}
	}()
}

func (tt *diskTorture) stopHelper() {
	close(tt.stop)
	tt.wg.Wait()
}
