//go:build !race

// Race instrumentation allocates, so these only run without -race.

package queue

import "testing"

func checkAllocs(t *testing.T, fn func()) {
	t.Helper()
	if n := testing.AllocsPerRun(1000, fn); n != 0 {
		t.Fatalf("got %v allocs per run, want 0", n)
	}
}

func TestAllocsRingSteadyState(t *testing.T) {
	t.Run("values", func(t *testing.T) {
		var r Ring[int]
		for i := range 100 { // warm up to the high-water mark
			r.Push(i)
		}
		checkAllocs(t, func() {
			r.Push(1)
			r.Pop()
			r.Peek()
		})
	})
	t.Run("pointers", func(t *testing.T) {
		var r Ring[*item]
		it := &item{}
		for range 64 {
			r.Push(it)
		}
		checkAllocs(t, func() {
			for range 32 {
				r.Pop()
			}
			for range 32 {
				r.Push(it)
			}
		})
	})
}

func TestAllocsHeapSteadyState(t *testing.T) {
	h := newItemHeap()
	items := make([]*item, 256)
	for i := range items {
		items[i] = &item{key: int64(i * 7 % 256), id: i}
		h.Push(items[i], items[i].key)
	}
	var k int64
	t.Run("push pop", func(t *testing.T) {
		checkAllocs(t, func() {
			it, _ := h.Pop()
			k++
			it.key = k
			h.Push(it, it.key)
		})
	})
	t.Run("push remove", func(t *testing.T) {
		i := 0
		checkAllocs(t, func() {
			it := items[i%len(items)]
			i += 37
			h.Remove(it.idx)
			k++
			it.key = k % 300
			h.Push(it, it.key)
		})
	})
	t.Run("PopIfDue and Peek", func(t *testing.T) {
		checkAllocs(t, func() {
			h.Peek()
			if it, ok := h.PopIfDue(1 << 62); ok {
				h.Push(it, it.key+1000)
			}
		})
	})
}
