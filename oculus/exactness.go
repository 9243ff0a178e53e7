package oculus

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/utils/redisstore"
)

// Exact results from a float32 copy.
//
// Memory keeps each series' z-normalised window as float32 (z32), not the float64 values a
// brute-force scan compares (z64 = ZNormalize(PAA(raw, L)) of the stored window). Phase 2 runs
// every bound and kernel on z32 and ranks by d32 = DTW(q, z32) (or the squared Euclidean
// distance); the final candidates are then read back from Redis and ranked by the exact d64.
//
// The gap between the two is bounded. z64 is z-normalised with the population deviation, so
// Σ z64_i² = L and |z64_i| ≤ √L, and rounding to float32 moves each value by at most
// e = 2⁻²⁴·√L. Along any warping path P (at most 2L−1 cells; the diagonal for Euclidean),
// Minkowski's inequality gives |√cost_P(q, z32) − √cost_P(q, z64)| ≤ √|P|·e, and taking the
// minimum over the paths on each side, |√d32 − √d64| ≤ E = √(2L)·√L·2⁻²⁴ (zTolerance doubles
// it, covering the float64 arithmetic too). With D the k-th smallest d32:
//
//   - the k series with d32 ≤ D have d64 ≤ (√D + E)², so the k-th smallest d64 is at most that;
//   - a series with √d32 > √D + 2E has √d64 > √D + E: it cannot be among the k best by d64.
//
// So phase 2 keeps every series with d32 ≤ (√D + 2E)² (topk.widen: the pruning threshold is
// that, not D), and exactTop reads exactly those — usually k, a few more on near ties — from
// Redis, computes d64 with the same functions a brute-force scan uses, and ranks them by
// (d64, name). The result equals the brute-force top k over the stored windows.
//
// The stored segment means are float32 roundings of the means of z32, off by at most
// 2⁻²⁴·√L: the query side of LB_PAA widens its intervals by paaSlack, so the bound stays
// below d32. The stored segment envelopes are rounded outwards (roundDown, roundUp), so
// they still enclose z32's envelope.
//
// A candidate whose stored bytes changed since it was indexed (its marker differs), or that
// vanished, keeps its d32: the answer then differs from the exact one by at most E in
// distance (2·10⁻⁵ at L = 256), and the next sync re-indexes it. When Redis cannot be read
// the search fails (no unchecked answer).

// zTolerance is 2·E for index length L (see above), in distance (square-root) units.
func zTolerance(length int) float64 {
	l := float64(length)
	return 2 * math.Sqrt(2*l) * math.Sqrt(l) * 0x1p-24
}

// paaSlack bounds the rounding of a stored segment mean (four times 2⁻²⁴·√L).
func paaSlack(length int) float64 { return math.Sqrt(float64(length)) * 0x1p-22 }

// exactTop re-ranks candidates scored on z32 by their exact distance to e.q on z64, read from
// Redis (one MGET round trip per fetchChunk candidates), best first. Candidates that changed
// since they were indexed keep their d32 (see above).
func (e *engine) exactTop(ctx context.Context, cands []cand) ([]cand, error) {
	if len(cands) == 0 {
		return cands, nil
	}
	names := make([]string, 0, len(cands)+1)
	if e.qser != nil {
		names = append(names, e.qser.name) // the query's own window, in the same round trip
	}
	for _, c := range cands {
		names = append(names, e.sn.list[c.i].name)
	}
	wins, err := e.s.loadWindows(ctx, names)
	if err != nil {
		// No answer rather than an unchecked one. The client's socket deadline may fire a
		// moment before ctx reports it: a read that fails at the deadline is a timeout.
		if d, ok := ctx.Deadline(); ctx.Err() != nil || (ok && !time.Now().Before(d.Add(-time.Millisecond))) {
			return nil, fmt.Errorf("cannot read the final candidates in time: %w", context.DeadlineExceeded)
		}
		return nil, fmt.Errorf("cannot read the final candidates from Redis: %w", err)
	}
	q := e.q
	if e.qser != nil {
		qw := wins[0]
		wins = wins[1:]
		q = nil
		if !qw.missing {
			// Changed since it was indexed (a live metric between syncs): ranked with its
			// current window, the candidates having been found with the indexed one.
			if z := resampleZ(qw.vals, e.sn.length); len(qw.vals) >= MinValues && allFinite(z) {
				q = z
			}
		}
		if q == nil {
			return cands, nil // the query metric vanished: its indexed copy ranks (within 2E)
		}
	}
	out := slices.Clone(cands)
	for j, w := range wins {
		ser := e.sn.list[cands[j].i]
		if w.missing || w.marker != ser.marker {
			continue // changed since it was indexed: its d32 stands
		}
		z := resampleZ(w.vals, e.sn.length)
		if !allFinite(z) {
			continue
		}
		if e.p.method == MethodEuclidean {
			out[j].d = algorithms.SquaredEuclidean(q, z)
		} else {
			out[j].d = algorithms.DTW(q, z, e.r)
		}
	}
	slices.SortFunc(out, cmpCand)
	e.reread.Add(int64(len(out)))
	return out, nil
}

func cmpCand(a, b cand) int {
	if a.less(b) {
		return -1
	}
	if b.less(a) {
		return 1
	}
	return 0
}

// window is one metric's recent window read back from Redis.
type window struct {
	missing bool
	marker  string
	vals    []float64
	times   timeline
}

// loadWindows reads the recent windows of the named metrics from Redis (fetchChunk keys per
// MGET) and decodes them on every core.
func (s *Service) loadWindows(ctx context.Context, names []string) ([]window, error) {
	out := make([]window, len(names))
	for lo := 0; lo < len(names); lo += fetchChunk {
		chunk := names[lo:min(lo+fetchChunk, len(names))]
		keys := make([]string, len(chunk))
		for i, n := range chunk {
			keys[i] = s.ns + n
		}
		raws, err := s.series.Raw(ctx, keys)
		if err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		decodeWindows(out[lo:lo+len(chunk)], raws, s.window())
	}
	return out, nil
}

// decodeWindows decodes raws into out, on every core when there are many.
func decodeWindows(out []window, raws [][]byte, win float64) {
	eachDecoded(len(raws), 32, func(i int, buf []redisstore.Pair) []redisstore.Pair {
		b := raws[i]
		if len(b) == 0 {
			out[i] = window{missing: true}
			return buf
		}
		out[i].marker = markerOf(b)
		out[i].vals, out[i].times, buf = windowOf(b, win, buf)
		return buf
	})
}

// eachDecoded runs f(i, buf) for every i in [0, n) on up to GOMAXPROCS goroutines (one per
// `per` items at least), each with its own pair buffer, which f returns (grown).
func eachDecoded(n, per int, f func(i int, buf []redisstore.Pair) []redisstore.Pair) {
	workers := min(runtime.GOMAXPROCS(0), max(1, n/per))
	var wg sync.WaitGroup
	for k := range workers {
		wg.Go(func() {
			var buf []redisstore.Pair
			for i := k; i < n; i += workers {
				buf = f(i, buf)
			}
		})
	}
	wg.Wait()
}
