// Package durability holds black-box storage tests: the built daemon is
// killed with SIGKILL under load, stopped cleanly, and started on a data
// directory that upstream nsqd v1.3.0 wrote.
package durability

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"nsqreactor/internal/testutil"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.RemoveBuilds()
	os.Exit(code)
}

// impl returns the implementation named name, skipping when NSQD_IMPLS
// leaves it out.
func impl(t *testing.T, ours bool) testutil.Impl {
	t.Helper()
	for _, i := range testutil.Impls(t) {
		if i.Ours == ours {
			return i
		}
	}
	t.Skip("implementation not selected by NSQD_IMPLS")
	return testutil.Impl{}
}

// restart starts bin again on d's data path.
func restart(t *testing.T, i testutil.Impl, d *testutil.Daemon, args ...string) *testutil.Daemon {
	t.Helper()
	return i.Start(t, append([]string{"--data-path=" + d.DataPath}, args...)...)
}

// drain subscribes to topic/channel and collects message bodies until none
// arrives for quiet, FINing each one.
func drain(t *testing.T, addr, topic, channel string, quiet time.Duration) map[string]int {
	t.Helper()
	c := testutil.Dial(t, addr)
	defer c.Close()
	c.Sub(t, topic, channel)
	c.Rdy(t, 1000)
	got := map[string]int{}
	for {
		ft, p, err := c.TryNext(quiet)
		if err != nil {
			return got
		}
		if ft != testutil.FrameMessage {
			continue
		}
		m, err := testutil.DecodeMessage(p)
		if err != nil {
			t.Fatal(err)
		}
		got[string(m.Body)]++
		c.Fin(t, m.ID)
	}
}

// The promise of --mem-queue-size=0 --sync-every=1: every message whose PUB
// was answered OK is delivered after a kill -9, including messages that were
// in flight at the time (at-least-once: duplicates allowed, loss not).
func TestKill9DurableMode(t *testing.T) {
	ours := impl(t, true)
	args := []string{"--mem-queue-size=0", "--sync-every=1"}
	for cycle := 0; cycle < 3; cycle++ {
		t.Run(fmt.Sprint("cycle", cycle), func(t *testing.T) {
			d := ours.Start(t, args...)
			acked, finished := load(t, d.TCPAddr, 700*time.Millisecond)
			d.Kill()
			d2 := restart(t, ours, d, args...)
			after := drain(t, d2.TCPAddr, "crash", "c", 1500*time.Millisecond)
			missing, dups := 0, 0
			for body := range acked {
				if after[body] == 0 && !finished[body] {
					missing++
				}
				if after[body] > 0 && finished[body] {
					dups++
				}
			}
			t.Logf("acknowledged %d, finished before the kill %d, delivered after restart %d, redelivered duplicates %d",
				len(acked), len(finished), len(after), dups)
			if missing > 0 {
				t.Fatalf("%d acknowledged messages lost across kill -9", missing)
			}
			if len(acked) == 0 {
				t.Fatal("load published nothing")
			}
		})
	}
}

// load publishes numbered messages from 2 connections and consumes from
// one (FINing half of what it receives) for dur, and returns the bodies
// whose PUB was answered OK and those that were FINed.
func load(t *testing.T, addr string, dur time.Duration) (acked, finished map[string]bool) {
	var mu sync.Mutex
	acked, finished = map[string]bool{}, map[string]bool{}
	sub := testutil.Dial(t, addr)
	sub.Sub(t, "crash", "c")
	sub.Rdy(t, 100)
	stop := time.Now().Add(dur)
	var wg sync.WaitGroup
	for p := 0; p < 2; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			c := testutil.Dial(t, addr)
			defer c.Close()
			for i := 0; time.Now().Before(stop) && i < 20000; i++ {
				body := fmt.Sprintf("p%d-%d", p, i)
				if c.TryWrite(pubFrame("crash", body)) != nil {
					return
				}
				ft, payload, err := c.TryNext(2 * time.Second)
				if err != nil || ft != testutil.FrameResponse || string(payload) != "OK" {
					t.Errorf("PUB %s: frame %d %q %v", body, ft, payload, err)
					return
				}
				mu.Lock()
				acked[body] = true
				mu.Unlock()
			}
		}(p)
	}
	for n := 0; time.Now().Before(stop.Add(100*time.Millisecond)) && n < 100000; n++ {
		ft, p, err := sub.TryNext(50 * time.Millisecond)
		if err != nil || ft != testutil.FrameMessage {
			continue
		}
		m, _ := testutil.DecodeMessage(p)
		if n%2 == 0 { // the other half stays in flight when the daemon dies
			sub.Fin(t, m.ID)
			mu.Lock()
			finished[string(m.Body)] = true
			mu.Unlock()
		}
	}
	wg.Wait()
	return acked, finished
}

func pubFrame(topic, body string) []byte {
	b := []byte("PUB " + topic + "\n")
	b = testutil.AppendSize(b, int32(len(body)))
	return append(b, body...)
}

// A clean stop (SIGTERM) keeps queued, in-flight and deferred messages; the
// deferred one keeps its delay (upstream delivers it at once after restart).
func TestCleanRestartKeepsDeferred(t *testing.T) {
	ours := impl(t, true)
	d := ours.Start(t)
	c := testutil.Dial(t, d.TCPAddr)
	c.Sub(t, "clean", "c")
	c.CommandBody(t, "DPUB clean 3000", []byte("deferred"))
	c.ExpectResponse(t, "OK")
	c.Pub(t, "clean", []byte("queued"))
	c.Rdy(t, 1)
	m := c.ExpectMessage(t)
	if string(m.Body) != "queued" {
		t.Fatalf("got %q, want queued", m.Body)
	}
	c.Pub(t, "clean", []byte("waiting"))
	start := time.Now()
	d.Stop()
	d2 := restart(t, ours, d)
	c2 := testutil.Dial(t, d2.TCPAddr)
	c2.Sub(t, "clean", "c")
	c2.Rdy(t, 10)
	got := map[string]uint16{}
	for len(got) < 2 {
		m := c2.ExpectMessage(t)
		got[string(m.Body)] = m.Attempts
		c2.Fin(t, m.ID)
	}
	if got["queued"] != 2 || got["waiting"] != 1 {
		t.Fatalf("after restart got attempts %v, want queued:2 (was in flight) waiting:1", got)
	}
	m = c2.ExpectMessage(t)
	if string(m.Body) != "deferred" {
		t.Fatalf("got %q, want the deferred message", m.Body)
	}
	if el := time.Since(start); el < 2900*time.Millisecond {
		t.Fatalf("deferred message delivered %v after DPUB 3000 across a restart: its delay was lost", el)
	}
}

// A data directory written by upstream nsqd v1.3.0 is imported on first
// start: topics, channels, paused state and every queued message come back,
// and upstream's queue files are removed.
func TestUpstreamDataDirImport(t *testing.T) {
	up := impl(t, false)
	ours := impl(t, true)
	d := up.Start(t, "--mem-queue-size=0")
	sub := testutil.Dial(t, d.TCPAddr)
	sub.Sub(t, "legacy", "c") // creates the channel; RDY 0 keeps messages queued
	p := testutil.Dial(t, d.TCPAddr)
	want := map[string]int{}
	for i := 0; i < 50; i++ {
		body := fmt.Sprint("legacy-", i)
		p.Pub(t, "legacy", []byte(body))
		want[body] = 1
	}
	p.Pub(t, "idle", []byte("no channel yet"))
	sub.Close()
	p.Close()
	time.Sleep(200 * time.Millisecond)
	d.Stop()
	if files, _ := filepath.Glob(filepath.Join(d.DataPath, "*.diskqueue.*")); len(files) == 0 {
		t.Fatal("setup: upstream wrote no diskqueue files")
	}

	d2 := restart(t, ours, d)
	got := drain(t, d2.TCPAddr, "legacy", "c", 500*time.Millisecond)
	if fmt.Sprint(sortedKeys(got)) != fmt.Sprint(sortedKeys(want)) {
		t.Fatalf("imported %d messages, want %d: %v", len(got), len(want), sortedKeys(got))
	}
	idle := drain(t, d2.TCPAddr, "idle", "first", 500*time.Millisecond)
	if idle["no channel yet"] != 1 {
		t.Fatalf("topic-level backlog not imported: %v", idle)
	}
	left, _ := filepath.Glob(filepath.Join(d.DataPath, "*.diskqueue.*"))
	if len(left) > 0 {
		t.Fatalf("upstream queue files left after import: %s", strings.Join(left, " "))
	}
}

func sortedKeys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
