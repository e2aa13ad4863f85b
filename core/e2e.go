package core

import (
	"runtime"
	"sync"
	"weak"

	// beorn7/perks is the maintained fork (used by Prometheus' client) of
	// bmizerany/perks, which upstream nsqd uses for the same statistic: a
	// targeted biased-quantile stream (Cormode et al.) with the same error
	// invariant, so our percentiles track upstream's. HDR histograms would
	// be exact to a bucket but answer differently near the tails, and
	// nsqadmin shows both side by side in a mixed cluster.
	"github.com/beorn7/perks/quantile"
)

// End-to-end processing latency (--e2e-processing-latency-percentile,
// --e2e-processing-latency-window-time), as upstream nsqd's
// internal/quantile:
//
//   - a sample is taken on every successful FIN: now − the message's publish
//     timestamp, in nanoseconds (time queued, deferred and retried included);
//   - each channel keeps two quantile streams, each covering half the
//     window; when the current half-window has passed, the older stream is
//     reset and becomes current, so a query (which merges both) covers the
//     last ½…1 window;
//   - a topic's figure merges all its channels' streams.
//
// The streams of a channel live in a side table keyed by a weak pointer to
// the channel, created on the first sample and dropped by the garbage
// collector with the channel, so channels that are never FINed (or when no
// percentile is configured) cost nothing.

// The result type, E2ELatency (upstream's quantile.Result JSON, also the
// source of the statsd e2e gauges), is declared in stats.go beside the other
// /stats types:
//
//	{"count":10,"percentiles":[{"quantile":1,"value":605101410},…]}
//
// Percentiles is nil (JSON null) and Count 0 when no percentile is
// configured, and for a topic without channels.

// e2eEpsilon is the allowed rank error of every target quantile: upstream's
// bmizerany/perks uses 0.01 for all of them.
const e2eEpsilon = 0.01

// e2eWindow is one channel's pair of half-window streams.
type e2eWindow struct {
	mu       sync.Mutex // guards the fields below
	streams  [2]*quantile.Stream
	current  int   // index of the stream taking inserts
	lastMove int64 // UnixNano when current became current
	half     int64 // half the window, ns (≥ 1)
}

// e2eTable maps weak.Pointer[Channel] → *e2eWindow. Entries are deleted by
// a runtime cleanup once the channel is unreachable.
var e2eTable sync.Map

func newE2EStream(pcts []float64) *quantile.Stream {
	targets := make(map[float64]float64, len(pcts))
	for _, q := range pcts {
		targets[q] = e2eEpsilon
	}
	return quantile.NewTargeted(targets)
}

// e2eWindowOf returns ch's window, creating it if create is set (nil
// otherwise when it has none yet).
func e2eWindowOf(ch *Channel, create bool) *e2eWindow {
	key := weak.Make(ch)
	if w, ok := e2eTable.Load(key); ok {
		return w.(*e2eWindow)
	}
	if !create {
		return nil
	}
	opts := ch.nsqd.opts
	w := &e2eWindow{lastMove: ch.nsqd.now(), half: int64(opts.E2EProcessingLatencyWindowTime / 2)}
	if w.half < 1 {
		w.half = 1 // a zero window keeps nothing (upstream loops forever)
	}
	for i := range w.streams {
		w.streams[i] = newE2EStream(opts.E2EProcessingLatencyPercentiles)
	}
	if old, loaded := e2eTable.LoadOrStore(key, w); loaded {
		return old.(*e2eWindow)
	}
	runtime.AddCleanup(ch, func(k weak.Pointer[Channel]) { e2eTable.Delete(k) }, key)
	return w
}

// e2eInsert records one FIN's latency (ns) for ch. Percentiles are
// configured (the caller checked).
func (n *NSQD) e2eInsert(ch *Channel, latency int64) {
	w := e2eWindowOf(ch, true)
	now := n.now()
	w.mu.Lock()
	w.advanceLocked(now)
	w.streams[w.current].Insert(float64(latency))
	w.mu.Unlock()
}

// advanceLocked retires half-windows that ended before now: upstream moves
// the window while now > lastMove+half, one half at a time; two or more
// moves empty both streams. w.mu must be held.
func (w *e2eWindow) advanceLocked(now int64) {
	elapsed := now - w.lastMove
	if elapsed <= w.half {
		return
	}
	moves := (elapsed - 1) / w.half
	w.lastMove += moves * w.half
	if moves >= 2 {
		w.streams[0].Reset()
		w.streams[1].Reset()
		return
	}
	w.current ^= 1
	w.streams[w.current].Reset()
}

// mergeInto adds both half-window streams of w to dst.
func (w *e2eWindow) mergeInto(dst *quantile.Stream, now int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.advanceLocked(now)
	for _, s := range w.streams {
		// Merge sorts its argument in place: give it a copy, not the
		// stream's own buffer.
		dst.Merge(append(quantile.Samples(nil), s.Samples()...))
	}
}

// e2eResult queries merged for each configured percentile.
func e2eResult(merged *quantile.Stream, pcts []float64) E2ELatency {
	r := E2ELatency{Count: merged.Count(), Percentiles: make([]E2EPercentile, len(pcts))}
	for i, q := range pcts {
		r.Percentiles[i] = E2EPercentile{Quantile: q, Value: merged.Query(q)}
	}
	return r
}

// E2ELatency returns the channel's end-to-end processing latency over the
// last ½…1 window. Safe for concurrent use.
func (ch *Channel) E2ELatency() E2ELatency {
	pcts := ch.nsqd.opts.E2EProcessingLatencyPercentiles
	if len(pcts) == 0 {
		return E2ELatency{}
	}
	merged := newE2EStream(pcts)
	if w := e2eWindowOf(ch, false); w != nil {
		w.mergeInto(merged, ch.nsqd.now())
	}
	return e2eResult(merged, pcts)
}

// E2ELatency returns the merge of all the topic's channels' latency streams
// (upstream's AggregateChannelE2eProcessingLatency). Safe for concurrent
// use.
func (t *Topic) E2ELatency() E2ELatency {
	pcts := t.nsqd.opts.E2EProcessingLatencyPercentiles
	chans := t.Channels()
	if len(pcts) == 0 || len(chans) == 0 {
		return E2ELatency{}
	}
	merged := newE2EStream(pcts)
	now := t.nsqd.now()
	for _, ch := range chans {
		if w := e2eWindowOf(ch, false); w != nil {
			w.mergeInto(merged, now)
		}
	}
	return e2eResult(merged, pcts)
}
