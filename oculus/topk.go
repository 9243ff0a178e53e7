package oculus

import (
	"container/heap"
	"math"
	"slices"
	"sync"
	"sync/atomic"
)

// cand is a scored series: its squared distance (or FastDTW cost) and its position in the
// snapshot, which is also its rank by name (the tie-break).
type cand struct {
	d float64
	i int32
}

func (a cand) less(b cand) bool { return a.d < b.d || (a.d == b.d && a.i < b.i) }

// candHeap is a max-heap: the root is the worst of the kept candidates.
type candHeap []cand

func (h candHeap) Len() int           { return len(h) }
func (h candHeap) Less(i, j int) bool { return h[j].less(h[i]) }
func (h candHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *candHeap) Push(x any)        { *h = append(*h, x.(cand)) }
func (h *candHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// topk keeps the need best candidates under the total order (distance, name). Workers read
// its pruning bound without locking.
//
// With a tolerance tol > 0 (distances computed on float32 copies, see exactness.go) the
// pruning bound is widen(k-th best) instead, and every offered candidate under it is kept
// too (within returns those still under it at the end), for the exact re-ranking.
type topk struct {
	need  int
	tol   float64 // in distance (square-root) units; 0: exact distances
	mu    sync.Mutex
	h     candHeap
	near  []cand        // with tol > 0: every offered candidate under the bound when offered
	bound atomic.Uint64 // math.Float64bits of slack(widen(k-th best distance)), +Inf until full
}

func newTopK(need int, tol float64) *topk {
	t := &topk{need: need, tol: tol, h: make(candHeap, 0, need)}
	t.bound.Store(math.Float64bits(math.Inf(1)))
	return t
}

// widen is the squared distance (√d + tol)²: with tol the gap bound 2E of exactness.go, a
// candidate over it cannot be among the exact k best.
func (t *topk) widen(d float64) float64 {
	if t.tol == 0 {
		return d
	}
	r := math.Sqrt(d) + t.tol
	return r * r
}

// slack widens a pruning threshold by a relative 1e-10 (plus 1e-12): a lower bound is pruned
// only when it exceeds the k-th best distance by more than floating-point rounding could
// explain, so a series that ties the k-th best is always computed and the name tie-break
// holds.
func slack(d float64) float64 { return d + math.Abs(d)*1e-10 + 1e-12 }

// threshold is the current pruning bound: a series whose lower bound exceeds it cannot enter
// the top k.
func (t *topk) threshold() float64 { return math.Float64frombits(t.bound.Load()) }

// offer adds a candidate with an exact distance if it belongs to the top k.
func (t *topk) offer(c cand) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tol > 0 && c.d <= t.threshold() {
		t.near = append(t.near, c)
	}
	switch {
	case len(t.h) < t.need:
		heap.Push(&t.h, c)
	case c.less(t.h[0]):
		t.h[0] = c
		heap.Fix(&t.h, 0)
	default:
		return
	}
	if len(t.h) == t.need {
		t.bound.Store(math.Float64bits(slack(t.widen(t.h[0].d))))
	}
}

// within returns, best first, every offered candidate under the final bound (tol > 0; the
// kept ones otherwise): a superset of the exact top k (exactness.go).
func (t *topk) within() []cand {
	if t.tol == 0 {
		return t.sorted()
	}
	t.mu.Lock()
	thr := t.threshold()
	out := make([]cand, 0, len(t.near))
	for _, c := range t.near {
		if c.d <= thr {
			out = append(out, c)
		}
	}
	t.mu.Unlock()
	slices.SortFunc(out, cmpCand)
	return out
}

// sorted returns the kept candidates, best first.
func (t *topk) sorted() []cand {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := slices.Clone(t.h)
	slices.SortFunc(out, cmpCand)
	return out
}
