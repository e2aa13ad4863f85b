package cluster

import (
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"nsqreactor/internal/testutil"
)

// statsdLine is "<prefix><name>:<int>|c" or "|g"; the prefix is
// "nsq.<host key>." with the default --statsd-prefix.
var statsdLine = regexp.MustCompile(`^nsq\.127_0_0_1_\d+\.([^:]+):-?\d+\|([cg])$`)

// statsdPush starts impl with a statsd listener and some topics and returns
// the metric names ("name|c" / "name|g") of one complete push.
func statsdPush(t *testing.T, impl testutil.Impl) []string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	d := impl.Start(t, "--broadcast-address=127.0.0.1", "--statsd-address="+pc.LocalAddr().String(),
		// 2 s: upstream panics with an interval of 1 s or less
		"--statsd-interval=2s", "--e2e-processing-latency-percentile=1.0,0.5")

	sub := testutil.Dial(t, d.TCPAddr) // keeps the channels alive
	sub.Sub(t, "st_topic", "c1")
	sub2 := testutil.Dial(t, d.TCPAddr)
	sub2.Sub(t, "st#ephemeral", "ce#ephemeral")
	publish(t, d, "st_topic", "m", 3)
	publish(t, d, "st_empty", "m", 1) // a topic without channels

	// A push starts with the first topic by name and ends with
	// mem.gc_runs; keep the first one that has every topic (a push may run
	// while they are being created).
	var names []string
	deadline := time.Now().Add(waitTimeout)
	buf := make([]byte, 65536)
	for started := false; ; {
		pc.SetReadDeadline(deadline)
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no complete statsd push with every topic within %s (%v): %q", waitTimeout, err, names)
		}
		if n > 508 {
			t.Errorf("datagram of %d bytes, above the default --statsd-udp-packet-size 508", n)
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(buf[:n]), "\n"), "\n") {
			m := statsdLine.FindStringSubmatch(line)
			if m == nil {
				t.Errorf("malformed statsd line %q", line)
				continue
			}
			if m[1] == "topic.st#ephemeral.message_count" {
				started, names = true, nil
			}
			if !started {
				continue
			}
			names = append(names, m[1]+"|"+m[2])
			if m[1] == "mem.gc_runs" {
				if slices.Contains(names, "topic.st_empty.message_count|c") {
					return names
				}
				started = false
			}
		}
	}
}

// Our statsd metric names, their kinds and their order are upstream's.
func TestStatsdMatchesUpstream(t *testing.T) {
	t.Parallel()
	impls := testutil.Impls(t)
	got := make([][]string, len(impls))
	var wg sync.WaitGroup
	for i, impl := range impls {
		wg.Add(1)
		t.Run(impl.Name, func(t *testing.T) {
			t.Parallel()
			defer wg.Done()
			got[i] = statsdPush(t, impl)
		})
	}
	t.Cleanup(func() {
		wg.Wait()
		if len(impls) != 2 || got[0] == nil || got[1] == nil {
			return
		}
		t.Logf("compared %d statsd names of one push", len(got[0]))
		if !slices.Equal(got[0], got[1]) {
			t.Errorf("statsd names differ:\n%s:\n\t%s\n%s:\n\t%s", impls[0].Name, strings.Join(got[0], "\n\t"),
				impls[1].Name, strings.Join(got[1], "\n\t"))
		}
		for _, want := range []string{"topic.st_topic.channel.c1.e2e_processing_latency_50|g",
			"topic.st_empty.message_count|c", "mem.heap_objects|g"} {
			if !slices.Contains(got[1], want) {
				t.Errorf("%s sent no %s", impls[1].Name, want)
			}
		}
	})
}
