//go:build !race

package core

import (
	"runtime"
	"strconv"
	"testing"
)

// A channel backlog built while no consumer reads is a ring of compact
// entries: queueing 100k messages allocates no Message per message, with one
// channel (the publisher's Message is recycled at once) and with several
// (the fan-out copies never become Messages).
func TestBacklogAllocatesNoMessagePerQueued(t *testing.T) {
	const backlog = 100_000
	n := testNSQD(t, func(o *Options) { o.MemQueueSize = 2 * backlog })
	for _, channels := range []int{1, 3} {
		tp, _ := n.GetTopic("backlog" + strconv.Itoa(channels))
		var chans []*Channel
		for i := 0; i < channels; i++ {
			ch, _ := tp.GetChannel("c" + strconv.Itoa(i))
			chans = append(chans, ch)
		}
		body := []byte("waiting")
		fill := func() {
			for i := 0; i < backlog; i++ {
				if err := tp.Put(body, 0); err != nil {
					t.Fatal(err)
				}
			}
		}
		fill() // grows the rings to their high-water mark
		for _, ch := range chans {
			if d := ch.Depth(); d != backlog {
				t.Fatalf("depth %d, want %d", d, backlog)
			}
			ch.Empty()
		}
		allocs := testing.AllocsPerRun(1, func() {
			// two GCs empty the Message pool (its victim cache too), so the
			// Messages a backlog of *Message would hold must be allocated
			runtime.GC()
			runtime.GC()
			fill()
			for _, ch := range chans {
				ch.Empty()
			}
		})
		// the daemon's own goroutines (disk queue sync, pool refills after
		// the GCs) allocate a little meanwhile; a Message per message is 100k
		if allocs > backlog/100 {
			t.Errorf("%d channel(s): %.0f allocations for a backlog of %d, want none per message", channels, allocs, backlog)
		}
	}
}
