package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// These tests run upstream's nsqd v1.3.0 binary next to ours, so that every
// expectation is upstream's observed behaviour, not our reading of it.

const upstreamBinary = "../../.bin/nsqd"

func needUpstream(t *testing.T) string {
	t.Helper()
	path, err := filepath.Abs(upstreamBinary)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Skipf("upstream nsqd binary not available: %v", err)
	}
	return path
}

// buildOurs builds ./cmd/nsqd (this package) into a temporary directory.
func buildOurs(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "nsqd")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./cmd/nsqd: %v\n%s", err, out)
	}
	return bin
}

type runResult struct {
	code           int
	stdout, stderr string
}

// runBinary runs bin with args for at most 10 s (a case that unexpectedly starts a
// server is killed and reported as exit -1).
func runBinary(t *testing.T, bin string, args ...string) runResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("run %s: %v", bin, err)
	}
	return runResult{code, stdout.String(), stderr.String()}
}

var timestamps = regexp.MustCompile(`\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(\.\d{6})?`)

// normalize hides what legitimately differs between the two binaries:
// timestamps, temp paths, the Go version, a panic's goroutine dump (ours
// prints only the first line), and in -h output the four flags upstream
// 1.3.0 lacks.
func normalize(s string, dir string) string {
	s = timestamps.ReplaceAllString(s, "TS")
	s = strings.ReplaceAll(s, dir, "DIR")
	s = regexp.MustCompile(`built w/[^)]+\)`).ReplaceAllString(s, "built w/GO)")
	if strings.HasPrefix(s, "panic: ") {
		s = s[:strings.IndexByte(s, '\n')+1]
	}
	for _, name := range []string{"auth-http-request-method", "enable-experiment", "topology-region", "topology-zone"} {
		s = regexp.MustCompile(`(?m)^  -`+name+` .*\n    \t.*\n`).ReplaceAllString(s, "")
	}
	return s
}

func TestCLIMatchesUpstream(t *testing.T) {
	upstream := needUpstream(t)
	ours := buildOurs(t)
	dir := t.TempDir()
	cfg := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return "--config=" + path
	}
	// Keep any accidental start on loopback, on free ports, in a temp dir.
	safe := []string{"--data-path=" + dir, "--tcp-address=127.0.0.1:0", "--http-address=127.0.0.1:0", "--https-address=127.0.0.1:0"}
	taken, err := net.Listen("tcp", "127.0.0.1:0") // a port neither binary can bind
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // regexp on our raw stdout
		stderr string // regexp on our raw stderr
	}{
		{"version", []string{"--version"}, 0, `^nsqd v1\.3\.0 \(built w/go[^)]+\)\n$`, `^$`},
		{"help", []string{"-help"}, 0, `^$`, `^Usage of nsqd:\n`},
		{"unknown flag", []string{"--no-such-flag"}, 2, `^$`, `^flag provided but not defined: -no-such-flag\nUsage of nsqd:\n`},
		{"max-deflate-level", []string{"--max-deflate-level=10"}, 1, `^$`,
			`^\[nsqd\] \S+ \S+ FATAL: failed to instantiate nsqd - --max-deflate-level must be \[1,9\]\n$`},
		{"node-id", []string{"--node-id=1024"}, 1, `^$`,
			`^\[nsqd\] \S+ \S+ FATAL: failed to instantiate nsqd - --node-id must be \[0,1024\)\n$`},
		{"missing config", []string{"--config=" + filepath.Join(dir, "missing.cfg")}, 1, `^$`,
			`^\[nsqd\] \S+ \S+ FATAL: failed to load config file \S+ - open \S+: no such file or directory\n$`},
		{"invalid config", []string{cfg("bad.cfg", "this is not toml\n")}, 1, `^$`,
			`FATAL: failed to load config file \S+ - toml: line 1: expected '\.' or '=', but got 'i' instead\n$`},
		{"ssl3.0", []string{"--tls-min-version=ssl3.0"}, 2, `^$`, `^invalid value "ssl3.0" for flag -tls-min-version: `},
		{"tls-required", []string{"--tls-required"}, 1, `^$`,
			`FATAL: failed to instantiate nsqd - cannot require TLS client connections without TLS key and cert\n$`},
		{"e2e unparsable", []string{"--e2e-processing-latency-percentile=x"}, 1, `^$`, `^\S+ \S+ Could not parse: x\n$`},
		{"e2e out of range", []string{"--e2e-processing-latency-percentile=1.5"}, 1, `^$`,
			`FATAL: failed to instantiate nsqd - invalid E2E processing latency percentile: 1\.5\n$`},
		{"config tls_min_version", []string{cfg("tlsmin.cfg", `tls_min_version = "ssl3.0"`)}, 1, `^$`,
			`FATAL: failed parsing tls_min_version ssl3\.0\n$`},
		{"config coercion", []string{cfg("coerce.cfg", `msg_timeout = "45000"`)}, 1, `^$`,
			`^\S+ \S+ ERROR: Resolve failed to coerce value 45000 \(1m0s\) for field MsgTimeout - `},
		// every listener is bound before any is announced: no "listening" line
		{"http port taken", []string{"--http-address=" + taken.Addr().String()}, 1, `^$`,
			`^\[nsqd\] \S+ \S+ INFO: nsqd v1\.3\.0 [^\n]+\n\[nsqd\] \S+ \S+ INFO: ID: \d+\n\[nsqd\] \S+ \S+ FATAL: failed to instantiate nsqd - listen \(127\.0\.0\.1:\d+\) failed - listen tcp 127\.0\.0\.1:\d+: bind: address already in use\n$`},
		{"config int list element", []string{cfg("panic.cfg", `e2e_processing_latency_percentiles = [1]`)}, 2, `^$`,
			`^panic: interface conversion: interface \{\} is int64, not float64\n`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{}, safe...), tt.args...)
			want := runBinary(t, upstream, args...)
			got := runBinary(t, ours, args...)
			if got.code != tt.code || want.code != tt.code {
				t.Errorf("exit: ours %d, upstream %d, want %d\nours stderr: %s\nupstream stderr: %s",
					got.code, want.code, tt.code, got.stderr, want.stderr)
			}
			if !regexp.MustCompile(tt.stdout).MatchString(got.stdout) {
				t.Errorf("stdout = %q, want match %q", got.stdout, tt.stdout)
			}
			if !regexp.MustCompile(tt.stderr).MatchString(got.stderr) {
				t.Errorf("stderr = %q, want match %q", got.stderr, tt.stderr)
			}
			if g, w := normalize(got.stdout, dir), normalize(want.stdout, dir); g != w {
				t.Errorf("stdout differs from upstream:\nours     %q\nupstream %q", g, w)
			}
			if g, w := normalize(got.stderr, dir), normalize(want.stderr, dir); g != w {
				t.Errorf("stderr differs from upstream:\nours     %q\nupstream %q", g, w)
			}
		})
	}
}

// TestConfigResolutionMatchesUpstream starts upstream with a config file and
// flags, reads every option back through its GET /config/<name>, and
// compares with what parseOptions resolves from the same input.
func TestConfigResolutionMatchesUpstream(t *testing.T) {
	upstream := needUpstream(t)
	tests := []struct {
		name string
		toml string
		args []string
	}{
		{"defaults", "", nil},
		{"coercions", `
msg_timeout = 45000
sync_timeout = "3s"
snappy = 0
deflate = 1
statsd_mem_stats = "false"
max_rdy_count = 100
max_body_size = "12345"
max_deflate_level = 3
nsqlookupd_tcp_addresses = "127.0.0.1:1,127.0.0.1:2"
auth_http_addresses = ["a:1", "b:2"]
e2e_processing_latency_percentiles = [0.5, 1.0]
tls_min_version = "TLS1.2"
tls_required = false
log_level = "WARN"
id = 5
unknown_key = 7
queue_scan_interval = "5s"
broadcast_address = 5
`, []string{"--max-rdy-count=200"}},
		{"strings and empties", `
e2e_processing_latency_percentiles = "1.0, 0.5,0.99"
nsqlookupd_tcp_addresses = 5
auth_http_addresses = ""
tls_min_version = ""
log_prefix = "[x] "
`, nil},
		{"flags", `
nsqlookupd_tcp_addresses = ["127.0.0.1:3"]
snappy = true
`, []string{
			"--lookupd-tcp-address=127.0.0.1:1", "--lookupd-tcp-address", "127.0.0.1:2",
			"--e2e-processing-latency-percentile=1.0,0.99", "--e2e-processing-latency-percentile=0.5",
			"--tls-min-version=TLS1.3", "--snappy=false", "--log-level=debug", "--msg-timeout=90s",
			"-max-rdy-count", "7", "--node-id=0", "--statsd-exclude-ephemeral",
		}},
	}
	// Mutated by nsqd.New (ports, statsd prefix) or absent from 1.3.0.
	skip := map[string]bool{
		"broadcast_tcp_port": true, "broadcast_http_port": true, "statsd_prefix": true,
		"auth_http_request_method": true, "enable_experiment": true, "topology_region": true, "topology_zone": true,
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "nsqd.cfg")
			if err := os.WriteFile(path, []byte(tt.toml), 0o600); err != nil {
				t.Fatal(err)
			}
			httpAddr := freeLoopbackAddr(t)
			args := append([]string{
				"--config=" + path, "--data-path=" + dir, "--tcp-address=127.0.0.1:0",
				"--http-address=" + httpAddr, "--https-address=127.0.0.1:0",
			}, tt.args...)

			opts := mustParse(t, args...)
			get := startUpstream(t, upstream, httpAddr, args)
			ours := reflect.ValueOf(opts).Elem()
			for _, o := range resolvableOptions() {
				if skip[o.cfg] {
					continue
				}
				want := get(o.cfg)
				v := ours.FieldByName(o.field).Interface()
				got, err := json.Marshal(v)
				if err != nil {
					t.Fatal(err)
				}
				if s, ok := v.(string); ok {
					got = []byte(s) // upstream's API writes a string value raw
				}
				if string(got) != want {
					t.Errorf("%s: ours %s, upstream %s", o.cfg, got, want)
				}
			}
		})
	}
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startUpstream starts the upstream binary, waits (≤ 5 s) until its HTTP
// API answers, and returns a getter for GET /config/<name>. The process is
// killed at the end of the test.
func startUpstream(t *testing.T, bin, httpAddr string, args []string) func(name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		cancel()
	})

	client := &http.Client{Timeout: 2 * time.Second}
	get := func(path string) (string, error) {
		resp, err := client.Get("http://" + httpAddr + path)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return string(body), err
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := get("/ping"); err == nil {
			break
		}
		select {
		case <-exited:
			t.Fatalf("upstream exited early: %s", stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("upstream did not answer on %s: %s", httpAddr, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return func(name string) string {
		body, err := get("/config/" + name)
		if err != nil {
			t.Fatalf("GET /config/%s: %v", name, err)
		}
		return body
	}
}
