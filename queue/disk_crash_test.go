package queue

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// A kill between a sync's metadata rename and its unlinks leaves the files
// of fully acknowledged segments behind. Recovery must find them (the
// metadata still names them) and remove them, not orphan them below the
// metadata's first segment forever. Found by test/chaos's crash loop with
// small segments; this reproduces the exact moment: the directory after the
// sync, with the unlinked files put back.
func TestDiskKillBetweenMetaAndUnlink(t *testing.T) {
	dir := t.TempDir()
	d := openDisk(t, dir, nil, nil) // 1 KiB segments
	var want [][]byte
	for i := range 40 {
		p := diskPayload(i, 100)
		diskPut(t, d, p)
		if i >= 30 {
			want = append(want, p) // the last 10 stay unacknowledged
		}
	}
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
	before := diskSegFiles(t, dir)
	if len(before) < 4 {
		t.Fatalf("want several segments, got %d", len(before))
	}
	saved := map[string][]byte{}
	for _, f := range before {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		saved[filepath.Base(f)] = b
	}
	for range 30 {
		seq, _, err := d.Read()
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Ack(seq); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Sync(); err != nil { // metadata, then unlinks of the acknowledged segments
		t.Fatal(err)
	}
	after := diskSegFiles(t, dir)
	if len(after) >= len(before) {
		t.Fatalf("the sync unlinked nothing: %d files before, %d after", len(before), len(after))
	}

	// The crash image: what is on disk now, plus the files the sync unlinked.
	crash := diskCopyDir(t, dir)
	var orphans []string
	for name, b := range saved {
		if !slices.Contains(after, filepath.Join(dir, name)) {
			orphans = append(orphans, name)
			if err := os.WriteFile(filepath.Join(crash, name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	diskClose(t, d)

	log := &diskLog{}
	r := openDisk(t, crash, log, nil)
	if got := r.Depth(); got != 10 {
		t.Errorf("Depth after recovery = %d, want 10", got)
	}
	_, got := diskReadAll(t, r, true)
	diskWantPayloads(t, got, want)
	diskClose(t, r)
	for _, name := range orphans {
		if _, err := os.Stat(filepath.Join(crash, name)); err == nil {
			t.Errorf("%s (fully acknowledged before the kill) is still there after recovery and close", name)
		}
	}
	if n := r.Corruptions(); n != 0 {
		t.Errorf("%d corruption events:\n%s", n, log)
	}
}
