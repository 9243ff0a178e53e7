package algorithms

import "math"

// ZNormalize writes the z-normalised x into dst and returns it:
//
//	z_i = (x_i − mean) / std,  mean = Σx_i / n,  std = sqrt(Σ(x_i − mean)² / n)
//
// with the POPULATION standard deviation (ddof = 0), the convention of the UCR suite and of
// shared/ucr/golden_distances.tsv. (For 1-NN search between series of equal length,
// population and sample std give the same ranks.)
//
// A flat series — std == 0 or std <= 1e-12·max(1, |mean|), i.e. the spread is rounding
// noise — becomes all zeros rather than ±Inf/NaN or amplified noise, so that a flat series
// is at distance Σ(other_i²) = n from every z-normalised series instead of poisoning a
// search. A series of length 1 is flat. NaN or ±Inf anywhere in x make every output NaN.
//
// dst is grown if its capacity is below len(x) and reused otherwise; it may be x itself
// (in-place normalisation). An empty x gives dst[:0].
func ZNormalize(dst, x []float64) []float64 {
	n := len(x)
	dst = growFloats(dst, n)
	if n == 0 {
		return dst
	}
	sum := 0.0
	for _, v := range x {
		sum += v
	}
	mean := sum / float64(n)
	ss := 0.0
	for _, v := range x {
		d := v - mean
		ss += float64(d * d)
	}
	std := math.Sqrt(ss / float64(n))
	if std == 0 || std <= 1e-12*math.Max(1, math.Abs(mean)) {
		clear(dst)
		return dst
	}
	for i, v := range x {
		dst[i] = (v - mean) / std
	}
	return dst
}

// growFloats returns dst resliced to n elements, allocating only when cap(dst) < n. The
// contents are unspecified; callers overwrite every element.
func growFloats(dst []float64, n int) []float64 {
	if cap(dst) < n {
		return make([]float64, n)
	}
	return dst[:n]
}
