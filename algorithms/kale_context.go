package algorithms

import "math"

// kaleContext is Kale's context detector, the idea of CAD OSE (Smirnov's contextual anomaly
// detector, open-source edition, NAB's winner-class entry) in our own form: the value is
// quantised into a symbol, and the row scores how many of its contexts are new.
//
// Quantisation. With lo and hi the smallest and largest values of the recent window (Kale's
// BlockRange: the last ContextRangeWindow rows or so, the current row excluded), the
// grid step is a power of two, and the symbol of x is floor(x/step + offset). After each row
// (with lo and hi now including it) the wanted step is
//
//	want = 2^ceil(log2((hi − lo) / levels))
//
// and the grid moves to it when the range has outgrown the grid (want > step) or shrunk well
// below it (want ≤ step / 2^shrink, the hysteresis); then the memory is cleared: the
// detector re-baselines on the new scale. A power-of-two grid anchored at 0 does not move
// when the range changes a little. The window lets an old extreme be forgotten: a spike
// weeks ago no longer makes today's grid too coarse to see a burst. Values outside the
// window's range get symbols beyond its symbols, which is itself news.
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
	seen   []uint64 // bitset of seen grams
	syms   []int32  // the last order symbols, syms[0] the newest
	offset float64
	step   float64
	order  int32
	levels int32
	nsyms  int32
	shrink int32 // the grid is refined when it is 2^shrink times too coarse
}

func newKaleContext(order, levels, tableBits, shrink int, offset float64) kaleContext {
	words := max(1, (1<<tableBits)/64)
	return kaleContext{order: int32(order), levels: int32(levels), offset: offset, shrink: int32(shrink),
		seen: make([]uint64, words), syms: make([]int32, order)}
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

// update scores x (see the type's doc) and then learns it. lo and hi are the window's range
// before x (have is false on the first row: no range yet), wlo and whi the range with this
// row (its own rows' range when x is a mean of several), which the grid is sized on. same
// says that [wlo, whi] is the range the grid was last sized on, so the grid check can be
// skipped (it would change nothing).
func (c *kaleContext) update(x, lo, hi, wlo, whi float64, have, same bool) float64 {
	s := c.symbol(x)
	bits := uint64(len(c.seen) * 64)
	h := kaleMix(0, uint64(uint32(s)))
	// A symbol outside the symbols of the range seen so far is new for certain, and so is
	// every gram that holds it: the bitset is not asked, so a collision cannot hide it.
	outside := have && (s < c.symbol(lo) || s > c.symbol(hi))
	fresh := 0
	for k := 0; k <= int(c.order) && k <= int(c.nsyms); k++ {
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
	if same {
		return float64(fresh) / float64(c.order+1)
	}
	if whi > wlo {
		want := math.Exp2(math.Ceil(math.Log2((whi - wlo) / float64(c.levels))))
		if c.step == 0 || want > c.step || c.shrink > 0 && want <= math.Ldexp(c.step, -int(c.shrink)) {
			c.step = want
			clear(c.seen)
		}
	}
	return float64(fresh) / float64(c.order+1)
}
