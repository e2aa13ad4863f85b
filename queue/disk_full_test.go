//go:build linux

package queue

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
)

// TestDiskFull runs a child process whose RLIMIT_FSIZE is 1.5 MiB (Go
// ignores SIGXFSZ, so the limit surfaces as EFBIG) and Puts until Put fails:
// the failure must be an error (not SIGBUS from writing a mapping into a
// hole), the queue must keep working for what it holds, and every record
// Put before the failure must survive, in order, into the parent.
func TestDiskFull(t *testing.T) {
	if dir := os.Getenv("QUEUE_DISK_FULL_DIR"); dir != "" {
		diskFullChild(t, dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDiskFull$", "-test.count=1")
	cmd.Env = append(os.Environ(), "QUEUE_DISK_FULL_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	n, err := strconv.Atoi(string(diskFirstLine(out)))
	if err != nil || n < 10 {
		t.Fatalf("child output: %q", out)
	}
	d := openDisk(t, dir, nil, func(c *DiskConfig) { c.MaxBytesPerFile = 4 << 20 })
	defer diskClose(t, d)
	_, got := diskReadAll(t, d, true)
	if len(got) != n {
		t.Fatalf("after the full disk: %d records, want %d", len(got), n)
	}
	for i, p := range got {
		if !bytes.Equal(p, diskPayload(i, 1000)) {
			t.Fatalf("record %d differs", i)
		}
	}
}

func diskFirstLine(b []byte) []byte {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	return line
}

func diskFullChild(t *testing.T, dir string) {
	lim := syscall.Rlimit{Cur: 3 << 19, Max: 3 << 19}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	d := openDisk(t, dir, nil, func(c *DiskConfig) { c.MaxBytesPerFile = 4 << 20 })
	n := 0
	var err error
	for ; n < 10000; n++ {
		if _, err = d.Put(diskPayload(n, 1000)); err != nil {
			break
		}
	}
	if !errors.Is(err, syscall.EFBIG) {
		t.Fatalf("Put %d: got %v, want EFBIG", n, err)
	}
	if _, err := d.Put(diskPayload(n, 1000)); !errors.Is(err, syscall.EFBIG) {
		t.Fatalf("second Put on the full disk: %v", err)
	}
	// Reading and acknowledging still work, and so does syncing.
	seq, p, err := d.Read()
	if err != nil || seq != 0 || !bytes.Equal(p, diskPayload(0, 1000)) {
		t.Fatalf("Read after the failed Put: %d %v", seq, err)
	}
	if err := d.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	fmt.Println(n)
}
