package testutil

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The harness against the real daemons: addresses found, the daemon serves,
// Stop ends it, its log is kept.
func TestStartNSQD(t *testing.T) {
	for _, impl := range Impls(t) {
		t.Run(impl.Name, func(t *testing.T) {
			t.Parallel()
			d := impl.Start(t)
			if !strings.HasPrefix(d.TCPAddr, "127.0.0.1:") {
				t.Fatalf("TCPAddr %q, want 127.0.0.1:<port>", d.TCPAddr)
			}
			if !impl.Ours && !strings.HasPrefix(d.HTTPAddr, "127.0.0.1:") {
				t.Fatalf("HTTPAddr %q, want 127.0.0.1:<port> (upstream logs it)", d.HTTPAddr)
			}
			c := Dial(t, d.TCPAddr)
			c.ExpectAlive(t)
			c.Close()
			if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(d.PID()))); err != nil {
				t.Fatalf("PID() = %d, not a running process: %v", d.PID(), err)
			}
			d.Stop()
			if !d.Exited() {
				t.Fatal("daemon still running after Stop")
			}
			if !strings.Contains(d.Logs(), "TCP: listening on "+d.TCPAddr) {
				t.Fatalf("log lacks the TCP line:\n%s", d.Logs())
			}
			d.Stop() // idempotent
		})
	}
}

// fakeDaemon writes an executable shell script and returns its path.
func fakeDaemon(t *testing.T, script string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fake-nsqd")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// The HTTP line is optional: after the TCP line StartNSQD waits only a short
// grace. Lines may come on stdout or stderr.
func TestStartNSQDWithoutHTTP(t *testing.T) {
	t.Parallel()
	bin := fakeDaemon(t, `echo "[nsqd] 2025/01/02 15:04:05.000000 INFO: TCP: listening on 127.0.0.1:4150"
exec sleep 30
`)
	start := time.Now()
	d := StartNSQD(t, bin)
	if d.TCPAddr != "127.0.0.1:4150" || d.HTTPAddr != "" {
		t.Fatalf("got TCPAddr %q HTTPAddr %q, want 127.0.0.1:4150 and none", d.TCPAddr, d.HTTPAddr)
	}
	if elapsed := time.Since(start); elapsed > httpGrace+2*time.Second {
		t.Fatalf("StartNSQD took %s without an HTTP line, want about %s", elapsed, httpGrace)
	}
	d.Kill()
	if err := d.Wait(time.Second); err == nil {
		t.Fatal("killed process reported a clean exit")
	}
}

func TestStartNSQDBothLines(t *testing.T) {
	t.Parallel()
	bin := fakeDaemon(t, `echo "[nsqd] 2025/01/02 15:04:05.000000 INFO: HTTP: listening on [::1]:4151" >&2
echo "[nsqd] 2025/01/02 15:04:05.000000 INFO: TCP: listening on [::1]:4150" >&2
exec sleep 30
`)
	d := StartNSQD(t, bin)
	if d.TCPAddr != "[::1]:4150" || d.HTTPAddr != "[::1]:4151" {
		t.Fatalf("got TCPAddr %q HTTPAddr %q", d.TCPAddr, d.HTTPAddr)
	}
	start := time.Now()
	d.Stop() // SIGTERM ends sleep at once
	if elapsed := time.Since(start); elapsed > time.Second || !d.Exited() {
		t.Fatalf("Stop took %s (exited %v), want a prompt SIGTERM exit", elapsed, d.Exited())
	}
}

// StartNSQD passes the default flags first and the caller's after them.
func TestStartNSQDArgs(t *testing.T) {
	t.Parallel()
	bin := fakeDaemon(t, `echo "args: $*"
echo "TCP: listening on 127.0.0.1:1"
exec sleep 30
`)
	d := StartNSQD(t, bin, "--mem-queue-size=0", "--http-address=")
	want := "args: --tcp-address=127.0.0.1:0 --http-address=127.0.0.1:0 --data-path=" + d.DataPath + " --mem-queue-size=0 --http-address="
	if !strings.Contains(d.Logs(), want) {
		t.Fatalf("log %q, want it to contain %q", d.Logs(), want)
	}
}
