package queue

import (
	"cmp"
	"slices"
	"testing"
)

// item is a heap element that records its own index, as core's in-flight and
// deferred messages do.
type item struct {
	key int64
	id  int
	idx int
}

func newItemHeap() *Heap[*item] {
	return &Heap[*item]{SetIndex: func(v *item, i int) { v.idx = i }}
}

// checkHeap verifies the heap property and that every element's recorded
// index points at itself.
func checkHeap(t *testing.T, h *Heap[*item]) {
	t.Helper()
	for i, it := range h.items {
		if it.v.idx != i {
			t.Fatalf("element %d at position %d records index %d", it.v.id, i, it.v.idx)
		}
		if it.key != it.v.key {
			t.Fatalf("position %d holds key %d for element with key %d", i, it.key, it.v.key)
		}
		if i > 0 && h.items[(i-1)/2].key > it.key {
			t.Fatalf("heap property broken: parent %d > child %d at %d", h.items[(i-1)/2].key, it.key, i)
		}
	}
}

func pushAll(h *Heap[*item], keys ...int64) []*item {
	var items []*item
	for i, k := range keys {
		it := &item{key: k, id: i}
		h.Push(it, k)
		items = append(items, it)
	}
	return items
}

func popKeys(t *testing.T, h *Heap[*item]) []int64 {
	t.Helper()
	var keys []int64
	for {
		it, ok := h.Pop()
		if !ok {
			return keys
		}
		if it.idx != -1 {
			t.Fatalf("popped element records index %d, want -1", it.idx)
		}
		keys = append(keys, it.key)
		checkHeap(t, h)
	}
}

func TestHeapEmpty(t *testing.T) {
	h := newItemHeap()
	if h.Len() != 0 {
		t.Fatalf("Len = %d, want 0", h.Len())
	}
	if v, k, ok := h.Peek(); ok || v != nil || k != 0 {
		t.Fatalf("Peek = %v, %d, %v; want nil, 0, false", v, k, ok)
	}
	if v, ok := h.Pop(); ok || v != nil {
		t.Fatalf("Pop = %v, %v; want nil, false", v, ok)
	}
	if v, ok := h.PopIfDue(1 << 62); ok || v != nil {
		t.Fatalf("PopIfDue = %v, %v; want nil, false", v, ok)
	}
}

func TestHeapOrder(t *testing.T) {
	tests := []struct {
		name string
		keys []int64
	}{
		{"one", []int64{5}},
		{"ascending", []int64{1, 2, 3, 4, 5, 6, 7}},
		{"descending", []int64{7, 6, 5, 4, 3, 2, 1}},
		{"duplicates", []int64{3, 1, 3, 1, 2, 2, 1}},
		{"negative and extreme", []int64{0, -1, 1 << 62, -1 << 63, 1<<63 - 1, 5}},
		{"all equal", []int64{4, 4, 4, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newItemHeap()
			pushAll(h, tt.keys...)
			checkHeap(t, h)
			if h.Len() != len(tt.keys) {
				t.Fatalf("Len = %d, want %d", h.Len(), len(tt.keys))
			}
			want := slices.Sorted(slices.Values(tt.keys))
			if _, k, ok := h.Peek(); !ok || k != want[0] {
				t.Fatalf("Peek key = %d, %v; want %d, true", k, ok, want[0])
			}
			if got := popKeys(t, h); !slices.Equal(got, want) {
				t.Fatalf("popped %v, want %v", got, want)
			}
		})
	}
}

func TestHeapPopIfDue(t *testing.T) {
	tests := []struct {
		name  string
		keys  []int64
		limit int64
		want  []int64
	}{
		{"none due", []int64{10, 20}, 9, nil},
		{"limit is inclusive", []int64{10, 20}, 10, []int64{10}},
		{"some due", []int64{30, 10, 20, 40}, 25, []int64{10, 20}},
		{"all due", []int64{3, 1, 2}, 3, []int64{1, 2, 3}},
		{"negative limit", []int64{-5, 0}, -1, []int64{-5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newItemHeap()
			pushAll(h, tt.keys...)
			var got []int64
			for {
				it, ok := h.PopIfDue(tt.limit)
				if !ok {
					break
				}
				if it.idx != -1 {
					t.Fatalf("popped element records index %d, want -1", it.idx)
				}
				got = append(got, it.key)
				checkHeap(t, h)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("popped %v, want %v", got, tt.want)
			}
			if h.Len() != len(tt.keys)-len(tt.want) {
				t.Fatalf("Len = %d, want %d", h.Len(), len(tt.keys)-len(tt.want))
			}
		})
	}
}

func TestHeapRemove(t *testing.T) {
	keys := []int64{50, 10, 40, 20, 30, 60, 70, 5, 45, 15}
	tests := []struct {
		name   string
		remove func(items []*item) *item // picks the element to remove
	}{
		{"root", func(items []*item) *item { return items[7] }},
		{"last position", func(items []*item) *item {
			for _, it := range items {
				if it.idx == len(items)-1 {
					return it
				}
			}
			return nil
		}},
		{"middle that must sift down", func(items []*item) *item { return items[1] }},
		{"a leaf", func(items []*item) *item { return items[8] }},
		{"largest", func(items []*item) *item { return items[6] }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newItemHeap()
			items := pushAll(h, keys...)
			victim := tt.remove(items)
			if got := h.Remove(victim.idx); got != victim {
				t.Fatalf("Remove returned %d, want %d", got.id, victim.id)
			}
			if victim.idx != -1 {
				t.Fatalf("removed element records index %d, want -1", victim.idx)
			}
			checkHeap(t, h)
			var want []int64
			for _, it := range items {
				if it != victim {
					want = append(want, it.key)
				}
			}
			slices.Sort(want)
			if got := popKeys(t, h); !slices.Equal(got, want) {
				t.Fatalf("popped %v, want %v", got, want)
			}
		})
	}
}

// TestHeapRemoveSiftsUp covers Remove moving the last element into a slot
// whose parent is larger, which only up() can fix.
func TestHeapRemoveSiftsUp(t *testing.T) {
	h := newItemHeap()
	// layout: [0] 1; [1] 10, [2] 2; [3] 11, [4] 12, [5] 3, [6] 4
	items := pushAll(h, 1, 10, 2, 11, 12, 3, 4)
	checkHeap(t, h)
	victim := items[3] // key 11, at position 3 under 10
	if victim.idx != 3 {
		t.Fatalf("setup: key 11 at %d, want 3", victim.idx)
	}
	h.Remove(victim.idx) // last element (4) moves to position 3 under 10
	checkHeap(t, h)
	if got := popKeys(t, h); !slices.Equal(got, []int64{1, 2, 3, 4, 10, 12}) {
		t.Fatalf("popped %v, want [1 2 3 4 10 12]", got)
	}
}

func TestHeapClear(t *testing.T) {
	h := newItemHeap()
	items := pushAll(h, 3, 1, 2)
	var visited []*item
	h.Clear(func(it *item) { visited = append(visited, it) })
	if h.Len() != 0 {
		t.Fatalf("Len = %d after Clear, want 0", h.Len())
	}
	byID := func(a, b *item) int { return cmp.Compare(a.id, b.id) }
	slices.SortFunc(visited, byID)
	if !slices.Equal(visited, items) {
		t.Fatalf("Clear visited %d elements, want all %d", len(visited), len(items))
	}
	for _, it := range items {
		if it.idx != -1 {
			t.Fatalf("element %d records index %d after Clear, want -1", it.id, it.idx)
		}
	}
	for i, hi := range h.items[:cap(h.items)] {
		if hi.v != nil {
			t.Fatalf("backing slot %d still referenced after Clear", i)
		}
	}
	h.Clear(nil) // empty, nil fn
	pushAll(h, 9)
	if _, k, ok := h.Peek(); !ok || k != 9 {
		t.Fatalf("Peek after reuse = %d, %v; want 9, true", k, ok)
	}
}

func TestHeapRemoveDropsReference(t *testing.T) {
	h := newItemHeap()
	pushAll(h, 1, 2, 3)
	h.Pop()
	h.Pop()
	h.Pop()
	for i, hi := range h.items[:cap(h.items)] {
		if hi.v != nil {
			t.Fatalf("backing slot %d still referenced after pops", i)
		}
	}
}
