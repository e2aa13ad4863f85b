package cluster

import (
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"nsqreactor/core"
)

// Lines are never split; a datagram is flushed before a line that would
// overflow it; a line longer than the packet size goes alone.
func TestPackerBoundaries(t *testing.T) {
	p := &packer{prefix: "p.", size: 20}
	p.gauge("aaaa", 1)    // "p.aaaa:1|g\n" 11 bytes
	p.gauge("bbbbbbb", 2) // 14 bytes: does not fit in the 9 left
	p.counter("cc", 3)    // "p.cc:3|c\n" 9 bytes: 14+9 > 20
	p.gauge("d", 4)       // 8 bytes: 9+8 = 17 fits
	p.gauge(strings.Repeat("x", 30), 5)
	p.gauge("e", 6)
	p.flush()
	want := []string{"p.aaaa:1|g\n", "p.bbbbbbb:2|g\n", "p.cc:3|c\np.d:4|g\n",
		"p." + strings.Repeat("x", 30) + ":5|g\n", "p.e:6|g\n"}
	var got []string
	for _, pkt := range p.packets {
		got = append(got, string(pkt))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("packets %q, want %q", got, want)
	}
}

// recordConn is a net.Conn that records when each datagram was written.
type recordConn struct {
	net.Conn
	at []time.Duration
	t0 time.Time
}

func (r *recordConn) Write(b []byte) (int, error) {
	r.at = append(r.at, time.Since(r.t0))
	return len(b), nil
}

// Datagrams are spread evenly over interval − 1 s, the first at once.
func TestStatsdSpread(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &Cluster{exitCh: make(chan struct{})}
		rc := &recordConn{t0: time.Now()}
		c.spread(rc, make([][]byte, 4), 2*time.Second)
		want := []time.Duration{0, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond}
		if !slices.Equal(rc.at, want) {
			t.Fatalf("datagrams at %v, want %v", rc.at, want)
		}
		rc = &recordConn{t0: time.Now()}
		c.spread(rc, make([][]byte, 3), 0) // --statsd-interval ≤ 1s
		if !slices.Equal(rc.at, []time.Duration{0, 0, 0}) {
			t.Fatalf("with no spread time datagrams at %v, want all at once", rc.at)
		}
	})
}

// statsdListener collects statsd pushes: it splits the datagram stream into
// pushes at each line equal to first.
type statsdListener struct {
	pc    net.PacketConn
	lines chan []string // one slice of lines per datagram
}

func newStatsdListener(t *testing.T) *statsdListener {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &statsdListener{pc: pc, lines: make(chan []string, 1024)}
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				close(l.lines)
				return
			}
			if n > 508 {
				t.Errorf("datagram of %d bytes, more than --statsd-udp-packet-size 508", n)
			}
			l.lines <- strings.Split(strings.TrimSuffix(string(buf[:n]), "\n"), "\n")
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		for range l.lines {
		}
	})
	return l
}

// push returns the lines of the next complete push, which starts with a
// line matching first.
func (l *statsdListener) push(t *testing.T, first *regexp.Regexp) []string {
	t.Helper()
	var cur []string
	started := false
	timeout := time.After(waitTimeout)
	for {
		select {
		case lines := <-l.lines:
			for _, line := range lines {
				if first.MatchString(line) {
					if started {
						// the next push began: keep its first datagram
						// out of the result; it is lost, which is fine
						return cur
					}
					started = true
				}
				if started {
					cur = append(cur, line)
				}
			}
		case <-timeout:
			t.Fatalf("no complete statsd push within %s (got %q)", waitTimeout, cur)
		}
	}
}

var memValue = regexp.MustCompile(`^(nsq\.127_0_0_1_4151\.mem\.[a-z_0-9]+):\d+\|([cg])$`)

func TestStatsdPush(t *testing.T) {
	for _, tc := range []struct {
		name             string
		exclude, memOn   bool
		first            string // the first line of a push
		wantTopicChannel []string
	}{
		{"default", false, true, "topic.e#ephemeral.message_count", []string{
			"topic.e#ephemeral.message_count:1|c", "topic.e#ephemeral.message_bytes:2|c",
			"topic.e#ephemeral.depth:0|g", "topic.e#ephemeral.backend_depth:0|g",
			"topic.e#ephemeral.e2e_processing_latency_100:0|g", "topic.e#ephemeral.e2e_processing_latency_50:0|g",
			"topic.e#ephemeral.channel.c#ephemeral.message_count:1|c",
			"topic.e#ephemeral.channel.c#ephemeral.depth:1|g", "topic.e#ephemeral.channel.c#ephemeral.backend_depth:0|g",
			"topic.e#ephemeral.channel.c#ephemeral.in_flight_count:0|g", "topic.e#ephemeral.channel.c#ephemeral.deferred_count:0|g",
			"topic.e#ephemeral.channel.c#ephemeral.requeue_count:0|c", "topic.e#ephemeral.channel.c#ephemeral.timeout_count:0|c",
			"topic.e#ephemeral.channel.c#ephemeral.clients:0|g",
			"topic.e#ephemeral.channel.c#ephemeral.e2e_processing_latency_100:0|g",
			"topic.e#ephemeral.channel.c#ephemeral.e2e_processing_latency_50:0|g",
			"topic.t.message_count:3|c", "topic.t.message_bytes:9|c", "topic.t.depth:0|g", "topic.t.backend_depth:0|g",
			"topic.t.e2e_processing_latency_100:0|g", "topic.t.e2e_processing_latency_50:0|g",
			"topic.t.channel.a.message_count:3|c", "topic.t.channel.a.depth:3|g", "topic.t.channel.a.backend_depth:0|g",
			"topic.t.channel.a.in_flight_count:0|g", "topic.t.channel.a.deferred_count:0|g",
			"topic.t.channel.a.requeue_count:0|c", "topic.t.channel.a.timeout_count:0|c", "topic.t.channel.a.clients:0|g",
			"topic.t.channel.a.e2e_processing_latency_100:0|g", "topic.t.channel.a.e2e_processing_latency_50:0|g",
			"topic.t.channel.b#ephemeral.message_count:3|c", "topic.t.channel.b#ephemeral.depth:3|g",
			"topic.t.channel.b#ephemeral.backend_depth:0|g", "topic.t.channel.b#ephemeral.in_flight_count:0|g",
			"topic.t.channel.b#ephemeral.deferred_count:0|g", "topic.t.channel.b#ephemeral.requeue_count:0|c",
			"topic.t.channel.b#ephemeral.timeout_count:0|c", "topic.t.channel.b#ephemeral.clients:0|g",
			"topic.t.channel.b#ephemeral.e2e_processing_latency_100:0|g",
			"topic.t.channel.b#ephemeral.e2e_processing_latency_50:0|g",
		}},
		{"exclude-ephemeral,no-mem", true, false, "topic.t.message_count", []string{
			"topic.t.message_count:3|c", "topic.t.message_bytes:9|c", "topic.t.depth:0|g", "topic.t.backend_depth:0|g",
			"topic.t.e2e_processing_latency_100:0|g", "topic.t.e2e_processing_latency_50:0|g",
			"topic.t.channel.a.message_count:3|c", "topic.t.channel.a.depth:3|g", "topic.t.channel.a.backend_depth:0|g",
			"topic.t.channel.a.in_flight_count:0|g", "topic.t.channel.a.deferred_count:0|g",
			"topic.t.channel.a.requeue_count:0|c", "topic.t.channel.a.timeout_count:0|c", "topic.t.channel.a.clients:0|g",
			"topic.t.channel.a.e2e_processing_latency_100:0|g", "topic.t.channel.a.e2e_processing_latency_50:0|g",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newStatsdListener(t)
			n, _, _ := testCluster(t, func(o *core.Options) {
				o.StatsdAddress = l.pc.LocalAddr().String()
				o.StatsdInterval = 150 * time.Millisecond // ≤ 1 s: no spreading
				o.StatsdExcludeEphemeral = tc.exclude
				o.StatsdMemStats = tc.memOn
				o.E2EProcessingLatencyPercentiles = []float64{1, 0.5}
			})
			tp, _ := n.GetTopic("t")
			tp.GetChannel("a")
			tp.GetChannel("b#ephemeral")
			for _, b := range []string{"one", "two", "six"} {
				tp.Put([]byte(b), 0)
			}
			et, _ := n.GetTopic("e#ephemeral")
			et.GetChannel("c#ephemeral")
			et.Put([]byte("hi"), 0)

			first := regexp.MustCompile(`^nsq\.127_0_0_1_4151\.` + regexp.QuoteMeta(tc.first) + `:`)
			got := l.push(t, first)
			var topicLines, memLines []string
			for _, line := range got {
				if m := memValue.FindStringSubmatch(line); m != nil {
					memLines = append(memLines, m[1]+"|"+m[2])
					continue
				}
				topicLines = append(topicLines, strings.TrimPrefix(line, "nsq.127_0_0_1_4151."))
			}
			if !slices.Equal(topicLines, tc.wantTopicChannel) {
				t.Errorf("topic and channel lines\n\t%s\nwant\n\t%s", strings.Join(topicLines, "\n\t"), strings.Join(tc.wantTopicChannel, "\n\t"))
			}
			var wantMem []string
			if tc.memOn {
				for _, m := range []string{"heap_objects|g", "heap_idle_bytes|g", "heap_in_use_bytes|g",
					"heap_released_bytes|g", "gc_pause_usec_100|g", "gc_pause_usec_99|g", "gc_pause_usec_95|g",
					"next_gc_bytes|g", "gc_runs|c"} {
					wantMem = append(wantMem, "nsq.127_0_0_1_4151.mem."+m)
				}
			}
			if !slices.Equal(memLines, wantMem) {
				t.Errorf("mem lines %q, want %q", memLines, wantMem)
			}

			// Counters are deltas: nothing happened since the first push.
			for _, line := range l.push(t, first) {
				if strings.Contains(line, "topic.") && strings.HasSuffix(line, "|c") && !strings.HasSuffix(line, ":0|c") {
					t.Errorf("second push: counter %q, want 0 (a delta)", line)
				}
			}
		})
	}
}
