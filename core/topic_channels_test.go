package core

import (
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// The channel snapshot that Put reads without the topic's lock changes by
// append (in place, past every published length) and by copy on removal.
// Publishers running through adds and removals must see each channel at
// most once per message and never a removed one after the removal
// returned; -race checks that no published element is written.
func TestChannelSnapshotUnderChurn(t *testing.T) {
	n := testNSQD(t, nil)
	tp, _ := n.GetTopic("churn#ephemeral")
	keep, _ := tp.GetChannel("keep") // the topic never runs out of channels
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				chans := *tp.channels.Load()
				seen := make(map[*Channel]bool, len(chans))
				for _, ch := range chans {
					if seen[ch] {
						t.Errorf("channel %s twice in one snapshot", ch.name)
						return
					}
					seen[ch] = true
				}
				tp.Put([]byte("m"), 0)
			}
		}()
	}
	for round := range 20 {
		var made []*Channel
		for i := range 50 {
			ch, err := tp.GetChannel("c" + strconv.Itoa(round) + "-" + strconv.Itoa(i))
			if err != nil {
				t.Fatal(err)
			}
			made = append(made, ch)
		}
		for i, ch := range made {
			if i%3 == 0 {
				continue // removed at the end of the test
			}
			if err := tp.DeleteExistingChannel(ch.name); err != nil {
				t.Fatal(err)
			}
			if slices.Contains(*tp.channels.Load(), ch) {
				t.Fatalf("%s still in the snapshot after its removal", ch.name)
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	got := *tp.channels.Load()
	if len(got) != 1+20*17 || !slices.Contains(got, keep) {
		t.Errorf("snapshot has %d channels, want %d including keep", len(got), 1+20*17)
	}
	names := map[string]bool{}
	for _, ch := range got {
		names[ch.name] = true
	}
	if len(names) != len(got) || len(tp.Channels()) != len(got) {
		t.Errorf("snapshot %d channels, %d distinct names, Channels() %d", len(got), len(names), len(tp.Channels()))
	}
}
