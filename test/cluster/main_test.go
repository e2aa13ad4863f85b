// Package cluster is the black-box suite for issue #7: our nsqd (built from
// ./cmd/nsqd) in a real cluster with upstream's nsqlookupd and nsqadmin
// v1.3.0 binaries (<repo>/.bin, see scripts/upstream.sh), driven by go-nsq
// v1.1.0 and raw V2 connections; statsd output is compared with upstream
// nsqd's. Everything runs on 127.0.0.1 with OS-assigned ports.
//
// Run: go test -race ./test/cluster/
package cluster

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
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

// waitTimeout bounds every wait for the cluster to converge. Lookupd
// registration is immediate; the slowest step is a go-nsq consumer's
// lookupd poll, or a reconnect after a lookupd restart (backoff ≤ 2 s here).
const waitTimeout = 20 * time.Second

var (
	tcpListenRE  = regexp.MustCompile(`TCP: listening on (\S+)`)
	httpListenRE = regexp.MustCompile(`HTTP: listening on (\S+)`)
)

// proc is an upstream helper daemon (nsqlookupd, nsqadmin) started by
// startProc and stopped in t.Cleanup.
type proc struct {
	TCPAddr, HTTPAddr string
	cmd               *exec.Cmd
	done              chan struct{}
	mu                sync.Mutex
	logs              strings.Builder
}

// upstreamBin returns <repo>/.bin/<name> or skips the test.
func upstreamBin(t *testing.T, name string) string {
	t.Helper()
	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, ".bin", name)
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("upstream %s not found at %s: run scripts/upstream.sh", name, bin)
	}
	return bin
}

// startProc runs bin with args and waits (≤ 10 s) for its `TCP: listening
// on` line if wantTCP and its `HTTP: listening on` line.
func startProc(t *testing.T, bin string, wantTCP bool, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	pr, pw := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.mu.Lock()
			p.logs.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	go func() {
		p.cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s %q output:\n%s", filepath.Base(bin), args, p.output())
		}
	})
	deadline := time.After(10 * time.Second)
	for (wantTCP && p.TCPAddr == "") || p.HTTPAddr == "" {
		select {
		case line := <-lines:
			if m := tcpListenRE.FindStringSubmatch(line); m != nil {
				p.TCPAddr = m[1]
			}
			if m := httpListenRE.FindStringSubmatch(line); m != nil {
				p.HTTPAddr = m[1]
			}
		case <-p.done:
			t.Fatalf("%s exited before listening:\n%s", bin, p.output())
		case <-deadline:
			t.Fatalf("%s did not log its listening addresses within 10 s:\n%s", bin, p.output())
		}
	}
	return p
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// stop sends SIGTERM, then SIGKILL after 5 s. Idempotent.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// startLookupd starts upstream nsqlookupd on the given addresses
// ("127.0.0.1:0" for new ports).
func startLookupd(t *testing.T, tcpAddr, httpAddr string) *proc {
	t.Helper()
	return startProc(t, upstreamBin(t, "nsqlookupd"), true,
		"--tcp-address="+tcpAddr, "--http-address="+httpAddr, "--broadcast-address=127.0.0.1")
}

// forEachImpl runs fn as a parallel subtest per implementation selected by
// NSQD_IMPLS (upstream's run proves the expectations are upstream's).
func forEachImpl(t *testing.T, fn func(t *testing.T, impl testutil.Impl)) {
	t.Parallel()
	for _, impl := range testutil.Impls(t) {
		t.Run(impl.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, impl)
		})
	}
}

var oursHTTP struct {
	once sync.Once
	has  bool
}

// startNode starts impl's nsqd registered with lk. nsqlookupd refuses an
// IDENTIFY with http_port 0, so if our binary has no HTTP listener (before
// issue #4 lands) it registers a placeholder port.
func startNode(t *testing.T, impl testutil.Impl, lk *proc, extra ...string) *testutil.Daemon {
	t.Helper()
	args := []string{"--lookupd-tcp-address=" + lk.TCPAddr, "--broadcast-address=127.0.0.1"}
	if impl.Ours {
		oursHTTP.once.Do(func() { oursHTTP.has = impl.Start(t).HTTPAddr != "" })
		if !oursHTTP.has {
			args = append(args, "--broadcast-http-port=1")
		}
	}
	return impl.Start(t, append(args, extra...)...)
}

var errNotFound = errors.New("404")

// getJSON GETs url and decodes its JSON body into v; a 404 is errNotFound.
func getJSON(url string, v any) error {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Accept", "application/vnd.nsq; version=1.0")
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusNotFound {
		return errNotFound
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s %s", url, resp.Status, body)
	}
	return json.Unmarshal(body, v)
}

// post POSTs to url with no body and requires 200.
func post(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Post(url, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %s %s", url, resp.Status, body)
	}
}

// eventually polls check every 50 ms until it returns nil, for at most
// waitTimeout, and fails with its last error.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	eventuallyWithin(t, waitTimeout, what, check)
}

// eventuallyWithin is eventually with its own bound.
func eventuallyWithin(t *testing.T, bound time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %s: %v", what, bound, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
