package bench

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"nsqreactor/benchmarks/wire"
)

// fakeDaemonEnv makes the test binary act as a daemon (see fakeDaemon) instead of running tests.
const fakeDaemonEnv = "NSQBENCH_FAKE_DAEMON"

func TestMain(m *testing.M) {
	if mode := os.Getenv(fakeDaemonEnv); mode != "" {
		os.Exit(fakeDaemon(mode))
	}
	if _, err := RaiseFileLimit(); err != nil {
		fmt.Fprintln(os.Stderr, "raising RLIMIT_NOFILE:", err)
	}
	os.Exit(m.Run())
}

// fakeDaemon is an nsqd stand-in for testing the daemon plumbing without upstream: it accepts
// nsqd's flags, serves the null server on --tcp-address, and logs like upstream. Modes:
// "tcp" (TCP only, no HTTP line), "exit" (fails at startup), "silent" (never announces a
// listener).
func fakeDaemon(mode string) int {
	fs := flag.NewFlagSet("nsqd", flag.ContinueOnError)
	tcp := fs.String("tcp-address", "127.0.0.1:4150", "")
	fs.String("http-address", "", "")
	data := fs.String("data-path", "", "")
	fs.Int("mem-queue-size", 10000, "")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return 2
	}
	if st, err := os.Stat(*data); err != nil || !st.IsDir() {
		fmt.Fprintln(os.Stderr, "FATAL: data path missing:", *data)
		return 1
	}
	switch mode {
	case "exit":
		fmt.Fprintln(os.Stderr, "[nsqd] FATAL: failed to listen")
		return 3
	case "silent":
		time.Sleep(time.Minute)
		return 0
	}
	s, err := wire.StartNull(*tcp)
	if err != nil {
		fmt.Fprintln(os.Stderr, "FATAL:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "[nsqd] 2026/01/01 00:00:00.000000 INFO: TCP: listening on %s\n", s.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-sig:
	case <-time.After(2 * time.Minute): // never outlive a stuck test run
	}
	_ = s.Close()
	return 0
}

// upstreamBin returns <repo>/.bin/nsqd, skipping the test if it has not been built.
func upstreamBin(t *testing.T) string {
	t.Helper()
	wd, _ := os.Getwd()
	repo, err := FindRepoRoot(wd)
	if err != nil {
		t.Skipf("no repository root: %v", err)
	}
	bin := filepath.Join(repo, ".bin", "nsqd")
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("upstream nsqd not built (%v); run scripts/bench.sh or go install tool in tools/upstream", err)
	}
	return bin
}

// fakeSpec returns a TargetSpec running this test binary as a fake daemon in mode.
func fakeSpec(t *testing.T, mode string) TargetSpec {
	t.Helper()
	t.Setenv(fakeDaemonEnv, mode)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return TargetSpec{Name: "fake", Bin: exe, WorkDir: t.TempDir()}
}
