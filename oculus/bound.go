package oculus

import "github.com/kale-project/kale/algorithms"

// Lower bounds of phase 2 (squared, like the distances), cheapest first. Every bound below
// is ≤ the exact distance, so a series whose bound exceeds the k-th best distance cannot
// enter the top k; the property tests of bound_test.go check each one against the kernels.
//
// LB_PAA reads only a candidate's segment means (segWidth points each, contiguous in the
// snapshot), so the whole corpus is bounded in a few milliseconds and phase 2 can visit
// series in increasing bound order.
//
// Euclidean (Keogh et al. 2001): for a segment s of w_s points, by Cauchy-Schwarz
//
//	Σ_{i∈s} (q_i − c_i)² ≥ w_s · (mean_s(q) − mean_s(c))²
//
// DTW with band r (Keogh 2002, "Exact indexing of dynamic time warping"): with the query's
// envelope (U, L) = Envelope(q, r), LB_Keogh(c) = Σ_i dist(c_i, [L_i, U_i])² ≤ DTW(q, c, r).
// Widening each interval to the segment's [min L, max U] only lowers each term, and
// x ↦ dist(x, I)² is convex, so by Jensen
//
//	Σ_{i∈s} dist(c_i, [L̂_s, Û_s])² ≥ w_s · dist(mean_s(c), [L̂_s, Û_s])²        (LB_PAA, EQ side)
//
// The same holds with the roles swapped: LB_Keogh(q; Envelope(c, r)) ≤ DTW(q, c, r), and
// each series stores its segment envelope [min L_c, max U_c] for the default band envR ≥ r
// (a wider envelope is still valid), so without computing any envelope at query time
//
//	w_s · dist(mean_s(q), [L̂c_s, Ûc_s])²                                     (LB_PAA, EC side)
//	Σ_i dist(q_i, [L̂c_s(i), Ûc_s(i)])²                                       (LB_SegEC)
//
// are bounds too, the second at full resolution. The per-point terms of LB_Keogh and LB_SegEC
// are also valid for DTWEA's cumulative bound (UCR suite): the term of point k is paid by
// cells of row or column k, which lie beyond row i when k > i+r.

// paaBound is the query side of LB_PAA: per segment, its width, the interval the candidate's
// segment mean is compared with (a single point, the query's mean, for Euclidean), and the
// query's mean (EC side).
type paaBound struct {
	w      []float64
	lo, hi []float64
	mean   []float64
}

// newPAABound prepares the bound for a query q (the stored length) and, for DTW, its envelope
// (u, l); u == nil means Euclidean. Each interval is widened by mu, the most a stored
// segment mean may be off by rounding (paaSlack), so the bound holds for the rounded means.
func newPAABound(q, u, l []float64, mu float64) *paaBound {
	n := segmentsOf(len(q))
	b := &paaBound{w: make([]float64, n), lo: make([]float64, n), hi: make([]float64, n), mean: segmentMeans(nil, q)}
	for s := range n {
		from, to := s*segWidth, min((s+1)*segWidth, len(q))
		b.w[s] = float64(to - from)
		if u == nil {
			b.lo[s], b.hi[s] = b.mean[s]-mu, b.mean[s]+mu
			continue
		}
		hi, lo := u[from], l[from]
		for i := from + 1; i < to; i++ {
			hi = max(hi, u[i])
			lo = min(lo, l[i])
		}
		b.lo[s], b.hi[s] = lo-mu, hi+mu
	}
	return b
}

// lbPAA returns the EQ-side LB_PAA of a candidate's segment means,
// Σ_s w_s·dist(mean_s, [lo_s, hi_s])², abandoning once it exceeds bsf (checked every 8
// segments; the loop is branch-free otherwise).
func lbPAA(b *paaBound, means []float32, bsf float64) float64 {
	w, lo, hi := b.w[:len(means)], b.lo[:len(means)], b.hi[:len(means)]
	sum := 0.0
	for s := 0; s < len(means); s += 8 {
		for t := s; t < min(s+8, len(means)); t++ {
			m := float64(means[t])
			above, below := m-hi[t], lo[t]-m
			if above < 0 {
				above = 0
			}
			if below < 0 {
				below = 0
			}
			d := above + below // at most one is positive, since lo <= hi
			sum += w[t] * float64(d*d)
		}
		if sum > bsf {
			return sum
		}
	}
	return sum
}

// lbPAAEC returns the EC-side LB_PAA for a candidate's segment envelope (lows, then highs).
func lbPAAEC(b *paaBound, env []float32, bsf float64) float64 {
	x := b.mean
	n := len(x)
	w, lo, hi := b.w[:n], env[:n], env[n:2*n]
	sum := 0.0
	for s := 0; s < n; s += 8 {
		for t := s; t < min(s+8, n); t++ {
			m := x[t]
			above, below := m-float64(hi[t]), float64(lo[t])-m
			if above < 0 {
				above = 0
			}
			if below < 0 {
				below = 0
			}
			d := above + below // at most one is positive, since lo <= hi
			sum += w[t] * float64(d*d)
		}
		if sum > bsf {
			return sum
		}
	}
	return sum
}

// lbSegEC returns LB_SegEC of the query q against a candidate's segment envelope, writing
// each point's term into cb (zeros after an early abandon).
func lbSegEC(q []float64, env []float32, bsf float64, cb []float64) float64 {
	n := len(env) / 2
	lo, hi := env[:n], env[n:]
	sum := 0.0
	for i, v := range q {
		s := i / segWidth
		var d float64
		if h := float64(hi[s]); v > h {
			d = v - h
		} else if l := float64(lo[s]); v < l {
			d = v - l
		}
		d2 := float64(d * d)
		sum += d2
		cb[i] = d2
		if sum > bsf {
			clear(cb[i+1:])
			return sum
		}
	}
	return sum
}

// lbImprovedRest is the second pass of Lemire's LB_Improved (2009, "Faster retrieval with a
// two-pass dynamic time warping lower bound"), in squared form:
//
//	LB_Improved(c, q) = LB_Keogh(c; U, L) + LB_Keogh(q; Envelope(H, r))
//
// where (U, L) = Envelope(q, r) and H is c projected onto [L, U] (H_i = U_i where c_i > U_i,
// L_i where c_i < L_i, c_i otherwise). Lemire proves LB_Improved_p^p ≤ DTW_p^p for every
// p-norm; with p = 2 both sides are sums of squared differences, the DTW of dtw.go. Given the
// first pass lbKeogh, it returns the whole bound, abandoning once it exceeds bsf. It costs
// one envelope, so it runs last, on the few series the cheaper bounds let through.
//
// The second pass's per-point terms go to w.cb2, the first pass's are in w.cb1. Lemire's
// proof splits the cost of every path cell (i, j) (query point i, candidate point j,
// |i−j| ≤ r) as (q_i − c_j)² ≥ (c_j − H_j)² + (H_j − q_i)², because H_j lies between c_j and
// q_i; the first part is the first pass's term of column j, and the second is at least the
// second pass's term of row i, dist(q_i, Envelope(H)_i)², since H_j is in the window of i.
// So every band cell costs at least (column term) + (row term), the premise of
// algorithms.DTWPrunedContext: score hands it the suffix sums of both kinds, and a path that
// reached cell (i, j) still pays at least the column terms after j plus the row terms after
// i (each later column and each later row through a distinct part of some later cell's
// cost). TestPrunedTermsBoundEveryCell checks the premise cell by cell.
func (e *engine) lbImprovedRest(w *worker, c []float64, lbKeogh, bsf float64) float64 {
	w.h = growTo(w.h, len(c))
	// The envelope of H is built as the sum goes (algorithms.LBImprovedSecond), so a pruned
	// candidate stops paying for it at the point where the sum passes bsf.
	return lbKeogh + algorithms.LBImprovedSecond(e.q, c, e.u, e.l, e.r, bsf-lbKeogh, w.h, w.cb2)
}
