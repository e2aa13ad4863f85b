package queue

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"go.uber.org/goleak"
)

// Corruption tests. Layout used throughout: payloads of 100 bytes take 120
// bytes on disk, 4 records per segment after the 24-byte header, 16 records
// in 4 segments (the last one sealed by Close).
const (
	cRecords  = 16
	cPerSeg   = 4
	cRecBytes = 120
	cSegBytes = segmentHeaderSize + cPerSeg*cRecBytes
)

func diskCorruptOffset(k int) int64 { return segmentHeaderSize + int64(k%cPerSeg)*cRecBytes }

func diskCorruptSegment(dir string, k int) string {
	return filepath.Join(dir, fmt.Sprintf("q.queue.%010d.seg", k/cPerSeg))
}

func diskPatch(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func diskTruncate(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

func TestDiskCorruption(t *testing.T) {
	tests := []struct {
		name        string
		mutate      func(t *testing.T, dir string)
		lost        []int // record indexes that cannot come back
		corruptions uint64
	}{
		{"none", func(*testing.T, string) {}, nil, 0},
		{"payload byte flipped", func(t *testing.T, dir string) {
			diskPatch(t, diskCorruptSegment(dir, 5), diskCorruptOffset(5)+recordHeaderSize+7, []byte{0xff})
		}, []int{5}, 1},
		{"magic destroyed", func(t *testing.T, dir string) {
			diskPatch(t, diskCorruptSegment(dir, 6), diskCorruptOffset(6), []byte{1, 2, 3, 4})
		}, []int{6}, 1},
		{"impossible length", func(t *testing.T, dir string) {
			diskPatch(t, diskCorruptSegment(dir, 4), diskCorruptOffset(4)+4, []byte{0xff, 0xff, 0xff, 0x7f})
		}, []int{4}, 1},
		{"length too short", func(t *testing.T, dir string) {
			diskPatch(t, diskCorruptSegment(dir, 4), diskCorruptOffset(4)+4, []byte{3, 0, 0, 0})
		}, []int{4}, 1},
		{"two bad records in one segment", func(t *testing.T, dir string) {
			diskPatch(t, diskCorruptSegment(dir, 8), diskCorruptOffset(8)+30, []byte{0xff})
			diskPatch(t, diskCorruptSegment(dir, 10), diskCorruptOffset(10)+30, []byte{0xff})
		}, []int{8, 10}, 2},
		{"adjacent bad records", func(t *testing.T, dir string) {
			diskPatch(t, diskCorruptSegment(dir, 9), diskCorruptOffset(9)+30, []byte{0xff})
			diskPatch(t, diskCorruptSegment(dir, 10), diskCorruptOffset(10)+30, []byte{0xff})
		}, []int{9, 10}, 1},
		{"last record of a segment", func(t *testing.T, dir string) {
			diskPatch(t, diskCorruptSegment(dir, 7), diskCorruptOffset(7)+100, []byte{0xff})
		}, []int{7}, 1},
		{"segment truncated mid-record", func(t *testing.T, dir string) {
			diskTruncate(t, diskCorruptSegment(dir, 6), diskCorruptOffset(6)+50)
		}, []int{6, 7}, 1},
		{"last segment truncated mid-record (torn tail)", func(t *testing.T, dir string) {
			diskTruncate(t, diskCorruptSegment(dir, 14), diskCorruptOffset(14)+50)
		}, []int{14, 15}, 1},
		{"segment header destroyed", func(t *testing.T, dir string) {
			diskPatch(t, diskCorruptSegment(dir, 4), 0, []byte("garbage!"))
		}, nil, 1},
		{"whole segment garbage", func(t *testing.T, dir string) {
			junk := make([]byte, cSegBytes)
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range junk {
				junk[i] = byte(rng.Uint32())
			}
			diskPatch(t, diskCorruptSegment(dir, 4), 0, junk)
		}, []int{4, 5, 6, 7}, 2}, // header, then the records
		{"empty segment file", func(t *testing.T, dir string) {
			diskTruncate(t, diskCorruptSegment(dir, 8), 0)
		}, []int{8, 9, 10, 11}, 0},
		{"zero-filled tail (trim lost in a crash)", func(t *testing.T, dir string) {
			diskTruncate(t, diskCorruptSegment(dir, 0), cSegBytes+3*4096)
		}, nil, 0},
		{"metadata deleted", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "q.queue.meta"))
		}, nil, 0},
		{"metadata corrupt", func(t *testing.T, dir string) {
			diskPatch(t, filepath.Join(dir, "q.queue.meta"), 20, []byte{0xee})
		}, nil, 1},
		{"metadata truncated", func(t *testing.T, dir string) {
			diskTruncate(t, filepath.Join(dir, "q.queue.meta"), 10)
		}, nil, 1},
		{"segment missing", func(t *testing.T, dir string) {
			os.Remove(diskCorruptSegment(dir, 4))
		}, []int{4, 5, 6, 7}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			dir := t.TempDir()
			d := openDisk(t, dir, nil, func(c *DiskConfig) { c.MaxBytesPerFile = cSegBytes })
			var want [][]byte
			for i := range cRecords {
				p := diskPayload(i, 100)
				diskPut(t, d, p)
				if !slices.Contains(tt.lost, i) {
					want = append(want, p)
				}
			}
			diskClose(t, d)
			if n := len(diskSegFiles(t, dir)); n != cRecords/cPerSeg {
				t.Fatalf("segments: %d", n)
			}
			tt.mutate(t, dir)

			log := &diskLog{}
			d = openDisk(t, dir, log, func(c *DiskConfig) { c.MaxBytesPerFile = cSegBytes })
			_, got := diskReadAll(t, d, true)
			diskWantPayloads(t, got, want)
			if c := d.Corruptions(); c != tt.corruptions {
				t.Fatalf("Corruptions: got %d, want %d; log:\n%s", c, tt.corruptions, log)
			}
			if n := log.count("corrupt") + log.count("torn") + log.count("bad header"); n != int(tt.corruptions) {
				t.Fatalf("corruption log lines: got %d, want %d; log:\n%s", n, tt.corruptions, log)
			}
			if d.Depth() != 0 {
				t.Fatalf("Depth after draining: %d", d.Depth())
			}
			// New records still work, and after a restart nothing old is back.
			diskPut(t, d, []byte("after"))
			diskClose(t, d)
			d = openDisk(t, dir, nil, func(c *DiskConfig) { c.MaxBytesPerFile = cSegBytes })
			_, got = diskReadAll(t, d, true)
			diskWantPayloads(t, got, [][]byte{[]byte("after")})
			if d.Corruptions() != 0 {
				t.Fatalf("Corruptions on the second reopen: %d", d.Corruptions())
			}
			diskClose(t, d)
		})
	}
}

// TestDiskRandomCorruption flips random bytes in random files and checks
// that reading terminates, never returns a record that was not written and
// keeps the order.
func TestDiskRandomCorruption(t *testing.T) {
	defer goleak.VerifyNone(t)
	rng := rand.New(rand.NewPCG(7, 7))
	for round := range 40 {
		dir := t.TempDir()
		d := openDisk(t, dir, nil, func(c *DiskConfig) { c.MaxBytesPerFile = 2048 })
		written := map[string]int{}
		for i := range 60 {
			p := diskPayload(i, 8+rng.IntN(300)) // 8 bytes: unique prefix
			diskPut(t, d, p)
			written[string(p)] = i
		}
		if round%2 == 0 {
			diskReadAll(t, d, true) // some with metadata that acknowledges everything
		}
		diskClose(t, d)
		files, _ := filepath.Glob(filepath.Join(dir, "q.queue.*"))
		for range 1 + rng.IntN(20) {
			f := files[rng.IntN(len(files))]
			st, _ := os.Stat(f)
			if st.Size() == 0 {
				continue
			}
			switch rng.IntN(3) {
			case 0:
				diskPatch(t, f, rng.Int64N(st.Size()), []byte{byte(rng.Uint32())})
			case 1:
				diskTruncate(t, f, rng.Int64N(st.Size()))
			default:
				diskPatch(t, f, rng.Int64N(st.Size()), []byte{0xD7, 0xC3, 0x5A, 0x1E}) // a stray magic
			}
		}
		d = openDisk(t, dir, nil, nil)
		_, got := diskReadAll(t, d, true)
		last := -1
		for _, p := range got {
			i, ok := written[string(p)]
			if !ok {
				t.Fatalf("round %d: read a record that was never written: %q", round, diskTrunc(p))
			}
			if i <= last {
				t.Fatalf("round %d: record %d after %d", round, i, last)
			}
			last = i
		}
		if d.Depth() != 0 {
			t.Fatalf("round %d: Depth %d after draining", round, d.Depth())
		}
		diskClose(t, d)
	}
}
