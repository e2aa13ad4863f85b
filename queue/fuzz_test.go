package queue

import (
	"slices"
	"testing"
)

// FuzzRing drives a Ring with a byte-coded op sequence and checks it against
// a plain slice.
func FuzzRing(f *testing.F) {
	f.Add([]byte{0, 0, 0, 4, 4, 6, 4, 4})
	f.Add(slices.Repeat([]byte{0x18, 4}, 40))              // bursts then pops, wrapping
	f.Add(append(slices.Repeat([]byte{0xf8}, 5), 7, 0, 6)) // grow, clear, reuse
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 4096 {
			ops = ops[:4096] // bounds the ring at 64K elements and the run time
		}
		var r Ring[int]
		var model []int
		next := 1 // 0 marks a free slot
		for i, op := range ops {
			arg := int(op >> 3) // 0..31
			switch op & 7 {
			case 0, 1, 2, 3: // push 1..32 values
				for range arg + 1 {
					r.Push(next)
					model = append(model, next)
					next++
				}
			case 4, 5: // pop 1..32 values
				for range arg + 1 {
					v, ok := r.Pop()
					if len(model) == 0 {
						if ok || v != 0 {
							t.Fatalf("Pop on empty = %d, %v; want 0, false", v, ok)
						}
						break
					}
					if !ok || v != model[0] {
						t.Fatalf("Pop = %d, %v; want %d, true", v, ok, model[0])
					}
					model = model[1:]
				}
			case 6:
				v, ok := r.Peek()
				if len(model) == 0 && (ok || v != 0) || len(model) > 0 && (!ok || v != model[0]) {
					t.Fatalf("Peek = %d, %v; model %v", v, ok, model)
				}
			case 7:
				if arg == 0 {
					var got []int
					r.Clear(func(v int) { got = append(got, v) })
					if !slices.Equal(got, model) {
						t.Fatalf("Clear visited %v, want %v", got, model)
					}
					model = model[:0]
				} else {
					r.Clear(nil)
					model = model[:0]
				}
			}
			if r.Len() != len(model) {
				t.Fatalf("Len = %d, want %d", r.Len(), len(model))
			}
			// the full slot scan is O(capacity): every op while small, then sampled
			if len(r.buf) <= 256 || i%64 == 0 {
				checkRing(t, &r, model)
			}
		}
		checkRing(t, &r, model)
		if got := drain(&r); !slices.Equal(got, model) {
			t.Fatalf("drained %v, want %v", got, model)
		}
	})
}

// checkRing checks Len, the buffer shape, that the live window holds the
// model in order, and that every other slot is zeroed (no stale references).
func checkRing(t *testing.T, r *Ring[int], model []int) {
	t.Helper()
	if r.Len() != len(model) {
		t.Fatalf("Len = %d, want %d", r.Len(), len(model))
	}
	size := len(r.buf)
	if size&(size-1) != 0 || r.n > size || (size > 0 && (r.head < 0 || r.head >= size)) {
		t.Fatalf("bad shape: buf %d, head %d, n %d", size, r.head, r.n)
	}
	live := make([]bool, size)
	for i, want := range model {
		j := (r.head + i) & (size - 1)
		live[j] = true
		if r.buf[j] != want {
			t.Fatalf("slot %d (element %d) = %d, want %d", j, i, r.buf[j], want)
		}
	}
	for j, v := range r.buf {
		if !live[j] && v != 0 {
			t.Fatalf("free slot %d holds %d, want zero", j, v)
		}
	}
}

// FuzzHeap drives a Heap with a byte-coded op sequence (push, pop, PopIfDue,
// Peek, Remove by element index and by raw position, Clear) and checks it
// against a slice kept sorted by key.
func FuzzHeap(f *testing.F) {
	f.Add([]byte{0, 5, 0, 3, 0, 9, 2, 2, 2})
	f.Add([]byte{0, 1, 0, 1, 0, 1, 0, 0, 3, 1, 3, 0, 2})
	f.Add([]byte{0, 50, 0, 10, 0, 40, 0, 20, 0, 30, 0, 60, 0, 70, 0, 5, 4, 3, 5, 7, 4, 25, 6, 0, 1})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 4096 {
			ops = ops[:4096] // each op is O(n) against the model
		}
		h := newItemHeap()
		var model []*item // sorted by key, stable
		ids := 0
		pos := 0
		arg := func() byte {
			if pos >= len(ops) {
				return 0
			}
			pos++
			return ops[pos-1]
		}
		drop := func(it *item) {
			i := slices.Index(model, it)
			if i < 0 {
				t.Fatalf("heap returned element %d (key %d) that is not in it", it.id, it.key)
			}
			model = slices.Delete(model, i, i+1)
			if it.idx != -1 {
				t.Fatalf("element %d left the heap but records index %d, want -1", it.id, it.idx)
			}
		}
		for pos < len(ops) {
			op := arg()
			switch op % 7 {
			case 0, 1: // push, small signed keys so that ties are common
				it := &item{key: int64(int8(arg())) / 4, id: ids}
				ids++
				h.Push(it, it.key)
				i, _ := slices.BinarySearchFunc(model, it.key+1, func(m *item, k int64) int {
					return int(min(max(m.key-k, -1), 1))
				})
				model = slices.Insert(model, i, it)
			case 2: // pop
				it, ok := h.Pop()
				if len(model) == 0 {
					if ok || it != nil {
						t.Fatalf("Pop on empty = %v, %v; want nil, false", it, ok)
					}
					break
				}
				if !ok || it.key != model[0].key {
					t.Fatalf("Pop = key %v, %v; want key %d", it, ok, model[0].key)
				}
				drop(it)
			case 3: // Remove an element by the index it recorded
				if len(model) == 0 {
					break
				}
				victim := model[int(arg())%len(model)]
				if got := h.Remove(victim.idx); got != victim {
					t.Fatalf("Remove(%d) = element %d, want %d", victim.idx, got.id, victim.id)
				}
				drop(victim)
			case 4: // PopIfDue
				limit := int64(int8(arg())) / 4
				it, ok := h.PopIfDue(limit)
				due := len(model) > 0 && model[0].key <= limit
				if ok != due {
					t.Fatalf("PopIfDue(%d) ok = %v, want %v", limit, ok, due)
				}
				if ok {
					if it.key != model[0].key {
						t.Fatalf("PopIfDue(%d) key %d, want %d", limit, it.key, model[0].key)
					}
					drop(it)
				}
			case 5: // Remove by raw position
				if len(model) == 0 {
					break
				}
				i := int(arg()) % h.Len()
				want := h.items[i].v
				if got := h.Remove(i); got != want {
					t.Fatalf("Remove(%d) = element %d, want %d", i, got.id, want.id)
				}
				drop(want)
			case 6:
				if op>>3 == 0 { // Clear, rarely
					n := 0
					h.Clear(func(it *item) {
						n++
						if it.idx != -1 {
							t.Fatalf("Clear: element %d records index %d, want -1", it.id, it.idx)
						}
					})
					if n != len(model) {
						t.Fatalf("Clear visited %d, want %d", n, len(model))
					}
					model = model[:0]
					break
				}
				v, k, ok := h.Peek()
				if len(model) == 0 {
					if ok || v != nil {
						t.Fatalf("Peek on empty = %v, %d, %v", v, k, ok)
					}
					break
				}
				if !ok || k != model[0].key || v.key != k || v.idx != 0 {
					t.Fatalf("Peek = key %d (element key %d, idx %d), %v; want key %d at 0", k, v.key, v.idx, ok, model[0].key)
				}
			}
			if h.Len() != len(model) {
				t.Fatalf("Len = %d, want %d", h.Len(), len(model))
			}
			checkHeap(t, h)
		}
		for len(model) > 0 {
			it, ok := h.Pop()
			if !ok || it.key != model[0].key {
				t.Fatalf("final Pop = %v, %v; want key %d", it, ok, model[0].key)
			}
			drop(it)
		}
		if _, ok := h.Pop(); ok {
			t.Fatal("heap not empty after model drained")
		}
	})
}
