package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// listenRE matches upstream's "TCP: listening on 127.0.0.1:4150" / "HTTP: listening on ..." log
// lines anywhere in a line, so a daemon that logs JSON or with another prefix still matches.
var listenRE = regexp.MustCompile(`\b(TCP|HTTP): listening on ([\[\]0-9A-Za-z.:%-]+)`)

// ErrDaemonExited is wrapped by errors reporting that a daemon ended when it should not have.
var ErrDaemonExited = errors.New("bench: daemon exited")

// DaemonOptions says how to start a daemon.
type DaemonOptions struct {
	Bin          string        // path to an nsqd-compatible binary
	Args         []string      // extra flags after the address and data-path flags
	WorkDir      string        // parent of the fresh data directory; "" means os.TempDir()
	StartTimeout time.Duration // for the TCP listener line; 0 means 15 s
}

// Daemon is a running nsqd-compatible subprocess on loopback with ports from the OS and a data
// directory of its own, removed by Stop. Its stdout and stderr are drained continuously (a full
// pipe would stall it); the last lines are kept for error messages.
type Daemon struct {
	TCPAddr  string // from "TCP: listening on"; immutable after StartDaemon
	DataPath string

	bin  string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and its output is drained
	err  error         // cmd.Wait's result, valid after done
	logs *logTail

	announced chan struct{} // signalled when a listener line is seen
	mu        sync.Mutex    // guards the fields below
	tcp, http string        // listener addresses seen so far
}

// StartDaemon starts the daemon and waits for its TCP listener. On any failure the process is
// stopped and its data directory removed.
func StartDaemon(ctx context.Context, opt DaemonOptions) (*Daemon, error) {
	if opt.StartTimeout <= 0 {
		opt.StartTimeout = 15 * time.Second
	}
	dir, err := os.MkdirTemp(opt.WorkDir, "nsqbench-data-")
	if err != nil {
		return nil, err
	}
	args := append([]string{"--tcp-address=127.0.0.1:0", "--http-address=127.0.0.1:0",
		"--data-path=" + dir}, opt.Args...)
	d := &Daemon{DataPath: dir, bin: opt.Bin, done: make(chan struct{}), logs: &logTail{},
		announced: make(chan struct{}, 1)}
	d.cmd = exec.Command(opt.Bin, args...)
	// Own process group: a terminal's Ctrl-C reaches only the harness, which stops the daemon in
	// order. Pdeathsig kills it if the harness dies without doing so.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := d.startProcess(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := d.awaitTCP(ctx, opt.StartTimeout); err != nil {
		_ = d.Stop()
		return nil, err
	}
	return d, nil
}

func (d *Daemon) startProcess() error {
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := d.cmd.Start(); err != nil {
		return fmt.Errorf("bench: start %s: %w", d.bin, err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); d.scan(stdout) }()
	go func() { defer wg.Done(); d.scan(stderr) }()
	go func() {
		wg.Wait() // Wait closes the pipes, so it must follow the readers' EOF
		d.err = d.cmd.Wait()
		close(d.done)
	}()
	return nil
}

// scan drains one output pipe, recording listener lines and keeping the tail.
func (d *Daemon) scan(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		d.logs.add(line)
		if m := listenRE.FindStringSubmatch(line); m != nil {
			d.mu.Lock()
			if m[1] == "TCP" && d.tcp == "" {
				d.tcp = m[2]
			} else if m[1] == "HTTP" && d.http == "" {
				d.http = m[2]
			}
			d.mu.Unlock()
			select {
			case d.announced <- struct{}{}:
			default:
			}
		}
	}
	_, _ = io.Copy(io.Discard, r) // a line over 1 MiB stops the scanner; keep draining
}

func (d *Daemon) awaitTCP(ctx context.Context, timeout time.Duration) error {
	start := time.NewTimer(timeout)
	defer start.Stop()
	for {
		d.mu.Lock()
		d.TCPAddr = d.tcp
		d.mu.Unlock()
		if d.TCPAddr != "" {
			return nil
		}
		select {
		case <-d.announced:
		case <-d.done:
			return fmt.Errorf("%w during startup (%v); last output:\n%s", ErrDaemonExited, d.err, d.logs)
		case <-start.C:
			return fmt.Errorf("bench: %s printed no \"TCP: listening on\" line in %v; last output:\n%s",
				d.bin, timeout, d.logs)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// HTTPAddr returns the address from the daemon's "HTTP: listening on" line, waiting up to
// wait for it; "" means the daemon has not announced an HTTP listener. Safe for concurrent use.
func (d *Daemon) HTTPAddr(wait time.Duration) string {
	deadline := time.Now().Add(wait)
	for {
		d.mu.Lock()
		addr := d.http
		d.mu.Unlock()
		if addr != "" || !time.Now().Before(deadline) {
			return addr
		}
		select {
		case <-d.announced:
		case <-d.done:
			return ""
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Pid returns the daemon's process ID.
func (d *Daemon) Pid() int { return d.cmd.Process.Pid }

// Alive returns an error wrapping ErrDaemonExited if the process has ended.
func (d *Daemon) Alive() error {
	select {
	case <-d.done:
		return fmt.Errorf("%w (%v); last output:\n%s", ErrDaemonExited, d.err, d.logs)
	default:
		return nil
	}
}

// Stop kills the daemon and removes its data directory. It returns an error wrapping
// ErrDaemonExited if the daemon had already exited by itself. It is safe to call more than once.
//
// SIGKILL, not SIGTERM: the data directory is thrown away, and a clean shutdown persists the
// whole in-memory backlog first (upstream writes a pub run's millions of messages to its disk
// queue one write at a time, for seconds) — time that measures nothing this harness reports.
// Whether a daemon survived the scenario is checked before its numbers are read (Env.CheckAlive).
func (d *Daemon) Stop() error {
	var early error
	select {
	case <-d.done:
		early = d.Alive()
	default:
		_ = d.cmd.Process.Kill()
	}
	var err error
	select {
	case <-d.done:
	case <-time.After(20 * time.Second):
		err = fmt.Errorf("bench: %s (pid %d) still running 20s after SIGKILL", d.bin, d.Pid())
	}
	if rmErr := os.RemoveAll(d.DataPath); rmErr != nil && err == nil {
		err = rmErr
	}
	if early != nil {
		return early
	}
	return err
}

// logTail keeps the last lines a daemon printed.
type logTail struct {
	mu    sync.Mutex // guards lines
	lines []string
}

const logTailLines = 30

func (l *logTail) add(s string) {
	l.mu.Lock()
	if len(l.lines) == logTailLines {
		copy(l.lines, l.lines[1:])
		l.lines = l.lines[:logTailLines-1]
	}
	l.lines = append(l.lines, s)
	l.mu.Unlock()
}

func (l *logTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return "  " + strings.Join(l.lines, "\n  ")
}
