package oculus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
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
		method = methodInvalid
	}
	if err != nil {
		s.m.searches.WithLabelValues(method, resultBadQuery).Inc()
		return emptyResult(method), err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.SearchTimeout)
	defer cancel()
	leave := s.gate.Enter() // background work (analyzer workers, indexing) yields meanwhile
	defer leave()
	version := s.collectionsVersion(ctx) // its round trip overlaps the search
	res, err := s.search(ctx, &p)
	if err != nil {
		s.m.searches.WithLabelValues(method, outcome(err)).Inc()
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("cannot finish the search within --search-timeout %v: %w", s.cfg.SearchTimeout, err)
		}
		return emptyResult(method), err
	}
	res.Collections = s.matchCollections(ctx, res.Results, <-version)
	res.TookMS = float64(time.Since(start).Microseconds()) / 1000
	s.m.searches.WithLabelValues(method, resultOK).Inc()
	s.m.searchSeconds.WithLabelValues(method).Observe(time.Since(start).Seconds())
	s.m.candidates.Add(float64(res.Candidates))
	s.m.scanned.Add(float64(res.Scanned))
	return res, nil
}

// outcome is the result label of a failed search.
func outcome(err error) string {
	switch {
	case errors.Is(err, ErrTooMuchWork):
		return resultTooMuchWork
	case errors.Is(err, ErrBadQuery):
		return resultBadQuery
	case errors.Is(err, ErrNotFound):
		return resultNotFound
	case errors.Is(err, context.DeadlineExceeded):
		return resultTimeout
	case errors.Is(err, context.Canceled):
		return resultCancelled
	case errors.Is(err, ErrClosed):
		return resultClosed
	}
	return resultError
}

func emptyResult(method string) Result {
	return Result{Results: []Hit{}, Collections: []CollectionMatch{}, Method: method, Approximate: method == MethodFastDTW}
}

// queryValues returns the raw values of the query, and their timestamps for a metric: the
// drawn values, or the query metric's window, read from Redis (memory holds only the compact
// form; the query is compared on its exact values). "metrics.x" is accepted for the metric x.
func (s *Service) queryValues(ctx context.Context, sn *snapshot, p *plan) ([]float64, timeline, error) {
	if p.metric == "" {
		return p.values, timeline{}, nil
	}
	names := []string{p.metric}
	if n, ok := strings.CutPrefix(p.metric, s.ns); ok && n != "" {
		names = append(names, n)
	}
	// An indexed name first (the metric as the index knows it), then whichever exists.
	for k, n := range names {
		if sn.get(n) != nil {
			names[0], names[k] = names[k], names[0]
			break
		}
	}
	var b []byte
	var err error
	for _, n := range names {
		if b, err = s.readRaw(ctx, n); !errors.Is(err, ErrNotFound) {
			p.self = n
			break
		}
	}
	if err != nil {
		return nil, timeline{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, timeline{}, err // the read may outlast the deadline: the client honours only its own timeouts
	}
	vals, times, _ := windowOf(b, s.window(), nil)
	if len(vals) < MinValues {
		return nil, timeline{}, badf("metric %q has %d usable points in its window; a search needs at least %d", p.metric, len(vals), MinValues)
	}
	return vals, times, nil
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
	top     *topk     // with a tolerance when stored: exactTop re-ranks its candidates
	lo, hi  int       // snapshot range of the prefix
	pair    int64     // distance-matrix cells of one exact comparison (work.go)
	fits    bool      // the worst case of the exact search fits --search-max-work
	scanned atomic.Int64
	skipped atomic.Int64
	total   atomic.Int64
	reread  atomic.Int64 // final candidates read back from Redis (exactTop)
	qser    *series      // the query metric's stored series when the search runs on its z32 (storedQuery)
}

func (s *Service) search(ctx context.Context, p *plan) (Result, error) {
	sn := s.snap.Load()
	if qser := storedQuery(sn, p, s.ns); qser != nil {
		return s.run(ctx, sn, p, nil, qser)
	}
	raw, times, err := s.queryValues(ctx, sn, p)
	if err != nil {
		return Result{}, err
	}
	res, err := s.run(ctx, sn, p, raw, nil)
	if err == nil && p.windows {
		err = s.addWindows(ctx, &res, p, raw, times)
	}
	return res, err
}

// addWindows fills in each hit's window (read from Redis) and the query metric's.
func (s *Service) addWindows(ctx context.Context, res *Result, p *plan, raw []float64, times timeline) error {
	names := make([]string, len(res.Results))
	for i, h := range res.Results {
		names[i] = h.Metric
	}
	wins, err := s.loadWindows(ctx, names)
	if err != nil {
		return fmt.Errorf("cannot read the windows of the results: %w", err)
	}
	for i, w := range wins {
		if !w.missing {
			res.Results[i].Window = w.times.points(w.vals)
		}
	}
	if p.metric != "" {
		res.QueryWindow = times.points(raw)
	}
	return nil
}

// storedQuery returns the indexed series of a query by metric that an exact search can run
// on as stored (dtw or euclidean, z-normalised, at the index length, no windows to draw), or
// nil. Such a search starts on the query's z32 without reading Redis, and reads the query's
// window together with the final candidates (exactTop): one round trip instead of two.
func storedQuery(sn *snapshot, p *plan, ns string) *series {
	if p.metric == "" || p.windows || p.method == MethodFastDTW || !p.normalize {
		return nil
	}
	names := []string{p.metric}
	if n, ok := strings.CutPrefix(p.metric, ns); ok && n != "" {
		names = append(names, n)
	}
	for _, n := range names {
		ser := sn.get(n)
		if ser == nil {
			continue
		}
		if int(ser.n) < MinValues || (p.length != sn.length && (p.length != 0 || int(ser.n) != sn.length)) {
			return nil
		}
		p.self = n
		return ser
	}
	return nil
}

// run searches sn for raw, or for the stored query series qser (storedQuery), under the
// index's read lock.
func (s *Service) run(ctx context.Context, sn *snapshot, p *plan, raw []float64, qser *series) (Result, error) {
	s.idxMu.RLock()
	defer s.idxMu.RUnlock()
	if s.closed {
		return Result{}, ErrClosed
	}
	e := &engine{s: s, sn: sn, p: p, idx: s.idx, qser: qser}
	if qser != nil {
		e.qz = widen(nil, qser.z)
	} else {
		e.qz = resampleZ(raw, sn.length)
	}
	if !allFinite(e.qz) {
		return Result{}, badf("the query values are too large to normalise")
	}
	e.lo = sort.Search(len(sn.list), func(i int) bool { return sn.list[i].name >= p.prefix })
	e.hi = e.lo + sort.Search(len(sn.list)-e.lo, func(i int) bool { return !strings.HasPrefix(sn.list[e.lo+i].name, p.prefix) })
	if p.method == MethodFastDTW {
		e.top = newTopK(p.need, 0)
		return e.fastDTW(ctx, raw)
	}
	e.stored = qser != nil || (p.normalize && (p.length == sn.length || (p.length == 0 && len(raw) == sn.length)))
	switch {
	case qser != nil:
		// Both sides are float32 copies: each moves the distance by up to E (exactness.go).
		e.q = e.qz
		e.top = newTopK(p.need, 2*sn.tol)
	case e.stored:
		e.q = e.qz
		e.top = newTopK(p.need, sn.tol) // scored on float32 copies, re-ranked exactly (exactness.go)
	default:
		e.q = represent(nil, raw, p.length, p.normalize)
		e.top = newTopK(p.need, 0)
	}
	if p.method == MethodDTW {
		e.r = algorithms.SakoeChibaCells(p.window, len(e.q))
		e.u, e.l = algorithms.Envelope(e.q, e.r, nil, nil)
		e.useEnv = e.stored && e.r <= sn.envR
	}
	if err := e.planExactWork(ctx); err != nil {
		return Result{}, err
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
		return nil, indexError(err)
	}
	return e.positions(hitIDs(res.Hits)), nil
}

// indexError wraps an error of a bleve search, in ErrClosed too when the index was closed.
func indexError(err error) error {
	if errors.Is(err, bleve.ErrorIndexClosed) {
		return fmt.Errorf("cannot query the oculus index: %w (%w)", ErrClosed, err)
	}
	return fmt.Errorf("cannot query the oculus index: %w", err)
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
		if i, ok := e.sn.index(id); ok && i >= e.lo && i < e.hi && e.p.eligible(id) {
			out = append(out, int32(i))
		}
	}
	return out
}

// result turns the ranked candidates into the requested page, without the query metric
// unless the query includes it (the ranking holds one more result then: plan.need).
func (e *engine) result(candidates int, ranked []cand, squared bool) Result {
	res := emptyResult(e.p.method)
	res.Candidates = candidates
	res.Scanned = int(e.scanned.Load())
	res.Total = int(e.total.Load())
	res.Skipped = int(e.skipped.Load())
	if i, ok := e.sn.index(e.p.self); ok && e.p.dropSelf && i >= e.lo && i < e.hi && e.p.eligible(e.p.self) && res.Total > 0 {
		res.Total-- // the total counts the other metrics, as the results do
	}
	from, to := e.p.page*e.p.k, (e.p.page+1)*e.p.k
	rank := 0
	for _, c := range ranked {
		if rank >= to {
			break
		}
		name := e.sn.list[c.i].name
		if e.p.dropSelf && name == e.p.self {
			continue
		}
		if rank >= from {
			d := c.d
			if squared {
				d = math.Sqrt(d)
			}
			res.Results = append(res.Results, Hit{Metric: name, Distance: d})
		}
		rank++
	}
	return res
}
