package algorithms

import "math"

// Verdict is one detector's answer. Skyline's detectors return True, False or, for
// median_absolute_deviation, None.
type Verdict int8

const (
	// No is Python's False: not anomalous.
	No Verdict = iota
	// Yes is Python's True: anomalous.
	Yes
	// None is median_absolute_deviation's None: not anomalous, but not False either, so
	// Etsy's ensemble (which counts False) treats it as a yes; see Settings.MADNoneVotes.
	None
)

// String returns the Python spelling of v.
func (v Verdict) String() string {
	switch v {
	case Yes:
		return "True"
	case None:
		return "None"
	default:
		return "False"
	}
}

// Vote is a detector's verdict with the two numbers it compared, so that a verdict can be
// explained: each detector's doc comment says what Score and Threshold hold (NaN when the
// detector did not get that far). Err is set when the detector could not run (Python
// raised); the verdict is then No.
type Vote struct {
	Verdict   Verdict
	Score     float64
	Threshold float64
	Err       error
}

// Detector is one of the ensemble's algorithms. It must not keep series, and it reads the
// clock only through now (unix seconds).
type Detector func(series []Point, now float64, cfg *Settings) Vote

// Registry returns every detector by its Skyline name. Adding a detector is one file plus
// one line here.
func Registry() map[string]Detector {
	return map[string]Detector{
		"first_hour_average":          FirstHourAverage,
		"mean_subtraction_cumulation": MeanSubtractionCumulation,
		"stddev_from_average":         StddevFromAverage,
		"stddev_from_moving_average":  StddevFromMovingAverage,
		"least_squares":               LeastSquares,
		"grubbs":                      Grubbs,
		"histogram_bins":              HistogramBins,
		"median_absolute_deviation":   MedianAbsoluteDeviation,
		"ks_test":                     ksTestDetector,
	}
}

// ksTestDetector adapts KSTest (kolmogorov_smirnov.go) to the Detector signature. Score is
// the KS statistic D and Threshold its gate 0.5 (NaN when a window was too short); the
// p-value and ADF gates are in KSStats.
func ksTestDetector(series []Point, now float64, _ *Settings) Vote {
	anomalous, st := KSTest(series, now)
	if !st.KSRan {
		return boolVote(anomalous, math.NaN(), math.NaN())
	}
	return boolVote(anomalous, st.D, 0.5)
}

func boolVote(anomalous bool, score, threshold float64) Vote {
	v := Vote{Verdict: No, Score: score, Threshold: threshold}
	if anomalous {
		v.Verdict = Yes
	}
	return v
}

// errVote is the vote of a detector that raised in Python.
func errVote(err error) Vote {
	return Vote{Verdict: No, Score: math.NaN(), Threshold: math.NaN(), Err: err}
}
