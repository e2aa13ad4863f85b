package queue

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// rssFile returns the process's file-backed resident memory (RssFile in
// /proc/self/status), in bytes.
func rssFile(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Skip("no RssFile in /proc/self/status")
	return 0
}

// Written pages leave the process's RSS as the writer moves on (in
// releaseStep steps, and the rest when a segment is sealed), read ones once
// the reader has passed them and a sync ran: a backlog on disk is page
// cache, not daemon memory. The records stay readable and intact.
func TestDiskSyncedPagesLeaveRSS(t *testing.T) {
	dir := t.TempDir()
	d := openDisk(t, dir, nil, func(c *DiskConfig) { c.MaxBytesPerFile = 8 << 20 })
	defer diskClose(t, d)
	const n, size = 4000, 4000 // ≈ 16 MiB over two segments
	base := rssFile(t)
	var want [][]byte
	for i := range n {
		p := diskPayload(i, size)
		want = append(want, p)
		diskPut(t, d, p)
	}
	written := rssFile(t) - base
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
	synced := rssFile(t) - base
	t.Logf("file-backed RSS: +%d KiB after the puts, +%d KiB after the sync", written>>10, synced>>10)
	if synced > 6<<20 { // at most releaseStep plus the write segment's prefaulted reserve (4 MiB steps)
		t.Errorf("file-backed RSS still +%d KiB after the sync", synced>>10)
	}
	_, got := diskReadAll(t, d, false)
	diskWantPayloads(t, got, want)
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
	if read := rssFile(t) - base; read > 6<<20 {
		t.Errorf("file-backed RSS +%d KiB after reading everything and a sync", read>>10)
	}
}
