package algorithms

import (
	"context"
	"math"
)

// DTWPrunedContext is an early-abandoning, pruned DTW (in the spirit of Silva & Batista's
// PrunedDTW and Herrmann & Webb's EAPrunedDTW, 2021) with a per-cell lower bound of the cost
// still to pay. It returns exactly DTW(a, b, r) when that is <= bsf, and +Inf otherwise;
// (+Inf, ctx.Err()) once ctx is done (checked like DTWEAContext).
//
// rowCB and colCB are suffix sums (CumulativeBound) of per-point terms t_i of a (the rows)
// and s_j of b (the columns) such that every cell of the band costs at least their sum:
//
//	(a_i − b_j)² >= t_i + s_j   for every |i − j| <= r.
//
// LB_Keogh's terms of b against Envelope(a, r) (with t = 0), or of a against Envelope(b, r)
// (with s = 0), satisfy it, and so do both passes of LB_Improved together (the first pass's
// terms of the candidate, the second pass's of the query, oculus/bound.go). A warping path
// that has reached cell (i, j) still visits every row after i and every column after j,
// each through a distinct cell's row or column share, so it pays at least
// rowCB[i+1] + colCB[j+1] more. A cell whose cost so far plus that exceeds bsf (strictly)
// is pruned: it is set to +Inf, as no path through it can end at or under bsf. The optimal
// path of a pair with DTW <= bsf crosses no pruned cell, and every cell on it keeps its
// exact value (the minimum over its predecessors picks the same operand), so the result is
// bit for bit DTW's (the rounding of the bound sums is covered by the widening of bsf below).
// Like PrunedDTW, each row is computed only from the
// first live cell of the row above to the last cell that can still be reached, and the
// comparison abandons when a row has no live cell left.
//
// nil (or wrongly sized) rowCB / colCB count as zero bounds. Series of different lengths
// fall back to DTWEAContext without a bound. The pruning compares against bsf widened by a
// relative 1e-9, far above the rounding of the bound sums, so a pair with DTW <= bsf is never
// lost to rounding; the final distance is compared with bsf itself.
//
// It allocates three rows of len(a)+2 cells per call; DTWPrunedWorkspace reuses them.
func DTWPrunedContext(ctx context.Context, a, b []float64, r int, bsf float64, rowCB, colCB []float64) (float64, error) {
	var w DTWPrunedWorkspace
	return w.DTW(ctx, a, b, r, bsf, rowCB, colCB)
}

// DTWPrunedWorkspace holds the rows of DTWPrunedContext for reuse by one goroutine. The
// zero value is ready to use.
type DTWPrunedWorkspace struct {
	buf []float64
}

// DTW is DTWPrunedContext on the workspace's rows.
func (w *DTWPrunedWorkspace) DTW(ctx context.Context, a, b []float64, r int, bsf float64, rowCB, colCB []float64) (float64, error) {
	n := len(a)
	if n != len(b) || n == 0 {
		d, err := dtwBanded(ctx, a, b, r, bsf, nil)
		if err == nil && d > bsf {
			d = math.Inf(1)
		}
		return d, err
	}
	if len(rowCB) != n {
		rowCB = nil
	}
	if len(colCB) != n {
		colCB = nil
	}
	r = min(max(r, 0), n-1)
	if cap(w.buf) < 3*(n+2) {
		w.buf = make([]float64, 3*(n+2))
	}
	buf := w.buf[:3*(n+2)]
	d, err := dtwPruned(ctx, a, b, r, bsf+math.Abs(bsf)*1e-9, rowCB, colCB, buf[:n+2], buf[n+2:2*n+4], buf[2*n+4:])
	if err == nil && d > bsf {
		d = math.Inf(1)
	}
	return d, err
}

// dtwPruned runs the pruned recurrence on rows of n+2 cells indexed by column + 1 (index 0
// is column −1, outside the matrix). The live range [ps, pe] of the previous row holds its
// first and last finite cells; every cell the next row reads outside it is +Inf.
// ctail[k] is the column bound after column k−1 (colCB[k], 0 past the end).
func dtwPruned(ctx context.Context, a, b []float64, r int, bsf float64, rowCB, colCB, prev, cur, ctail []float64) (float64, error) {
	n := len(a)
	inf := math.Inf(1)
	if colCB != nil {
		copy(ctail[:n], colCB)
	} else {
		clear(ctail[:n])
	}
	ctail[n], ctail[n+1] = 0, 0
	prev[0], prev[1] = 0, inf // row −1: D(−1, −1) = 0
	ps, pe := 0, 0
	run := max(1, checkCells/(2*r+1))
	b = b[:n]
	for i0 := 0; i0 < n; i0 += run {
		if err := ctx.Err(); err != nil {
			return inf, err
		}
		for i := i0; i < min(n, i0+run); i++ {
			ai := a[i]
			// A cell is pruned when its cost so far plus the column bound exceeds cut.
			cut := bsf
			if rowCB != nil && i+1 < n {
				cut = bsf - rowCB[i+1]
			}
			klo, khi := max(1, i-r+1), min(n, i+r+1)
			k0 := max(klo, ps)
			cur[k0-1] = inf
			left := inf
			ns, ne, k := 0, -1, k0
			kA := min(khi, pe+1)
			// Cells with a live neighbour in the row above: first up to the first live one,
			diag, up, row, ct, bs := prev[:kA+1], prev[:kA+1], cur[:kA+1], ctail[:kA+1], b[:kA]
			for ; k <= kA; k++ {
				best := diag[k-1]
				if u := up[k]; u < best {
					best = u
				}
				if left < best {
					best = left
				}
				d := ai - bs[k-1]
				v := best + float64(d*d)
				if v+ct[k] > cut {
					row[k], left = inf, inf
					continue
				}
				row[k], left = v, v
				ns, ne = k, k
				k++
				break
			}
			// then the rest of them.
			for ; k <= kA; k++ {
				best := diag[k-1]
				if u := up[k]; u < best {
					best = u
				}
				if left < best {
					best = left
				}
				d := ai - bs[k-1]
				v := best + float64(d*d)
				if v+ct[k] > cut {
					v = inf
				} else {
					ne = k
				}
				row[k] = v
				left = v
			}
			// Past them, only the left neighbour: stop at the first pruned cell.
			for ; k <= khi && left < inf; k++ {
				d := ai - b[k-1]
				v := left + float64(d*d)
				if v+ctail[k] > cut {
					v = inf
				} else {
					ne = k
				}
				cur[k] = v
				left = v
			}
			if ns == 0 {
				return inf, nil // every cell of the row is pruned
			}
			cur[k] = inf // k <= n+1: the cell after the last one written
			ps, pe = ns, ne
			prev, cur = cur, prev
		}
	}
	if pe != n {
		return inf, nil
	}
	return prev[n], nil
}
