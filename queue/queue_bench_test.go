package queue

import (
	"strconv"
	"testing"
)

var depthLadder = []int{16, 256, 4096, 65536}

// BenchmarkRingPushPop keeps depth elements queued and measures one push and
// one pop at that depth.
func BenchmarkRingPushPop(b *testing.B) {
	for _, depth := range depthLadder {
		b.Run("depth="+strconv.Itoa(depth), func(b *testing.B) {
			var r Ring[*item]
			it := &item{}
			for range depth + 1 { // +1: grow past depth now, not in the loop
				r.Push(it)
			}
			r.Pop()
			b.ReportAllocs()
			b.SetBytes(8) // one pointer through the queue
			for b.Loop() {
				r.Push(it)
				r.Pop()
			}
		})
	}
}

// BenchmarkRingFill pushes n elements into a fresh ring and drains it,
// including growth.
func BenchmarkRingFill(b *testing.B) {
	for _, n := range depthLadder {
		b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
			it := &item{}
			b.ReportAllocs()
			b.SetBytes(int64(8 * n))
			for b.Loop() {
				var r Ring[*item]
				for range n {
					r.Push(it)
				}
				for range n {
					r.Pop()
				}
			}
		})
	}
}

func filledHeap(n int) (*Heap[*item], []*item) {
	h := newItemHeap()
	items := make([]*item, n)
	for i := range items {
		// a spread of keys, as in-flight deadlines are
		items[i] = &item{key: int64(uint32(i) * 2654435761 % uint32(n*4)), id: i}
		h.Push(items[i], items[i].key)
	}
	return h, items
}

// BenchmarkHeapPushPop pops the minimum and pushes it back with a later key,
// the in-flight timeout pattern, at a given heap size.
func BenchmarkHeapPushPop(b *testing.B) {
	for _, size := range depthLadder {
		b.Run("size="+strconv.Itoa(size), func(b *testing.B) {
			h, _ := filledHeap(size)
			var k int64 = int64(size * 4)
			b.ReportAllocs()
			b.SetBytes(8)
			for b.Loop() {
				it, _ := h.Pop()
				k++
				it.key = k
				h.Push(it, k)
			}
		})
	}
}

// BenchmarkHeapRemove removes an arbitrary element by its recorded index and
// pushes it back, the FIN/REQ pattern, at a given heap size.
func BenchmarkHeapRemove(b *testing.B) {
	for _, size := range depthLadder {
		b.Run("size="+strconv.Itoa(size), func(b *testing.B) {
			h, items := filledHeap(size)
			i := 0
			var k int64 = int64(size * 4)
			b.ReportAllocs()
			b.SetBytes(8)
			for b.Loop() {
				it := items[i]
				i = (i + 7919) % size
				h.Remove(it.idx)
				k++
				it.key = k
				h.Push(it, k)
			}
		})
	}
}

// BenchmarkHeapPopIfDue checks the minimum against a limit it does not reach,
// the common tick of the in-flight scanner.
func BenchmarkHeapPopIfDue(b *testing.B) {
	h, _ := filledHeap(4096)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := h.PopIfDue(-1); ok {
			b.Fatal("nothing is due")
		}
	}
}
