package algorithms

import (
	"math"
	"math/bits"
	"slices"
)

// This file holds the reductions Skyline's detectors get from numpy, pandas and bottleneck,
// written so that they round exactly like the Python libraries that produced the golden
// verdicts (numpy 1.24, pandas 1.5.3 with bottleneck 1.3.5):
//
//   - numpy's np.sum / np.mean / np.std sum pairwise within chunks of 8192 elements and
//     add the chunk sums in order (numpySumOf);
//   - pandas' Series.mean() is that same numpy sum over the non-NaN values divided by their
//     count (pandas 1.5 no longer hands mean to bottleneck; a naive sum disagrees with the
//     golden means in 238 of 367 cases, the chunked pairwise sum in none);
//   - pandas' Series.std() is bottleneck's nanstd: a naive left-to-right two-pass sum
//     (bottleneckStdOf), ddof = 1;
//   - medians are numpy's: the middle element, or the average of the two middle ones.
//
// Products that feed a sum are wrapped in float64(...) so that the Go compiler cannot fuse
// them into an FMA on architectures that have one: the Python libraries round each product.

// pairwiseBlock is numpy's PW_BLOCKSIZE: blocks up to this length are summed with eight
// interleaved accumulators, longer runs are split in two.
const pairwiseBlock = 128

// numpyBufSize is numpy's default ufunc buffer size (np.getbufsize()): reductions over
// longer arrays proceed in chunks of this many elements.
const numpyBufSize = 8192

// pairwiseSum is numpy's pairwise_sum_DOUBLE (loops_utils.h.src), the inner loop of
// np.add.reduce over one chunk.
func pairwiseSum(a []float64) float64 {
	n := len(a)
	switch {
	case n < 8:
		res := 0.0
		for _, v := range a {
			res += v
		}
		return res
	case n <= pairwiseBlock:
		var r [8]float64
		copy(r[:], a[:8])
		i := 8
		for ; i < n-n%8; i += 8 {
			r[0] += a[i]
			r[1] += a[i+1]
			r[2] += a[i+2]
			r[3] += a[i+3]
			r[4] += a[i+4]
			r[5] += a[i+5]
			r[6] += a[i+6]
			r[7] += a[i+7]
		}
		res := ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
		for ; i < n; i++ {
			res += a[i]
		}
		return res
	default:
		n2 := n / 2
		n2 -= n2 % 8
		return pairwiseSum(a[:n2]) + pairwiseSum(a[n2:])
	}
}

// seq is a virtual float64 array: at(i) is its i-th element. The reductions below read
// i = 0, 1, …, n-1 in increasing order in every pass (so a seq may walk a cursor and
// restart at i == 0), which lets detectors reduce derived arrays, such as squared deviations
// or a time window of the series, without allocating them.
type seq = func(i int) float64

// valuesOf is the seq of the series' values.
func valuesOf(s []Point) seq {
	return func(i int) float64 { return s[i].Value }
}

// numpySumOf returns the sum of the n elements of at exactly as np.add.reduce sums the array
// holding them: the reduction's iterator hands the inner loop chunks of at most
// numpyBufSize elements, each is summed pairwise, and the chunk sums are added in order to
// the initial 0.0.
func numpySumOf(n int, at seq) float64 {
	sum := 0.0
	for lo := 0; lo < n; lo += numpyBufSize {
		sum += pairwiseSumOf(lo, min(numpyBufSize, n-lo), at)
	}
	return sum
}

func pairwiseSumOf(lo, n int, at seq) float64 {
	if n <= pairwiseBlock {
		var buf [pairwiseBlock]float64
		b := buf[:n]
		for i := range b {
			b[i] = at(lo + i)
		}
		return pairwiseSum(b)
	}
	n2 := n / 2
	n2 -= n2 % 8
	return pairwiseSumOf(lo, n2, at) + pairwiseSumOf(lo+n2, n-n2, at)
}

// numpyMeanOf is np.mean of the n elements of at (NaN when n is 0).
func numpyMeanOf(n int, at seq) float64 {
	return numpySumOf(n, at) / float64(n)
}

// numpyStdOf is np.std (population, ddof = 0) of the n elements of at, given their
// np.mean: the numpy sum of the squared deviations, divided by n.
func numpyStdOf(n int, at seq, mean float64) float64 {
	sq := numpySumOf(n, func(i int) float64 {
		d := at(i) - mean
		return float64(d * d)
	})
	return math.Sqrt(sq / float64(n))
}

// pandasMeanOf is pandas' Series.mean() (skipna) of the n elements of at: numpy's sum with
// NaNs replaced by 0, divided by the number of non-NaN elements.
func pandasMeanOf(n int, at seq) float64 {
	count := n
	sum := numpySumOf(n, func(i int) float64 {
		v := at(i)
		if math.IsNaN(v) {
			count--
			return 0
		}
		return v
	})
	return sum / float64(count)
}

// bottleneckStdOf is bottleneck's nanstd(x, ddof), which pandas' Series.std() calls, of the
// n elements of at: a naive left-to-right sum for the mean, then a naive sum of the squared
// deviations, NaNs skipped. NaN when there are not more than ddof numbers.
func bottleneckStdOf(n int, at seq, ddof int) float64 {
	count := 0
	sum := 0.0
	for i := range n {
		if v := at(i); !math.IsNaN(v) {
			sum += v
			count++
		}
	}
	if count <= ddof {
		return math.NaN()
	}
	mean := sum / float64(count)
	sum = 0
	for i := range n {
		if v := at(i); !math.IsNaN(v) {
			d := v - mean
			sum += float64(d * d)
		}
	}
	return math.Sqrt(sum / float64(count-ddof))
}

// median returns numpy's / bottleneck's median of a, skipping NaNs (pandas' skipna): the
// middle element, or 0.5*(a+b) of the two middle ones. It reorders a. NaN if a holds no
// number.
func median(a []float64) float64 {
	n := 0
	for _, v := range a {
		if !math.IsNaN(v) {
			a[n] = v
			n++
		}
	}
	a = a[:n]
	if n == 0 {
		return math.NaN()
	}
	k := n / 2
	hi := selectKth(a, k)
	if n%2 == 1 {
		return hi
	}
	// After selection every element left of k is <= a[k]; the lower middle is their max.
	lo := a[0]
	for _, v := range a[1:k] {
		if v > lo {
			lo = v
		}
	}
	return 0.5 * (lo + hi)
}

// selectKth reorders a so that a[k] holds the k-th smallest value, everything before it is
// <= a[k] and everything after it is >= a[k], and returns a[k]. It is quickselect with a
// median-of-three pivot that falls back to sorting when partitioning degenerates. a must
// hold no NaN.
func selectKth(a []float64, k int) float64 {
	lo, hi := 0, len(a)-1
	budget := 2 * bits.Len(uint(len(a)))
	for hi > lo {
		if budget == 0 {
			slices.Sort(a[lo : hi+1])
			break
		}
		budget--
		mid := lo + (hi-lo)/2
		// Order a[lo], a[mid], a[hi] and use the middle one as the pivot.
		if a[mid] < a[lo] {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if a[hi] < a[lo] {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if a[hi] < a[mid] {
			a[hi], a[mid] = a[mid], a[hi]
		}
		pivot := a[mid]
		i, j := lo, hi
		for i <= j {
			for a[i] < pivot {
				i++
			}
			for a[j] > pivot {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return a[k]
		}
	}
	return a[k]
}
