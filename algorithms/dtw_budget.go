package algorithms

import "context"

// Context-aware variants of the DTW kernels, for callers that must stop a long comparison
// when a deadline passes (a similarity search with --search-timeout). DTW, DTWEA and
// FastDTW run the same kernels (dtwRows, FastDTWWorkspace.windowDTW) with
// context.Background(), so the results are bit for bit equal (dtw_budget_test.go checks
// it). The kernels read ctx.Err() — an atomic load — about every checkCells cells; the
// check costs one integer subtraction and comparison per run of rows or per column;
// BenchmarkDTWEAContext and BenchmarkFastDTWContext compare the two entry points.

// checkCells is the number of cells computed between two checks of the context: about
// 20–40 µs of work, so a cancelled comparison stops within well under a millisecond.
const checkCells = 1 << 15

// DTWEAContext is DTWEA(a, b, r, bsf, cb) that gives up when ctx ends: it checks ctx before
// the first row and then about every checkCells cells, and returns (+Inf, ctx.Err()) once
// ctx is done. Otherwise the error is nil and the distance equals DTWEA's.
func DTWEAContext(ctx context.Context, a, b []float64, r int, bsf float64, cb []float64) (float64, error) {
	return dtwBanded(ctx, a, b, r, bsf, cb)
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
