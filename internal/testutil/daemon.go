package testutil

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bounds of the daemon life cycle. They are generous because the CI machines
// are 2 shared cores running many daemons at once under -race.
const (
	startTimeout = 10 * time.Second       // until `TCP: listening on` is seen
	httpGrace    = 500 * time.Millisecond // extra wait for `HTTP: listening on`
	stopTimeout  = 5 * time.Second        // SIGTERM to exit, before SIGKILL
)

var (
	tcpListenRE  = regexp.MustCompile(`TCP: listening on (\S+)`)
	httpListenRE = regexp.MustCompile(`HTTP: listening on (\S+)`)
)

// Daemon is one nsqd subprocess started by [StartNSQD]. Its address fields
// are immutable after StartNSQD returns; its methods are safe for concurrent
// use.
type Daemon struct {
	TCPAddr  string // host:port of the TCP (V2 protocol) listener
	HTTPAddr string // host:port of the HTTP listener; "" if none was logged
	DataPath string // --data-path given to the process (a t.TempDir)

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and its output is drained

	mu      sync.Mutex // guards the fields below
	logs    bytes.Buffer
	waitErr error
	lineC   chan string // each output line until the addresses are known; nil after
}

// StartNSQD starts bin as a subprocess with
//
//	--tcp-address=127.0.0.1:0 --http-address=127.0.0.1:0 --data-path=<t.TempDir()>
//
// followed by args (a later flag overrides an earlier one, so args can
// replace any default). It waits at most 10 s for the log line
// `TCP: listening on <addr>` and then at most a short grace for
// `HTTP: listening on <addr>`, which is optional (HTTPAddr stays "" without
// it). The process output is kept in a buffer that is written to t.Log if the
// test fails, and the process is stopped in t.Cleanup (SIGTERM, then SIGKILL
// after 5 s). StartNSQD fails the test if the process cannot be started, exits
// early or never logs its TCP address.
func StartNSQD(t testing.TB, bin string, args ...string) *Daemon {
	t.Helper()
	d := &Daemon{DataPath: t.TempDir(), done: make(chan struct{}), lineC: make(chan string, 64)}
	full := append([]string{
		"--tcp-address=127.0.0.1:0",
		"--http-address=127.0.0.1:0",
		"--data-path=" + d.DataPath,
	}, args...)
	d.cmd = exec.Command(bin, full...)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatalf("StartNSQD: pipe: %v", err)
	}
	d.cmd.Stdout, d.cmd.Stderr = pw, pw
	if err := d.cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		t.Fatalf("StartNSQD: start %s: %v", bin, err)
	}
	pw.Close() // the child holds its own copy; EOF on pr means the child is gone
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("nsqd (%s %q) output:\n%s", bin, full, d.Logs())
		}
	})
	t.Cleanup(d.Stop)
	go d.collect(pr)

	if err := d.awaitAddrs(); err != nil {
		t.Fatalf("StartNSQD %s: %v", bin, err)
	}
	return d
}

// collect copies the process output into the log buffer, hands lines to
// awaitAddrs while it listens, and records the exit status.
func (d *Daemon) collect(pr *os.File) {
	r := bufio.NewReader(pr)
	for {
		line, err := r.ReadString('\n')
		if line != "" {
			d.mu.Lock()
			d.logs.WriteString(line)
			if d.lineC != nil {
				select {
				case d.lineC <- line:
				default: // awaitAddrs is behind; it will find the line in the buffer
				}
			}
			d.mu.Unlock()
		}
		if err != nil {
			break
		}
	}
	pr.Close()
	werr := d.cmd.Wait()
	d.mu.Lock()
	d.waitErr = werr
	d.mu.Unlock()
	close(d.done)
}

// awaitAddrs waits for the listening lines (see StartNSQD).
func (d *Daemon) awaitAddrs() error {
	defer func() {
		d.mu.Lock()
		d.lineC = nil
		d.mu.Unlock()
	}()
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	var grace <-chan time.Time
	for {
		d.scanAddrs()
		if d.TCPAddr != "" && d.HTTPAddr != "" {
			return nil
		}
		if d.TCPAddr != "" && grace == nil {
			grace = time.After(httpGrace)
		}
		select {
		case <-d.lineC:
		case <-grace:
			return nil
		case <-d.done:
			d.scanAddrs()
			return fmt.Errorf("process exited before listening (%v)", d.exitErr())
		case <-deadline.C:
			return fmt.Errorf("no %q log line within %s", "TCP: listening on", startTimeout)
		}
	}
}

// scanAddrs sets TCPAddr/HTTPAddr from the log collected so far.
func (d *Daemon) scanAddrs() {
	logs := d.Logs()
	if m := tcpListenRE.FindStringSubmatch(logs); m != nil {
		d.TCPAddr = m[1]
	}
	if m := httpListenRE.FindStringSubmatch(logs); m != nil {
		d.HTTPAddr = m[1]
	}
}

// PID returns the process id, for reading /proc/<pid>/status and
// /proc/<pid>/fd while the process runs.
func (d *Daemon) PID() int { return d.cmd.Process.Pid }

// Logs returns everything the process has written to stdout and stderr so far.
func (d *Daemon) Logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.logs.String()
}

// Exited reports whether the process has exited.
func (d *Daemon) Exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// Wait waits at most timeout for the process to exit and returns its exit
// error (nil for status 0), or an error if it is still running.
func (d *Daemon) Wait(timeout time.Duration) error {
	select {
	case <-d.done:
		return d.exitErr()
	case <-time.After(timeout):
		return fmt.Errorf("nsqd pid %d still running after %s", d.cmd.Process.Pid, timeout)
	}
}

func (d *Daemon) exitErr() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.waitErr
}

// Stop sends SIGTERM and waits up to 5 s for a clean exit, then sends SIGKILL.
// It is idempotent and returns once the process is gone.
func (d *Daemon) Stop() {
	if d.Exited() {
		return
	}
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		d.Kill()
		return
	}
	select {
	case <-d.done:
	case <-time.After(stopTimeout):
		d.Kill()
	}
}

// Kill sends SIGKILL and waits (bounded) for the process to be reaped.
func (d *Daemon) Kill() {
	if d.Exited() {
		return
	}
	_ = d.cmd.Process.Kill()
	select {
	case <-d.done:
	case <-time.After(stopTimeout): // only if a grandchild keeps the output pipe open
	}
}
