package oculus

import (
	"context"
	"errors"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/blevesearch/bleve/v2"

	"github.com/kale-project/kale/algorithms"
)

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
		more, err := e.closestMeans(ctx, want, cands)
		if err != nil {
			return Result{}, err
		}
		cands = append(cands, more...)
	}
	// Count the eligible series (the total of the response).
	var total int
	if len(e.p.exclude) == 0 {
		total = e.hi - e.lo
	} else {
		for i := e.lo; i < e.hi; i++ {
			if e.p.eligible(e.sn.list[i].name) {
				total++
			}
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
	if err := e.checkFastWork(len(q), uniq); err != nil {
		return Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
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
			for {
				j := int(next.Add(1)) - 1
				if j >= len(uniq) {
					return
				}
				ser := e.sn.list[uniq[j]]
				buf = e.fastRepr(buf, ser.raw, ser.z)
				scaled = algorithms.OculusScale(scaled, buf)
				d, err := ws.FastDTWContext(ctx, q, scaled, e.p.radius)
				if err != nil {
					errs[k] = err
					return
				}
				ranked[j] = cand{d: d, i: uniq[j]}
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
func (e *engine) closestMeans(ctx context.Context, n int, have []int32) ([]int32, error) {
	skip := newBitset(len(e.sn.list))
	for _, i := range have {
		skip.set(int(i))
	}
	pb := newPAABound(e.qz, nil, nil)
	nseg := e.sn.nseg
	var all []bounded
	for i := e.lo; i < e.hi; i++ {
		if (i-e.lo)%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
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
	return out, ctx.Err()
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

// fastLen is the length of a series as fastRepr returns it.
func (e *engine) fastLen(ser *series) int {
	switch {
	case e.p.length == e.sn.length:
		return len(ser.z)
	case e.p.length == 0:
		return len(ser.raw)
	default:
		return e.p.length
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
		return nil, indexError(err)
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
