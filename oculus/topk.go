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
type topk struct {
	need  int
	mu    sync.Mutex
	h     candHeap
	bound atomic.Uint64 // math.Float64bits of slack(k-th best distance), +Inf until full
}

func newTopK(need int) *topk {
	t := &topk{need: need, h: make(candHeap, 0, need)}
	t.bound.Store(math.Float64bits(math.Inf(1)))
	return t
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
		t.bound.Store(math.Float64bits(slack(t.h[0].d)))
	}
}

// sorted returns the kept candidates, best first.
func (t *topk) sorted() []cand {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := slices.Clone(t.h)
	slices.SortFunc(out, func(a, b cand) int {
		if a.less(b) {
			return -1
		}
		if b.less(a) {
			return 1
		}
		return 0
	})
	return out
}
