package bench

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestListenRE(t *testing.T) {
	tests := []struct {
		line, kind, addr string
	}{
		{"[nsqd] 2026/11/24 23:43:07.469311 INFO: TCP: listening on 127.0.0.1:38129", "TCP", "127.0.0.1:38129"},
		{"[nsqd] 2026/11/24 23:43:07.469399 INFO: HTTP: listening on 127.0.0.1:44359", "HTTP", "127.0.0.1:44359"},
		{`{"level":"info","msg":"TCP: listening on 127.0.0.1:4150"}`, "TCP", "127.0.0.1:4150"},
		{"INFO: TCP: listening on [::1]:4150", "TCP", "[::1]:4150"},
		{"INFO: TCP: closing 127.0.0.1:38129", "", ""},
	}
	for _, tt := range tests {
		m := listenRE.FindStringSubmatch(tt.line)
		var kind, addr string
		if m != nil {
			kind, addr = m[1], m[2]
		}
		if kind != tt.kind || addr != tt.addr {
			t.Errorf("%q: got %q %q, want %q %q", tt.line, kind, addr, tt.kind, tt.addr)
		}
	}
}

// TestDaemonLifecycle starts the fake daemon: TCP address parsed, no HTTP (so http-pub is n/a),
// CPU and RSS read from its pid, data directory removed by Stop.
func TestDaemonLifecycle(t *testing.T) {
	spec := fakeSpec(t, "tcp")
	ctx := context.Background()
	d, err := StartDaemon(ctx, DaemonOptions{Bin: spec.Bin, WorkDir: spec.WorkDir})
	if err != nil {
		t.Fatal(err)
	}
	if http := d.HTTPAddr(100 * time.Millisecond); d.TCPAddr == "" || http != "" {
		t.Errorf("got TCP %q HTTP %q, want a TCP address and no HTTP", d.TCPAddr, http)
	}
	if _, err := ProcCPU(d.Pid()); err != nil {
		t.Errorf("ProcCPU: %v", err)
	}
	if err := d.Alive(); err != nil {
		t.Errorf("Alive: %v", err)
	}
	if err := d.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if _, err := os.Stat(d.DataPath); !os.IsNotExist(err) {
		t.Errorf("data path %s still there after Stop (%v)", d.DataPath, err)
	}
	if err := d.Stop(); err == nil || !errors.Is(err, ErrDaemonExited) {
		// A second Stop finds the process gone; that is reported, not hidden.
		t.Logf("second Stop: %v", err)
	}
}

func TestDaemonStartFailures(t *testing.T) {
	tests := []struct {
		mode, want string
	}{
		{"exit", "failed to listen"},
		{"silent", `no "TCP: listening on" line`},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			spec := fakeSpec(t, tt.mode)
			_, err := StartDaemon(context.Background(), DaemonOptions{Bin: spec.Bin, WorkDir: spec.WorkDir,
				StartTimeout: 500 * time.Millisecond})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			if entries, _ := os.ReadDir(spec.WorkDir); len(entries) != 0 {
				t.Errorf("data directory left behind: %v", entries)
			}
		})
	}
}

func TestDaemonMissingBinary(t *testing.T) {
	_, err := StartDaemon(context.Background(), DaemonOptions{Bin: "/nonexistent/nsqd", WorkDir: t.TempDir()})
	if err == nil {
		t.Fatal("got nil, want an error for a missing binary")
	}
}

// TestRunCaseFakeDaemon runs the plumbing end to end on a daemon subprocess without upstream:
// numbers from pub, n/a from http-pub, and the daemon's CPU and peak RSS read from /proc.
func TestRunCaseFakeDaemon(t *testing.T) {
	spec := fakeSpec(t, "tcp")
	cfg := TinyConfig()
	cases, err := SelectCases(Cases(cfg), "pub/conns=1,http-pub")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		res := RunCase(context.Background(), spec, c, cfg, t.Logf)
		if res.Err != nil {
			t.Fatalf("%s: %v", c.Name, res.Err)
		}
		m, _ := res.Metric("msg/s")
		if c.Group == "http-pub" {
			// n/a everywhere, and no peak RSS to compare a scenario that did not run.
			if _, ok := res.Metric("peak RSS"); !m.NA || ok {
				t.Errorf("%s: got msg/s %+v, peak RSS present %v; want n/a and none", c.Name, m, ok)
			}
			continue
		}
		checkPositive(t, res, "msg/s")
		checkPositive(t, res, "peak RSS")
		if _, ok := res.Metric("daemon cpu"); !ok {
			t.Errorf("%s: no daemon cpu metric", c.Name)
		}
	}
}
