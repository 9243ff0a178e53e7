package algorithms

import (
	"context"
	"math"
)

// DTW returns the squared dynamic-time-warping distance of a and b within a Sakoe-Chiba
// band of r cells, the UCR suite's DTW (Rakthanmanon et al. 2012; conventions in
// shared/ucr/REFERENCE.md):
//
//	D(-1,-1) = 0,  D(i,-1) = D(-1,j) = +Inf
//	D(i,j)   = (a_i − b_j)² + min(D(i−1,j−1), D(i−1,j), D(i,j−1))   for |i − j| <= r
//	DTW      = D(len(a)−1, len(b)−1)
//
// i.e. local cost = squared difference, steps (1,1), (1,0), (0,1), no slope constraint and
// no path-length normalisation. sqrt(DTW(...)) is the UCR DTW distance; on z-normalised
// series (ZNormalize) the results equal shared/ucr/golden_distances.tsv.
//
// r is the band half-width in cells (SakoeChibaCells turns a window fraction into cells):
// r <= 0 allows only the diagonal, so DTW(a, b, 0) == SquaredEuclidean(a, b) bit for bit;
// r >= max(len) is unconstrained (full) DTW. When the lengths differ by more than r the band
// is widened to |len(a) − len(b)| so that a path exists (as the reference checker does).
// Two empty series are at distance 0; an empty and a non-empty one at +Inf.
//
// It takes O(len(a)·r) time and O(r) memory, two rows of 2r+3 cells indexed relative to the
// diagonal; for bands up to 510 cells they live on the stack, so DTW does not allocate.
func DTW(a, b []float64, r int) float64 {
	d, _ := dtwBanded(context.Background(), a, b, r, math.Inf(1), nil) // Background: no error
	return d
}

// DTWEA is DTW with early abandoning against a best-so-far bsf (a squared distance, like
// DTW's result), as in the UCR suite's dtw(): after each row i it takes the row's minimum
// cumulative cost — a lower bound of the final distance — and returns +Inf as soon as that
// minimum, plus cb[i+r+1] when cb is given, exceeds bsf (strictly). Otherwise it returns
// exactly DTW(a, b, r). Hence DTWEA(a, b, r, +Inf, cb) == DTW(a, b, r) and a result <= bsf
// is always the exact distance.
//
// cb (may be nil) is the cumulative LB_Keogh bound of the UCR suite: cb[k] = Σ_{i >= k} of
// the per-point contributions that LBKeogh writes (turn them into suffix sums with
// CumulativeBound), computed either for b against Envelope(a, r') or for a against
// Envelope(b, r'), with r' >= r. Every path still has to pay at least cb[i+r+1] for the
// points beyond i+r, so the abandoning stays exact up to floating-point rounding. Passing
// the raw per-point contributions instead of the suffix sums is safe, only weaker. cb is
// used only when len(cb) == len(a) == len(b).
func DTWEA(a, b []float64, r int, bsf float64, cb []float64) float64 {
	d, _ := dtwBanded(context.Background(), a, b, r, bsf, cb) // Background: no error
	return d
}

// SakoeChibaCells converts a Sakoe-Chiba window given as a fraction of the series length
// (e.g. 0.1 for the UCR archive's w = 10 %) into a band half-width in cells,
//
//	r = ceil(window · n), clamped to [0, n],
//
// the UCR convention (floor does not reproduce the archive's published error rates). A
// product within 1e-9 (relative) above an integer counts as that integer, so that binary
// representation error (0.07·100 = 7.000000000000001) does not add a cell. window <= 0 or
// NaN gives 0; window >= 1 gives n (unconstrained).
func SakoeChibaCells(window float64, n int) int {
	if n <= 0 || !(window > 0) {
		return 0
	}
	x := window * float64(n)
	if x >= float64(n) {
		return n
	}
	f := math.Floor(x)
	if x-f <= 1e-9*math.Max(1, x) {
		return int(f)
	}
	return int(f) + 1
}

// dtwStackSmall and dtwStackLarge are the row widths (2r+3) served from the stack.
const (
	dtwStackSmall = 128
	dtwStackLarge = 1024
)

// dtwBanded normalises the band and picks the row storage for dtwRows. It returns
// (+Inf, ctx.Err()) once ctx is done (see dtwRows).
func dtwBanded(ctx context.Context, a, b []float64, r int, bsf float64, cb []float64) (float64, error) {
	n, m := len(a), len(b)
	if n == 0 || m == 0 {
		if n == m {
			return 0, nil
		}
		return math.Inf(1), nil
	}
	r = max(r, 0, n-m, m-n)
	r = min(r, max(n, m)-1)
	w := 2*r + 3
	switch {
	case w <= dtwStackSmall:
		return dtwSmall(ctx, a, b, r, bsf, cb, w)
	case w <= dtwStackLarge:
		return dtwLarge(ctx, a, b, r, bsf, cb, w)
	default:
		buf := make([]float64, 2*w)
		return dtwRows(ctx, a, b, r, bsf, cb, buf[:w], buf[w:])
	}
}

// dtwSmall and dtwLarge hold the rows on the stack, each in its own frame so that a small
// band does not pay for the large buffer.
func dtwSmall(ctx context.Context, a, b []float64, r int, bsf float64, cb []float64, w int) (float64, error) {
	var buf [2 * dtwStackSmall]float64
	return dtwRows(ctx, a, b, r, bsf, cb, buf[:w], buf[dtwStackSmall:dtwStackSmall+w])
}

func dtwLarge(ctx context.Context, a, b []float64, r int, bsf float64, cb []float64, w int) (float64, error) {
	var buf [2 * dtwStackLarge]float64
	return dtwRows(ctx, a, b, r, bsf, cb, buf[:w], buf[dtwStackLarge:dtwStackLarge+w])
}

// dtwRows is the banded recurrence. Cell (i, j) of row i lives at index p = j − i + r + 1 of
// its row, so p runs over [1, 2r+1]; indexes 0 and 2r+2 and the cells just outside each
// row's range hold +Inf, which stands for "outside the band / the matrix". The previous row
// starts as all +Inf except D(−1,−1) = 0 at index r+1, which seeds D(0,0).
//
// Rows are computed in runs of about checkCells cells, with a check of ctx (an atomic load;
// nothing for context.Background()) before each run, the first one included, so the row loop
// itself carries no check; once ctx is done it returns (+Inf, ctx.Err()).
func dtwRows(ctx context.Context, a, b []float64, r int, bsf float64, cb []float64, prev, cur []float64) (float64, error) {
	n, m := len(a), len(b)
	inf := math.Inf(1)
	for k := range prev {
		prev[k] = inf
		cur[k] = inf
	}
	prev[r+1] = 0
	useCB := cb != nil && len(cb) == n && m == n
	run := max(1, checkCells/(2*r+1))
	for i0 := 0; i0 < n; i0 += run {
		if err := ctx.Err(); err != nil {
			return inf, err
		}
		for k, ai := range a[i0:min(n, i0+run)] {
			i := i0 + k
			jlo, jhi := max(0, i-r), min(m-1, i+r)
			off := r + 1 - i
			plo, phi := jlo+off, jhi+off
			cur[plo-1] = inf
			cur[phi+1] = inf
			bs := b[jlo : jhi+1]
			row := cur[plo : plo+len(bs)]
			diag := prev[plo : plo+len(bs)+1] // diag[c] = D(i−1, j−1), diag[c+1] = D(i−1, j)
			left, rowMin := inf, inf
			for c, bj := range bs {
				best := diag[c]
				if up := diag[c+1]; up < best {
					best = up
				}
				if left < best {
					best = left
				}
				d := ai - bj
				v := best + float64(d*d)
				row[c] = v
				left = v
				if v < rowMin {
					rowMin = v
				}
			}
			lb := rowMin
			if useCB && i+r+1 < n {
				lb += cb[i+r+1]
			}
			if lb > bsf {
				return inf, nil
			}
			prev, cur = cur, prev
		}
	}
	return prev[m-n+r+1], nil
}
