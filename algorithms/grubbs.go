package algorithms

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Grubbs is Skyline's grubbs: is the tail average an outlier by Grubbs' test?
//
//	z = (tail_avg - mean(V)) / std(V)
//	T = t.isf(0.05 / (2n), n - 2)                  (Student's t, upper tail)
//	G = ((n-1) / sqrt(n)) * sqrt(T^2 / (n - 2 + T^2))
//	anomalous = z > G                              (OneSidedGrubbs, Etsy)
//	anomalous = |z| > G                            (default: drops count too)
//
// mean is np.mean and std np.std: the population standard deviation (ddof = 0), both with
// numpy's pairwise sums. A zero std gives z = ±Inf or NaN (numpy divides without raising);
// n <= 2 gives a NaN critical value and the vote No. T comes from gonum's Student's t
// quantile (Cephes' incomplete beta inverse). Score is z (|z| when two-sided), Threshold
// is G.
func Grubbs(series []Point, now float64, cfg *Settings) Vote {
	v, _ := grubbs(series, now, cfg)
	return v
}

type grubbsStats struct {
	mean, std, z float64
	tISF, score  float64
}

func grubbs(series []Point, _ float64, cfg *Settings) (Vote, grubbsStats) {
	n := len(series)
	if n == 0 {
		return errVote(ErrEmptySeries), grubbsStats{}
	}
	var st grubbsStats
	values := valuesOf(series)
	st.mean = numpyMeanOf(n, values)
	st.std = numpyStdOf(n, values, st.mean)
	st.z = (TailAvg(series, cfg.tailAvgIntDiv()) - st.mean) / st.std
	st.tISF = studentTISF(0.05/float64(2*n), float64(n-2))
	t2 := st.tISF * st.tISF
	st.score = (float64(n-1) / math.Sqrt(float64(n))) * math.Sqrt(t2/(float64(n-2)+t2))
	z := st.z
	if !cfg.oneSidedGrubbs() {
		z = math.Abs(z)
	}
	return boolVote(z > st.score, z, st.score), st
}

// studentTISF is scipy.stats.t.isf(p, df): the x with P(T > x) = p, NaN for df <= 0.
func studentTISF(p, df float64) float64 {
	if !(df > 0) || !(p > 0 && p < 1) {
		return math.NaN()
	}
	// By symmetry isf(p) = -ppf(p); gonum's quantile is accurate in the lower tail.
	return -distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Quantile(p)
}
