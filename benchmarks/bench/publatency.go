package bench

import (
	"fmt"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"nsqreactor/benchmarks/wire"
)

// Latency percentiles every latency scenario reports, in this order.
var percentiles = []struct {
	name string
	q    float64 // percent; 100 is the maximum
}{{"p50", 50}, {"p90", 90}, {"p99", 99}, {"p99.9", 99.9}, {"max", 100}}

// newLatencyHistogram records nanoseconds from 1 µs to 60 s with 3 significant digits.
func newLatencyHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1_000, 60_000_000_000, 3)
}

// recordLatency clamps into the histogram's range, so an outlier is counted, not dropped.
func recordLatency(h *hdrhistogram.Histogram, ns int64) {
	_ = h.RecordValue(min(max(ns, h.LowestTrackableValue()), h.HighestTrackableValue()))
}

// addPercentiles records the standard percentiles of h (nanoseconds) as µs metrics.
func addPercentiles(e *Env, h *hdrhistogram.Histogram) {
	for _, p := range percentiles {
		v := h.ValueAtPercentile(p.q)
		if p.q == 100 {
			v = h.Max()
		}
		e.Add(p.name, UnitMicros, LowerBetter, float64(v)/1e3)
	}
}

// runPubLatency is the pub-latency scenario: one connection publishes one PUB at a time and
// waits for its OK; the round trip goes into an HDR histogram.
func runPubLatency(e *Env) error {
	c, err := wire.Dial(e.Ctx, e.Target.TCPAddr, 0)
	if err != nil {
		return err
	}
	defer c.Close()
	cmd := wire.AppendPub(nil, "bench_latency", messageBodies(1, e.Cfg.MsgSize)[0])
	// One PUB first, outside the measurement: the topic's creation is not a PUB's latency.
	if err := c.Write(cmd); err != nil {
		return err
	}
	if err := c.ExpectOK(); err != nil {
		return fmt.Errorf("pub-latency: first PUB: %w", err)
	}
	h := newLatencyHistogram()
	w, err := e.Start()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(e.Cfg.Duration)
	var n int64
	for ; n < e.Cfg.MaxMessages; n++ {
		t0 := time.Now()
		if !t0.Before(deadline) {
			break
		}
		if err := c.Write(cmd); err != nil {
			return err
		}
		if err := c.ExpectOK(); err != nil {
			return fmt.Errorf("pub-latency: PUB %d: %w", n, err)
		}
		recordLatency(h, int64(time.Since(t0)))
	}
	st, err := w.Stop()
	if err != nil {
		return err
	}
	e.Add("msg/s", UnitMsgPerSec, HigherBetter, rate(n, st.Wall))
	addPercentiles(e, h)
	e.AddCPU(st, n)
	return nil
}
