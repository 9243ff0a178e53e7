package algorithms

import (
	"math"
	"slices"
)

// Ring buffers and order statistics shared by the kale detectors.

// kaleRing is a fixed-capacity ring of the most recent values; at(0) is the oldest kept.
type kaleRing struct {
	buf  []float64
	head int // index of the next write
	n    int
}

func newKaleRing(capacity int) kaleRing { return kaleRing{buf: make([]float64, capacity)} }

func (r *kaleRing) push(x float64) {
	r.buf[r.head] = x
	r.head++
	if r.head == len(r.buf) {
		r.head = 0
	}
	if r.n < len(r.buf) {
		r.n++
	}
}

// at returns the i-th oldest value kept (0 <= i < n).
func (r *kaleRing) at(i int) float64 {
	j := r.head - r.n + i
	if j < 0 {
		j += len(r.buf)
	}
	return r.buf[j]
}

// back returns the value pushed k pushes ago (back(0) is the newest).
func (r *kaleRing) back(k int) float64 { return r.at(r.n - 1 - k) }

// copyLast copies the last m values (oldest first) into dst[:m] and returns it.
func (r *kaleRing) copyLast(dst []float64, m int) []float64 {
	if m > r.n {
		m = r.n
	}
	dst = dst[:m]
	for i := range m {
		dst[i] = r.at(r.n - m + i)
	}
	return dst
}

// kaleMedian returns the median of xs, reordering xs (numpy convention: the mean of the two
// middle values for an even length). It returns NaN for an empty slice.
func kaleMedian(xs []float64) float64 {
	n := len(xs)
	if n == 0 {
		return math.NaN()
	}
	k := n / 2
	kaleSelect(xs, k)
	m := xs[k]
	if n%2 == 0 {
		lo := xs[0]
		for _, v := range xs[:k] {
			lo = max(lo, v)
		}
		m = (m + lo) / 2
	}
	return m
}

// kaleSelect partially orders xs so that xs[k] is the k-th smallest, everything before it is
// no larger and everything after it no smaller (Hoare's quickselect, median-of-three pivot).
func kaleSelect(xs []float64, k int) {
	lo, hi := 0, len(xs)-1
	for hi > lo {
		if hi-lo < 16 {
			slices.Sort(xs[lo : hi+1])
			return
		}
		mid := lo + (hi-lo)/2
		if xs[mid] < xs[lo] {
			xs[mid], xs[lo] = xs[lo], xs[mid]
		}
		if xs[hi] < xs[lo] {
			xs[hi], xs[lo] = xs[lo], xs[hi]
		}
		if xs[hi] < xs[mid] {
			xs[hi], xs[mid] = xs[mid], xs[hi]
		}
		p := xs[mid]
		i, j := lo, hi
		for i <= j {
			for xs[i] < p {
				i++
			}
			for xs[j] > p {
				j--
			}
			if i <= j {
				xs[i], xs[j] = xs[j], xs[i]
				i++
				j--
			}
		}
		if k <= j {
			hi = j
		} else if k >= i {
			lo = i
		} else {
			return
		}
	}
}
