//go:build !race

package core

import (
	"strconv"
	"testing"
	"time"

	"nsqreactor/codec"
)

// frameConsumer encodes each delivery into a reused buffer, as the event
// loop's outbox does.
type frameConsumer struct {
	fakeConsumer
	buf  []byte
	last MessageID
}

func (f *frameConsumer) Deliver(m *Message) {
	f.buf = codec.AppendMessageFrame(f.buf[:0], m.Timestamp, m.Attempts, (*[codec.MsgIDLength]byte)(&m.ID), m.Body)
	f.last = m.ID
}

// The hot path — publish to a topic, hand the message to a warm consumer,
// FIN it — allocates nothing once warm; the body copy is the caller's.
func TestPublishDeliverFinishAllocatesNothing(t *testing.T) {
	n := testNSQD(t, nil)
	tp, _ := n.GetTopic("t")
	for _, channels := range []int{1, 3, 20} { // 20: past any fixed-size copy buffer
		for i := len(tp.Channels()); i < channels; i++ {
			ch, _ := tp.GetChannel("c" + strconv.Itoa(i))
			s, _ := ch.AddClient(&frameConsumer{buf: make([]byte, 0, 256)}, SubscribeOptions{MsgTimeout: time.Minute})
			ch.SetRDY(s, 100)
		}
		body := []byte("hello, allocation-free world")
		all := tp.Channels()
		cons := make([]*frameConsumer, len(all))
		sbs := make([]*Subscription, len(all))
		for i, ch := range all {
			ss := ch.Subscriptions()
			sbs[i] = ss[0]
			cons[i] = ss[0].consumer.(*frameConsumer)
		}
		step := func() {
			if err := tp.Put(body, 0); err != nil {
				t.Fatal(err)
			}
			for i, ch := range all {
				if err := ch.Finish(sbs[i], &cons[i].last); err != nil {
					t.Fatal(err)
				}
			}
		}
		for i := 0; i < 1000; i++ {
			step() // warm the pool, the maps and the heaps
		}
		if a := testing.AllocsPerRun(1000, step); a != 0 {
			t.Errorf("%d channel(s): %.2f allocs per publish+deliver+FIN, want 0", channels, a)
		}
	}
}

// Queued messages popped by RDY and FIN allocate nothing either.
func TestQueuedDeliveryAllocatesNothing(t *testing.T) {
	n := testNSQD(t, nil)
	tp, _ := n.GetTopic("q")
	ch, _ := tp.GetChannel("c")
	fc := &frameConsumer{buf: make([]byte, 0, 256)}
	s, _ := ch.AddClient(fc, SubscribeOptions{MsgTimeout: time.Minute})
	body := []byte("queued")
	step := func() {
		tp.Put(body, 0) // queued: RDY is 0
		ch.SetRDY(s, 1)
		ch.SetRDY(s, 0)
		ch.Finish(s, &fc.last)
	}
	for i := 0; i < 1000; i++ {
		step()
	}
	if a := testing.AllocsPerRun(1000, step); a != 0 {
		t.Errorf("%.2f allocs per queued publish+RDY+FIN, want 0", a)
	}
}

// An MPUB to a topic whose channel has a warm consumer allocates nothing
// beyond the caller's body copy (reused here).
func TestFramedPublishAllocatesNothing(t *testing.T) {
	n := testNSQD(t, nil)
	tp, _ := n.GetTopic("f")
	ch, _ := tp.GetChannel("c")
	fc := &frameConsumer{buf: make([]byte, 0, 256)}
	s, _ := ch.AddClient(fc, SubscribeOptions{MsgTimeout: time.Minute})
	ch.SetRDY(s, 1)
	buf := framed("one framed message")
	step := func() {
		if err := tp.PutFramedDurable(buf, 1, nil, n.now()); err != nil {
			t.Fatal(err)
		}
		ch.Finish(s, &fc.last)
	}
	for i := 0; i < 1000; i++ {
		step()
	}
	if a := testing.AllocsPerRun(1000, step); a != 0 {
		t.Errorf("%.2f allocs per framed publish+deliver+FIN, want 0", a)
	}
}
