package cluster

import (
	"math"
	"runtime"
	"slices"
)

// memMetrics adds upstream's mem.* statsd metrics and returns the GC count
// for the next delta. The GC pause percentiles are over the last ≤ 256
// pauses, in µs, by upstream's nearest-rank rule.
func memMetrics(p *packer, lastGCRuns uint32) uint32 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	n := min(int(ms.NumGC), len(ms.PauseNs))
	pauses := slices.Clone(ms.PauseNs[:n])
	slices.Sort(pauses)

	p.gauge("mem.heap_objects", int64(ms.HeapObjects))
	p.gauge("mem.heap_idle_bytes", int64(ms.HeapIdle))
	p.gauge("mem.heap_in_use_bytes", int64(ms.HeapInuse))
	p.gauge("mem.heap_released_bytes", int64(ms.HeapReleased))
	p.gauge("mem.gc_pause_usec_100", int64(pausePercentile(pauses, 100)/1000))
	p.gauge("mem.gc_pause_usec_99", int64(pausePercentile(pauses, 99)/1000))
	p.gauge("mem.gc_pause_usec_95", int64(pausePercentile(pauses, 95)/1000))
	p.gauge("mem.next_gc_bytes", int64(ms.NextGC))
	p.counter("mem.gc_runs", uint64(ms.NumGC-lastGCRuns)) // uint32 arithmetic, as upstream
	return ms.NumGC
}

// pausePercentile is upstream's percentile(): element floor(perc% × n + 0.5)
// of the sorted pauses, clamped to the last; 0 for none.
func pausePercentile(sorted []uint64, perc float64) uint64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Floor(perc/100*float64(len(sorted)) + 0.5))
	return sorted[min(i, len(sorted)-1)]
}
