//go:build !race

package core

import (
	"testing"
	"time"
)

// With --e2e-processing-latency-percentile set, a FIN's latency sample
// allocates nothing once the channel's streams exist (the weak-pointer side
// table lookup and the quantile stream's buffer are both allocation-free).
func TestE2ESampleAllocatesNothing(t *testing.T) {
	n := testNSQD(t, e2eOpts(time.Minute))
	tp, _ := n.GetTopic("t")
	ch, _ := tp.GetChannel("c")
	var i int64
	for ; i < 10000; i++ { // past several buffer flushes and compressions
		n.e2eSample(ch, i*1000)
	}
	if a := testing.AllocsPerRun(10000, func() { i++; n.e2eSample(ch, i%977*1000) }); a != 0 {
		t.Errorf("%.2f allocs per e2e sample, want 0", a)
	}
}
