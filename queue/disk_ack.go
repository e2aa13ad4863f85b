package queue

// ackSet is the acknowledgement ledger: a floor below which everything is
// acknowledged plus the acknowledged ranges above it. Consumers acknowledge
// roughly in delivery order, so the floor absorbs almost every Ack and the
// ranges stay few; the ledger's size is proportional to how out of order the
// acknowledgements are, not to how many there were.
type ackSet struct {
	floor  uint64     // every seq < floor is acknowledged
	ranges []seqRange // acknowledged seqs above floor: sorted, disjoint, non-adjacent, lo > floor
	count  uint64     // number of seqs in ranges
}

// has reports whether seq is acknowledged.
func (a *ackSet) has(seq uint64) bool {
	if seq < a.floor {
		return true
	}
	i := a.search(seq)
	return i < len(a.ranges) && a.ranges[i].lo <= seq
}

// search returns the index of the first range with hi > seq.
func (a *ackSet) search(seq uint64) int {
	lo, hi := 0, len(a.ranges)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if a.ranges[m].hi <= seq {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// add acknowledges [lo, hi) and returns how many of those seqs were not
// acknowledged before. In-order acknowledgements only move the floor and do
// not allocate.
func (a *ackSet) add(lo, hi uint64) uint64 {
	lo = max(lo, a.floor)
	if lo >= hi {
		return 0
	}
	if lo == a.floor && (len(a.ranges) == 0 || hi < a.ranges[0].lo) {
		a.floor = hi // the common case
		return hi - lo
	}
	// Merge every range that overlaps or touches [lo, hi) into one.
	i := 0
	if lo > 0 {
		i = a.search(lo - 1) // first range with hi >= lo
	}
	j := i
	merged := seqRange{lo, hi}
	var covered uint64
	for j < len(a.ranges) && a.ranges[j].lo <= hi {
		r := a.ranges[j]
		merged.lo, merged.hi = min(merged.lo, r.lo), max(merged.hi, r.hi)
		covered += r.hi - r.lo
		j++
	}
	added := merged.hi - merged.lo - covered
	switch {
	case i == j: // insert
		a.ranges = append(a.ranges, seqRange{})
		copy(a.ranges[i+1:], a.ranges[i:])
		a.ranges[i] = merged
	default: // replace ranges[i:j] by merged
		a.ranges[i] = merged
		a.ranges = append(a.ranges[:i+1], a.ranges[j:]...)
	}
	a.count += added
	if a.ranges[0].lo == a.floor { // the floor caught up with the first range
		first := a.ranges[0]
		a.floor = first.hi
		a.count -= first.hi - first.lo
		a.ranges = append(a.ranges[:0], a.ranges[1:]...)
	}
	return added
}

// reset acknowledges everything below floor and forgets the ranges.
func (a *ackSet) reset(floor uint64) {
	a.floor = floor
	a.ranges = a.ranges[:0]
	a.count = 0
}
