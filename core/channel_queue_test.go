package core

import (
	"testing"
	"testing/synctest"
	"time"
)

// A message that goes back to the queue by REQ or by timeout waits as a
// compact entry behind what is already queued and keeps its attempts.
func TestRequeueAndTimeoutIntoCompactQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := testNSQD(t, nil)
		ch, s, fc := subscribe(t, n, "t", "c", time.Second)
		ch.SetRDY(s, 2)
		publish(t, n, "t", "a", "b", "c", "d")
		got := fc.take()
		if len(got) != 2 || got[0].body != "a" || got[1].body != "b" {
			t.Fatalf("first deliveries %+v, want a and b", got)
		}
		ch.SetRDY(s, 0)
		if d := ch.Depth(); d != 2 {
			t.Fatalf("depth %d, want 2", d)
		}
		if err := ch.Requeue(s, &got[0].id, 0); err != nil {
			t.Fatal(err)
		}
		if d := ch.Depth(); d != 3 {
			t.Fatalf("depth after REQ %d, want 3", d)
		}
		time.Sleep(1100 * time.Millisecond) // b times out
		if d, f := ch.Depth(), ch.InFlightCount(); d != 4 || f != 0 {
			t.Fatalf("after the timeout depth %d in flight %d, want 4 and 0", d, f)
		}
		ch.SetRDY(s, 10)
		got = fc.take()
		want := []struct {
			body     string
			attempts uint16
		}{{"c", 1}, {"d", 1}, {"a", 2}, {"b", 2}}
		if len(got) != len(want) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
		for i, w := range want {
			if got[i].body != w.body || got[i].attempts != w.attempts {
				t.Fatalf("delivery %d: %+v, want %+v", i, got[i], w)
			}
		}
		if d := ch.Depth(); d != 0 {
			t.Fatalf("depth %d, want 0", d)
		}
		// the redelivered a goes back once more: attempts keep counting
		ch.SetRDY(s, 0)
		if err := ch.Requeue(s, &got[2].id, 0); err != nil {
			t.Fatal(err)
		}
		ch.SetRDY(s, 10)
		if again := fc.take(); len(again) != 1 || again[0].body != "a" || again[0].attempts != 3 {
			t.Fatalf("second redelivery %+v, want a with attempts 3", again)
		}
		for _, d := range got {
			ch.Finish(s, &d.id)
		}
	})
}

// Copies fanned out to a channel nobody reads wait as entries and come out in
// order, with the same ID and body as the other channels' copies.
func TestFanOutCopiesQueueInOrder(t *testing.T) {
	n := testNSQD(t, nil)
	ch1, s1, fc1 := subscribe(t, n, "f", "live", time.Minute)
	ch1.SetRDY(s1, 100)
	tp, _ := n.GetTopic("f")
	idle, _ := tp.GetChannel("idle")
	publish(t, n, "f", "1", "2", "3")
	if d := idle.Depth(); d != 3 {
		t.Fatalf("idle depth %d, want 3", d)
	}
	fc2 := &fakeConsumer{}
	s2, _ := idle.AddClient(fc2, SubscribeOptions{MsgTimeout: time.Minute})
	idle.SetRDY(s2, 100)
	a, b := fc1.take(), fc2.take()
	if len(a) != 3 || len(b) != 3 {
		t.Fatalf("live %+v idle %+v", a, b)
	}
	for i := range a {
		if a[i].id != b[i].id || a[i].body != b[i].body || b[i].attempts != 1 {
			t.Fatalf("copy %d: live %+v idle %+v", i, a[i], b[i])
		}
	}
}

// The block queue keeps FIFO order across block boundaries, interleaved
// pushes and pops, and a drain to empty.
func TestEntryQueueOrder(t *testing.T) {
	var q entryQueue
	next, want := uint16(0), uint16(0)
	for round, pushes := range []int{1, queueBlock - 1, queueBlock, 3*queueBlock + 7, 5} {
		for i := 0; i < pushes; i++ {
			q.Push(queued{attempts: next})
			next++
		}
		pops := q.Len() / 2
		if round == 4 {
			pops = q.Len()
		}
		for i := 0; i < pops; i++ {
			e, ok := q.Pop()
			if !ok || e.attempts != want {
				t.Fatalf("round %d pop %d: %v %d, want %d", round, i, ok, e.attempts, want)
			}
			want++
		}
		if q.Len() != int(next-want) {
			t.Fatalf("round %d: len %d, want %d", round, q.Len(), next-want)
		}
	}
	if _, ok := q.Pop(); ok {
		t.Fatal("pop from an empty queue")
	}
}
