// Package tools runs NSQ's own programs against a daemon: upstream's to_nsq,
// nsq_tail, nsq_stat and nsqadmin (from <repo>/.bin, see
// scripts/upstream.sh), and a headless Chromium rendering nsqadmin's pages.
// Like test/compat, every test runs against upstream nsqd v1.3.0 and ours
// (testutil.Impls, NSQD_IMPLS), so an expectation here is one upstream
// meets.
//
// Everything listens on 127.0.0.1 with OS-assigned ports, every wait is
// bounded, and every process a test starts is stopped by that test (its
// whole process group, for Chromium).
//
// The Chromium test is skipped when no chromium binary is installed; on
// Debian: apt-get install -y chromium.
//
// Run: NSQD_IMPLS=ours go test -race ./test/tools/
package tools

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"nsqreactor/internal/testutil"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.RemoveBuilds()
	os.Exit(code)
}

// toolTimeout bounds one run of a short-lived tool.
const toolTimeout = 30 * time.Second

// forEachImpl runs fn as a subtest per selected nsqd implementation.
func forEachImpl(t *testing.T, fn func(t *testing.T, impl testutil.Impl)) {
	for _, impl := range testutil.Impls(t) {
		t.Run(impl.Name, func(t *testing.T) { fn(t, impl) })
	}
}

// startNSQD starts impl with the broadcast address set to 127.0.0.1, so that
// nsqadmin (which addresses a node as broadcast_address:http_port) reaches
// it on loopback whatever the host name resolves to.
func startNSQD(t *testing.T, impl testutil.Impl, args ...string) *testutil.Daemon {
	t.Helper()
	d := impl.Start(t, append([]string{"--broadcast-address=127.0.0.1"}, args...)...)
	if d.HTTPAddr == "" {
		t.Fatal("nsqd logged no HTTP address")
	}
	return d
}

// tool returns the path of an upstream tool, skipping the test if it is
// not built.
func tool(t *testing.T, name string) string {
	t.Helper()
	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, ".bin", name)
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s not found at %s: run scripts/upstream.sh", name, bin)
	}
	return bin
}

// runTool runs bin with args and stdin, in its own process group, and
// returns stdout and stderr. It fails the test if the tool does not exit
// successfully within toolTimeout (the whole group is killed then).
func runTool(t *testing.T, stdin string, bin string, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdin = bytes.NewBufferString(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil {
		t.Fatalf("%s %q: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), args, err, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

// server is a long-running tool (nsqadmin) started by startServer.
type server struct {
	Addr string // from its "HTTP: listening on <addr>" log line

	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	logs bytes.Buffer
}

var listeningRE = regexp.MustCompile(`HTTP: listening on (\S+)`)

// startServer starts bin in its own process group and waits (at most 10 s)
// for its "HTTP: listening on" line; it is stopped in t.Cleanup (SIGTERM to
// the group, SIGKILL after 5 s).
func startServer(t *testing.T, bin string, args ...string) *server {
	t.Helper()
	s := &server{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	s.cmd.Stdout, s.cmd.Stderr = pw, pw
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		r := bufio.NewReader(pr)
		for {
			line, err := r.ReadString('\n')
			s.mu.Lock()
			s.logs.WriteString(line)
			s.mu.Unlock()
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		s.cmd.Wait()
		pw.Close()
		close(s.done)
	}()
	t.Cleanup(func() {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(bin), s.Logs())
		}
	})
	select {
	case s.Addr = <-addr:
	case <-s.done:
		t.Fatalf("%s exited before listening:\n%s", filepath.Base(bin), s.Logs())
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not log its HTTP address within 10 s:\n%s", filepath.Base(bin), s.Logs())
	}
	return s
}

// Logs returns the server's output so far.
func (s *server) Logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}
