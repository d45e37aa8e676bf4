package modbus

// Range is an inclusive range of data-table addresses (0-based protocol
// addresses, as on the wire).
type Range struct {
	Start uint16 `json:"start"`
	End   uint16 `json:"end"`
}

// maxRangesPerTable bounds the interval list of one table in one flow; past
// it the two closest neighbours are merged, so the set over-approximates.
const maxRangesPerTable = 32

// rangeSet is a sorted list of disjoint, non-adjacent intervals. Adding a
// range that is already covered does not allocate.
type rangeSet struct {
	r []rng // End exclusive, as uint32 so 65535 fits
}

type rng struct{ start, end uint32 }

// add merges [start, start+qty) into the set.
func (s *rangeSet) add(start, qty uint16) {
	if qty == 0 {
		return
	}
	a, b := uint32(start), uint32(start)+uint32(qty)
	if b > 65536 {
		b = 65536
	}
	// fast path: already covered
	// the first interval ending at or after a (sort.Search by hand: its
	// closure call cost 3% of a replay)
	i, hi := 0, len(s.r)
	for i < hi {
		if m := int(uint(i+hi) >> 1); s.r[m].end >= a {
			hi = m
		} else {
			i = m + 1
		}
	}
	if i < len(s.r) && s.r[i].start <= a && s.r[i].end >= b {
		return
	}
	// merge every interval that overlaps or touches [a, b)
	j := i
	for j < len(s.r) && s.r[j].start <= b {
		if s.r[j].start < a {
			a = s.r[j].start
		}
		if s.r[j].end > b {
			b = s.r[j].end
		}
		j++
	}
	if j > i {
		s.r[i] = rng{a, b}
		s.r = append(s.r[:i+1], s.r[j:]...)
	} else {
		s.r = append(s.r, rng{})
		copy(s.r[i+1:], s.r[i:])
		s.r[i] = rng{a, b}
	}
	if len(s.r) > maxRangesPerTable {
		// merge the pair with the smallest gap
		best, gap := 0, uint32(1<<31)
		for k := 0; k+1 < len(s.r); k++ {
			if g := s.r[k+1].start - s.r[k].end; g < gap {
				best, gap = k, g
			}
		}
		s.r[best].end = s.r[best+1].end
		s.r = append(s.r[:best+1], s.r[best+2:]...)
	}
}

// ranges returns a copy of the set as inclusive ranges, nil when empty.
func (s *rangeSet) ranges() []Range {
	if len(s.r) == 0 {
		return nil
	}
	out := make([]Range, len(s.r))
	for i, x := range s.r {
		out[i] = Range{Start: uint16(x.start), End: uint16(x.end - 1)}
	}
	return out
}
