package algorithms

import (
	"context"
	"math"
)

// Context-aware variants of the DTW kernels, for callers that must stop a long comparison
// when a deadline passes (a similarity search with --search-timeout). They compute exactly
// what DTWEA and FastDTWWorkspace.FastDTW compute, in the same order of operations (so the
// results are bit for bit equal, which dtw_budget_test.go checks), and in addition read
// ctx.Err() — an atomic load — about every checkCells cells. The check costs one integer
// subtraction and comparison per row or column; BenchmarkDTWEAContext compares it with
// BenchmarkDTWEA.
//
// The recurrences are copies of dtwRows and windowDTW with the check added: keep them in
// step, or make DTWEA and FastDTW call these with context.Background().

// checkCells is the number of cells computed between two checks of the context: about
// 20–40 µs of work, so a cancelled comparison stops within well under a millisecond.
const checkCells = 1 << 15

// DTWEAContext is DTWEA(a, b, r, bsf, cb) that gives up when ctx ends: it checks ctx before
// the first row and then about every checkCells cells, and returns (+Inf, ctx.Err()) once
// ctx is done. Otherwise the error is nil and the distance equals DTWEA's.
func DTWEAContext(ctx context.Context, a, b []float64, r int, bsf float64, cb []float64) (float64, error) {
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
		var buf [2 * dtwStackSmall]float64
		return dtwRowsContext(ctx, a, b, r, bsf, cb, buf[:w], buf[dtwStackSmall:dtwStackSmall+w])
	case w <= dtwStackLarge:
		var buf [2 * dtwStackLarge]float64
		return dtwRowsContext(ctx, a, b, r, bsf, cb, buf[:w], buf[dtwStackLarge:dtwStackLarge+w])
	default:
		buf := make([]float64, 2*w)
		return dtwRowsContext(ctx, a, b, r, bsf, cb, buf[:w], buf[w:])
	}
}

// DTWCells is the number of cells DTW(a, b, r) computes for series of n and m points: the
// cells of the n×m matrix within the (normalised) band, at most n·m. Callers use it to
// estimate the work of a search before starting it.
func DTWCells(n, m, r int) int64 {
	if n == 0 || m == 0 {
		return 0
	}
	r = max(r, 0, n-m, m-n)
	r = min(r, max(n, m)-1)
	// Row i spans columns max(0, i−r) … min(m−1, i+r).
	var cells int64
	for i := range n {
		cells += int64(min(m-1, i+r) - max(0, i-r) + 1)
	}
	return cells
}

// dtwRowsContext is dtwRows with a context check about every checkCells cells.
func dtwRowsContext(ctx context.Context, a, b []float64, r int, bsf float64, cb []float64, prev, cur []float64) (float64, error) {
	n, m := len(a), len(b)
	inf := math.Inf(1)
	for k := range prev {
		prev[k] = inf
		cur[k] = inf
	}
	prev[r+1] = 0
	useCB := cb != nil && len(cb) == n && m == n
	// Rows are computed in runs of about checkCells cells, with a check before each run, so
	// that the row loop itself is dtwRows' unchanged.
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

// FastDTWContext is FastDTW using w's memory that gives up when ctx ends: it checks ctx
// first, then before each resolution and about every checkCells cells of each level's
// windowed DTW, and returns (+Inf, ctx.Err()) once ctx is done. Otherwise the error is nil
// and the result equals w.FastDTW(a, b, radius).
func (w *FastDTWWorkspace) FastDTWContext(ctx context.Context, a, b []float64, radius int) (float64, error) {
	if len(a) == 0 || len(b) == 0 {
		return math.Inf(1), nil
	}
	if err := ctx.Err(); err != nil {
		return math.Inf(1), err
	}
	radius = max(radius, 0)
	w.levels = w.levels[:0]
	w.levels = append(w.levels, fastDTWLevel{a: a, b: b})
	for {
		cur := &w.levels[len(w.levels)-1]
		if len(cur.a) <= radius+2 || len(cur.b) <= radius+2 {
			break
		}
		k := len(w.levels)
		if k < cap(w.levels) {
			w.levels = w.levels[:k+1]
		} else {
			w.levels = append(w.levels, fastDTWLevel{})
		}
		cur = &w.levels[k-1]
		next := &w.levels[k]
		next.a, next.aggA = salvadorPAA(next.a, next.aggA, cur.a, len(cur.a)/2)
		next.b, next.aggB = salvadorPAA(next.b, next.aggB, cur.b, len(cur.b)/2)
	}
	top := len(w.levels) - 1
	lv := &w.levels[top]
	w.fullWindow(len(lv.a), len(lv.b))
	for level := top; ; level-- {
		lv = &w.levels[level]
		d, err := w.windowDTWContext(ctx, lv.a, lv.b)
		if err != nil {
			w.levels[0] = fastDTWLevel{}
			return math.Inf(1), err
		}
		if level == 0 {
			w.levels[0] = fastDTWLevel{} // do not keep the caller's slices alive
			return d, nil
		}
		w.backtrack(len(lv.a), len(lv.b))
		fine := &w.levels[level-1]
		w.project(len(fine.a), len(fine.b), lv.aggA, lv.aggB)
		w.expand(len(fine.a), len(fine.b), radius)
	}
}

// windowDTWContext is windowDTW with a context check about every checkCells cells.
func (w *FastDTWWorkspace) windowDTWContext(ctx context.Context, a, b []float64) (float64, error) {
	if err := ctx.Err(); err != nil {
		return math.Inf(1), err
	}
	nI := len(a)
	w.offs = growInts(w.offs, nI)
	total := 0
	for i := range nI {
		w.offs[i] = total
		total += w.hi[i] - w.lo[i] + 1
	}
	w.cost = growFloats(w.cost, total)
	inf := math.Inf(1)

	row := w.cost[:w.hi[0]+1]
	acc := 0.0
	for j := range row {
		acc += math.Abs(a[0] - b[j])
		row[j] = acc
	}

	budget := checkCells - len(row)
	for i := 1; i < nI; i++ {
		ai := a[i]
		lo, hi := w.lo[i], w.hi[i]
		if budget <= 0 {
			if err := ctx.Err(); err != nil {
				return inf, err
			}
			budget = checkCells
		}
		budget -= hi - lo + 1
		row := w.cost[w.offs[i] : w.offs[i]+hi-lo+1]
		plo, phi := w.lo[i-1], w.hi[i-1]
		prev := w.cost[w.offs[i-1] : w.offs[i-1]+phi-plo+1]
		j := lo
		down := inf
		if j == 0 {
			left := inf
			if plo == 0 {
				left = prev[0]
			}
			down = math.Abs(ai-b[0]) + left
			row[0] = down
			j = 1
		}
		for ; j <= hi; j++ {
			left, diag := inf, inf
			if j >= plo && j <= phi {
				left = prev[j-plo]
			}
			if j-1 >= plo && j-1 <= phi {
				diag = prev[j-1-plo]
			}
			best := diag
			if down < best {
				best = down
			}
			if left < best {
				best = left
			}
			down = best + math.Abs(ai-b[j])
			row[j-lo] = down
		}
	}
	return w.at(nI-1, len(b)-1), nil
}
