package queue

import (
	"slices"
	"testing"
)

// drain pops everything and returns it in order.
func drain[T any](r *Ring[T]) []T {
	var out []T
	for {
		v, ok := r.Pop()
		if !ok {
			return out
		}
		out = append(out, v)
	}
}

func TestRingZeroValue(t *testing.T) {
	var r Ring[int]
	if r.Len() != 0 {
		t.Fatalf("Len = %d, want 0", r.Len())
	}
	if v, ok := r.Pop(); ok || v != 0 {
		t.Fatalf("Pop = %d, %v; want 0, false", v, ok)
	}
	if v, ok := r.Peek(); ok || v != 0 {
		t.Fatalf("Peek = %d, %v; want 0, false", v, ok)
	}
	r.Clear(func(int) { t.Fatal("Clear called fn on an empty ring") })
}

func TestRingFIFO(t *testing.T) {
	tests := []struct {
		name string
		n    int
	}{
		{"one", 1},
		{"below first size", 15},
		{"exactly first size", 16},
		{"first growth", 17},
		{"several growths", 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Ring[int]
			var want []int
			for i := range tt.n {
				r.Push(i)
				want = append(want, i)
				if r.Len() != i+1 {
					t.Fatalf("Len = %d after %d pushes, want %d", r.Len(), i+1, i+1)
				}
			}
			if v, ok := r.Peek(); !ok || v != 0 {
				t.Fatalf("Peek = %d, %v; want 0, true", v, ok)
			}
			if got := drain(&r); !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
			if r.Len() != 0 {
				t.Fatalf("Len = %d after drain, want 0", r.Len())
			}
		})
	}
}

// TestRingGrowWrapped grows the ring while its contents wrap around the end
// of the buffer, the case where grow must unroll the two halves in order.
func TestRingGrowWrapped(t *testing.T) {
	tests := []struct {
		name      string
		pre, pops int // pushes then pops before the wrapped fill
	}{
		{"head at 1", 1, 1},
		{"head in the middle", 10, 8},
		{"head at last slot", 16, 15},
		{"emptied after a full lap", 16, 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Ring[int]
			var model []int
			next := 0
			push := func() {
				r.Push(next)
				model = append(model, next)
				next++
			}
			for range tt.pre {
				push()
			}
			for range tt.pops {
				if v, _ := r.Pop(); v != model[0] {
					t.Fatalf("Pop = %d, want %d", v, model[0])
				}
				model = model[1:]
			}
			for len(model) < 40 { // through two growths
				push()
			}
			if got := drain(&r); !slices.Equal(got, model) {
				t.Fatalf("got %v, want %v", got, model)
			}
		})
	}
}

func TestRingSteadyStateKeepsBuffer(t *testing.T) {
	var r Ring[int]
	for i := range 100 {
		r.Push(i)
	}
	drain(&r)
	capBefore := len(r.buf)
	for i := range 10000 {
		r.Push(i)
		r.Push(i)
		r.Pop()
		r.Pop()
	}
	if len(r.buf) != capBefore {
		t.Fatalf("buffer of %d after steady state, want %d (no growth, no shrink)", len(r.buf), capBefore)
	}
	if len(r.buf)&(len(r.buf)-1) != 0 {
		t.Fatalf("buffer size %d is not a power of two", len(r.buf))
	}
}

func TestRingPopDropsReference(t *testing.T) {
	var r Ring[*int]
	x := new(int)
	r.Push(x)
	r.Pop()
	for i, p := range r.buf {
		if p != nil {
			t.Fatalf("buf[%d] still holds a popped pointer", i)
		}
	}
}

func TestRingClear(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		withF bool
	}{
		{"empty with fn", 0, true},
		{"some with fn", 5, true},
		{"wrapped with fn", 20, true},
		{"nil fn", 7, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Ring[*int]
			var want []*int
			for i := range tt.n + 3 {
				p := new(int)
				*p = i
				r.Push(p)
				want = append(want, p)
			}
			for range 3 { // move head off 0
				r.Pop()
			}
			want = want[3:]
			var got []*int
			var fn func(*int)
			if tt.withF {
				fn = func(p *int) { got = append(got, p) }
			}
			r.Clear(fn)
			if tt.withF && !slices.Equal(got, want) {
				t.Fatalf("Clear visited %v, want %v in FIFO order", got, want)
			}
			if r.Len() != 0 || r.head != 0 {
				t.Fatalf("Len = %d, head = %d after Clear; want 0, 0", r.Len(), r.head)
			}
			for i, p := range r.buf {
				if p != nil {
					t.Fatalf("buf[%d] still referenced after Clear", i)
				}
			}
			r.Push(nil)
			if r.Len() != 1 {
				t.Fatalf("Len = %d after Push following Clear, want 1", r.Len())
			}
		})
	}
}
