package algorithms

import "math"

// madThreshold is Skyline's cut-off for the median absolute deviation test statistic.
const madThreshold = 6

// MedianAbsoluteDeviation is Skyline's median_absolute_deviation: is the last value's
// deviation from the median more than six median absolute deviations?
//
//	m    = median(V)
//	dev  = |V - m|
//	mad  = median(dev)
//	mad == 0      -> No
//	dev[-1]/mad > 6 -> Yes
//	otherwise     -> None
//
// Medians are pandas' (bottleneck's nanmedian): NaNs skipped, the middle value or the
// average of the two middle ones. The None is Etsy's ([BUG-COMPAT]): the detector always
// returns it, and the ensemble counts it as a yes only with Settings.MADNoneVotes. Score is
// dev[-1]/mad, Threshold is 6.
func MedianAbsoluteDeviation(series []Point, now float64, cfg *Settings) Vote {
	v, _ := medianAbsoluteDeviation(series, now, cfg)
	return v
}

type madStats struct {
	median, mad, stat float64
}

func medianAbsoluteDeviation(series []Point, _ float64, _ *Settings) (Vote, madStats) {
	var st madStats
	if len(series) == 0 {
		return errVote(ErrEmptySeries), st
	}
	buf := make([]float64, len(series))
	for i, p := range series {
		buf[i] = p.Value
	}
	st.median = median(buf)
	// median reorders and may shorten buf; the deviations only need the same multiset.
	buf = buf[:len(series)]
	for i, p := range series {
		buf[i] = math.Abs(p.Value - st.median)
	}
	st.mad = median(buf)
	if st.mad == 0 {
		st.stat = math.NaN()
		return Vote{Verdict: No, Score: math.NaN(), Threshold: madThreshold}, st
	}
	st.stat = math.Abs(series[len(series)-1].Value-st.median) / st.mad
	if st.stat > madThreshold {
		return Vote{Verdict: Yes, Score: st.stat, Threshold: madThreshold}, st
	}
	return Vote{Verdict: None, Score: st.stat, Threshold: madThreshold}, st
}
