package durability

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"nsqreactor/internal/testutil"
)

// A full disk (here: a 2 MiB RLIMIT_FSIZE on the daemon) makes PUB answer
// E_PUB_FAILED instead of OK; everything acknowledged before it is still
// delivered after a restart without the limit.
func TestDiskFullPubFails(t *testing.T) {
	ours := impl(t, true)
	wrapper := filepath.Join(t.TempDir(), "nsqd-fsize")
	script := fmt.Sprintf("#!/bin/sh\nulimit -f 2048\nexec %q \"$@\"\n", ours.Bin)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	d := testutil.StartNSQD(t, wrapper, "--mem-queue-size=0", "--max-bytes-per-file=16777216")
	c := testutil.Dial(t, d.TCPAddr)
	body := make([]byte, 4096)
	acked, failed := 0, ""
	for i := 0; i < 2000 && failed == ""; i++ {
		copy(body, fmt.Sprintf("msg-%06d", i))
		c.Write(t, pubFrame("full", string(body)))
		ft, p, err := c.TryNext(5 * time.Second)
		switch {
		case err != nil:
			t.Fatalf("after %d OKs: %v", acked, err)
		case ft == testutil.FrameResponse && string(p) == "OK":
			acked++
		default:
			failed = string(p)
		}
	}
	if failed == "" || failed[:len("E_PUB_FAILED PUB failed")] != "E_PUB_FAILED PUB failed" {
		t.Fatalf("no E_PUB_FAILED after %d OKs (last answer %q)", acked, failed)
	}
	t.Logf("%d PUBs acknowledged, then %q", acked, failed)
	d.Stop()

	d2 := restart(t, ours, d, "--mem-queue-size=0")
	got := drain(t, d2.TCPAddr, "full", "c", time.Second)
	for i := 0; i < acked; i++ {
		copy(body, fmt.Sprintf("msg-%06d", i))
		if got[string(body)] == 0 {
			t.Fatalf("acknowledged message %d lost after the disk filled", i)
		}
	}
}
