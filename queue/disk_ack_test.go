package queue

import (
	"errors"
	"slices"
	"testing"
)

func TestDiskAckSet(t *testing.T) {
	type r = seqRange
	tests := []struct {
		name       string
		adds       []r
		wantFloor  uint64
		wantRanges []r
		wantAdded  uint64 // by the last add
	}{
		{"in order", []r{{0, 1}, {1, 2}, {2, 3}}, 3, nil, 1},
		{"gap", []r{{0, 1}, {2, 3}}, 1, []r{{2, 3}}, 1},
		{"gap filled", []r{{0, 1}, {2, 3}, {1, 2}}, 3, nil, 1},
		{"extend up", []r{{5, 6}, {6, 7}}, 0, []r{{5, 7}}, 1},
		{"extend down", []r{{6, 7}, {5, 6}}, 0, []r{{5, 7}}, 1},
		{"insert between", []r{{2, 3}, {8, 9}, {5, 6}}, 0, []r{{2, 3}, {5, 6}, {8, 9}}, 1},
		{"bridge", []r{{2, 3}, {4, 5}, {3, 4}}, 0, []r{{2, 5}}, 1},
		{"duplicate", []r{{2, 3}, {2, 3}}, 0, []r{{2, 3}}, 0},
		{"below floor", []r{{0, 5}, {3, 4}}, 5, nil, 0},
		{"range over ranges", []r{{2, 3}, {5, 6}, {9, 10}, {1, 8}}, 0, []r{{1, 8}, {9, 10}}, 5},
		{"floor swallows ranges", []r{{2, 4}, {5, 6}, {0, 2}, {4, 5}}, 6, nil, 1},
		{"lost range from zero", []r{{3, 4}, {0, 10}}, 10, nil, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a ackSet
			var added uint64
			for _, x := range tt.adds {
				added = a.add(x.lo, x.hi)
			}
			if a.floor != tt.wantFloor || !slices.Equal(a.ranges, tt.wantRanges) || added != tt.wantAdded {
				t.Fatalf("got floor %d ranges %v added %d, want %d %v %d",
					a.floor, a.ranges, added, tt.wantFloor, tt.wantRanges, tt.wantAdded)
			}
			var count uint64
			for _, x := range a.ranges {
				count += x.hi - x.lo
			}
			if a.count != count {
				t.Fatalf("count %d, want %d", a.count, count)
			}
			for s := uint64(0); s < 12; s++ {
				in := s < a.floor
				for _, x := range a.ranges {
					in = in || x.lo <= s && s < x.hi
				}
				if a.has(s) != in {
					t.Fatalf("has(%d) = %v", s, !in)
				}
			}
		})
	}
}

func TestDiskMetaRoundTrip(t *testing.T) {
	m := &meta{nextSeq: 1000, floor: 10, firstSeg: 3, nextNum: 9, floorSeg: 4, floorPos: 4096,
		endSeg: 8, endPos: 77, acks: []seqRange{{12, 15}, {100, 101}, {500, 999}}}
	b := appendMeta(nil, m)
	got, err := parseMeta(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.nextSeq != m.nextSeq || got.floor != m.floor || got.firstSeg != m.firstSeg || got.nextNum != m.nextNum ||
		got.floorSeg != m.floorSeg || got.floorPos != m.floorPos || got.endSeg != m.endSeg ||
		got.endPos != m.endPos || !slices.Equal(got.acks, m.acks) {
		t.Fatalf("got %+v, want %+v", got, m)
	}
	// Every single-byte change and every truncation is detected.
	for i := range b {
		c := slices.Clone(b)
		c[i] ^= 0x40
		if _, err := parseMeta(c); !errors.Is(err, errMetaCorrupt) {
			t.Fatalf("byte %d flipped: %v", i, err)
		}
		if _, err := parseMeta(b[:i]); !errors.Is(err, errMetaCorrupt) {
			t.Fatalf("truncated to %d: %v", i, err)
		}
	}
}

func TestDiskRecordFormat(t *testing.T) {
	b := make([]byte, recordSize(5)+8)
	putRecord(b, 42, []byte("hello"))
	want := []byte{0x1e, 0x5a, 0xc3, 0xd7, 5, 0, 0, 0, 42, 0, 0, 0, 0, 0, 0, 0}
	if !slices.Equal(b[:16], want) {
		t.Fatalf("header % x, want % x", b[:16], want)
	}
	seq, p, next, ok := parseRecord(b, 0, int64(len(b)), 100)
	if !ok || seq != 42 || string(p) != "hello" || next != 32 {
		t.Fatalf("parseRecord: %d %q %d %v", seq, p, next, ok)
	}
	if _, _, _, ok := parseRecord(b, 0, int64(len(b)), 4); ok {
		t.Fatal("a record over maxPayload parsed")
	}
	if _, _, _, ok := parseRecord(b, 0, 24, 100); ok {
		t.Fatal("a record cut by the limit parsed")
	}
}
