package queue

// Heap is a binary min-heap ordered by an int64 key, with each element's
// position kept in the element itself (via the index callback) so it can be
// removed in O(log n). It replaces upstream's two hand-written priority
// queues (in-flight and deferred) with one generic type.
type Heap[T any] struct {
	items []heapItem[T]
	// SetIndex is called whenever an element moves; -1 means it left the heap.
	SetIndex func(v T, i int)
}

type heapItem[T any] struct {
	key int64
	v   T
}

// Len returns the number of elements.
func (h *Heap[T]) Len() int { return len(h.items) }

// Push adds v with the given key.
func (h *Heap[T]) Push(v T, key int64) {
	h.items = append(h.items, heapItem[T]{key, v})
	i := len(h.items) - 1
	h.SetIndex(v, i)
	h.up(i)
}

// Peek returns the element with the smallest key. ok is false when empty.
func (h *Heap[T]) Peek() (v T, key int64, ok bool) {
	if len(h.items) == 0 {
		return v, 0, false
	}
	return h.items[0].v, h.items[0].key, true
}

// Pop removes and returns the element with the smallest key.
func (h *Heap[T]) Pop() (v T, ok bool) {
	if len(h.items) == 0 {
		return v, false
	}
	return h.Remove(0), true
}

// PopIfDue removes and returns the smallest element if its key is ≤ limit.
func (h *Heap[T]) PopIfDue(limit int64) (v T, ok bool) {
	if len(h.items) == 0 || h.items[0].key > limit {
		return v, false
	}
	return h.Remove(0), true
}

// Remove deletes the element at index i (as last reported through SetIndex).
func (h *Heap[T]) Remove(i int) T {
	n := len(h.items) - 1
	v := h.items[i].v
	if i != n {
		h.swap(i, n)
	}
	var zero heapItem[T]
	h.items[n] = zero
	h.items = h.items[:n]
	if i != n {
		if !h.down(i) {
			h.up(i)
		}
	}
	h.SetIndex(v, -1)
	return v
}

// Clear removes every element, calling fn (if not nil) on each.
func (h *Heap[T]) Clear(fn func(T)) {
	items := h.items
	h.items = h.items[:0]
	for i := range items {
		v := items[i].v
		items[i] = heapItem[T]{}
		h.SetIndex(v, -1)
		if fn != nil {
			fn(v)
		}
	}
}

func (h *Heap[T]) swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.SetIndex(h.items[i].v, i)
	h.SetIndex(h.items[j].v, j)
}

func (h *Heap[T]) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h.items[p].key <= h.items[i].key {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h *Heap[T]) down(i int) bool {
	start := i
	n := len(h.items)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h.items[r].key < h.items[l].key {
			m = r
		}
		if h.items[i].key <= h.items[m].key {
			break
		}
		h.swap(i, m)
		i = m
	}
	return i > start
}
