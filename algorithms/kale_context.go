package algorithms

import "math"

// kaleContext is Kale's context detector, the idea of CAD OSE (Smirnov's contextual anomaly
// detector, open-source edition, NAB's winner-class entry) in our own form: the value is
// quantised into a symbol, and the row scores how many of its contexts are new.
//
// Quantisation. With lo and hi the smallest and largest values seen so far (the current row
// excluded), the grid step is the power of two
//
//	step = 2^ceil(log2((hi − lo) / levels))
//
// and the symbol of x is floor(x/step + offset). A power-of-two grid anchored at 0 does not
// move when the range grows a little; it changes only when the range outgrows it (at most
// once per doubling), and then the memory is cleared: the detector re-baselines on the new
// scale. Values outside the range seen so far get symbols never seen, which is itself news.
//
// Contexts. For k = 0..order the k-th context of row t is the (k+1)-gram of symbols
// s(t−k)..s(t). The raw score is the fraction of the order+1 contexts never seen before:
//
//	context(t) = #{k ≤ min(order, t) : gram_k(t) unseen} / (order + 1)
//
// Seen grams are kept in a fixed-size bitset indexed by a 64-bit hash of the gram (a Bloom
// filter with one hash function): memory is bounded, and a collision can only hide a
// novelty, never invent one. Memory never forgets, as in CAD OSE, so a pattern is news once.
type kaleContext struct {
	order  int
	levels int
	offset float64
	seen   []uint64 // bitset of seen grams
	syms   []int32  // the last order symbols, syms[0] the newest
	nsyms  int
	lo, hi float64
	n      int // rows seen
	step   float64
}

func newKaleContext(order, levels, tableBits int, offset float64) kaleContext {
	words := max(1, (1<<tableBits)/64)
	return kaleContext{order: order, levels: levels, offset: offset, seen: make([]uint64, words), syms: make([]int32, order)}
}

func (c *kaleContext) symbol(x float64) int32 {
	if c.step == 0 {
		return 0
	}
	return int32(max(min(math.Floor(x/c.step+c.offset), 1<<30), -(1 << 30)))
}

// kaleMix is one round of a 64-bit hash combiner (splitmix64's finaliser).
func kaleMix(h, v uint64) uint64 {
	h ^= v + 0x9e3779b97f4a7c15 + (h << 6) + (h >> 2)
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 31
	return h
}

// update scores x (see the type's doc) and then learns it.
func (c *kaleContext) update(x float64) float64 {
	s := c.symbol(x)
	bits := uint64(len(c.seen) * 64)
	h := kaleMix(0, uint64(uint32(s)))
	// A symbol outside the symbols of the range seen so far is new for certain, and so is
	// every gram that holds it: the bitset is not asked, so a collision cannot hide it.
	outside := c.n > 0 && (s < c.symbol(c.lo) || s > c.symbol(c.hi))
	fresh := 0
	for k := 0; k <= c.order && k <= c.nsyms; k++ {
		if k > 0 {
			h = kaleMix(h, uint64(uint32(c.syms[k-1]))|uint64(k)<<40)
		}
		i := h % bits
		if outside || c.seen[i/64]&(1<<(i%64)) == 0 {
			fresh++
			c.seen[i/64] |= 1 << (i % 64)
		}
	}
	if c.order > 0 {
		copy(c.syms[1:], c.syms[:c.order-1])
		c.syms[0] = s
		c.nsyms = min(c.nsyms+1, c.order)
	}
	c.n++
	if c.n == 1 {
		c.lo, c.hi = x, x
	} else {
		c.lo, c.hi = min(c.lo, x), max(c.hi, x)
	}
	if c.hi > c.lo {
		step := math.Exp2(math.Ceil(math.Log2((c.hi - c.lo) / float64(c.levels))))
		if step != c.step {
			c.step = step
			clear(c.seen)
		}
	}
	return float64(fresh) / float64(c.order+1)
}
