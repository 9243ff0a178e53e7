package oculus

import (
	"context"
	"errors"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

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
	// At the index length the candidates are their stored float32 copies: so is the query,
	// so that equal windows compare at 0.
	var q []float64
	if e.p.length == e.sn.length {
		z32, _ := compactSeries(e.qz, 0)
		q = widen(nil, z32)
	} else {
		q = e.fastRepr(nil, raw, nil)
	}
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
	// The candidates' native windows, when the comparison is not at the index length.
	var wins []window
	if e.p.length != e.sn.length {
		var err error
		if wins, err = e.s.loadWindows(ctx, e.names(uniq)); err != nil {
			return Result{}, err
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
			for {
				j := int(next.Add(1)) - 1
				if j >= len(uniq) {
					return
				}
				if wins != nil && wins[j].missing {
					ranked[j] = cand{d: math.Inf(1), i: -1} // vanished since it was indexed: dropped below
					continue
				}
				if wins != nil {
					buf = e.fastRepr(buf, wins[j].vals, nil)
				} else {
					buf = e.fastRepr(buf, nil, e.sn.list[uniq[j]].z)
				}
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
	ranked = slices.DeleteFunc(ranked, func(c cand) bool { return c.i < 0 })
	e.scanned.Store(int64(len(ranked)))
	slices.SortFunc(ranked, cmpCand)
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
	pb := newPAABound(e.qz, nil, nil, 0)
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
		all = append(all, bounded{lbPAA(pb, e.sn.paa(i), math.Inf(1)), int32(i)})
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

// fastRepr is a series as FastDTW compares it: at the requested length (native when 0), from
// its stored z32 at the index length, else from its native window.
func (e *engine) fastRepr(dst, raw []float64, z []float32) []float64 {
	switch {
	case e.p.length == e.sn.length:
		return widen(dst, z)
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
		return e.sn.length
	case e.p.length == 0:
		return int(ser.n)
	default:
		return e.p.length
	}
}

// phraseCandidates returns the series whose fingerprint matches the query's as a sloppy
// phrase: the index selects the documents holding every query token, the positions are
// checked in memory (see phraseMatcher).
func (e *engine) phraseCandidates(ctx context.Context, qfp []byte) ([]int32, error) {
	// The documents holding every query token, in name order, checked in memory: the
	// fingerprints are there anyway, and a conjunction over the index returns most of the
	// corpus for a typical query (each token is in most windows), which costs more than
	// this scan.
	m := newPhraseMatcher(qfp, e.p.slop)
	var out []int32
	var fp []byte
	for i := e.lo; i < e.hi; i++ {
		if (i-e.lo)%cancelCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		ser := e.sn.list[i]
		if len(e.p.exclude) > 0 && !e.p.eligible(ser.name) {
			continue
		}
		fp = unpackFingerprint(fp, ser.fp)
		if m.match(fp) {
			out = append(out, int32(i))
			if len(out) >= maxFastCandidates {
				break
			}
		}
	}
	return out, nil
}
