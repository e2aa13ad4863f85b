package core

import (
	"sync/atomic"
	"time"
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

func (g *guidGenerator) next() uint64 {
	tick := uint64(time.Now().UnixNano()>>20) - guidEpoch
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

const hexDigits = "0123456789abcdef"

func (id *MessageID) setUint64(v uint64) {
	for i := len(id) - 1; i >= 0; i-- {
		id[i] = hexDigits[v&0xf]
		v >>= 4
	}
}
