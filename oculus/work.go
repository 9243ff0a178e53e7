package oculus

import (
	"context"
	"fmt"
	"math"

	"github.com/kale-project/kale/algorithms"
)

// The work limit (--search-max-work). A search's cost is the distance-matrix cells it may
// compute: per comparison, the cells of the DTW band (algorithms.DTWCells: about
// L·(2r+1), at most L² for a query of L points compared with band r), or L for Euclidean;
// times the comparisons it may have to make in the worst case, where no lower bound prunes
// anything. The estimate comes before the heavy work, so a query that cannot finish is
// refused at once with ErrTooMuchWork (an ErrBadQuery) instead of burning CPU until
// --search-timeout:
//
//  1. cells per comparison × series in the prefix range (no scan needed): within the
//     limit, the search runs with no further estimate — the common case;
//  2. otherwise × the series that can be compared (filters applied, other lengths dropped
//     at native length): within the limit, it runs;
//  3. otherwise, on the stored representation (the ordered scan with LB_PAA), the bounds
//     may still rule out most series: the phase-1 seeds must fit, and after the LB_PAA pass
//     (which costs a few segment means per series) the seeds plus the series whose bound
//     is below the seed threshold must fit — those are all the comparisons phase 2 can
//     make, since the threshold only decreases. Without a stored representation (linear
//     scan) there is no cheap bound and step 2 refuses.
//
// FastDTW compares a fixed candidate list, known before any comparison: its estimate is
// fastCells per candidate, summed, and checked before the first comparison.

// fastCellCost is the time of one cell of fastCells' estimate, in cells of the exact DTW
// kernel: FastDTW keeps its cost matrix, tests the window on every cell, backtracks and
// expands the window, so one estimated cell took 1–5.5 DTWEA cells (n 64–4,096, radius
// 0–1,000, DTWEA at 2.4 ns/cell on the same machine).
const fastCellCost = 6

// mulSat is a·b for non-negative a and b, saturated at math.MaxInt64.
func mulSat(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}

// fastCells is the estimated cost of one FastDTW of n and m points with radius, in DTW
// cells: full DTW when the shorter series has at most radius+2 points; otherwise every
// resolution keeps a window of about 2·radius+3 cells around the projected path, and the
// coarser levels together cost about as much as the finest.
func fastCells(n, m, radius int) int64 {
	lo, hi := int64(min(n, m)), int64(max(n, m))
	if lo <= int64(radius)+2 {
		return mulSat(fastCellCost*lo, hi)
	}
	return mulSat(2*fastCellCost*hi, min(lo, 2*int64(radius)+3))
}

// maxWork is --search-max-work (0, which Validate rejects, is no limit).
func (e *engine) maxWork() int64 {
	if w := e.s.cfg.SearchMaxWork; w > 0 {
		return int64(w)
	}
	return math.MaxInt64
}

// pairCells is the cost of one exact comparison of the query with a candidate.
func (e *engine) pairCells() int64 {
	if e.p.method == MethodEuclidean {
		return int64(len(e.q))
	}
	return algorithms.DTWCells(len(e.q), len(e.q), e.r)
}

// planExactWork is steps 1 and 2 of the estimate (see above), run before phase 1. It sets
// e.fits when the worst case fits the limit; otherwise (stored representation only) the
// seeds are checked now and the rest by checkBoundedWork after the LB_PAA pass.
func (e *engine) planExactWork(ctx context.Context) error {
	e.pair = e.pairCells()
	limit := e.maxWork()
	if mulSat(e.pair, int64(e.hi-e.lo)) <= limit {
		e.fits = true
		return nil
	}
	n, err := e.comparable(ctx)
	if err != nil {
		return err
	}
	if mulSat(e.pair, n) <= limit {
		e.fits = true
		return nil
	}
	if !e.stored {
		return e.tooMuchWork(n, fmt.Sprintf("%d series", n))
	}
	if seeds := min(n, int64(seedFactor*e.p.need)); mulSat(e.pair, seeds) > limit {
		return e.tooMuchWork(seeds, fmt.Sprintf("%d phase-1 seeds (of %d series)", seeds, n))
	}
	return nil
}

// checkBoundedWork is step 3: scored comparisons are done, survivors may follow.
func (e *engine) checkBoundedWork(scored, survivors int64) error {
	if e.fits {
		return nil
	}
	n := scored + survivors
	if mulSat(e.pair, n) <= e.maxWork() {
		return nil
	}
	return e.tooMuchWork(n, fmt.Sprintf("(%d seeds compared + %d series left after the lower bounds)", scored, survivors))
}

// comparable counts the series a search may compare: eligible, and of the query's length at
// native length (the rest are skipped).
func (e *engine) comparable(ctx context.Context) (int64, error) {
	want := -1
	if e.p.length == 0 {
		want = len(e.q)
	}
	var n int64
	for i := e.lo; i < e.hi; i++ {
		if (i-e.lo)%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
		ser := e.sn.list[i]
		if (want < 0 || int(ser.n) == want) && (len(e.p.exclude) == 0 || e.p.eligible(ser.name)) {
			n++
		}
	}
	return n, nil
}

// tooMuchWork is the refusal of an exact search that may make the given number of
// comparisons, described by what.
func (e *engine) tooMuchWork(comparisons int64, what string) error {
	per := fmt.Sprintf("length %d", len(e.q))
	shrink := "a smaller length"
	if e.p.method == MethodDTW {
		per = fmt.Sprintf("length %d, band %d", len(e.q), min(2*e.r+1, len(e.q)))
		shrink = "a smaller length or window"
	}
	return &badInput{kind: ErrTooMuchWork, msg: fmt.Sprintf(
		"cannot run this %s search: it may compute up to %d distance-matrix cells, %s × %d cells per comparison (%s), "+
			"more than --search-max-work %d allows; use %s, fewer results (k, page), a name prefix or exclusion filters, "+
			"or raise --search-max-work",
		e.p.method, mulSat(e.pair, comparisons), what, e.pair, per, e.maxWork(), shrink)}
}

// checkFastWork estimates the FastDTW comparisons of q with the candidates.
func (e *engine) checkFastWork(qlen int, cands []int32) error {
	var total int64
	for _, i := range cands {
		total += fastCells(qlen, e.fastLen(e.sn.list[i]), e.p.radius)
		if total < 0 || total > e.maxWork() {
			return &badInput{kind: ErrTooMuchWork, msg: fmt.Sprintf(
				"cannot run this fastdtw search: its %d candidates would cost more than --search-max-work %d "+
					"distance-matrix cells (query length %d, radius %d, about %d cells per comparison); "+
					"use a smaller radius or length, fewer results (k, page), a name prefix or exclusion filters, "+
					"or raise --search-max-work",
				len(cands), e.maxWork(), qlen, e.p.radius, fastCells(qlen, qlen, e.p.radius))}
		}
	}
	return nil
}
