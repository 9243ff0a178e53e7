package algorithms

import (
	"slices"
)

// Ring buffers and order statistics shared by the kale detectors. Ring and BlockRange are
// exported for the research detectors of algorithms/research, which keep their windows in
// them too.

// Ring is a fixed-capacity ring of the most recent values; At(0) is the oldest kept. It
// never allocates after NewRing.
type Ring struct {
	buf  []float64
	head int // index of the next write
	n    int
}

// NewRing returns an empty ring that keeps the last capacity values (capacity >= 1).
func NewRing(capacity int) Ring { return Ring{buf: make([]float64, capacity)} }

// Push appends x, dropping the oldest value when the ring is full.
func (r *Ring) Push(x float64) {
	r.buf[r.head] = x
	r.head++
	if r.head == len(r.buf) {
		r.head = 0
	}
	if r.n < len(r.buf) {
		r.n++
	}
}

// Len is the number of values kept.
func (r *Ring) Len() int { return r.n }

// Cap is the capacity the ring was made with.
func (r *Ring) Cap() int { return len(r.buf) }

// At returns the i-th oldest value kept (0 <= i < Len).
func (r *Ring) At(i int) float64 {
	j := r.head - r.n + i
	if j < 0 {
		j += len(r.buf)
	}
	return r.buf[j]
}

// Back returns the value pushed k pushes ago (Back(0) is the newest).
func (r *Ring) Back(k int) float64 { return r.At(r.n - 1 - k) }

// Reset empties the ring.
func (r *Ring) Reset() { r.head, r.n = 0, 0 }

// Linear rotates the ring in place so that its oldest value is buf[0] and returns its
// values, oldest first (a view of the ring's memory, valid until the next Push or Reset).
func (r *Ring) Linear() []float64 {
	if start := (r.head - r.n + len(r.buf)) % len(r.buf); start != 0 {
		slices.Reverse(r.buf[:start])
		slices.Reverse(r.buf[start:])
		slices.Reverse(r.buf)
	}
	r.head = r.n % len(r.buf)
	return r.buf[:r.n]
}

// CopyLast copies the last m values (oldest first) into dst[:m] and returns it.
func (r *Ring) CopyLast(dst []float64, m int) []float64 {
	if m > r.n {
		m = r.n
	}
	dst = dst[:m]
	for i := range m {
		dst[i] = r.At(r.n - m + i)
	}
	return dst
}

// kaleRecentMax answers whether a value is beaten by one of the last w values pushed,
// keeping only the values that can still be the largest of a future window (a monotone
// deque: pushes increasing, values strictly decreasing). It is exact (the largest kept
// value is the largest of the last w) and usually holds a few entries instead of w.
type kaleRecentMax struct {
	w     int
	n     int        // pushes so far
	peaks []kalePeak // oldest first; rows increasing, values strictly decreasing
}

type kalePeak struct {
	row int // the push (1-based) that wrote v
	v   float64
}

// beaten reports whether one of the last w values pushed is >= x. x must not be NaN.
func (m *kaleRecentMax) beaten(x float64) bool {
	return len(m.peaks) > 0 && m.peaks[0].v >= x
}

// push adds x (not NaN) and forgets what fell out of the window or can no longer be a maximum.
func (m *kaleRecentMax) push(x float64) {
	m.n++
	p := m.peaks
	for len(p) > 0 && p[len(p)-1].v <= x {
		p = p[:len(p)-1]
	}
	p = append(p, kalePeak{m.n, x})
	if p[0].row <= m.n-m.w {
		p = p[:copy(p, p[1:])]
	}
	if cap(p) > 16 && len(p) < cap(p)/4 {
		p = append(make([]kalePeak, 0, 2*len(p)), p...) // give back a burst's memory
	}
	m.peaks = p
}

// BlockRange is the range (smallest and largest value) of a sliding window of rows, kept
// in blocks: the rows are cut into blocks of block rows, the last blocks complete blocks keep
// their minimum and maximum, and the block being filled keeps its own. The range covers the
// last blocks·block rows at least and (blocks+1)·block − 1 at most, in O(blocks) memory
// whatever the data (an exact sliding minimum can need a whole window of values). Kale's
// context grids and research.RelativeEntropy's bins are sized on it.
type BlockRange struct {
	block      int
	mins, maxs []float64 // complete blocks, a ring
	head, full int       // next block slot; complete blocks kept
	cur        int       // rows in the block being filled
	cmin, cmax float64
	fmin, fmax float64 // the range of the complete blocks (see summarise)
}

// NewBlockRange returns an empty range over blocks complete blocks of block rows each (both
// >= 1).
func NewBlockRange(block, blocks int) BlockRange {
	return BlockRange{block: block, mins: make([]float64, blocks), maxs: make([]float64, blocks)}
}

// Push adds the row x (not NaN).
func (r *BlockRange) Push(x float64) { r.PushSpan(x, x) }

// PushSpan adds one row that ranges over [lo, hi] (lo <= hi, neither NaN): a row that
// summarises several, such as their mean, whose range the window keeps.
func (r *BlockRange) PushSpan(lo, hi float64) {
	if r.cur == 0 {
		r.cmin, r.cmax = lo, hi
	} else {
		r.cmin, r.cmax = min(r.cmin, lo), max(r.cmax, hi)
	}
	r.cur++
	if r.cur == r.block {
		r.mins[r.head], r.maxs[r.head] = r.cmin, r.cmax
		r.head = (r.head + 1) % len(r.mins)
		r.full = min(r.full+1, len(r.mins))
		r.cur = 0
		r.summarise()
	}
}

// summarise recomputes the range of the complete blocks, once per completed block, so Get
// costs O(1) per row.
func (r *BlockRange) summarise() {
	if r.full > 0 {
		r.fmin, r.fmax = slices.Min(r.mins[:r.full]), slices.Max(r.maxs[:r.full])
	}
}

// Get returns the window's range; ok is false before the first Push.
func (r *BlockRange) Get() (lo, hi float64, ok bool) {
	switch {
	case r.full == 0:
		return r.cmin, r.cmax, r.cur > 0
	case r.cur == 0:
		return r.fmin, r.fmax, true
	}
	return min(r.fmin, r.cmin), max(r.fmax, r.cmax), true
}
