package oculus

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/kale-project/kale/algorithms"
)

// worker holds one goroutine's scratch space.
type worker struct {
	c       []float64
	h       []float64 // LB_Improved projection
	cb1     []float64 // LB_Keogh terms per point (then DTWEA's cumulative bound)
	cb2     []float64 // LB_SegEC, then LB_Improved second-pass terms per point (query side)
	dtw     algorithms.DTWPrunedWorkspace
	scanned int64
}

func (e *engine) newWorker() *worker {
	return &worker{cb1: make([]float64, len(e.q)), cb2: make([]float64, len(e.q))}
}

// storedCandidate returns series i's stored z32 widened to float64 (in w.c), or nil when the
// query compares at native length and the series has another length (counted as skipped).
func (e *engine) storedCandidate(w *worker, i int32) []float64 {
	ser := e.sn.list[i]
	if e.p.length == 0 && int(ser.n) != e.sn.length {
		return nil
	}
	w.c = widen(w.c, ser.z)
	return w.c
}

// rawCandidate returns a window read from Redis as compared (in w.c), or nil when it has
// another length than the query at native length.
func (e *engine) rawCandidate(w *worker, vals []float64) []float64 {
	if e.p.length == 0 && len(vals) != len(e.q) {
		return nil
	}
	w.c = growTo(w.c, len(e.q))
	return represent(w.c, vals, e.p.length, e.p.normalize)
}

func growTo(b []float64, n int) []float64 {
	if cap(b) < n {
		return make([]float64, n)
	}
	return b[:n]
}

// score computes the exact distance of c unless a lower bound proves it cannot enter the top
// k, and offers it. A DTW stops, with ctx's error, when ctx ends (a 20,000-point DTW is
// seconds of work); callers check ctx between the cheaper comparisons.
func (e *engine) score(ctx context.Context, w *worker, i int32, c []float64) error {
	thr := e.top.threshold()
	var d float64
	if e.p.method == MethodEuclidean {
		d = algorithms.SquaredEuclideanEA(e.q, c, thr)
	} else {
		if algorithms.LBKim(e.q, c, thr) > thr {
			return nil
		}
		lb := algorithms.LBKeogh(c, e.u, e.l, thr, w.cb1)
		if lb > thr {
			return nil
		}
		if e.useEnv && lbSegEC(e.q, e.sn.env(int(i)), thr, w.cb2) > thr {
			return nil
		}
		if e.lbImprovedRest(w, c, lb, thr) > thr {
			return nil
		}
		// The first pass's terms are the candidate's points (the DTW's columns), the second
		// pass's the query's (its rows): every band cell costs at least the sum of its row's
		// and its column's term (lbImprovedRest), the premise of the pruned kernel.
		var err error
		rows, cols := algorithms.CumulativeBound(w.cb2), algorithms.CumulativeBound(w.cb1)
		if d, err = w.dtw.DTW(ctx, e.q, c, e.r, thr, rows, cols); err != nil {
			return err
		}
	}
	w.scanned++
	if d > thr {
		return nil // abandoned, or not better than the k-th best
	}
	e.top.offer(cand{d: d, i: i})
	return nil
}

// exact runs the two-phase exact search (euclidean, dtw).
func (e *engine) exact(ctx context.Context) (Result, error) {
	// Phase 1: the index's best candidates seed the top k. Only the first few are scored
	// here: their k-th distance is the threshold of the LB_PAA pass, and the others are
	// reached by phase 2 in bound order anyway.
	cands, err := e.phase1(ctx, max(minCandidates, candidateFactor*e.p.need))
	if err != nil {
		return Result{}, err
	}
	seen := newBitset(len(e.sn.list))
	var seeds []int32
	for _, i := range cands {
		if len(seeds) >= seedFactor*e.p.need {
			break
		}
		if !seen.has(int(i)) && (!e.p.nativeLength() || int(e.sn.list[i].n) == len(e.q)) {
			seen.set(int(i))
			seeds = append(seeds, i)
		}
	}
	if err := e.scoreSeeds(ctx, seeds); err != nil {
		return Result{}, err
	}
	// Phase 2: every other eligible series.
	if e.stored {
		err = e.orderedScan(ctx, seen, int64(len(seeds)))
	} else {
		err = e.linearScan(ctx, seen)
	}
	if err != nil {
		return Result{}, err
	}
	ranked := e.top.sorted()
	if e.stored {
		if ranked, err = e.exactTop(ctx, e.top.within()); err != nil {
			return Result{}, err
		}
	}
	return e.result(len(cands), ranked, true), nil
}

// scoreSeeds scores the phase-1 seeds: on their stored copies, or on their windows read from
// Redis when the comparison has no stored representation.
func (e *engine) scoreSeeds(ctx context.Context, seeds []int32) error {
	w := e.newWorker()
	defer func() { e.scanned.Add(w.scanned) }()
	if e.stored {
		for _, i := range seeds {
			if err := ctx.Err(); err != nil {
				return err
			}
			if c := e.storedCandidate(w, i); c != nil {
				if err := e.score(ctx, w, i, c); err != nil {
					return err
				}
			}
		}
		return nil
	}
	wins, err := e.s.loadWindows(ctx, e.names(seeds))
	if err != nil {
		return err
	}
	for j, i := range seeds {
		if wins[j].missing {
			continue
		}
		if c := e.rawCandidate(w, wins[j].vals); c != nil {
			if err := e.score(ctx, w, i, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// names returns the names of snapshot positions.
func (e *engine) names(pos []int32) []string {
	out := make([]string, len(pos))
	for j, i := range pos {
		out[j] = e.sn.list[i].name
	}
	return out
}

// workers is the number of goroutines of a scan over [lo, hi).
func (e *engine) workers() int {
	if e.hi-e.lo < parallelMinSeries {
		return 1
	}
	return runtime.GOMAXPROCS(0)
}

// parallel runs fn(w, block) over the blocks of [lo, hi) on the engine's workers.
func (e *engine) parallel(ctx context.Context, fn func(w *worker, from, to int) error) error {
	nw := e.workers()
	var next atomic.Int64
	next.Store(int64(e.lo))
	var wg sync.WaitGroup
	errs := make([]error, nw)
	for k := range nw {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := e.newWorker()
			defer func() { e.scanned.Add(w.scanned) }()
			for {
				from := int(next.Add(scanBlock)) - scanBlock
				if from >= e.hi {
					return
				}
				if err := ctx.Err(); err != nil {
					errs[k] = err
					return
				}
				if err := fn(w, from, min(from+scanBlock, e.hi)); err != nil {
					errs[k] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// linearScan scores every eligible series not seen yet, in name order, on its window read
// from Redis (fetchChunk per round trip) for comparisons that have no stored representation
// (another length, normalize:"none", a native length other than the index's).
func (e *engine) linearScan(ctx context.Context, seen bitset) error {
	var todo []int32
	var total, skipped int64
	for i := e.lo; i < e.hi; i++ {
		if (i-e.lo)%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		ser := e.sn.list[i]
		if !e.p.eligible(ser.name) {
			continue
		}
		total++
		switch {
		case e.p.nativeLength() && int(ser.n) != len(e.q):
			skipped++
		case !seen.has(i):
			todo = append(todo, int32(i))
		}
	}
	e.total.Add(total)
	e.skipped.Add(skipped)
	nw := 1
	if len(todo) >= parallelMinSeries {
		nw = runtime.GOMAXPROCS(0)
	}
	workers := make([]*worker, nw)
	for k := range workers {
		workers[k] = e.newWorker()
	}
	defer func() {
		for _, w := range workers {
			e.scanned.Add(w.scanned)
		}
	}()
	for lo := 0; lo < len(todo); lo += fetchChunk {
		chunk := todo[lo:min(lo+fetchChunk, len(todo))]
		wins, err := e.s.loadWindows(ctx, e.names(chunk))
		if err != nil {
			return err
		}
		var wg sync.WaitGroup
		errs := make([]error, nw)
		for k, w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := k; j < len(chunk); j += nw {
					if wins[j].missing {
						continue
					}
					c := e.rawCandidate(w, wins[j].vals)
					if c == nil {
						e.skipped.Add(1) // its length changed since it was indexed
						continue
					}
					if err := e.score(ctx, w, chunk[j], c); err != nil {
						errs[k] = err
						return
					}
				}
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// bitset marks snapshot positions.
type bitset []uint64

func newBitset(n int) bitset    { return make(bitset, (n+63)/64) }
func (b bitset) set(i int)      { b[i/64] |= 1 << (i % 64) }
func (b bitset) has(i int) bool { return b[i/64]&(1<<(i%64)) != 0 }

// bounded is a series with its LB_PAA bound.
type bounded struct {
	lb float64
	i  int32
}

// orderedScan bounds every eligible series with LB_PAA, then scores them in increasing bound
// order and stops at the first bound above the k-th best distance: every later series has a
// larger bound, hence a larger distance. Between the two, the series left are checked
// against the work limit (scored were compared already).
func (e *engine) orderedScan(ctx context.Context, seen bitset, scored int64) error {
	pb := newPAABound(e.q, e.u, e.l, e.sn.mu)
	if e.p.method == MethodEuclidean {
		pb = newPAABound(e.q, nil, nil, e.sn.mu)
	}
	var mu sync.Mutex
	var items []bounded
	err := e.parallel(ctx, func(w *worker, from, to int) error {
		var local []bounded
		var total, skipped int64
		thr := e.top.threshold()
		for i := from; i < to; i++ {
			ser := e.sn.list[i]
			if len(e.p.exclude) > 0 && !e.p.eligible(ser.name) {
				continue
			}
			total++
			if e.p.length == 0 && int(ser.n) != e.sn.length {
				skipped++
				continue
			}
			if seen.has(i) {
				continue
			}
			lb := lbPAA(pb, e.sn.paa(i), thr)
			if lb > thr {
				continue
			}
			if e.useEnv {
				ec := lbPAAEC(pb, e.sn.env(i), thr)
				if ec > thr {
					continue
				}
				lb = max(lb, ec)
			}
			local = append(local, bounded{lb, int32(i)})
		}
		e.total.Add(total)
		e.skipped.Add(skipped)
		mu.Lock()
		items = append(items, local...)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	if err := e.checkBoundedWork(scored, int64(len(items))); err != nil {
		return err
	}
	// A heap, not a sort: phase 2 usually stops after a small fraction of the items.
	queue := boundHeap(items)
	queue.init()
	var qmu sync.Mutex
	pop := func() (bounded, bool) {
		qmu.Lock()
		defer qmu.Unlock()
		return queue.pop()
	}
	nw := 1
	if len(items) >= 64 {
		nw = runtime.GOMAXPROCS(0)
	}
	var wg sync.WaitGroup
	errs := make([]error, nw)
	for k := range nw {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := e.newWorker()
			defer func() { e.scanned.Add(w.scanned) }()
			for n := 0; ; n++ {
				it, ok := pop()
				if !ok || it.lb > e.top.threshold() {
					return // every later item has a larger bound
				}
				if n%cancelCheckEvery == 0 {
					if err := ctx.Err(); err != nil {
						errs[k] = err
						return
					}
				}
				if err := e.score(ctx, w, it.i, e.storedCandidate(w, it.i)); err != nil {
					errs[k] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// boundHeap is a min-heap of bounded by (bound, position), without container/heap's
// interface boxing.
type boundHeap []bounded

func (h boundHeap) less(i, j int) bool {
	return h[i].lb < h[j].lb || (h[i].lb == h[j].lb && h[i].i < h[j].i)
}

func (h boundHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h boundHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

func (h *boundHeap) pop() (bounded, bool) {
	old := *h
	if len(old) == 0 {
		return bounded{}, false
	}
	top := old[0]
	old[0] = old[len(old)-1]
	*h = old[:len(old)-1]
	h.down(0)
	return top, true
}
