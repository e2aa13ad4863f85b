package core

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"
)

// framed builds an MPUB body of msgs.
func framed(msgs ...string) []byte {
	buf := make([]byte, 4, 4+len(msgs)*4+len(strings.Join(msgs, "")))
	binary.BigEndian.PutUint32(buf, uint32(len(msgs)))
	for _, m := range msgs {
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(m)))
		buf = append(buf, m...)
	}
	return buf
}

func putFramed(t *testing.T, n *NSQD, topic string, msgs ...string) {
	t.Helper()
	tp, err := n.GetTopic(topic)
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.PutFramedDurable(framed(msgs...), len(msgs), nil, n.now()); err != nil {
		t.Fatal(err)
	}
}

// checkOrder fails unless got is want, in order, with strictly increasing IDs.
func checkOrder(t *testing.T, got []delivery, want string) {
	t.Helper()
	if s := fmt.Sprint(bodies(got)); s != want {
		t.Fatalf("delivered %s, want %s", s, want)
	}
	for i := 1; i < len(got); i++ {
		if string(got[i].id[:]) <= string(got[i-1].id[:]) {
			t.Fatalf("IDs not increasing: %s then %s", got[i-1].id[:], got[i].id[:])
		}
	}
}

// An MPUB that waits in a topic without channels keeps --mem-queue-size
// messages in memory and the rest of the batch on disk, and reaches the
// first channel whole and in order.
func TestFramedBatchSplitsAtMemQueueSize(t *testing.T) {
	n := testNSQD(t, func(o *Options) { o.MemQueueSize = 3 })
	putFramed(t, n, "t", "a", "b", "c", "d", "e")
	publish(t, n, "t", "f")
	tp, _ := n.GetExistingTopic("t")
	if tp.Depth() != 6 || tp.BackendDepth() != 3 {
		t.Fatalf("topic depth %d backend %d, want 6 3", tp.Depth(), tp.BackendDepth())
	}
	ch, s, fc := subscribe(t, n, "t", "c", time.Minute)
	ch.SetRDY(s, 100)
	checkOrder(t, fc.take(), "[a b c d e f]")
	if tp.Depth() != 0 {
		t.Fatalf("topic depth %d after flush", tp.Depth())
	}
	putFramed(t, n, "t", "g", "h")
	checkOrder(t, fc.take(), "[g h]")
}

// An ephemeral topic drops what does not fit in memory, mid-batch too.
func TestFramedBatchEphemeralDropsPastMemQueue(t *testing.T) {
	n := testNSQD(t, func(o *Options) { o.MemQueueSize = 2 })
	putFramed(t, n, "t#ephemeral", "a", "b", "c")
	tp, _ := n.GetExistingTopic("t#ephemeral")
	if tp.Depth() != 2 {
		t.Fatalf("depth %d, want 2", tp.Depth())
	}
	ch, s, fc := subscribe(t, n, "t#ephemeral", "c", time.Minute)
	ch.SetRDY(s, 10)
	checkOrder(t, fc.take(), "[a b]")
}

// A clean shutdown writes a waiting batch to disk; it comes back in order
// with its IDs.
func TestFramedBatchSurvivesCleanShutdown(t *testing.T) {
	dir := t.TempDir()
	n := testNSQD(t, func(o *Options) { o.DataPath = dir })
	putFramed(t, n, "t", "a", "b", "c")
	tp, _ := n.GetExistingTopic("t")
	var ids []string
	run, _ := tp.queue.Peek()
	for i := range 3 {
		var id MessageID
		id.setUint64(run.id + uint64(i))
		ids = append(ids, string(id[:]))
	}
	if err := n.PersistMetadata(); err != nil {
		t.Fatal(err)
	}
	n.Exit()
	n2 := reopen(t, dir, nil)
	ch, s, fc := subscribe(t, n2, "t", "c", time.Minute)
	ch.SetRDY(s, 10)
	got := fc.take()
	checkOrder(t, got, "[a b c]")
	for i, d := range got {
		if string(d.id[:]) != ids[i] {
			t.Fatalf("message %d came back with ID %s, want %s", i, d.id[:], ids[i])
		}
	}
}

// A batch larger than one tick's IDs is split into runs of consecutive IDs;
// every message flows in order with a unique, increasing ID.
func TestFramedBatchLargerThanAnIDBlock(t *testing.T) {
	n := testNSQD(t, nil)
	var msgs []string
	for i := range 2*maxBlock + 5 {
		msgs = append(msgs, fmt.Sprint(i))
	}
	putFramed(t, n, "t", msgs...)
	tp, _ := n.GetExistingTopic("t")
	if tp.Depth() != int64(len(msgs)) {
		t.Fatalf("depth %d, want %d", tp.Depth(), len(msgs))
	}
	putFramed(t, n, "t", "last")
	ch, s, fc := subscribe(t, n, "t", "c", time.Minute)
	ch.SetRDY(s, 3*maxBlock)
	checkOrder(t, fc.take(), fmt.Sprint(append(msgs, "last")))
}

func TestGUIDBlocksAreConsecutiveAndIncreasing(t *testing.T) {
	g := guidGenerator{node: 5}
	now := time.Now().UnixNano()
	prev := g.next(now)
	for _, n := range []int{1, 100, maxBlock, 7, maxBlock - 1, 3000, 3000} {
		first := g.nextN(now, n)
		last := first + uint64(n) - 1
		if first <= prev || first>>guidTimeShift != last>>guidTimeShift {
			t.Fatalf("block of %d: %x..%x after %x (want above it, in one tick)", n, first, last, prev)
		}
		if node := last >> guidSequenceBits & (1<<guidNodeBits - 1); node != 5 {
			t.Fatalf("node bits %d, want 5", node)
		}
		prev = last
	}
	if id := g.next(now); id <= prev {
		t.Fatalf("next %x not above the last block's %x", id, prev)
	}
}

// HTTP /mpub's batches (PutMulti) wait as the caller's bodies slice, split
// at --mem-queue-size like the others.
func TestListBatchSplitsAtMemQueueSize(t *testing.T) {
	n := testNSQD(t, func(o *Options) { o.MemQueueSize = 2 })
	tp, _ := n.GetTopic("t")
	if err := tp.PutMulti([][]byte{[]byte("a"), []byte("b"), []byte("c"), []byte("d")}); err != nil {
		t.Fatal(err)
	}
	if tp.Depth() != 4 || tp.BackendDepth() != 2 {
		t.Fatalf("topic depth %d backend %d, want 4 2", tp.Depth(), tp.BackendDepth())
	}
	ch, s, fc := subscribe(t, n, "t", "c", time.Minute)
	ch.SetRDY(s, 10)
	checkOrder(t, fc.take(), "[a b c d]")
	tp.PutMulti([][]byte{[]byte("e"), []byte("f")})
	checkOrder(t, fc.take(), "[e f]")
}
