package queue

// Ring is a FIFO queue on a power-of-two circular buffer that grows by
// doubling and never shrinks below its high-water mark, so a queue in steady
// state pushes and pops without allocating. The zero value is an empty ring.
type Ring[T any] struct {
	buf  []T
	head int // index of the first element
	n    int // number of elements
}

// Len returns the number of queued elements.
func (r *Ring[T]) Len() int { return r.n }

// Push appends v at the tail.
func (r *Ring[T]) Push(v T) {
	if r.n == len(r.buf) {
		r.grow()
	}
	r.buf[(r.head+r.n)&(len(r.buf)-1)] = v
	r.n++
}

// Pop removes and returns the head. ok is false when the ring is empty.
func (r *Ring[T]) Pop() (v T, ok bool) {
	if r.n == 0 {
		return v, false
	}
	var zero T
	v = r.buf[r.head]
	r.buf[r.head] = zero // drop the reference for the GC
	r.head = (r.head + 1) & (len(r.buf) - 1)
	r.n--
	return v, true
}

// Peek returns the head without removing it.
func (r *Ring[T]) Peek() (v T, ok bool) {
	if r.n == 0 {
		return v, false
	}
	return r.buf[r.head], true
}

// PeekLast returns the tail without removing it.
func (r *Ring[T]) PeekLast() (v T, ok bool) {
	if r.n == 0 {
		return v, false
	}
	return r.buf[(r.head+r.n-1)&(len(r.buf)-1)], true
}

// Clear removes every element, calling fn (if not nil) on each in FIFO order.
func (r *Ring[T]) Clear(fn func(T)) {
	for r.n > 0 {
		v, _ := r.Pop()
		if fn != nil {
			fn(v)
		}
	}
	r.head = 0
}

func (r *Ring[T]) grow() {
	size := len(r.buf) * 2
	if size == 0 {
		size = 16
	}
	buf := make([]T, size)
	// two bulk copies (the ring is full): one write-barrier pass each
	// instead of one per element, which dominated growing a large ring of
	// pointer-holding values while the GC was marking
	k := copy(buf, r.buf[r.head:])
	copy(buf[k:], r.buf[:r.head])
	r.buf = buf
	r.head = 0
}
