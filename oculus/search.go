package oculus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/kale-project/kale/algorithms"
)

// Search sizes.
const (
	minCandidates       = 100  // phase-1 candidates at least
	candidateFactor     = 10   // phase-1 candidates per requested result
	seedFactor          = 2    // phase-1 candidates per requested result scored before phase 2
	maxIndexPrefixTerms = 1024 // prefix filters matching more names are applied in memory only
	maxFastCandidates   = 2000 // most fastdtw phrase matches rescored
	scanBlock           = 256  // series per work item of a parallel scan
	cancelCheckEvery    = 64   // series between context checks
)

// parallelMinSeries is the corpus size from which scans use every core (a variable so that
// tests exercise the parallel path on small corpora).
var parallelMinSeries = 2048

// Search returns the series most similar to the query. For euclidean and dtw the result is
// exactly the brute-force top-k (ties broken by metric name); fastdtw is Oculus' approximate
// search. Errors: ErrBadQuery (invalid query), ErrNotFound (unknown query metric), or a
// wrapped context error when --search-timeout passes.
func (s *Service) Search(ctx context.Context, q Query) (Result, error) {
	start := time.Now()
	p, err := validate(q, s.cfg.SearchLength)
	method := p.method
	if method == "" {
		method = "invalid"
	}
	if err != nil {
		s.m.searches.WithLabelValues(method, "bad_query").Inc()
		return emptyResult(method), err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.SearchTimeout)
	defer cancel()
	res, err := s.search(ctx, &p)
	if err != nil {
		outcome := "error"
		switch {
		case errors.Is(err, ErrBadQuery):
			outcome = "bad_query"
		case errors.Is(err, ErrNotFound):
			outcome = "not_found"
		case errors.Is(err, context.DeadlineExceeded):
			err = fmt.Errorf("cannot finish the search within --search-timeout %v: %w", s.cfg.SearchTimeout, err)
		}
		s.m.searches.WithLabelValues(method, outcome).Inc()
		return emptyResult(method), err
	}
	res.Collections = s.matchCollections(ctx, res.Results)
	res.TookMS = float64(time.Since(start).Microseconds()) / 1000
	s.m.searches.WithLabelValues(method, "ok").Inc()
	s.m.searchSeconds.WithLabelValues(method).Observe(time.Since(start).Seconds())
	s.m.candidates.Add(float64(res.Candidates))
	s.m.scanned.Add(float64(res.Scanned))
	return res, nil
}

func emptyResult(method string) Result {
	return Result{Results: []Hit{}, Collections: []CollectionMatch{}, Method: method, Approximate: method == MethodFastDTW}
}

// queryValues returns the raw values of the query: the drawn values, or the query metric's
// window (from memory, or from Redis when it is not indexed yet). "metrics.x" is accepted for
// the metric x.
func (s *Service) queryValues(ctx context.Context, sn *snapshot, p *plan) ([]float64, error) {
	if p.metric == "" {
		return p.values, nil
	}
	names := []string{p.metric}
	if n, ok := strings.CutPrefix(p.metric, s.ns); ok && n != "" {
		names = append(names, n)
	}
	for _, n := range names {
		if e := sn.get(n); e != nil {
			return e.raw, nil
		}
	}
	var vals []float64
	var err error
	for _, n := range names {
		if vals, err = s.readWindow(ctx, n); !errors.Is(err, ErrNotFound) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if len(vals) < MinValues {
		return nil, badf("metric %q has %d usable points in its window; a search needs at least %d", p.metric, len(vals), MinValues)
	}
	return vals, nil
}

// engine is one search in progress.
type engine struct {
	s       *Service
	sn      *snapshot
	p       *plan
	idx     bleve.Index
	qz      []float64 // query resampled to the index length and z-normalised (phase-1 tokens)
	q       []float64 // query as compared
	r       int       // band cells (dtw)
	u, l    []float64 // query envelope (dtw)
	stored  bool      // candidates compare by their stored z
	useEnv  bool      // dtw on stored z with a band the stored segment envelopes cover
	top     *topk
	lo, hi  int // snapshot range of the prefix
	scanned atomic.Int64
	skipped atomic.Int64
	total   atomic.Int64
}

func (s *Service) search(ctx context.Context, p *plan) (Result, error) {
	sn := s.snap.Load()
	raw, err := s.queryValues(ctx, sn, p)
	if err != nil {
		return Result{}, err
	}
	s.idxMu.RLock()
	defer s.idxMu.RUnlock()
	if s.closed {
		return Result{}, errClosed
	}
	e := &engine{s: s, sn: sn, p: p, idx: s.idx, top: newTopK(p.need)}
	e.qz = resampleZ(raw, sn.length)
	if !allFinite(e.qz) {
		return Result{}, badf("the query values are too large to normalise")
	}
	e.lo = sort.Search(len(sn.list), func(i int) bool { return sn.list[i].name >= p.prefix })
	e.hi = e.lo + sort.Search(len(sn.list)-e.lo, func(i int) bool { return !strings.HasPrefix(sn.list[e.lo+i].name, p.prefix) })
	if p.method == MethodFastDTW {
		return e.fastDTW(ctx, raw)
	}
	e.stored = p.normalize && (p.length == sn.length || (p.length == 0 && len(raw) == sn.length))
	if e.stored {
		e.q = e.qz
	} else {
		e.q = represent(nil, raw, p.length, p.normalize)
	}
	if p.method == MethodDTW {
		e.r = algorithms.SakoeChibaCells(p.window, len(e.q))
		e.u, e.l = algorithms.Envelope(e.q, e.r, nil, nil)
		e.useEnv = e.stored && e.r <= sn.envR
	}
	return e.exact(ctx)
}

// represent returns x as compared: resampled to length (0: as is) and z-normalised when z.
// It writes into dst unless x can be returned unchanged.
func represent(dst, x []float64, length int, z bool) []float64 {
	if length > 0 && length != len(x) {
		dst = algorithms.PAA(dst, x, length)
		if z {
			dst = algorithms.ZNormalize(dst, dst)
		}
		return dst
	}
	if z {
		return algorithms.ZNormalize(dst, x)
	}
	return x
}

// phase1 asks the index for the series sharing the most iSAX words with the query, filtered
// like the search, best first.
func (e *engine) phase1(ctx context.Context, size int) ([]int32, error) {
	disj := bleve.NewDisjunctionQuery()
	for _, w := range phase1Words(e.qz) {
		tq := bleve.NewTermQuery(w)
		tq.SetField(fieldISAX)
		disj.AddQuery(tq)
	}
	if len(disj.Disjuncts) == 0 {
		return nil, nil
	}
	res, err := e.idx.SearchInContext(ctx, bleve.NewSearchRequestOptions(e.filtered(disj), size, 0, false))
	if err != nil {
		return nil, fmt.Errorf("cannot query the oculus index: %w", err)
	}
	return e.positions(hitIDs(res.Hits)), nil
}

// phase1Words are the whole-word iSAX tokens of a z-normalised series
// ("s<segments>a<alphabet>_<word>", one per resolution of algorithms.ISAXWords), what the
// index holds and phase 1 asks for. ISAXWords' per-segment tokens ("p…") are left out: each
// matches a large share of the corpus (1/alphabet), so they would cost tens of milliseconds
// per query and most of the indexing time for little gain, since phase 1 only seeds the
// threshold and phase 2 is exact whatever the seeds.
func phase1Words(qz []float64) []string {
	var out []string
	for _, w := range algorithms.ISAXWords(qz) {
		if strings.HasPrefix(w, "s") && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

// filtered adds the prefix and exclusion filters to an index query.
func (e *engine) filtered(q query.Query) query.Query {
	if (e.p.prefix == "" || e.hi-e.lo > maxIndexPrefixTerms) && len(e.p.exclude) == 0 {
		return q
	}
	bq := bleve.NewBooleanQuery()
	bq.AddMust(q)
	// bleve expands a prefix query into one term searcher per matching name, so a broad
	// prefix is left to the in-memory range filter (positions), which applies it anyway.
	if e.p.prefix != "" && e.hi-e.lo <= maxIndexPrefixTerms {
		pq := bleve.NewPrefixQuery(e.p.prefix)
		pq.SetField(fieldName)
		bq.AddMust(pq)
	}
	for _, seg := range e.p.exclude {
		tq := bleve.NewTermQuery(seg)
		tq.SetField(fieldSeg)
		bq.AddMustNot(tq)
	}
	return bq
}

// positions maps index hits to snapshot positions, dropping documents not in this snapshot or
// not eligible.
func (e *engine) positions(ids []string) []int32 {
	out := make([]int32, 0, len(ids))
	for _, id := range ids {
		if i, ok := e.sn.pos[id]; ok && i >= e.lo && i < e.hi && e.p.eligible(id) {
			out = append(out, int32(i))
		}
	}
	return out
}

// worker holds one goroutine's scratch space.
type worker struct {
	c       []float64
	h       []float64 // LB_Improved projection
	uh, lh  []float64 // its envelope
	cb1     []float64 // LB_Keogh terms per point (then DTWEA's cumulative bound)
	cb2     []float64 // LB_SegEC, then LB_Improved second-pass terms per point
	scanned int64
}

func (e *engine) newWorker() *worker {
	return &worker{cb1: make([]float64, len(e.q)), cb2: make([]float64, len(e.q))}
}

// candidate returns series i as compared, or nil when it has another length than the query
// at native length (counted as skipped).
func (e *engine) candidate(w *worker, i int32) []float64 {
	ser := e.sn.list[i]
	if e.stored {
		if e.p.length == 0 && len(ser.raw) != e.sn.length {
			return nil
		}
		return ser.z
	}
	if e.p.length == 0 && len(ser.raw) != len(e.q) {
		return nil
	}
	w.c = growTo(w.c, len(e.q))
	return represent(w.c, ser.raw, e.p.length, e.p.normalize)
}

func growTo(b []float64, n int) []float64 {
	if cap(b) < n {
		return make([]float64, n)
	}
	return b[:n]
}

// score computes the exact distance of c unless a lower bound proves it cannot enter the top
// k, and offers it.
func (e *engine) score(w *worker, i int32, c []float64) {
	thr := e.top.threshold()
	var d float64
	if e.p.method == MethodEuclidean {
		d = algorithms.SquaredEuclideanEA(e.q, c, thr)
	} else {
		if algorithms.LBKim(e.q, c, thr) > thr {
			return
		}
		lb := algorithms.LBKeogh(c, e.u, e.l, thr, w.cb1)
		if lb > thr {
			return
		}
		if e.useEnv {
			nseg := e.sn.nseg
			if lbSegEC(e.q, e.sn.env[2*int(i)*nseg:2*(int(i)+1)*nseg], thr, w.cb2) > thr {
				return
			}
		}
		if e.lbImprovedRest(w, c, lb, thr) > thr {
			return
		}
		cb := w.cb1
		for k, v := range w.cb2 {
			cb[k] += v
		}
		d = algorithms.DTWEA(e.q, c, e.r, thr, algorithms.CumulativeBound(cb))
	}
	w.scanned++
	if d > thr {
		return // abandoned, or not better than the k-th best
	}
	e.top.offer(cand{d: d, i: i})
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
	w := e.newWorker()
	n1, scored := 0, 0
	for _, i := range cands {
		if seen.has(int(i)) {
			continue
		}
		n1++
		if scored >= seedFactor*e.p.need {
			continue
		}
		c := e.candidate(w, i)
		if c == nil {
			continue
		}
		seen.set(int(i))
		scored++
		e.score(w, i, c)
	}
	e.scanned.Add(w.scanned)
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	// Phase 2: every other eligible series.
	if e.stored {
		err = e.orderedScan(ctx, seen)
	} else {
		err = e.linearScan(ctx, seen)
	}
	if err != nil {
		return Result{}, err
	}
	return e.result(n1, e.top.sorted(), true), nil
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

// linearScan scores every eligible series in name order (resampled or native comparisons
// that have no stored representation).
func (e *engine) linearScan(ctx context.Context, seen bitset) error {
	return e.parallel(ctx, func(w *worker, from, to int) error {
		var total, skipped int64
		for i := from; i < to; i++ {
			ser := e.sn.list[i]
			if !e.p.eligible(ser.name) {
				continue
			}
			total++
			c := e.candidate(w, int32(i))
			if c == nil {
				skipped++
				continue
			}
			if seen.has(i) {
				continue
			}
			e.score(w, int32(i), c)
		}
		e.total.Add(total)
		e.skipped.Add(skipped)
		return nil
	})
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
// larger bound, hence a larger distance.
func (e *engine) orderedScan(ctx context.Context, seen bitset) error {
	pb := newPAABound(e.q, e.u, e.l)
	if e.p.method == MethodEuclidean {
		pb = newPAABound(e.q, nil, nil)
	}
	nseg := e.sn.nseg
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
			if e.p.length == 0 && len(ser.raw) != e.sn.length {
				skipped++
				continue
			}
			if seen.has(i) {
				continue
			}
			lb := pb.lb(e.sn.paa[i*nseg:(i+1)*nseg], thr)
			if lb > thr {
				continue
			}
			if e.useEnv {
				ec := pb.lbEC(e.sn.env[2*i*nseg:2*(i+1)*nseg], thr)
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
				e.score(w, it.i, e.sn.list[it.i].z)
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

// result turns the ranked candidates into the requested page.
func (e *engine) result(candidates int, ranked []cand, squared bool) Result {
	res := emptyResult(e.p.method)
	res.Candidates = candidates
	res.Scanned = int(e.scanned.Load())
	res.Total = int(e.total.Load())
	res.Skipped = int(e.skipped.Load())
	from := min(e.p.page*e.p.k, len(ranked))
	to := min(e.p.need, len(ranked))
	for _, c := range ranked[from:to] {
		d := c.d
		if squared {
			d = math.Sqrt(d)
		}
		res.Results = append(res.Results, Hit{Metric: e.sn.list[c.i].name, Distance: d})
	}
	return res
}

// fastDTW is Oculus' search: candidates from the fingerprint phrase match (topped up with
// the best iSAX candidates), rescored with FastDTW on min-max scaled series. Approximate.
func (e *engine) fastDTW(ctx context.Context, raw []float64) (Result, error) {
	var cands []int32
	qfp := encodeFingerprint(algorithms.OculusFingerprint(raw))
	if len(qfp) > 0 {
		var err error
		if cands, err = e.phraseCandidates(ctx, qfp); err != nil {
			return Result{}, err
		}
	}
	want := max(minCandidates, candidateFactor*e.p.need)
	if len(cands) < want {
		more, err := e.phase1(ctx, want)
		if err != nil {
			return Result{}, err
		}
		cands = append(cands, more...)
	}
	if len(cands) < want {
		cands = append(cands, e.closestMeans(want, cands)...)
	}
	// Count the eligible series (the total of the response).
	var total int
	for i := e.lo; i < e.hi; i++ {
		if len(e.p.exclude) == 0 || e.p.eligible(e.sn.list[i].name) {
			total++
		}
	}
	e.total.Store(int64(total))
	q := e.fastRepr(nil, raw, e.qz)
	q = algorithms.OculusScale(q[:0:0], q)
	seen := make(map[int32]bool, len(cands))
	uniq := cands[:0:0]
	for _, i := range cands {
		if !seen[i] {
			seen[i] = true
			uniq = append(uniq, i)
		}
	}
	ranked := make([]cand, len(uniq))
	nw := 1
	if len(uniq) >= 64 {
		nw = runtime.GOMAXPROCS(0)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, nw)
	for k := range nw {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf, scaled []float64
			var ws algorithms.FastDTWWorkspace
			for n := 0; ; n++ {
				j := int(next.Add(1)) - 1
				if j >= len(uniq) {
					return
				}
				if n%cancelCheckEvery == 0 {
					if err := ctx.Err(); err != nil {
						errs[k] = err
						return
					}
				}
				ser := e.sn.list[uniq[j]]
				buf = e.fastRepr(buf, ser.raw, ser.z)
				scaled = algorithms.OculusScale(scaled, buf)
				ranked[j] = cand{d: ws.FastDTW(q, scaled, e.p.radius), i: uniq[j]}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return Result{}, err
	}
	e.scanned.Store(int64(len(ranked)))
	slices.SortFunc(ranked, func(a, b cand) int {
		if a.less(b) {
			return -1
		}
		if b.less(a) {
			return 1
		}
		return 0
	})
	return e.result(len(seen), ranked, false), nil
}

// closestMeans returns up to n eligible series, not in have, whose segment means are closest
// to the query's (the Euclidean LB_PAA): the last source of fastdtw candidates when the
// fingerprint and the iSAX words find too few (a flat or unusual query).
func (e *engine) closestMeans(n int, have []int32) []int32 {
	skip := newBitset(len(e.sn.list))
	for _, i := range have {
		skip.set(int(i))
	}
	pb := newPAABound(e.qz, nil, nil)
	nseg := e.sn.nseg
	var all []bounded
	for i := e.lo; i < e.hi; i++ {
		if skip.has(i) || (len(e.p.exclude) > 0 && !e.p.eligible(e.sn.list[i].name)) {
			continue
		}
		all = append(all, bounded{pb.lb(e.sn.paa[i*nseg:(i+1)*nseg], math.Inf(1)), int32(i)})
	}
	slices.SortFunc(all, func(a, b bounded) int {
		switch {
		case a.lb < b.lb:
			return -1
		case a.lb > b.lb:
			return 1
		}
		return int(a.i - b.i)
	})
	out := make([]int32, 0, min(n, len(all)))
	for _, b := range all[:min(n, len(all))] {
		out = append(out, b.i)
	}
	return out
}

// fastRepr is a series as FastDTW compares it: at the requested length (native when 0).
func (e *engine) fastRepr(dst, raw, z []float64) []float64 {
	switch {
	case e.p.length == e.sn.length:
		return append(dst[:0], z...)
	case e.p.length == 0:
		return append(dst[:0], raw...)
	default:
		return algorithms.PAA(dst, raw, e.p.length)
	}
}

// phraseCandidates returns the series whose fingerprint matches the query's as a sloppy
// phrase: the index selects the documents holding every query token, the positions are
// checked in memory (see phraseMatcher).
func (e *engine) phraseCandidates(ctx context.Context, qfp []byte) ([]int32, error) {
	conj := bleve.NewConjunctionQuery()
	for _, t := range fingerprintTerms(qfp) {
		tq := bleve.NewTermQuery(t)
		tq.SetField(fieldFP)
		conj.AddQuery(tq)
	}
	size := e.hi - e.lo
	if size == 0 {
		return nil, nil
	}
	if size > maxIndexPrefixTerms {
		size = len(e.sn.list) // the prefix is applied in memory only: every hit may be needed
	}
	res, err := e.idx.SearchInContext(ctx, bleve.NewSearchRequestOptions(e.filtered(conj), size, 0, false))
	if err != nil {
		return nil, fmt.Errorf("cannot query the oculus index: %w", err)
	}
	pos := e.positions(hitIDs(res.Hits))
	slices.Sort(pos)
	m := newPhraseMatcher(qfp, e.p.slop)
	var out []int32
	for n, i := range pos {
		if n%cancelCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if m.match(e.sn.list[i].fp) {
			out = append(out, i)
			if len(out) >= maxFastCandidates {
				break
			}
		}
	}
	return out, nil
}
