package queue

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Helpers shared by the disk queue tests.

// diskLog collects Logf lines.
type diskLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *diskLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *diskLog) count(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.Contains(s, substr) {
			n++
		}
	}
	return n
}

func (l *diskLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// openDisk opens a queue named "q" in dir with small segments; mod adjusts
// the config.
func openDisk(t testing.TB, dir string, log *diskLog, mod func(*DiskConfig)) *Disk {
	t.Helper()
	cfg := DiskConfig{Dir: dir, Name: "q", MaxBytesPerFile: 1024, MaxRecordSize: 8 << 20}
	if log != nil {
		cfg.Logf = log.logf
	}
	if mod != nil {
		mod(&cfg)
	}
	d, err := OpenDisk(cfg)
	if err != nil {
		t.Fatalf("OpenDisk: %v", err)
	}
	return d
}

func diskPayload(i, size int) []byte {
	p := make([]byte, size)
	prefix := fmt.Sprintf("r%d-", i)
	for j := range p {
		p[j] = prefix[j%len(prefix)]
	}
	return p
}

func diskPut(t testing.TB, d *Disk, p []byte) uint64 {
	t.Helper()
	seq, err := d.Put(p)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	return seq
}

// readAll reads every available record, copying payloads; with ack it
// acknowledges each.
func diskReadAll(t testing.TB, d *Disk, ack bool) (seqs []uint64, payloads [][]byte) {
	t.Helper()
	for {
		seq, p, err := d.Read()
		if errors.Is(err, ErrEmpty) {
			return seqs, payloads
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		seqs = append(seqs, seq)
		payloads = append(payloads, bytes.Clone(p))
		if ack {
			if err := d.Ack(seq); err != nil {
				t.Fatalf("Ack(%d): %v", seq, err)
			}
		}
		if len(seqs) > 1e6 {
			t.Fatal("readAll: runaway")
		}
	}
}

func diskClose(t testing.TB, d *Disk) {
	t.Helper()
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// segFiles returns the queue's segment file names in dir.
func diskSegFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "q.queue.*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(m)
	return m
}

// copyDir copies every regular file in src into a new directory: the state
// a process crash would leave (the page cache survives, so what the mapping
// holds is what the copy gets).
func diskCopyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		in, err := os.Open(filepath.Join(src, e.Name()))
		if errors.Is(err, os.ErrNotExist) {
			continue // renamed or removed by a concurrent sync since the listing
		}
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.OpenFile(filepath.Join(dst, e.Name()), os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
	return dst
}

func diskWantPayloads(t testing.TB, got [][]byte, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("record %d: got %q, want %q", i, diskTrunc(got[i]), diskTrunc(want[i]))
		}
	}
}

func diskTrunc(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}
