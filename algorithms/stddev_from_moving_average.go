package algorithms

import "math"

// ewmCom is the centre of mass Skyline passes to pandas' ewma/ewmstd: alpha = 1/(1+50).
const ewmCom = 50

// StddevFromMovingAverage is Skyline's stddev_from_moving_average: is the last value (not
// the tail average, despite Skyline's docstring) more than three exponentially weighted
// standard deviations away from the exponentially weighted moving average?
//
//	anomalous = |V[n-1] - ewma(V)[n-1]| > 3 * ewmstd(V)[n-1]        (com = 50)
//
// Both are pandas' ewm(com=50) with adjust=True, ignore_na=False: weights (1-alpha)^(n-1-i)
// with alpha = 1/51, and the std has bias=False, i.e. the weighted variance times
// sum_w^2 / (sum_w^2 - sum(w^2)). They are computed with pandas' own online recursions
// (window_aggregations.ewm and ewmcov), step for step, including the guards that leave the
// mean unchanged on a repeated value; sqrt of a negative variance is 0 (pandas' zsqrt).
// With Settings.EWMLegacyBias the variance is instead (EWMA(x^2) - EWMA(x)^2) * (1+2com)/(2com),
// the constant correction of pandas <= 0.14 that Etsy ran. A single point gives a NaN std
// and the vote No. Score is |V[n-1] - ewma|, Threshold is 3*ewmstd.
func StddevFromMovingAverage(series []Point, now float64, cfg *Settings) Vote {
	v, _ := stddevFromMovingAverage(series, now, cfg)
	return v
}

type ewmStats struct {
	ewma, ewmstd float64
	lhs, rhs     float64
}

func stddevFromMovingAverage(series []Point, _ float64, cfg *Settings) (Vote, ewmStats) {
	if len(series) == 0 {
		return errVote(ErrEmptySeries), ewmStats{}
	}
	var st ewmStats
	if cfg.ewmLegacyBias() {
		st.ewma, st.ewmstd = ewmLegacy(series, ewmCom)
	} else {
		st.ewma = ewmMean(series, ewmCom)
		st.ewmstd = zsqrt(ewmVar(series, ewmCom))
	}
	st.lhs = math.Abs(series[len(series)-1].Value - st.ewma)
	st.rhs = 3 * st.ewmstd
	return boolVote(st.lhs > st.rhs, st.lhs, st.rhs), st
}

// ewmMean is the last value of pandas' Series.ewm(com).mean() (adjust=True,
// ignore_na=False, min_periods=0): window_aggregations.ewm with normalize=True.
func ewmMean(series []Point, com float64) float64 {
	alpha := 1 / (1 + com)
	oldWtFactor := 1 - alpha
	const newWt = 1.0 // adjust=True
	weighted := series[0].Value
	oldWt := 1.0
	for _, p := range series[1:] {
		cur := p.Value
		isObservation := cur == cur
		if weighted == weighted {
			// ignore_na=False: a missing value still ages the old weight.
			oldWt *= oldWtFactor
			if isObservation {
				if weighted != cur { // pandas: avoid numerical errors on constant series
					weighted = float64(oldWt*weighted) + float64(newWt*cur)
					weighted /= oldWt + newWt
				}
				oldWt += newWt
			}
		} else if isObservation {
			weighted = cur
		}
	}
	return weighted
}

// ewmVar is the last value of pandas' Series.ewm(com).var(bias=False) (adjust=True,
// ignore_na=False, min_periods=0): window_aggregations.ewmcov of the series with itself.
func ewmVar(series []Point, com float64) float64 {
	alpha := 1 / (1 + com)
	oldWtFactor := 1 - alpha
	const newWt = 1.0 // adjust=True
	mean := series[0].Value
	nobs := 0
	if mean == mean {
		nobs = 1
	}
	cov := 0.0
	sumWt, sumWt2, oldWt := 1.0, 1.0, 1.0
	for _, p := range series[1:] {
		cur := p.Value
		isObservation := cur == cur
		if isObservation {
			nobs++
		}
		if mean == mean {
			sumWt *= oldWtFactor
			sumWt2 *= float64(oldWtFactor * oldWtFactor)
			oldWt *= oldWtFactor
			if isObservation {
				oldMean := mean
				if mean != cur { // pandas: avoid numerical errors on constant series
					mean = (float64(oldWt*oldMean) + float64(newWt*cur)) / (oldWt + newWt)
				}
				dOld := oldMean - mean
				dCur := cur - mean
				cov = (float64(oldWt*(cov+float64(dOld*dOld))) + float64(newWt*float64(dCur*dCur))) /
					(oldWt + newWt)
				sumWt += newWt
				sumWt2 += float64(newWt * newWt)
				oldWt += newWt
			}
		} else if isObservation {
			mean = cur
		}
	}
	if nobs < 1 || len(series) < 2 {
		// pandas' first output is NaN for bias=False.
		return math.NaN()
	}
	numerator := sumWt * sumWt
	denominator := numerator - sumWt2
	if denominator > 0 {
		return (numerator / denominator) * cov
	}
	return math.NaN()
}

// zsqrt is pandas' zsqrt: the square root, with 0 for negative inputs.
func zsqrt(x float64) float64 {
	if x < 0 {
		return 0
	}
	return math.Sqrt(x)
}

// ewmLegacy is pandas <= 0.14's ewma and ewmstd (bias=False) at the last point:
// var = (ewma(x^2) - ewma(x)^2) * (1+2com)/(2com), with the adjusted EW average
// sum_k w^k x_{t-k} / sum_k w^k computed by the same recursion. NaNs are not supported the
// way old pandas did and propagate.
func ewmLegacy(series []Point, com float64) (mean, std float64) {
	alpha := 1 / (1 + com)
	w := 1 - alpha
	var num, numSq, den float64
	for _, p := range series {
		num = float64(w*num) + p.Value
		numSq = float64(w*numSq) + float64(p.Value*p.Value)
		den = float64(w*den) + 1
	}
	mean = num / den
	variance := (numSq/den - float64(mean*mean)) * (1 + 2*com) / (2 * com)
	if len(series) < 2 {
		return mean, math.NaN()
	}
	return mean, zsqrt(variance)
}
