package algorithms

// SquaredEuclidean returns the squared Euclidean distance
//
//	ED²(a, b) = Σ_{i < n} (a_i − b_i)²,  n = min(len(a), len(b))
//
// over the common length (callers pass equal lengths; the UCR suite's ED on z-normalised
// series, reported without the square root because it does not change ranks). The sum runs
// left to right with each square rounded before it is added (no fused multiply-add), so
// SquaredEuclidean(a, b) == DTW(a, b, 0) bit for bit.
func SquaredEuclidean(a, b []float64) float64 {
	n := min(len(a), len(b))
	a, b = a[:n], b[:n]
	s := 0.0
	for i := range a {
		d := a[i] - b[i]
		s += float64(d * d)
	}
	return s
}

// SquaredEuclideanEA is SquaredEuclidean with early abandoning (Rakthanmanon et al. 2012):
// as soon as the partial sum exceeds bsf (strictly) it returns that partial sum, a value
// > bsf; otherwise it returns exactly SquaredEuclidean(a, b). So the result is <= bsf iff
// the full distance is, and a caller keeping the best-so-far with a strict "<" loses
// nothing. A NaN or +Inf bsf never abandons.
func SquaredEuclideanEA(a, b []float64, bsf float64) float64 {
	n := min(len(a), len(b))
	a, b = a[:n], b[:n]
	s := 0.0
	for i := range a {
		d := a[i] - b[i]
		s += float64(d * d)
		if s > bsf {
			return s
		}
	}
	return s
}

// OculusEuclideanScore is Oculus' "oculus_euclidian" native scorer (spec §6.7): both series
// are min-max scaled to [0, 25] (OculusScale, without rounding) and the score is
//
//	Σ_{i < min(|Q|,|C|)} (scale(C)_i − scale(Q)_i)²
//
// — the squared distance (no square root) of the series aligned at their first point and
// truncated to the shorter one [BUG-COMPAT, spec §7 item 10]. Lower is more similar. A flat
// series scales to zeros here; Oculus produced NaN for it (spec §6.7). It allocates nothing.
func OculusEuclideanScore(query, candidate []float64) float64 {
	n := min(len(query), len(candidate))
	qs, qlo := oculusScaleFactor(query)
	cs, clo := oculusScaleFactor(candidate)
	s := 0.0
	for i := range n {
		d := float64(cs*(candidate[i]-clo)) - float64(qs*(query[i]-qlo))
		s += float64(d * d)
	}
	return s
}
