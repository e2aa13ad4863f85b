package core

import (
	"fmt"
	"io"
	"testing"
	"testing/synctest"
	"time"
)

// reopen builds a second NSQD on the same data path, as a restart does.
func reopen(t *testing.T, dir string, mod func(*Options)) *NSQD {
	t.Helper()
	o := NewOptions()
	o.Logger = io.Discard
	o.DataPath = dir
	if mod != nil {
		mod(o)
	}
	n := New(o)
	if err := n.LoadMetadata(); err != nil {
		t.Fatal(err)
	}
	n.Start()
	t.Cleanup(n.Exit)
	return n
}

func bodies(got []delivery) []string {
	var out []string
	for _, d := range got {
		out = append(out, d.body)
	}
	return out
}

func TestChannelOverflowsToDiskInOrder(t *testing.T) {
	n := testNSQD(t, func(o *Options) { o.MemQueueSize = 2 })
	ch, s, fc := subscribe(t, n, "t", "c", time.Minute)
	var want []string
	for i := 0; i < 7; i++ {
		want = append(want, fmt.Sprint(i))
	}
	publish(t, n, "t", want...)
	if ch.Depth() != 7 || ch.BackendDepth() != 5 {
		t.Fatalf("depth %d backend %d, want 7 5", ch.Depth(), ch.BackendDepth())
	}
	ch.SetRDY(s, 100)
	if got := bodies(fc.take()); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
	if ch.Depth() != 0 {
		t.Fatalf("depth %d after draining", ch.Depth())
	}
}

func TestTopicWithoutChannelsSpillsToDisk(t *testing.T) {
	n := testNSQD(t, func(o *Options) { o.MemQueueSize = 1 })
	publish(t, n, "t", "a", "b", "c")
	tp, _ := n.GetExistingTopic("t")
	if tp.Depth() != 3 || tp.BackendDepth() != 2 {
		t.Fatalf("topic depth %d backend %d, want 3 2", tp.Depth(), tp.BackendDepth())
	}
	ch, s, fc := subscribe(t, n, "t", "c", time.Minute)
	ch.SetRDY(s, 10)
	if got := bodies(fc.take()); fmt.Sprint(got) != "[a b c]" {
		t.Fatalf("first channel got %v, want [a b c]", got)
	}
	if tp.Depth() != 0 {
		t.Fatalf("topic depth %d after flush", tp.Depth())
	}
}

// A clean shutdown writes queued, in-flight and deferred messages to disk;
// after the restart in-flight ones come back with their attempts and
// deferred ones after their remaining delay (upstream loses the delay).
func TestCleanShutdownKeepsEverything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		mod := func(o *Options) { o.DataPath = dir }
		n := testNSQD(t, mod)
		ch, s, fc := subscribe(t, n, "t", "c", time.Minute)
		publish(t, n, "t", "inflight")
		ch.SetRDY(s, 1)
		got := fc.take()
		if len(got) != 1 {
			t.Fatal("setup: no delivery")
		}
		tp, _ := n.GetExistingTopic("t")
		tp.Put([]byte("deferred"), 10*time.Second)
		publish(t, n, "t", "queued")
		if err := n.PersistMetadata(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(4 * time.Second)
		n.Exit()

		n2 := reopen(t, dir, nil)
		tp2, err := n2.GetExistingTopic("t")
		if err != nil {
			t.Fatal(err)
		}
		ch2, _ := tp2.GetExistingChannel("c")
		fc2 := &fakeConsumer{}
		s2, _ := ch2.AddClient(fc2, SubscribeOptions{MsgTimeout: time.Minute})
		ch2.SetRDY(s2, 10)
		first := fc2.take()
		if len(first) != 2 {
			t.Fatalf("after restart got %v, want the queued and the in-flight message", first)
		}
		for _, d := range first {
			if d.body == "inflight" && d.attempts != 2 {
				t.Fatalf("in-flight message came back with attempts %d, want 2", d.attempts)
			}
		}
		if ch2.DeferredCount() != 1 {
			t.Fatalf("deferred count %d after restart, want 1", ch2.DeferredCount())
		}
		time.Sleep(5900 * time.Millisecond)
		if fc2.count() != 0 {
			t.Fatal("deferred message delivered before its remaining delay")
		}
		time.Sleep(200 * time.Millisecond)
		if last := fc2.take(); len(last) != 1 || last[0].body != "deferred" {
			t.Fatalf("got %v, want the deferred message once its delay ran out", last)
		}
	})
}

// In durable mode (--mem-queue-size=0) a message keeps its disk record
// until it is finished: abandoning the daemon without Exit (the in-process
// stand-in for kill -9; the mapping is in the page cache) loses nothing,
// in flight or not, and FINed messages do not come back once synced.
func TestDurableModeSurvivesAbandon(t *testing.T) {
	dir := t.TempDir()
	mod := func(o *Options) { o.DataPath = dir; o.MemQueueSize = 0; o.SyncEvery = 1 }
	n := testNSQD(t, mod)
	ch, s, fc := subscribe(t, n, "t", "c", time.Minute)
	tp, _ := n.GetExistingTopic("t")
	var dur Durability
	for i := 0; i < 6; i++ {
		if err := tp.PutDurable([]byte(fmt.Sprint(i)), 0, &dur); err != nil {
			t.Fatal(err)
		}
	}
	if !dur.Pending() {
		t.Fatal("sync-every=1 publish collected nothing to wait for")
	}
	if err := dur.Wait(); err != nil {
		t.Fatal(err)
	}
	ch.SetRDY(s, 3)
	got := fc.take()
	if len(got) != 3 {
		t.Fatalf("delivered %d, want 3", len(got))
	}
	if err := ch.Finish(s, &got[0].id); err != nil {
		t.Fatal(err)
	}
	ch.disk.Sync()
	n.PersistMetadata()

	// no Exit: a new daemon opens the same files
	n2 := reopen(t, dir, func(o *Options) { o.MemQueueSize = 0 })
	tp2, _ := n2.GetExistingTopic("t")
	ch2, _ := tp2.GetExistingChannel("c")
	fc2 := &fakeConsumer{}
	s2, _ := ch2.AddClient(fc2, SubscribeOptions{MsgTimeout: time.Minute})
	ch2.SetRDY(s2, 100)
	back := bodies(fc2.take())
	if fmt.Sprint(back) != "[1 2 3 4 5]" {
		t.Fatalf("after the crash got %v, want [1 2 3 4 5] (0 was finished)", back)
	}
}

func TestEmptyAndDeleteRemoveDiskMessages(t *testing.T) {
	n := testNSQD(t, func(o *Options) { o.MemQueueSize = 0 })
	ch, _, _ := subscribe(t, n, "t", "c", time.Minute)
	publish(t, n, "t", "a", "b")
	if ch.BackendDepth() != 2 {
		t.Fatalf("backend depth %d, want 2", ch.BackendDepth())
	}
	ch.Empty()
	if ch.Depth() != 0 {
		t.Fatalf("depth %d after empty", ch.Depth())
	}
	publish(t, n, "t", "c")
	if err := ch.Topic().DeleteExistingChannel("c"); err != nil {
		t.Fatal(err)
	}
	ch2, _ := ch.Topic().GetChannel("c")
	if ch2.Depth() != 0 {
		t.Fatalf("recreated channel has depth %d: files were not removed", ch2.Depth())
	}
}
