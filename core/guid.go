package core

import (
	"sync/atomic"
)

// Message IDs follow upstream's layout so they look the same in logs and
// tools: 16 lower-case hex characters of
//
//	((now_ns >> 20) − epoch) << 22 | node_id << 12 | sequence
//
// Unlike upstream, generation never fails: when 4096 IDs are used up in one
// ~1 ms tick, or the clock steps back, the generator borrows the next tick,
// keeping IDs strictly increasing and unique per topic.
const (
	guidEpoch        = 1288834974288
	guidSequenceBits = 12
	guidNodeBits     = 10
	guidTimeShift    = guidSequenceBits + guidNodeBits
	guidSequenceMask = 1<<guidSequenceBits - 1
)

type guidGenerator struct {
	node uint64
	last atomic.Uint64 // last ID handed out
}

// next returns a fresh ID for a message published at now (UnixNano; the
// caller has it already, and reading the clock per message showed in
// profiles).
func (g *guidGenerator) next(now int64) uint64 {
	tick := uint64(now>>20) - guidEpoch
	for {
		last := g.last.Load()
		id := tick<<guidTimeShift | g.node<<guidSequenceBits
		if id <= last {
			if last&guidSequenceMask == guidSequenceMask {
				id = (last>>guidTimeShift+1)<<guidTimeShift | g.node<<guidSequenceBits
			} else {
				id = last + 1
			}
		}
		if g.last.CompareAndSwap(last, id) {
			return id
		}
	}
}

// maxBlock is the most IDs nextN hands out at once: one tick's sequence.
const maxBlock = guidSequenceMask + 1

// nextN returns the first of n (1..maxBlock) consecutive fresh IDs, all in
// one tick, so that first+i is the i-th: an MPUB batch then costs one
// compare-and-swap and needs no room to store its IDs. A block that does not
// fit in the rest of the last tick starts the next one.
func (g *guidGenerator) nextN(now int64, n int) uint64 {
	tick := uint64(now>>20) - guidEpoch
	for {
		last := g.last.Load()
		id := tick<<guidTimeShift | g.node<<guidSequenceBits
		if id <= last {
			if last&guidSequenceMask+uint64(n) > guidSequenceMask {
				id = (last>>guidTimeShift+1)<<guidTimeShift | g.node<<guidSequenceBits
			} else {
				id = last + 1
			}
		}
		if g.last.CompareAndSwap(last, id+uint64(n)-1) {
			return id
		}
	}
}

// hexPairs holds the two lower-case hex digits of every byte value.
const hexPairs = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" +
	"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f" +
	"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f" +
	"606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f" +
	"808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f" +
	"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf" +
	"c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf" +
	"e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"

func (id *MessageID) setUint64(v uint64) {
	for i := 7; i >= 0; i-- {
		b := v & 0xff
		id[2*i], id[2*i+1] = hexPairs[2*b], hexPairs[2*b+1]
		v >>= 8
	}
}
