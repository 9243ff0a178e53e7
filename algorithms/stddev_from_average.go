package algorithms

import "math"

// StddevFromAverage is Skyline's stddev_from_average: is the tail average more than three
// standard deviations away from the mean of the whole series?
//
//	anomalous = |tail_avg - mean(V)| > 3 * std(V)
//
// mean is pandas' Series.mean() (numpy pairwise sum / count) and std pandas' Series.std():
// the sample standard deviation (ddof = 1) computed by bottleneck with naive sums; a single
// point gives NaN and the vote No. Score is |tail_avg - mean|, Threshold is 3*std.
func StddevFromAverage(series []Point, now float64, cfg *Settings) Vote {
	v, _ := stddevFromAverage(series, now, cfg)
	return v
}

func stddevFromAverage(series []Point, _ float64, cfg *Settings) (Vote, meanStdStats) {
	if len(series) == 0 {
		return errVote(ErrEmptySeries), meanStdStats{}
	}
	values := valuesOf(series)
	st := meanStdStats{n: len(series)}
	st.mean = pandasMeanOf(len(series), values)
	st.std = bottleneckStdOf(len(series), values, 1)
	st.lhs = math.Abs(TailAvg(series, cfg.tailAvgIntDiv()) - st.mean)
	st.rhs = 3 * st.std
	return boolVote(st.lhs > st.rhs, st.lhs, st.rhs), st
}
