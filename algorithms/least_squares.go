package algorithms

import "math"

// lapackEps is LAPACK's dlamch('E') for float64, 2^-53: dgelsd (numpy's lstsq with
// rcond=-1) treats singular values <= lapackEps * s_max as zero.
const lapackEps = 0x1p-53

// LeastSquares is Skyline's least_squares: is the average residual of the last three points
// from a least-squares line more than three standard deviations of all residuals?
//
//	fit v ≈ m*ts + c by least squares (ts = raw unix timestamps)
//	e_i = v_i - (m*ts_i + c)
//	t   = (e[-1] + e[-2] + e[-3]) / 3
//	anomalous = |t| > 3*std(e) and round(std(e)) != 0 and round(t) != 0
//
// std is the population standard deviation (scipy.std, numpy pairwise sums); Python 3's
// round(x) != 0 is |x| > 0.5. Fewer than three points vote No.
//
// numpy solves the fit with lstsq(A, v, rcond=-1), A = [ts, 1], an SVD (LAPACK dgelsd) of a
// badly conditioned matrix: its singular values are about sqrt(n)*mean(ts) and
// sqrt(n)*sd(ts)/mean(ts). When their ratio is <= 2^-53 (at 2014 epochs: sd(ts) below about
// 215 s, a dozen minutely points) dgelsd drops the small one and returns the rank-1
// minimum-norm solution, which is not the least-squares line; this is reproduced from the
// closed-form 2x2 eigen-decomposition of A^T A. Otherwise the line is computed from centred
// sums, which gives the exact least-squares line to rounding (numpy's SVD answer carries
// noise of order cond(A)*eps that decides no verdict of the golden data), and residuals
// from centred values. Score is |t|, Threshold is 3*std.
func LeastSquares(series []Point, now float64, cfg *Settings) Vote {
	v, _ := leastSquares(series, now, cfg)
	return v
}

type leastSquaresStats struct {
	m, c     float64
	rank1    bool
	std, t   float64
	lhs, rhs float64
}

func leastSquares(series []Point, _ float64, _ *Settings) (Vote, leastSquaresStats) {
	var st leastSquaresStats
	n := len(series)
	if n < 3 {
		return boolVote(false, math.NaN(), math.NaN()), st
	}
	// Centred sums, naive: the fit only has to be accurate, not numpy-exact.
	var sx, sy float64
	for _, p := range series {
		sx += p.Timestamp
		sy += p.Value
	}
	mx, my := sx/float64(n), sy/float64(n)
	var sxx, sxy, sumX2 float64
	for _, p := range series {
		dx := p.Timestamp - mx
		sxx += float64(dx * dx)
		sxy += float64(dx * (p.Value - my))
		sumX2 += float64(p.Timestamp * p.Timestamp)
	}
	// Singular values of A = [ts, 1]: s1^2 + s2^2 = trace(A^T A) = sum ts^2 + n and
	// s1^2 * s2^2 = det(A^T A) = n * sxx.
	trace := sumX2 + float64(n)
	det := float64(n) * sxx
	disc := math.Sqrt(math.Max(float64(trace*trace)/4-det, 0))
	s1sq := trace/2 + disc
	s2sq := det / s1sq
	residual := func(p Point) float64 { return (p.Value - my) - float64(st.m*(p.Timestamp-mx)) }
	if math.Sqrt(s2sq) <= lapackEps*math.Sqrt(s1sq) {
		// Rank 1: coef = v1 (v1 . A^T y) / s1^2 with v1 the top eigenvector of
		// A^T A = [[sumX2, sx], [sx, n]], i.e. v1 ∝ (sx, s1^2 - sumX2) or (s1^2 - n, sx).
		st.rank1 = true
		a, b := s1sq-float64(n), sx
		norm := math.Hypot(a, b)
		a, b = a/norm, b/norm
		var aty0, aty1 float64
		for _, p := range series {
			aty0 += float64(p.Timestamp * p.Value)
			aty1 += p.Value
		}
		proj := (float64(a*aty0) + float64(b*aty1)) / s1sq
		st.m, st.c = a*proj, b*proj
		residual = func(p Point) float64 { return p.Value - (float64(st.m*p.Timestamp) + st.c) }
	} else {
		st.m = sxy / sxx
		st.c = my - st.m*mx
	}
	e := func(i int) float64 { return residual(series[i]) }
	mean := numpyMeanOf(n, e)
	st.std = numpyStdOf(n, e, mean)
	st.t = (residual(series[n-1]) + residual(series[n-2]) + residual(series[n-3])) / 3
	st.lhs = math.Abs(st.t)
	st.rhs = st.std * 3
	anomalous := st.lhs > st.rhs && math.Abs(st.std) > 0.5 && math.Abs(st.t) > 0.5
	return boolVote(anomalous, st.lhs, st.rhs), st
}
