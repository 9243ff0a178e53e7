package algorithms

// PAA resamples x to n points by piecewise aggregate approximation with fractional frames
// (Keogh et al. 2001, generalised to any n). Input point i covers the interval [i, i+1) of
// the time axis [0, L), L = len(x); output point j covers [j·L/n, (j+1)·L/n) and is the
// length-weighted mean of the input it overlaps:
//
//	out_j = (n/L) · Σ_i x_i · |[i, i+1) ∩ [j·L/n, (j+1)·L/n)|
//
// The overlaps are computed exactly in integers (everything scaled by n), so:
//   - n == L is the identity, bit for bit (x is copied);
//   - n < L and L divisible by n is the classic PAA (the mean of each block of L/n points);
//   - n < L otherwise splits the boundary points between neighbouring frames;
//   - n > L upsamples: each output is the value of the input point it lies in, or the
//     weighted mean of the two it straddles;
//   - in every case mean(out) == mean(x) up to rounding, because every input point
//     contributes a total weight of exactly n/L.
//
// dst is grown if its capacity is below n and reused otherwise. It must not overlap x,
// except that PAA(x[:0], x, n) with n <= len(x) works in place. n <= 0 or an empty x give
// dst[:0].
func PAA(dst, x []float64, n int) []float64 {
	l := len(x)
	if n <= 0 || l == 0 {
		return dst[:0]
	}
	dst = growFloats(dst, n)
	if n == l {
		copy(dst, x)
		return dst
	}
	fn, fl := float64(n), float64(l)
	i := 0
	for j := range n {
		start, end := j*l, (j+1)*l // frame j in units of 1/n
		full, part := 0.0, 0.0
		for i < l {
			is, ie := i*n, (i+1)*n // input i in units of 1/n
			if is >= end {
				break
			}
			lo, hi := max(is, start), min(ie, end)
			if ov := hi - lo; ov == n {
				full += x[i]
			} else {
				part += x[i] * float64(ov)
			}
			if ie > end {
				break // input i continues into frame j+1
			}
			i++
		}
		dst[j] = (fn*full + part) / fl
	}
	return dst
}
