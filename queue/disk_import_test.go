package queue

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Import tests run against directories written by upstream nsqd v1.3.0
// (testdata/disk/upstream; gen-*.sh there made them) and, when the binary
// is at ../.bin/nsqd, against a directory it writes during the test.

// nsqdBodies imports queue name from dir into a fresh Disk in the same
// directory and returns the message bodies (an nsqd record is a 26-byte
// header, then the body).
func diskImportBodies(t *testing.T, dir, name string, log *diskLog, wantImported bool) ([]string, *Disk) {
	t.Helper()
	d := openDisk(t, dir, log, func(c *DiskConfig) { c.Name = name; c.MinRecordSize = 26 })
	n, err := d.ImportUpstream(name)
	if err != nil {
		t.Fatalf("ImportUpstream(%s): %v", name, err)
	}
	_, payloads := diskReadAll(t, d, false)
	if wantImported && len(payloads) != n || !wantImported && n != 0 {
		t.Fatalf("imported %d records, read %d", n, len(payloads))
	}
	var bodies []string
	for _, p := range payloads {
		bodies = append(bodies, string(p[26:]))
	}
	return bodies, d
}

func upstreamMsgT(i int) string { return fmt.Sprintf("msg-t-%d-%s", i, strings.Repeat("0", 3*i)) }

func TestDiskImportUpstream(t *testing.T) {
	var tc, u, k []string
	for i := 4; i <= 12; i++ {
		tc = append(tc, upstreamMsgT(i))
	}
	tc = append(tc, upstreamMsgT(3)) // in flight at shutdown: upstream appended it
	for i := 1; i <= 12; i++ {
		u = append(u, fmt.Sprintf("msg-u-%d", i))
	}
	for i := 1; i <= 8; i++ {
		k = append(k, fmt.Sprintf("synced-%d", i))
	}
	for i := 1; i <= 4; i++ { // past the metadata's writePos: SIGKILL before a sync
		k = append(k, fmt.Sprintf("unsynced-%d", i))
	}
	tests := []struct {
		fixture, name string
		mutate        func(t *testing.T, dir string)
		want          []string
		corrupt       uint64
		bad           []string // files expected to be renamed *.bad
	}{
		{"clean", "t:c", nil, tc, 0, nil},
		{"clean", "u", nil, u, 0, nil},
		{"clean", "t", nil, nil, 0, nil}, // fully read (and upstream's own .bad files stay)
		{"crash", "k", nil, k, 0, nil},
		{"clean", "u", func(t *testing.T, dir string) {
			diskPatch(t, filepath.Join(dir, "u.diskqueue.000000.dat"), 74, []byte{0x7f, 0xff, 0xff, 0xff})
		}, slices.Concat(u[:2], u[8:]), 1, []string{"u.diskqueue.000000.dat.bad"}},
		{"clean", "u", func(t *testing.T, dir string) { // truncated mid-record
			diskTruncate(t, filepath.Join(dir, "u.diskqueue.000001.dat"), 100)
		}, u[:10], 1, []string{"u.diskqueue.000001.dat.bad"}},
		{"clean", "u", func(t *testing.T, dir string) { // metadata never synced
			os.Remove(filepath.Join(dir, "u.diskqueue.meta.dat"))
		}, u, 0, nil},
		{"clean", "t:c", func(t *testing.T, dir string) { // a length below the minimum
			diskPatch(t, filepath.Join(dir, "t:c.diskqueue.000001.dat"), 0, []byte{0, 0, 0, 3})
		}, slices.Concat(tc[:3], tc[7:]), 1, []string{"t:c.diskqueue.000001.dat.bad"}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture+"/"+tt.name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			dir := diskCopyDir(t, filepath.Join("testdata/disk/upstream", tt.fixture))
			if tt.mutate != nil {
				tt.mutate(t, dir)
			}
			log := &diskLog{}
			got, d := diskImportBodies(t, dir, tt.name, log, true)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("bodies:\n got %q\nwant %q", got, tt.want)
			}
			if d.Corruptions() != tt.corrupt || log.count("invalid record length") != int(tt.corrupt) {
				t.Fatalf("Corruptions %d, want %d; log:\n%s", d.Corruptions(), tt.corrupt, log)
			}
			diskClose(t, d)
			for _, b := range tt.bad {
				if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
					t.Fatalf("bad file: %v", err)
				}
			}
			names, err := UpstreamNames(dir)
			if err != nil || slices.Contains(names, tt.name) {
				t.Fatalf("UpstreamNames after import: %v %v", names, err)
			}
			// The records are ours now: a restart keeps them, a second
			// import finds nothing.
			got, d = diskImportBodies(t, dir, tt.name, nil, false)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("after reopen:\n got %q\nwant %q", got, tt.want)
			}
			diskClose(t, d)
		})
	}
}

func TestDiskUpstreamNames(t *testing.T) {
	for fixture, want := range map[string][]string{"clean": {"t", "t:c", "u"}, "crash": {"k"}} {
		got, err := UpstreamNames(filepath.Join("testdata/disk/upstream", fixture))
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("UpstreamNames(%s): got %v %v, want %v", fixture, got, err, want)
		}
	}
}

func TestDiskUpstreamBadMeta(t *testing.T) {
	dir := diskCopyDir(t, "testdata/disk/upstream/crash")
	os.WriteFile(filepath.Join(dir, "k.diskqueue.meta.dat"), []byte("8\nx,y\n"), 0o600)
	u := UpstreamQueue{Dir: dir, Name: "k", MaxRecordSize: 1 << 20}
	if _, err := u.Each(func([]byte) error { return nil }); err == nil {
		t.Fatal("Each with unparsable metadata: no error")
	}
}

// TestDiskImportLiveUpstream writes a data directory with upstream's nsqd
// (SIGTERM: its in-memory queue goes to disk) and imports it.
func TestDiskImportLiveUpstream(t *testing.T) {
	bin, _ := filepath.Abs("../.bin/nsqd")
	if _, err := os.Stat(bin); err != nil {
		t.Skip("upstream nsqd binary not built (../.bin/nsqd)")
	}
	if testing.Short() {
		t.Skip("starts upstream nsqd")
	}
	dir := t.TempDir()
	cmd := exec.Command(bin, "--data-path="+dir, "--mem-queue-size=5", "--max-bytes-per-file=2000",
		"--tcp-address=127.0.0.1:0", "--http-address=127.0.0.1:0")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if _, a, ok := strings.Cut(sc.Text(), "HTTP: listening on "); ok {
				addr <- a
			}
		}
	}()
	var http1 string
	select {
	case http1 = <-addr:
	case <-time.After(10 * time.Second):
		t.Fatal("upstream nsqd did not start")
	}
	var want []string
	for i := range 60 {
		body := fmt.Sprintf("live-%d-%s", i, strings.Repeat("x", i*7))
		resp, err := http.Post("http://"+http1+"/pub?topic=live", "application/octet-stream", strings.NewReader(body))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("pub: %v %v", resp, err)
		}
		resp.Body.Close()
		want = append(want, body)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("upstream nsqd exit: %v", err)
	}
	got, d := diskImportBodies(t, dir, "live", nil, true)
	defer diskClose(t, d)
	// With no channel, upstream's topic keeps the first 5 in memory and
	// sends the rest to disk; SIGTERM appends the memory queue after them.
	if want := slices.Concat(want[5:], want[:5]); !slices.Equal(got, want) {
		t.Fatalf("imported bodies:\n got %q\nwant %q", got, want)
	}
	if entries, _ := filepath.Glob(filepath.Join(dir, "live.diskqueue*")); len(entries) != 0 {
		t.Fatalf("upstream files left: %v", entries)
	}
}
