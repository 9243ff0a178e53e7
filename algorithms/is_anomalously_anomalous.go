package algorithms

import "math"

// secondOrderSameDataWindow is how long (seconds) a re-trigger with the same value is
// taken to be the same data seen again.
const secondOrderSameDataWindow = 300

// IsAnomalouslyAnomalous is Skyline's second-order filter is_anomalously_anomalous (used
// with ENABLE_SECOND_ORDER): given the metric's stored trigger history (the (time, value)
// of its past triggers, oldest first), the time now and the anomalous value, it returns the
// history to store and whether the anomaly should surface. store is false when the history
// must stay as it is. The caller owns the storage (Skyline: trigger_history.<metric> in
// Redis, msgpack); the returned slice may share history's backing array.
//
//	no history                                     -> store [(now, value)], surface
//	value == last value and now - last time <= 300 -> keep history, do not surface
//	otherwise append (now, value), store, and with I the intervals between trigger times:
//	surface = |I[-1] - mean(I)| > 3 * std(I)       (pandas mean, sample std; NaN -> false)
//
// The history grows without bound, as in Skyline.
func IsAnomalouslyAnomalous(history []Point, now, value float64) (next []Point, store, anomalous bool) {
	if len(history) == 0 {
		return []Point{{Timestamp: now, Value: value}}, true, true
	}
	last := history[len(history)-1]
	if value == last.Value && now-last.Timestamp <= secondOrderSameDataWindow {
		return history, false, false
	}
	next = append(history, Point{Timestamp: now, Value: value})
	n := len(next) - 1 // number of intervals, >= 1
	intervals := func(i int) float64 { return next[i+1].Timestamp - next[i].Timestamp }
	mean := pandasMeanOf(n, intervals)
	std := bottleneckStdOf(n, intervals, 1)
	lastInterval := next[n].Timestamp - next[n-1].Timestamp
	return next, true, math.Abs(lastInterval-mean) > 3*std
}
