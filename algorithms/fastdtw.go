package algorithms

import (
	"context"
	"math"
)

// FastDTW returns Salvador & Chan's FastDTW approximation (KDD TDM workshop 2004) of the DTW
// distance of a and b as Oculus' Elasticsearch plugin computed it (spec §6.7, the bundled
// com.dtw Java code), for Oculus compatibility:
//
//   - local cost |a_i − b_j| (the Java EuclideanDistance of 1-D points), and the score is the
//     plain sum along the path, D(len(a)−1, len(b)−1), not normalised by path length;
//   - recurrence D(0,0) = c(0,0); first column and first row cumulative; otherwise
//     D(i,j) = c(i,j) + min(D(i−1,j), D(i−1,j−1), D(i,j−1)), cells outside the window +Inf;
//   - radius < 0 counts as 0; if either series has <= radius+2 points, full DTW;
//   - otherwise both series are shrunk to floor(n/2) points by Salvador's PAA (point k averages
//     the original points up to index round(n/floor(n/2)·(k+1)) − 1, round half up), FastDTW
//     recurses on them, the low-resolution warp path (backtracked from the end preferring
//     the diagonal, then the strictly cheaper of left/down, ties towards the i = j axis) is
//     projected to full resolution (each cell becomes its block, diagonal moves add the two
//     corner cells), the window is expanded by 1 and then by radius−1 cells in the 8
//     directions (clipped at the matrix edges; per column the window is the row interval
//     spanning every marked cell), and DTW runs constrained to that window.
//
// a plays the Java tsI (Oculus' query) and b tsJ (the candidate); the result is not exactly
// symmetric. It is the cost of one warping path, so it is >= the exact |a−b| DTW, and equal
// to it whenever the window contains an optimal path. Unlike Oculus' scorer this function
// neither min-max scales nor drops the first point of each series: OculusFastDTWScore does
// both. An empty series gives +Inf (the Java code threw).
//
// Time and memory are O((len(a)+len(b))·radius). FastDTW allocates its scratch memory on
// every call; reuse a FastDTWWorkspace to avoid that.
func FastDTW(a, b []float64, radius int) float64 {
	var w FastDTWWorkspace
	return w.FastDTW(a, b, radius)
}

// OculusFastDTWScore is Oculus' "oculus_dtw" native scorer (spec §6.7): both series are
// min-max scaled to [0, 25] (OculusScale; the min and max include the first point), the
// first point of each is then dropped [BUG-COMPAT: the Java TimeSeries constructor starts at
// index 1, spec §7 item 10], and the score is FastDTW(scaled query[1:], scaled
// candidate[1:], radius). Lower is more similar. A flat series scales to zeros here, where
// Oculus produced NaN; a series of fewer than 2 points gives +Inf (the Java code threw).
func OculusFastDTWScore(query, candidate []float64, radius int) float64 {
	var w FastDTWWorkspace
	return w.OculusScore(query, candidate, radius)
}

// FastDTWWorkspace holds FastDTW's scratch memory for reuse across calls; the zero value is
// ready to use. It is not safe for concurrent use: give each goroutine its own.
type FastDTWWorkspace struct {
	levels []fastDTWLevel
	// Window of the current level: column i (a point of a) spans rows lo[i]..hi[i] of b.
	lo, hi, oldLo, oldHi, offs []int
	cost                       []float64
	pathI, pathJ               []int
	scaledQ, scaledC           []float64
}

// fastDTWLevel is one resolution of the FastDTW pyramid: the series and, for every point,
// how many points of the next finer level it averages (unused at level 0).
type fastDTWLevel struct {
	a, b       []float64
	aggA, aggB []int
}

// OculusScore is OculusFastDTWScore using w's memory.
func (w *FastDTWWorkspace) OculusScore(query, candidate []float64, radius int) float64 {
	if len(query) < 2 || len(candidate) < 2 {
		return math.Inf(1)
	}
	w.scaledQ = OculusScale(w.scaledQ, query)
	w.scaledC = OculusScale(w.scaledC, candidate)
	return w.FastDTW(w.scaledQ[1:], w.scaledC[1:], radius)
}

// FastDTW is the package-level FastDTW using w's memory; after the first calls with series
// of a given size it does not allocate.
func (w *FastDTWWorkspace) FastDTW(a, b []float64, radius int) float64 {
	d, _ := w.FastDTWContext(context.Background(), a, b, radius) // Background: no error
	return d
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

	// The pyramid: level 0 is the input, each next level halves both series, until one of
	// them has radius+2 points or fewer (FastDTW's recursion, unrolled).
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

	// Coarsest level: full DTW, then refine level by level.
	top := len(w.levels) - 1
	lv := &w.levels[top]
	w.fullWindow(len(lv.a), len(lv.b))
	for level := top; ; level-- {
		lv = &w.levels[level]
		d, err := w.windowDTW(ctx, lv.a, lv.b)
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

// salvadorPAA is com.timeseries.PAA for one dimension: m points, point k averaging x from the
// previous block's end+1 to round(len(x)/m·(k+1)) − 1 (Java Math.round, half up). agg
// receives each block's size.
func salvadorPAA(dst []float64, agg []int, x []float64, m int) ([]float64, []int) {
	n := len(x)
	dst = growFloats(dst, m)
	agg = growInts(agg, m)
	reduced := float64(n) / float64(m)
	from := 0
	for k := range m {
		to := int(math.Floor(reduced*float64(k+1)+0.5)) - 1
		if k == m-1 || to > n-1 {
			to = n - 1 // guards against rounding; Java reaches n−1 exactly here
		}
		s := 0.0
		for _, v := range x[from : to+1] {
			s += v
		}
		cnt := to - from + 1
		dst[k] = s / float64(cnt)
		agg[k] = cnt
		from = to + 1
	}
	return dst, agg
}

// fullWindow makes the window the whole nI×nJ matrix.
func (w *FastDTWWorkspace) fullWindow(nI, nJ int) {
	w.lo, w.hi = growInts(w.lo, nI), growInts(w.hi, nI)
	for i := range nI {
		w.lo[i], w.hi[i] = 0, nJ-1
	}
}

// mark is com.dtw.SearchWindow.markVisited: widen column col's row interval to hold row.
func (w *FastDTWWorkspace) mark(col, row int) {
	switch {
	case w.lo[col] < 0:
		w.lo[col], w.hi[col] = row, row
	case row < w.lo[col]:
		w.lo[col] = row
	case row > w.hi[col]:
		w.hi[col] = row
	}
}

// project is com.dtw.ExpandedResWindow without the final expansion: the low-resolution
// path in pathI/pathJ, whose points average aggI/aggJ fine points each, becomes a window
// over the fine nI×nJ matrix.
func (w *FastDTWWorkspace) project(nI, nJ int, aggI, aggJ []int) {
	w.lo, w.hi = growInts(w.lo, nI), growInts(w.hi, nI)
	for i := range nI {
		w.lo[i], w.hi[i] = -1, -1
	}
	curI, curJ := 0, 0
	lastI, lastJ := math.MaxInt, math.MaxInt
	for p, wi := range w.pathI {
		wj := w.pathJ[p]
		bI, bJ := aggI[wi], aggJ[wj]
		movedJ, movedI := wj > lastJ, wi > lastI
		if movedJ {
			curJ += aggJ[lastJ]
		}
		if movedI {
			curI += aggI[lastI]
		}
		if movedI && movedJ {
			w.mark(curI-1, curJ)
			w.mark(curI, curJ-1)
		}
		for x := range bI {
			w.mark(curI+x, curJ)
			w.mark(curI+x, curJ+bJ-1)
		}
		lastI, lastJ = wi, wj
	}
}

// expand is com.dtw.SearchWindow.expandWindow: by 1, then by radius−1.
func (w *FastDTWWorkspace) expand(nI, nJ, radius int) {
	if radius > 0 {
		w.expandBy(nI, nJ, 1)
		w.expandBy(nI, nJ, radius-1)
	}
}

// expandBy is com.dtw.SearchWindow.expandSearchWindow: every cell of the window as it was
// marks the cell rad steps away in each of the 8 directions, or, where that falls off the
// matrix, the last cell on that line inside it.
//
// Marking only widens each column's row interval, so the result is the interval hull of
// all the marks and a cell whose marks lie inside the hull of other cells' marks can be
// skipped. For rows r in [rad, maxJ−rad] no vertical clipping happens, and each of the 8
// targets is (a column fixed by c, a row equal to r plus a constant); over a run of such
// rows the hull is reached at its first and last row. So per column only the rows within
// rad of the matrix's top or bottom and the two ends of that middle run are visited:
// O(rad) cells per column instead of the column's full height, with the same window.
func (w *FastDTWWorkspace) expandBy(nI, nJ, rad int) {
	if rad <= 0 {
		return
	}
	w.oldLo = append(w.oldLo[:0], w.lo[:nI]...)
	w.oldHi = append(w.oldHi[:0], w.hi[:nI]...)
	maxJ := nJ - 1
	for c := range nI {
		lo, hi := w.oldLo[c], w.oldHi[c]
		midLo, midHi := max(lo, rad), min(hi, maxJ-rad) // the run without vertical clipping
		if midLo > midHi {
			for r := lo; r <= hi; r++ {
				w.expandCell(c, r, nI, nJ, rad)
			}
			continue
		}
		for r := lo; r < midLo; r++ {
			w.expandCell(c, r, nI, nJ, rad)
		}
		w.expandCell(c, midLo, nI, nJ, rad)
		w.expandCell(c, midHi, nI, nJ, rad)
		for r := midHi + 1; r <= hi; r++ {
			w.expandCell(c, r, nI, nJ, rad)
		}
	}
}

// expandCell marks the 8 targets of cell (c, r) for expandBy, as the Java loop body does.
func (w *FastDTWWorkspace) expandCell(c, r, nI, nJ, rad int) {
	maxI, maxJ := nI-1, nJ-1
	if c != 0 && r != maxJ { // upper left
		tc, tr := c-rad, r+rad
		if tc >= 0 && tr <= maxJ {
			w.mark(tc, tr)
		} else {
			k := max(-tc, tr-maxJ)
			w.mark(tc+k, tr-k)
		}
	}
	if r != maxJ { // up
		w.mark(c, min(r+rad, maxJ))
	}
	if c != maxI && r != maxJ { // upper right
		tc, tr := c+rad, r+rad
		if tc <= maxI && tr <= maxJ {
			w.mark(tc, tr)
		} else {
			k := max(tc-maxI, tr-maxJ)
			w.mark(tc-k, tr-k)
		}
	}
	if c != 0 { // left
		w.mark(max(c-rad, 0), r)
	}
	if c != maxI { // right
		w.mark(min(c+rad, maxI), r)
	}
	if c != 0 && r != 0 { // lower left
		tc, tr := c-rad, r-rad
		if tc >= 0 && tr >= 0 {
			w.mark(tc, tr)
		} else {
			k := max(-tc, -tr)
			w.mark(tc+k, tr+k)
		}
	}
	if r != 0 { // down
		w.mark(c, max(r-rad, 0))
	}
	if c != maxI && r != 0 { // lower right
		tc, tr := c+rad, r-rad
		if tc <= maxI && tr >= 0 {
			w.mark(tc, tr)
		} else {
			k := max(tc-maxI, -tr)
			w.mark(tc-k, tr+k)
		}
	}
}

// at is the cost of cell (i, j), +Inf outside the window (the Java OUT_OF_WINDOW_VALUE).
func (w *FastDTWWorkspace) at(i, j int) float64 {
	if j < w.lo[i] || j > w.hi[i] {
		return math.Inf(1)
	}
	return w.cost[w.offs[i]+j-w.lo[i]]
}

// windowDTW is com.dtw.DTW's constrained time warp over the current window (cost |a_i − b_j|),
// keeping the cost matrix for backtrack; it returns D(nI−1, nJ−1). It checks ctx first and
// then before a column whenever about checkCells cells were computed since the last check,
// and returns (+Inf, ctx.Err()) once ctx is done.
func (w *FastDTWWorkspace) windowDTW(ctx context.Context, a, b []float64) (float64, error) {
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

	// Column 0 starts at row 0: D(0,0) = c(0,0), then cumulative.
	row := w.cost[:w.hi[0]+1]
	acc := 0.0
	for j := range row {
		acc += math.Abs(a[0] - b[j])
		row[j] = acc
	}

	budget := checkCells - len(row) // cells left before the next check of ctx
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
		plo, phi := w.lo[i-1], w.hi[i-1] // the previous column: +Inf outside [plo, phi]
		prev := w.cost[w.offs[i-1] : w.offs[i-1]+phi-plo+1]
		j := lo
		down := inf // D(i, j−1)
		if j == 0 { // first row: D(i,0) = c(i,0) + D(i−1,0)
			left := inf
			if plo == 0 {
				left = prev[0]
			}
			down = math.Abs(ai-b[0]) + left
			row[0] = down
			j = 1
		}
		for ; j <= hi; j++ {
			left, diag := inf, inf // D(i−1, j), D(i−1, j−1)
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

// backtrack is the warp path search of com.dtw.DTW: from (nI−1, nJ−1) to (0, 0), moving
// diagonally if that is no dearer than left and down, else to the strictly cheapest of
// left/down, and on a left/down tie towards the i = j axis. The path is stored in order.
func (w *FastDTWWorkspace) backtrack(nI, nJ int) {
	inf := math.Inf(1)
	i, j := nI-1, nJ-1
	w.pathI = append(w.pathI[:0], i)
	w.pathJ = append(w.pathJ[:0], j)
	for i > 0 || j > 0 {
		diag, left, down := inf, inf, inf
		if i > 0 && j > 0 {
			diag = w.at(i-1, j-1)
		}
		if i > 0 {
			left = w.at(i-1, j)
		}
		if j > 0 {
			down = w.at(i, j-1)
		}
		switch {
		case diag <= left && diag <= down:
			i--
			j--
		case left < diag && left < down:
			i--
		case down < diag && down < left:
			j--
		case i <= j:
			j--
		default:
			i--
		}
		w.pathI = append(w.pathI, i)
		w.pathJ = append(w.pathJ, j)
	}
	for x, y := 0, len(w.pathI)-1; x < y; x, y = x+1, y-1 {
		w.pathI[x], w.pathI[y] = w.pathI[y], w.pathI[x]
		w.pathJ[x], w.pathJ[y] = w.pathJ[y], w.pathJ[x]
	}
}

// growInts is growFloats for ints.
func growInts(dst []int, n int) []int {
	if cap(dst) < n {
		return make([]int, n)
	}
	return dst[:n]
}
