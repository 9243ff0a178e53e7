package algorithms

import (
	"math"
	"slices"
)

// This file is the two-sample Kolmogorov–Smirnov test exactly as SciPy 1.10.1 computes it in
// scipy.stats.ks_2samp(data1, data2, alternative='two-sided', method='auto'), the version
// that produced Kale's Skyline golden data. Every branch of SciPy's code is reproduced:
//
//   - D is max(maxS, minS) of the ECDF differences evaluated at every pooled value with
//     searchsorted(..., side='right'), as float64 count/n1 - count/n2, exactly as NumPy
//     evaluates it. NaN sorts last and equals itself, as in numpy.sort/searchsorted.
//   - method='auto' chooses 'exact' when max(n1, n2) <= 10000, else 'asymp'.
//   - exact: h = round(D·lcm(n1, n2)) (half to even), D is replaced by h/lcm, and
//     p = 1 when h == 0; otherwise p = _compute_prob_outside_square(n, h) when n1 == n2,
//     else _compute_outer_prob_inside_method(n1, n2, g, h) (Hodges' inside method with
//     Viehmann's recursion for 1-p). A p outside [0, 1] makes SciPy fall back to 'asymp'
//     (keeping the rounded D); so does this code.
//   - asymp (ks2samp_asymp.go): p = kstwo.sf(D, round(n1·n2/(n1+n2))), the one-sample
//     two-sided Kolmogorov distribution of Simard & L'Ecuyer (2011) as
//     scipy.stats._ksstats._kolmogn selects it: Ruben–Gambino closed forms, 2·smirnov,
//     Durbin's matrix (Marsaglia–Tsang–Wang), Pomeranz's recursion or the Pelz–Good
//     approximation.
//   - p is clipped to [0, 1].
//
// The exact branch reproduces SciPy's floating-point operations in the same order, so its
// p-values agree with SciPy's to the last bit or two. The asymptotic branch agrees to about
// 1e-12 relative: SciPy's one-sided smirnov() uses double-double arithmetic, this code uses
// compensated float64 sums in log space.

// ksAutoMaxN is scipy.stats.ks_2samp's MAX_AUTO_N: method='auto' is exact when both sample
// sizes are at most this.
const ksAutoMaxN = 10000

// ks2Samp returns SciPy 1.10's ks_2samp(a, b) statistic d and two-sided p-value p
// (method='auto'), and the raw statistic dRaw = max|ECDF_a - ECDF_b| before SciPy's exact
// branch rounds it to a multiple of 1/lcm(n1, n2) (what SciPy of Etsy's era reported).
// Both samples must be non-empty (else all NaN); a and b are not modified.
func ks2Samp(a, b []float64) (d, p, dRaw float64) {
	n1, n2 := len(a), len(b)
	if n1 == 0 || n2 == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	buf := make([]float64, n1+n2)
	s1, s2 := buf[:n1], buf[n1:]
	copy(s1, a)
	copy(s2, b)
	slices.SortFunc(s1, ksNumpyCompare)
	slices.SortFunc(s2, ksNumpyCompare)
	dRaw = ks2SampStatistic(s1, s2)
	d, p = ks2SampPValue(n1, n2, dRaw)
	return d, p, dRaw
}

// ksNumpyCompare orders float64s as numpy.sort does: NaN after everything, all NaNs equal.
func ksNumpyCompare(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	case x == y:
		return 0
	case x != x && y != y:
		return 0
	case x != x:
		return 1
	default:
		return -1
	}
}

// ks2SampStatistic is ks_2samp's two-sided D for two samples sorted by ksNumpyCompare.
// NumPy evaluates cdf1 - cdf2 at every pooled value; the same set of differences occurs at
// the distinct pooled values, which a merge walk visits in O(n1+n2).
func ks2SampStatistic(s1, s2 []float64) float64 {
	n1, n2 := len(s1), len(s2)
	fn1, fn2 := float64(n1), float64(n2)
	maxS, minDiff := math.Inf(-1), math.Inf(1)
	i, j := 0, 0
	for i < n1 || j < n2 {
		var v float64
		switch {
		case i == n1:
			v = s2[j]
		case j == n2:
			v = s1[i]
		case ksNumpyCompare(s1[i], s2[j]) <= 0:
			v = s1[i]
		default:
			v = s2[j]
		}
		for i < n1 && ksNumpyCompare(s1[i], v) == 0 {
			i++
		}
		for j < n2 && ksNumpyCompare(s2[j], v) == 0 {
			j++
		}
		diff := float64(i)/fn1 - float64(j)/fn2
		if diff > maxS {
			maxS = diff
		}
		if diff < minDiff {
			minDiff = diff
		}
	}
	// minS = np.clip(-cddiffs[argminS], 0, 1)
	minS := math.Min(math.Max(-minDiff, 0), 1)
	if minS > maxS {
		return minS
	}
	return maxS
}

// ks2SampPValue is the p-value half of ks_2samp (two-sided, method='auto') for sample sizes
// n1, n2 and raw statistic d. It returns the statistic SciPy reports (in the exact branch
// round(d·lcm)/lcm, which can differ from d in the last bits) and the p-value.
func ks2SampPValue(n1, n2 int, d float64) (dReported, p float64) {
	if max(n1, n2) <= ksAutoMaxN {
		ok, dr, prob := ksAttemptExact(n1, n2, d)
		d = dr
		if ok {
			return d, ksClip01(prob)
		}
	}
	// 'asymp': kstwo.sf(d, np.round(en)) with en = m*n/(m+n), m >= n.
	m, n := float64(max(n1, n2)), float64(min(n1, n2))
	en := m * n / (m + n)
	return d, ksClip01(ksKstwoSF(d, math.RoundToEven(en)))
}

// ksAttemptExact is scipy.stats._stats_py._attempt_exact_2kssamp for the two-sided case.
func ksAttemptExact(n1, n2 int, d float64) (ok bool, dRounded, prob float64) {
	g := ksGCD(n1, n2)
	lcm := (n1 / g) * n2
	h := int(math.RoundToEven(d * float64(lcm)))
	dRounded = float64(h) * 1.0 / float64(lcm)
	if h == 0 {
		return true, dRounded, 1.0
	}
	if n1 == n2 {
		prob = ksProbOutsideSquare(n1, h)
	} else {
		prob = ksOuterProbInsideMethod(n1, n2, g, h)
	}
	if !(0 <= prob && prob <= 1) {
		return false, dRounded, prob
	}
	return true, dRounded, prob
}

func ksGCD(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func ksClip01(p float64) float64 {
	// np.clip(p, 0, 1) keeps NaN.
	if p < 0 {
		return 0
	}
	if p > 1 {
		return 1
	}
	return p
}

// ksProbOutsideSquare is scipy.stats._stats_py._compute_prob_outside_square(n, h):
// Pr(D_{n,n} >= h/n) = 2·A0·(1 - A1·(1 - A2·(1 - ...))), Horner-like, in the same order of
// operations as SciPy's Python code.
func ksProbOutsideSquare(n, h int) float64 {
	P := 0.0
	k := int(math.Floor(float64(n) / float64(h)))
	for ; k >= 0; k-- {
		p1 := 1.0
		for j := 0; j < h; j++ {
			p1 = float64(float64(n-k*h-j)*p1) / float64(n+k*h+j+1)
		}
		P = p1 * (1.0 - P)
	}
	return 2 * P
}

// ksOuterProbInsideMethod is scipy.stats._stats_pythran._compute_outer_prob_inside_method
// (SciPy 1.10): the proportion of lattice paths from (0,0) to (m,n) that leave the band
// |x/m - y/n| < h/lcm(m,n), computed directly as 1-p with Viehmann's (2021) recursion of
// Hodges' (1958) inside method, one sliding column at a time.
func ksOuterProbInsideMethod(m, n, g, h int) float64 {
	if m < n {
		m, n = n, m
	}
	mg := m / g
	ng := n / g
	fmg := float64(mg)

	minj, maxj := 0, min(int(math.Ceil(float64(h)/fmg)), n+1)
	curlen := maxj - minj
	lenA := min(2*maxj+2, n+1)
	A := make([]float64, lenA)
	for k := range A {
		A[k] = 1
	}
	for k := minj; k < maxj && k < lenA; k++ {
		A[k] = 0
	}
	for i := 1; i <= m; i++ {
		lastminj, lastlen := minj, curlen
		minj = max(int(math.Floor(float64(ng*i-h)/fmg))+1, 0)
		minj = min(minj, n)
		maxj = min(int(math.Ceil(float64(ng*i+h)/fmg)), n+1)
		if maxj <= minj {
			return 1.0
		}
		val := 0.0
		if minj != 0 {
			val = 1.0
		}
		fi := float64(i)
		for jj := 0; jj < maxj-minj; jj++ {
			j := jj + minj
			fj := float64(j)
			// Explicit conversions keep the two products rounded separately (no FMA), as in
			// the compiled Pythran code on x86-64.
			val = (float64(A[jj+minj-lastminj]*fi) + float64(val*fj)) / float64(i+j)
			A[jj] = val
		}
		curlen = maxj - minj
		if lastlen > curlen {
			// A[maxj-minj : maxj-minj+(lastlen-curlen)] = 1, clipped to the array as NumPy does.
			for k := maxj - minj; k < maxj-minj+(lastlen-curlen) && k < lenA; k++ {
				A[k] = 1
			}
		}
	}
	return A[maxj-minj-1]
}
