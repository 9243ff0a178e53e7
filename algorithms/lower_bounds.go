package algorithms

import "math"

// Lower bounds of the banded, squared DTW of dtw.go, used as in the UCR suite (Rakthanmanon
// et al. 2012) to skip or abandon most DTW computations of an exact nearest-neighbour search:
// LBKim (O(1)), then LBKeogh against the query's Envelope (O(n)), then DTWEA with the
// cumulative LB_Keogh bound (CumulativeBound). All values are squared, like DTW's.

// Envelope computes the upper and lower envelopes of x for a band of r cells,
//
//	upper_i = max(x_{i−r}, …, x_{i+r}),  lower_i = min(x_{i−r}, …, x_{i+r})
//
// (indexes clipped to the series), with Lemire's streaming min/max (2006): two monotone
// deques of indexes, O(len(x)) time whatever r. r <= 0 copies x; r >= len(x)−1 gives the
// global max and min everywhere. upper and lower are grown if their capacity is below
// len(x) and reused otherwise; they must not overlap x or each other. The deques live on
// the stack for series up to 512 points, so Envelope does not allocate when upper and lower
// are large enough.
func Envelope(x []float64, r int, upper, lower []float64) (u, l []float64) {
	n := len(x)
	u, l = growFloats(upper, n), growFloats(lower, n)
	if n == 0 {
		return u, l
	}
	r = min(max(r, 0), n-1)
	if r == 0 {
		copy(u, x)
		copy(l, x)
		return u, l
	}
	switch {
	case n <= 64:
		var buf [2 * 64]int
		envelopeLemire(x, r, u, l, buf[:n], buf[64:64+n])
	case n <= 512:
		var buf [2 * 512]int
		envelopeLemire(x, r, u, l, buf[:n], buf[512:512+n])
	default:
		buf := make([]int, 2*n)
		envelopeLemire(x, r, u, l, buf[:n], buf[n:])
	}
	return u, l
}

// envelopeLemire runs Lemire's algorithm with deques stored in plain slices of len(x)
// indexes each: every index is pushed once, so the back never passes the end.
func envelopeLemire(x []float64, r int, u, l []float64, dqU, dqL []int) {
	n := len(x)
	uh, ut, lh, lt := 0, 0, 0, 0 // deque = dq[h:t]
	for i := 0; i < n+r; i++ {
		if i < n {
			v := x[i]
			for ut > uh && x[dqU[ut-1]] <= v {
				ut--
			}
			dqU[ut] = i
			ut++
			for lt > lh && x[dqL[lt-1]] >= v {
				lt--
			}
			dqL[lt] = i
			lt++
		}
		p := i - r // the output whose window [p−r, p+r] is now complete
		if p < 0 {
			continue
		}
		for dqU[uh] < p-r {
			uh++
		}
		for dqL[lh] < p-r {
			lh++
		}
		u[p] = x[dqU[uh]]
		l[p] = x[dqL[lh]]
	}
}

// LBKim returns the UCR suite's LB_Kim lower bound of the squared DTW of a and b (its
// lb_kim_hierarchy: LB_Kim-FL, the first and last points, refined by two more "shells" at
// each end), valid for every band r:
//
//	LB = (a_0 − b_0)² + (a_{n−1} − b_{m−1})²
//	   + Σ_{k=1,2} min{ (a_i − b_j)² : max(i, j) = k }                 (front shells)
//	   + Σ_{k=1,2} min{ (a_i − b_j)² : max(n−1−i, m−1−j) = k }          (back shells)
//
// Every warping path crosses each shell, and the shells are disjoint, so LB <= DTW(a, b, r)
// for every r. Shells are added only while front and back stay disjoint (fewer for series
// shorter than 6 points). It abandons early: as soon as the partial sum exceeds bsf it is
// returned (still a lower bound, now > bsf). Empty input gives 0.
func LBKim(a, b []float64, bsf float64) float64 {
	n, m := len(a), len(b)
	if n == 0 || m == 0 {
		return 0
	}
	if n == 1 && m == 1 {
		d := a[0] - b[0]
		return float64(d * d)
	}
	d0, d1 := a[0]-b[0], a[n-1]-b[m-1]
	lb := float64(d0*d0) + float64(d1*d1)
	shells := min(3, max(n, m)/2)
	for k := 1; k < shells && !(lb > bsf); k++ {
		lb += kimShell(a, b, k, false)
		if lb > bsf {
			break
		}
		lb += kimShell(a, b, k, true)
	}
	return lb
}

// kimShell is min (a_i − b_j)² over the cells with max(i, j) == k, counted from the end of
// both series when back is set. The shell is never empty: k < max(len(a), len(b)).
func kimShell(a, b []float64, k int, back bool) float64 {
	n, m := len(a), len(b)
	baseA, baseB, step := 0, 0, 1
	if back {
		baseA, baseB, step = n-1, m-1, -1
	}
	best := math.Inf(1)
	if k < n { // row k: (k, 0..k)
		x := a[baseA+step*k]
		for j := range min(k+1, m) {
			d := x - b[baseB+step*j]
			if c := float64(d * d); c < best {
				best = c
			}
		}
	}
	if k < m { // column k: (0..k−1, k)
		y := b[baseB+step*k]
		for i := range min(k, n) {
			d := a[baseA+step*i] - y
			if c := float64(d * d); c < best {
				best = c
			}
		}
	}
	return best
}

// LBKeogh returns the squared LB_Keogh lower bound (Keogh & Ratanamahatana 2005) of
// candidate c against the envelope (uq, lq) = Envelope(q, r) of a query q:
//
//	LB = Σ_i (c_i − uq_i)² if c_i > uq_i,  (c_i − lq_i)² if c_i < lq_i,  0 otherwise
//
// which is <= DTW(q, c, r') and <= DTW(c, q, r') for every r' <= r. It needs series of
// equal length (it runs over the shortest of c, uq and lq). It abandons early: once the
// partial sum exceeds bsf it is returned (a value > bsf).
//
// If cb is non-nil (len(cb) >= len(c)), cb[i] receives point i's contribution; after an
// early abandon the remaining entries are zeroed, so cb is always a valid (if weak) bound.
// CumulativeBound turns it into the suffix sums DTWEA expects.
func LBKeogh(c, uq, lq []float64, bsf float64, cb []float64) float64 {
	n := min(len(c), len(uq), len(lq))
	c, uq, lq = c[:n], uq[:n], lq[:n]
	fill := cb != nil && len(cb) >= n
	s := 0.0
	for i, v := range c {
		d := 0.0
		if v > uq[i] {
			d = v - uq[i]
		} else if v < lq[i] {
			d = v - lq[i]
		}
		d2 := float64(d * d)
		s += d2
		if fill {
			cb[i] = d2
		}
		if s > bsf {
			if fill {
				clear(cb[i+1 : n])
			}
			return s
		}
	}
	return s
}

// CumulativeBound turns per-point LB_Keogh contributions (as LBKeogh writes them) into the
// suffix sums cb[k] = Σ_{i >= k} cb[i] that DTWEA uses, in place, and returns cb.
func CumulativeBound(cb []float64) []float64 {
	for k := len(cb) - 2; k >= 0; k-- {
		cb[k] += cb[k+1]
	}
	return cb
}

// LBImprovedSecond is the second pass of Lemire's LB_Improved (2009) for a query q with
// envelope (uq, lq) = Envelope(q, r) and a candidate c of the same length: with H = c
// projected onto [lq, uq] (H_i = min(max(c_i, lq_i), uq_i)), it returns
//
//	LBKeogh(q, Envelope(H, r)) = Σ_i dist(q_i, [min H_{i−r..i+r}, max H_{i−r..i+r}])²
//
// computing H and its envelope on the fly (Lemire's streaming deques), so that it abandons
// as soon as the partial sum exceeds bsf without building the rest of the envelope, and
// returns that partial sum (> bsf). The result is bit for bit LBKeogh(q, Envelope(H, r))
// otherwise. h (len >= len(q)) receives H; cb, if non-nil (len >= len(q)), receives each
// point's term, zeroed after an abandon, as LBKeogh writes it.
//
// LBKeogh(c, uq, lq) + LBImprovedSecond(...) is LB_Improved, a lower bound of DTW(q, c, r)
// (squared). Mismatched lengths (c other than len(q), or uq, lq, h shorter) give 0: no bound.
func LBImprovedSecond(q, c, uq, lq []float64, r int, bsf float64, h, cb []float64) float64 {
	n := len(q)
	if n == 0 || len(c) != n || len(uq) < n || len(lq) < n || len(h) < n {
		return 0
	}
	if cb != nil && len(cb) < n {
		cb = nil
	}
	r = min(max(r, 0), n-1)
	switch {
	case n <= 512:
		var buf [2 * 512]int
		return lbImprovedStream(q, c, uq[:n], lq[:n], r, bsf, h[:n], cb, buf[:n], buf[512:512+n])
	default:
		buf := make([]int, 2*n)
		return lbImprovedStream(q, c, uq[:n], lq[:n], r, bsf, h[:n], cb, buf[:n], buf[n:])
	}
}

// lbImprovedStream is envelopeLemire over H, fused with the projection and LBKeogh's sum.
func lbImprovedStream(q, c, uq, lq []float64, r int, bsf float64, h, cb []float64, dqU, dqL []int) float64 {
	n := len(q)
	uh, ut, lh, lt := 0, 0, 0, 0 // deque = dq[h:t]
	s := 0.0
	for i := 0; i < n+r; i++ {
		if i < n {
			// The projection, without the builtin min and max (their NaN and
			// signed-zero handling costs more than the rest of the loop).
			v := c[i]
			if lo := lq[i]; v < lo {
				v = lo
			} else if up := uq[i]; v > up {
				v = up
			}
			h[i] = v
			for ut > uh && h[dqU[ut-1]] <= v {
				ut--
			}
			dqU[ut] = i
			ut++
			for lt > lh && h[dqL[lt-1]] >= v {
				lt--
			}
			dqL[lt] = i
			lt++
		}
		p := i - r // the output whose window [p−r, p+r] is now complete
		if p < 0 {
			continue
		}
		for dqU[uh] < p-r {
			uh++
		}
		for dqL[lh] < p-r {
			lh++
		}
		x := q[p]
		d := 0.0
		if up := h[dqU[uh]]; x > up {
			d = x - up
		} else if lo := h[dqL[lh]]; x < lo {
			d = x - lo
		}
		d2 := float64(d * d)
		s += d2
		if cb != nil {
			cb[p] = d2
		}
		if s > bsf {
			if cb != nil {
				clear(cb[p+1 : n])
			}
			return s
		}
	}
	return s
}
