package core

import (
	"io"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// delivery is what a fake consumer saw of one message.
type delivery struct {
	id       MessageID
	attempts uint16
	body     string
}

// fakeConsumer records deliveries; it implements Consumer.
type fakeConsumer struct {
	mu     sync.Mutex
	got    []delivery
	kicked bool
}

func (f *fakeConsumer) Deliver(m *Message) {
	f.mu.Lock()
	f.got = append(f.got, delivery{m.ID, m.Attempts, string(m.Body)})
	f.mu.Unlock()
}
func (f *fakeConsumer) Kick()                    { f.mu.Lock(); f.kicked = true; f.mu.Unlock() }
func (f *fakeConsumer) Stats(string) ClientStats { return ClientStats{} }
func (f *fakeConsumer) IsProducer() bool         { return false }
func (f *fakeConsumer) take() []delivery {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.got
	f.got = nil
	return g
}
func (f *fakeConsumer) count() int      { f.mu.Lock(); defer f.mu.Unlock(); return len(f.got) }
func (f *fakeConsumer) wasKicked() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.kicked }
func testNSQD(t *testing.T, mod func(*Options)) *NSQD {
	t.Helper()
	o := NewOptions()
	o.Logger = io.Discard
	o.DataPath = t.TempDir() // nsqd.dat is written here, never into the package
	if mod != nil {
		mod(o)
	}
	n := New(o)
	n.Start()
	t.Cleanup(n.Exit)
	return n
}

func subscribe(t *testing.T, n *NSQD, topic, channel string, timeout time.Duration) (*Channel, *Subscription, *fakeConsumer) {
	t.Helper()
	tp, err := n.GetTopic(topic)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := tp.GetChannel(channel)
	if err != nil {
		t.Fatal(err)
	}
	fc := &fakeConsumer{}
	s, err := ch.AddClient(fc, SubscribeOptions{ClientID: n.NextClientID(), MsgTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return ch, s, fc
}

func publish(t *testing.T, n *NSQD, topic string, bodies ...string) {
	t.Helper()
	tp, err := n.GetTopic(topic)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bodies {
		if err := tp.Put([]byte(b), 0); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRDYIsAMaxInFlightWindow(t *testing.T) {
	n := testNSQD(t, nil)
	ch, s, fc := subscribe(t, n, "t", "c", time.Minute)
	publish(t, n, "t", "a", "b", "c", "d")
	if got := fc.count(); got != 0 {
		t.Fatalf("delivered %d before RDY, want 0", got)
	}
	ch.SetRDY(s, 2)
	got := fc.take()
	if len(got) != 2 || got[0].body != "a" || got[1].body != "b" {
		t.Fatalf("after RDY 2 got %+v, want a, b", got)
	}
	if err := ch.Finish(s, &got[0].id); err != nil {
		t.Fatal(err)
	}
	if more := fc.take(); len(more) != 1 || more[0].body != "c" {
		t.Fatalf("after FIN got %+v, want c without a new RDY", more)
	}
	ch.SetRDY(s, 0)
	if err := ch.Finish(s, &got[1].id); err != nil {
		t.Fatal(err)
	}
	if more := fc.take(); len(more) != 0 {
		t.Fatalf("RDY 0 still delivered %+v", more)
	}
	if d := ch.Depth(); d != 1 {
		t.Fatalf("depth %d, want 1", d)
	}
}

func TestFinishErrors(t *testing.T) {
	n := testNSQD(t, nil)
	ch, s1, fc1 := subscribe(t, n, "t", "c", time.Minute)
	_, s2, _ := subscribe(t, n, "t", "c", time.Minute)
	ch.SetRDY(s1, 1)
	publish(t, n, "t", "x")
	got := fc1.take()
	if len(got) != 1 {
		t.Fatalf("got %d deliveries, want 1", len(got))
	}
	var unknown MessageID
	copy(unknown[:], "0000000000000000")
	for _, tc := range []struct {
		name string
		sub  *Subscription
		id   *MessageID
		want error
	}{
		{"unknown id", s1, &unknown, ErrNotInFlight},
		{"other client's message", s2, &got[0].id, ErrNotOwner},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, op := range []func() error{
				func() error { return ch.Finish(tc.sub, tc.id) },
				func() error { return ch.Requeue(tc.sub, tc.id, 0) },
				func() error { return ch.Touch(tc.sub, tc.id) },
			} {
				if err := op(); err != tc.want {
					t.Fatalf("got %v, want %v", err, tc.want)
				}
			}
		})
	}
}

func TestFanOutAndSharing(t *testing.T) {
	n := testNSQD(t, nil)
	c1, s1, f1 := subscribe(t, n, "t", "c1", time.Minute)
	c2a, s2a, f2a := subscribe(t, n, "t", "c2", time.Minute)
	c2b, s2b, f2b := subscribe(t, n, "t", "c2", time.Minute)
	c1.SetRDY(s1, 100)
	c2a.SetRDY(s2a, 100)
	c2b.SetRDY(s2b, 100)
	bodies := []string{"1", "2", "3", "4", "5", "6"}
	publish(t, n, "t", bodies...)
	if got := f1.count(); got != len(bodies) {
		t.Fatalf("c1 got %d, want every message (%d)", got, len(bodies))
	}
	a, b := f2a.count(), f2b.count()
	if a+b != len(bodies) || a == 0 || b == 0 {
		t.Fatalf("c2 consumers got %d + %d, want %d shared between both", a, b, len(bodies))
	}
}

func TestTopicQueueGoesToFirstChannel(t *testing.T) {
	n := testNSQD(t, nil)
	publish(t, n, "t", "a", "b", "c")
	tp, _ := n.GetExistingTopic("t")
	if d := tp.Depth(); d != 3 {
		t.Fatalf("topic depth %d, want 3", d)
	}
	ch1, _ := tp.GetChannel("c1")
	ch2, _ := tp.GetChannel("c2")
	if ch1.Depth() != 3 || ch2.Depth() != 0 || tp.Depth() != 0 {
		t.Fatalf("depths c1=%d c2=%d topic=%d, want 3 0 0 (no replay to later channels)", ch1.Depth(), ch2.Depth(), tp.Depth())
	}
	publish(t, n, "t", "d")
	if ch1.Depth() != 4 || ch2.Depth() != 1 {
		t.Fatalf("depths c1=%d c2=%d, want 4 1", ch1.Depth(), ch2.Depth())
	}
}

func TestTimeoutRedeliversWithAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := testNSQD(t, nil)
		ch, s, fc := subscribe(t, n, "t", "c", time.Second)
		ch.SetRDY(s, 1)
		publish(t, n, "t", "m")
		if got := fc.take(); len(got) != 1 || got[0].attempts != 1 {
			t.Fatalf("first delivery %+v, want attempts 1", got)
		}
		time.Sleep(900 * time.Millisecond)
		if got := fc.count(); got != 0 {
			t.Fatalf("redelivered before the timeout")
		}
		time.Sleep(150 * time.Millisecond)
		got := fc.take()
		if len(got) != 1 || got[0].attempts != 2 {
			t.Fatalf("after timeout got %+v, want the message again with attempts 2", got)
		}
		if c := ch.TimeoutCount.Load(); c != 1 {
			t.Fatalf("timeout_count %d, want 1", c)
		}
	})
}

func TestRequeueWithDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := testNSQD(t, nil)
		ch, s, fc := subscribe(t, n, "t", "c", time.Minute)
		ch.SetRDY(s, 1)
		publish(t, n, "t", "m")
		got := fc.take()
		if err := ch.Requeue(s, &got[0].id, 500*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if ch.DeferredCount() != 1 || ch.InFlightCount() != 0 {
			t.Fatalf("deferred %d in flight %d, want 1 0", ch.DeferredCount(), ch.InFlightCount())
		}
		time.Sleep(490 * time.Millisecond)
		if fc.count() != 0 {
			t.Fatal("deferred message delivered early")
		}
		time.Sleep(30 * time.Millisecond)
		again := fc.take()
		if len(again) != 1 || again[0].attempts != 2 {
			t.Fatalf("got %+v, want redelivery with attempts 2", again)
		}
		if err := ch.Requeue(s, &again[0].id, 0); err != nil {
			t.Fatal(err)
		}
		if third := fc.take(); len(third) != 1 || third[0].attempts != 3 {
			t.Fatalf("REQ 0 got %+v, want immediate redelivery with attempts 3", third)
		}
		if c := ch.RequeueCount.Load(); c != 2 {
			t.Fatalf("requeue_count %d, want 2", c)
		}
	})
}

func TestDeferredPublishStartsAtChannel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := testNSQD(t, nil)
		tp, _ := n.GetTopic("t")
		if err := tp.Put([]byte("later"), time.Second); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second) // no channel yet: the delay has not started
		ch, s, fc := subscribe(t, n, "t", "c", time.Minute)
		ch.SetRDY(s, 1)
		if ch.DeferredCount() != 1 {
			t.Fatalf("deferred count %d, want 1", ch.DeferredCount())
		}
		time.Sleep(990 * time.Millisecond)
		if fc.count() != 0 {
			t.Fatal("delivered before its delay counted from channel insertion")
		}
		time.Sleep(20 * time.Millisecond)
		if fc.count() != 1 {
			t.Fatal("deferred message not delivered when due")
		}
	})
}

func TestTouchCappedByMaxMsgTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := testNSQD(t, func(o *Options) { o.MaxMsgTimeout = 3 * time.Second })
		ch, s, fc := subscribe(t, n, "t", "c", 2*time.Second)
		ch.SetRDY(s, 1)
		publish(t, n, "t", "m")
		got := fc.take()
		for i := 0; i < 4; i++ { // touch at 0.9, 1.8, 2.7, 3.6 s
			time.Sleep(900 * time.Millisecond)
			ch.Touch(s, &got[0].id)
		}
		// the deadline could never pass delivery + 3 s: it was redelivered
		if again := fc.take(); len(again) != 1 || again[0].attempts != 2 {
			t.Fatalf("got %+v, want a redelivery after max-msg-timeout", again)
		}
	})
}

func TestTouchExtendsDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := testNSQD(t, nil)
		ch, s, fc := subscribe(t, n, "t", "c", time.Second)
		ch.SetRDY(s, 1)
		publish(t, n, "t", "m")
		got := fc.take()
		time.Sleep(800 * time.Millisecond)
		if err := ch.Touch(s, &got[0].id); err != nil {
			t.Fatal(err)
		}
		time.Sleep(800 * time.Millisecond)
		if fc.count() != 0 {
			t.Fatal("TOUCH did not extend the deadline")
		}
		if err := ch.Finish(s, &got[0].id); err != nil {
			t.Fatalf("FIN after TOUCH: %v", err)
		}
	})
}

// Deliberately better than upstream: a disconnected consumer's in-flight
// messages are requeued at once instead of after their msg timeout.
func TestRemoveClientRequeuesImmediately(t *testing.T) {
	n := testNSQD(t, nil)
	ch, s1, f1 := subscribe(t, n, "t", "c", time.Minute)
	_, s2, f2 := subscribe(t, n, "t", "c", time.Minute)
	ch.SetRDY(s1, 10)
	publish(t, n, "t", "a", "b")
	if f1.count() != 2 {
		t.Fatal("setup: first consumer should hold both messages")
	}
	ch.SetRDY(s2, 10)
	ch.RemoveClient(s1)
	got := f2.take()
	if len(got) != 2 || got[0].attempts != 2 {
		t.Fatalf("second consumer got %+v, want both messages at attempts 2", got)
	}
}

func TestEphemeralChannelDeletedWithLastClient(t *testing.T) {
	n := testNSQD(t, nil)
	ch, s1, _ := subscribe(t, n, "t#ephemeral", "c#ephemeral", time.Minute)
	_, s2, _ := subscribe(t, n, "t#ephemeral", "c#ephemeral", time.Minute)
	tp := ch.Topic()
	ch.RemoveClient(s1)
	if _, err := tp.GetExistingChannel("c#ephemeral"); err != nil {
		t.Fatal("deleted with a subscriber left")
	}
	ch.RemoveClient(s2)
	if _, err := tp.GetExistingChannel("c#ephemeral"); err != ErrChanNotFound {
		t.Fatalf("ephemeral channel still there after last client left (%v)", err)
	}
	if _, err := n.GetExistingTopic("t#ephemeral"); err != ErrTopicNotFound {
		t.Fatal("ephemeral topic should go with its last channel")
	}
	// an ephemeral topic with a durable channel stays
	ch2, s3, _ := subscribe(t, n, "e#ephemeral", "durable", time.Minute)
	ch2.RemoveClient(s3)
	if _, err := n.GetExistingTopic("e#ephemeral"); err != nil {
		t.Fatal("ephemeral topic with a non-ephemeral channel was deleted")
	}
}

func TestEphemeralDropsPastMemQueue(t *testing.T) {
	n := testNSQD(t, func(o *Options) { o.MemQueueSize = 2 })
	ch, _, _ := subscribe(t, n, "t", "c#ephemeral", time.Minute)
	publish(t, n, "t", "1", "2", "3", "4")
	if d := ch.Depth(); d != 2 {
		t.Fatalf("ephemeral depth %d, want 2 (the rest dropped)", d)
	}
	if c := ch.MessageCount.Load(); c != 4 {
		t.Fatalf("message_count %d, want 4 (counted even when dropped)", c)
	}
}

func TestPauseAndEmpty(t *testing.T) {
	n := testNSQD(t, nil)
	ch, s, fc := subscribe(t, n, "t", "c", time.Minute)
	ch.SetRDY(s, 10)
	ch.Pause()
	publish(t, n, "t", "a", "b")
	if fc.count() != 0 || ch.Depth() != 2 {
		t.Fatalf("paused channel delivered (%d) or lost messages (depth %d)", fc.count(), ch.Depth())
	}
	ch.UnPause()
	got := fc.take()
	if len(got) != 2 {
		t.Fatalf("unpause delivered %d, want 2", len(got))
	}
	publish(t, n, "t", "c")
	ch.Empty()
	if ch.InFlightCount() != 0 || ch.Depth() != 0 {
		t.Fatalf("after empty in flight %d depth %d", ch.InFlightCount(), ch.Depth())
	}
	if err := ch.Finish(s, &got[0].id); err != ErrNotInFlight {
		t.Fatalf("FIN after empty: %v, want ErrNotInFlight", err)
	}

	fc.take()
	tp := ch.Topic()
	tp.Pause()
	publish(t, n, "t", "x", "y", "z")
	if tp.Depth() != 3 || ch.Depth() != 0 {
		t.Fatalf("paused topic: topic depth %d channel depth %d, want 3 0", tp.Depth(), ch.Depth())
	}
	tp.UnPause()
	if tp.Depth() != 0 || fc.count() != 3 {
		t.Fatalf("unpaused topic: depth %d delivered %d, want 0 3", tp.Depth(), fc.count())
	}
}

func TestDeleteChannelKicksClients(t *testing.T) {
	n := testNSQD(t, nil)
	ch, _, fc := subscribe(t, n, "t", "c", time.Minute)
	if err := ch.Topic().DeleteExistingChannel("c"); err != nil {
		t.Fatal(err)
	}
	if !fc.wasKicked() {
		t.Fatal("subscriber not kicked")
	}
	if _, err := ch.AddClient(&fakeConsumer{}, SubscribeOptions{}); err != ErrExiting {
		t.Fatalf("AddClient on deleted channel: %v, want ErrExiting", err)
	}
	if err := n.DeleteExistingTopic("t"); err != nil {
		t.Fatal(err)
	}
	if err := n.DeleteExistingTopic("t"); err != ErrTopicNotFound {
		t.Fatalf("second delete: %v", err)
	}
}

func TestMaxChannelConsumers(t *testing.T) {
	n := testNSQD(t, func(o *Options) { o.MaxChannelConsumers = 1 })
	ch, _, _ := subscribe(t, n, "t", "c", time.Minute)
	if _, err := ch.AddClient(&fakeConsumer{}, SubscribeOptions{}); err != ErrTooManyClients {
		t.Fatalf("got %v, want ErrTooManyClients", err)
	}
}

func TestSampleRateDropsForEveryone(t *testing.T) {
	n := testNSQD(t, nil)
	tp, _ := n.GetTopic("t")
	ch, _ := tp.GetChannel("c")
	fc := &fakeConsumer{}
	s, _ := ch.AddClient(fc, SubscribeOptions{MsgTimeout: time.Minute, SampleRate: 10})
	ch.SetRDY(s, 2500)
	for i := 0; i < 2000; i++ {
		publish(t, n, "t", "m")
	}
	got := fc.count()
	if got < 100 || got > 400 || ch.Depth() != 0 {
		t.Fatalf("sample_rate 10 delivered %d of 2000 (depth %d), want ≈ 11%% and nothing left", got, ch.Depth())
	}
}

func TestGUIDsAreUniqueAndIncreasing(t *testing.T) {
	g := guidGenerator{node: 617}
	var prev uint64
	for i := 0; i < 20000; i++ { // more than 4096 per tick
		id := g.next(time.Now().UnixNano())
		if id <= prev {
			t.Fatalf("id %x not above %x", id, prev)
		}
		if node := id >> guidSequenceBits & (1<<guidNodeBits - 1); node != 617 {
			t.Fatalf("node bits %d, want 617", node)
		}
		prev = id
	}
	var mid MessageID
	mid.setUint64(0x18a74d3ad6e69000)
	if string(mid[:]) != "18a74d3ad6e69000" {
		t.Fatalf("hex id %q", mid[:])
	}
}

func TestIsValidName(t *testing.T) {
	long := string(make([]byte, 0))
	for i := 0; i < 64; i++ {
		long += "a"
	}
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"t1", true}, {"a.b-c_d", true}, {long, true}, {long + "a", false},
		{"", false}, {"a b", false}, {"a:b", false}, {"t#ephemeral", true},
		{"#ephemeral", false}, {"t#ephemeralx", false}, {"a#ephemeral#ephemeral", false},
		{long[:54] + "#ephemeral", true}, {long[:55] + "#ephemeral", false},
	} {
		if got := IsValidName([]byte(tc.name)); got != tc.ok {
			t.Errorf("IsValidName(%q) = %v, want %v", tc.name, got, tc.ok)
		}
	}
}

func TestTopologyPrefersLocalConsumers(t *testing.T) {
	n := testNSQD(t, func(o *Options) {
		o.Experiments = []string{"topology-aware-consumption"}
		o.TopologyZone, o.TopologyRegion = "z1", "r1"
	})
	tp, _ := n.GetTopic("t")
	ch, _ := tp.GetChannel("c")
	add := func(zone, region bool) *fakeConsumer {
		fc := &fakeConsumer{}
		s, _ := ch.AddClient(fc, SubscribeOptions{MsgTimeout: time.Minute, ZoneLocal: zone, RegionLocal: region})
		ch.SetRDY(s, 1000)
		return fc
	}
	global, region, zone := add(false, false), add(false, true), add(true, true)
	for i := 0; i < 60; i++ {
		publish(t, n, "t", "m")
	}
	if zone.count() != 60 || region.count() != 0 || global.count() != 0 {
		t.Fatalf("zone %d region %d global %d, want every message to the zone-local consumer",
			zone.count(), region.count(), global.count())
	}
	if ch.zoneLocalMsgs.Load() != 60 {
		t.Fatalf("zone_local_msg_count %d, want 60", ch.zoneLocalMsgs.Load())
	}
}
