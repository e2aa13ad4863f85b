package testutil

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	RemoveBuilds()
	os.Exit(code)
}

// fatalTB records the first Fatalf and ends the calling goroutine, so tests
// can check that a helper fails its test.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// fatalMessage runs fn with a fatalTB in its own goroutine and returns the
// Fatalf message ("" if fn returned normally).
func fatalMessage(t *testing.T, fn func(tb testing.TB)) string {
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f.msg
}

func TestStartNSQDEarlyExit(t *testing.T) {
	t.Parallel()
	bin := fakeDaemon(t, "echo 'flag provided but not defined: -tcp-address' >&2\nexit 2\n")
	msg := fatalMessage(t, func(tb testing.TB) { StartNSQD(tb, bin) })
	if !strings.Contains(msg, "process exited before listening (exit status 2)") {
		t.Fatalf("got failure %q, want it to report the early exit", msg)
	}
}

func TestImplStartUnusable(t *testing.T) {
	t.Parallel()
	impl := Impl{Name: "upstream", Err: fmt.Errorf("upstream nsqd v1.3.0 not found at /x/.bin/nsqd: run scripts/upstream.sh")}
	msg := fatalMessage(t, func(tb testing.TB) { impl.Start(tb) })
	if !strings.Contains(msg, "run scripts/upstream.sh") {
		t.Fatalf("got failure %q, want the scripts/upstream.sh hint", msg)
	}
}

func TestImplsSelection(t *testing.T) {
	t.Setenv(EnvImpls, "upstream")
	impls := Impls(t)
	if len(impls) != 1 || impls[0].Name != "upstream" || impls[0].Ours {
		t.Fatalf("NSQD_IMPLS=upstream: got %+v", impls)
	}
	msg := fatalMessage(t, func(tb testing.TB) {
		os.Setenv(EnvImpls, "upstream,nsqd2")
		Impls(tb)
	})
	if !strings.Contains(msg, `unknown implementation "nsqd2"`) {
		t.Fatalf("got failure %q, want the unknown implementation named", msg)
	}
}
