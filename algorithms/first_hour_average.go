package algorithms

import "math"

// FirstHourAverage is Skyline's first_hour_average: is the tail average more than three
// standard deviations away from the mean of the first hour of the full window?
//
//	cut  = now - (FullDuration - 3600)
//	W    = values of the points with timestamp < cut (strict; the series' order, any order)
//	anomalous = |tail_avg - mean(W)| > 3 * std(W)
//
// mean(W) is pandas' Series.mean() (numpy pairwise sum / count) and std(W) pandas'
// Series.std(): the sample standard deviation (ddof = 1) computed by bottleneck with naive
// sums. With fewer than two such points std is NaN and the vote is No. The window is really
// "older than 23 h", about 70 min with Roomba's grace time. Score is |tail_avg - mean|,
// Threshold is 3*std.
func FirstHourAverage(series []Point, now float64, cfg *Settings) Vote {
	v, _ := firstHourAverage(series, now, cfg)
	return v
}

// meanStdStats are the intermediate numbers of the mean/std detectors.
type meanStdStats struct {
	n         int
	mean, std float64
	lhs, rhs  float64
}

func firstHourAverage(series []Point, now float64, cfg *Settings) (Vote, meanStdStats) {
	if len(series) == 0 {
		return errVote(ErrEmptySeries), meanStdStats{}
	}
	cut := now - (cfg.fullDurationSeconds() - 3600)
	n := 0
	for _, p := range series {
		if p.Timestamp < cut {
			n++
		}
	}
	// The points before cut need not be a prefix (unsorted series), so the seq walks the
	// series with a cursor; reductions read their elements in order, restarting at 0.
	cursor := -1
	window := func(i int) float64 {
		if i == 0 {
			cursor = -1
		}
		cursor++
		for !(series[cursor].Timestamp < cut) {
			cursor++
		}
		return series[cursor].Value
	}
	st := meanStdStats{n: n}
	st.mean = pandasMeanOf(n, window)
	st.std = bottleneckStdOf(n, window, 1)
	st.lhs = math.Abs(TailAvg(series, cfg.tailAvgIntDiv()) - st.mean)
	st.rhs = 3 * st.std
	return boolVote(st.lhs > st.rhs, st.lhs, st.rhs), st
}
