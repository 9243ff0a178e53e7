package algorithms

import "math"

// MeanSubtractionCumulation is Skyline's mean_subtraction_cumulation: is the last value,
// demeaned by the mean of all the others, more than three standard deviations of the
// demeaned others away from zero?
//
//	H = V[0 : n-1]                     (all but the last value)
//	Y = V - mean(H)                    (elementwise)
//	anomalous = |Y[n-1]| > 3 * std(Y[0 : n-1])
//
// mean is pandas' Series.mean() (numpy pairwise sum / count), std pandas' Series.std() (ddof
// = 1, bottleneck's naive sums over the demeaned values). Skyline first maps falsy values
// (None, 0) to 0, which changes nothing for float data, and computes an EWMA (com = 15) it
// never uses, which is left out. With fewer than three points std is NaN and the vote is
// No. Score is |Y[n-1]|, Threshold is 3*std.
func MeanSubtractionCumulation(series []Point, now float64, cfg *Settings) Vote {
	v, _ := meanSubtractionCumulation(series, now, cfg)
	return v
}

func meanSubtractionCumulation(series []Point, _ float64, _ *Settings) (Vote, meanStdStats) {
	if len(series) == 0 {
		return errVote(ErrEmptySeries), meanStdStats{}
	}
	head := series[:len(series)-1]
	st := meanStdStats{n: len(head)}
	st.mean = pandasMeanOf(len(head), valuesOf(head))
	mean := st.mean
	st.std = bottleneckStdOf(len(head), func(i int) float64 { return head[i].Value - mean }, 1)
	st.lhs = math.Abs(series[len(series)-1].Value - st.mean)
	st.rhs = 3 * st.std
	return boolVote(st.lhs > st.rhs, st.lhs, st.rhs), st
}
