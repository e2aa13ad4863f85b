package core

import (
	"encoding/json"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"weak"
)

// e2eOpts configures percentiles 1, 0.99, 0.5 (flag order: descending) and
// the given window.
func e2eOpts(window time.Duration) func(*Options) {
	return func(o *Options) {
		o.E2EProcessingLatencyPercentiles = []float64{1, 0.99, 0.5}
		o.E2EProcessingLatencyWindowTime = window
	}
}

// finAfter delivers len(delays) messages to a fresh subscriber of
// topic/channel and FINs message i after sleeping delays[i] (fake time).
func finAfter(t *testing.T, n *NSQD, topic, channel string, delays ...time.Duration) {
	t.Helper()
	ch, s, fc := subscribe(t, n, topic, channel, time.Hour)
	ch.SetRDY(s, int64(len(delays)))
	for range delays {
		publish(t, n, topic, "m")
	}
	got := fc.take()
	if len(got) != len(delays) {
		t.Fatalf("delivered %d, want %d", len(got), len(delays))
	}
	for i, d := range delays {
		time.Sleep(d)
		if err := ch.Finish(s, &got[i].id); err != nil {
			t.Fatal(err)
		}
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Without --e2e-processing-latency-percentile every figure is upstream's
// {"count":0,"percentiles":null}, even after FINs.
func TestE2ELatencyNotConfigured(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := testNSQD(t, nil)
		finAfter(t, n, "t", "c", time.Millisecond)
		tp, _ := n.GetExistingTopic("t")
		ch, _ := tp.GetExistingChannel("c")
		const want = `{"count":0,"percentiles":null}`
		if got := jsonOf(t, ch.E2ELatency()); got != want {
			t.Errorf("channel: got %s, want %s", got, want)
		}
		if got := jsonOf(t, tp.E2ELatency()); got != want {
			t.Errorf("topic: got %s, want %s", got, want)
		}
	})
}

// Samples are FIN time − publish time; the quantiles come back in the
// configured order; a topic merges its channels; a channel or topic without
// samples reports its percentiles as 0, and a topic without channels null.
func TestE2ELatencyPercentiles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := testNSQD(t, e2eOpts(10*time.Minute))
		delays := make([]time.Duration, 10)
		for i := range delays {
			delays[i] = 100 * time.Millisecond // FIN i at (i+1)×100 ms
		}
		finAfter(t, n, "t", "c1", delays...)
		tp, _ := n.GetExistingTopic("t")
		c1, _ := tp.GetExistingChannel("c1")

		// The stream is approximate (ε = 0.01 of rank): the median of
		// 100…1000 ms comes out as 600 ms (upstream's older perks says 700).
		const want = `{"count":10,"percentiles":[{"quantile":1,"value":1000000000},` +
			`{"quantile":0.99,"value":1000000000},{"quantile":0.5,"value":600000000}]}`
		if got := jsonOf(t, c1.E2ELatency()); got != want {
			t.Errorf("channel c1: got %s, want %s", got, want)
		}

		c2, _ := tp.GetChannel("c2") // no samples yet
		const zero = `{"count":0,"percentiles":[{"quantile":1,"value":0},` +
			`{"quantile":0.99,"value":0},{"quantile":0.5,"value":0}]}`
		if got := jsonOf(t, c2.E2ELatency()); got != zero {
			t.Errorf("channel without samples: got %s, want %s", got, zero)
		}
		if got := jsonOf(t, tp.E2ELatency()); got != want {
			t.Errorf("topic (c1 + empty c2): got %s, want %s", got, want)
		}

		// c2 sees later, slower FINs; the topic merges both channels.
		finAfter(t, n, "t", "c2", 3*time.Second)
		topic := tp.E2ELatency()
		if topic.Count != 11 || topic.Percentiles[0].Value != float64(3*time.Second) {
			t.Errorf("topic after c2's sample: got %s, want count 11 and max 3s", jsonOf(t, topic))
		}

		empty, _ := n.GetTopic("empty")
		if got := jsonOf(t, empty.E2ELatency()); got != `{"count":0,"percentiles":null}` {
			t.Errorf("topic without channels: got %s, want null percentiles", got)
		}
	})
}

// The window is two half-window streams: a sample counts for at least half
// and at most the whole window.
func TestE2ELatencyWindowMoves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := testNSQD(t, e2eOpts(10*time.Second))
		start := time.Now()
		finAfter(t, n, "t", "c", 0) // first sample at 0 s, in stream A
		tp, _ := n.GetExistingTopic("t")
		ch, _ := tp.GetExistingChannel("c")
		at := func(d time.Duration) { time.Sleep(d - time.Since(start)) }
		count := func() int { return ch.E2ELatency().Count }

		at(4 * time.Second)
		if c := count(); c != 1 {
			t.Fatalf("at 4s count %d, want 1", c)
		}
		at(6 * time.Second) // window moved once: B is current, A kept
		if c := count(); c != 1 {
			t.Fatalf("at 6s count %d, want 1 (the older half is still merged)", c)
		}
		finAfter(t, n, "t", "c", 0) // second sample at 6 s, in stream B
		if c := count(); c != 2 {
			t.Fatalf("at 6s after a FIN count %d, want 2", c)
		}
		at(11 * time.Second) // moved again: A (0 s sample) reset
		if c := count(); c != 1 {
			t.Fatalf("at 11s count %d, want 1", c)
		}
		at(25 * time.Second) // two half-windows passed: both reset
		if got := ch.E2ELatency(); got.Count != 0 || len(got.Percentiles) != 3 || got.Percentiles[0].Value != 0 {
			t.Fatalf("at 25s got %s, want count 0 and zero percentiles", jsonOf(t, got))
		}
	})
}

// Samples and queries may run concurrently (FINs on several event loops,
// /stats and statsd on their own goroutines).
func TestE2ELatencyConcurrent(t *testing.T) {
	n := testNSQD(t, e2eOpts(time.Minute))
	tp, _ := n.GetTopic("t")
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		ch, _ := tp.GetChannel(string(rune('a' + i)))
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := 0; j < 2000; j++ {
				n.e2eSample(ch, int64(j))
			}
		}()
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				ch.E2ELatency()
				tp.E2ELatency()
			}
		}()
	}
	wg.Wait()
	if c := tp.E2ELatency().Count; c != 8000 {
		t.Fatalf("topic count %d, want 8000", c)
	}
}

// A deleted channel's streams are released with it (the side table is
// keyed weakly).
func TestE2ELatencyTableReleasesDeletedChannels(t *testing.T) {
	n := testNSQD(t, e2eOpts(time.Minute))
	var key weak.Pointer[Channel] // does not keep the channel alive
	func() {
		tp, _ := n.GetTopic("gc")
		ch, _ := tp.GetChannel("c")
		n.e2eSample(ch, 1)
		key = weak.Make(ch)
		if _, ok := e2eTable.Load(key); !ok {
			t.Fatal("no table entry after a sample")
		}
		n.DeleteExistingTopic("gc")
	}()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, ok := e2eTable.Load(key); !ok {
			return
		}
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the deleted channel's entry is still in the table after 5 s of GCs")
}
