package algorithms

import "math"

// Skyline ks_test constants (Etsy src/analyzer/algorithms.py).
const (
	// KSReferenceStart is how far before now the reference window starts (inclusive): 1 h.
	KSReferenceStart = 3600.0
	// KSProbeStart is how far before now the probe window starts (inclusive); the reference
	// window ends there (exclusive): 10 min.
	KSProbeStart = 600.0
	// KSMinPoints is the minimum number of points in each window.
	KSMinPoints = 20
	// KSMaxP is the p-value gate: the KS p-value must be below it.
	KSMaxP = 0.05
	// KSMinD is the statistic gate: D must be above it.
	KSMinD = 0.5
	// KSADFMaxLag is the maxlag Skyline passes to adfuller.
	KSADFMaxLag = 10
	// KSADFMaxP is the ADF gate: the reference must look stationary, ADF p below it.
	KSADFMaxP = 0.05
)

// KSStats are the numbers ks_test computed, named as in the golden data's stats.ks_test.
// Fields of a stage that did not run are NaN (ADFUsedLag -1).
type KSStats struct {
	// NRef is the number of points with now-3600 <= ts < now-600 (the reference window).
	NRef int
	// NProbe is the number of points with ts >= now-600 (the probe window).
	NProbe int
	// KSRan reports whether both windows held at least KSMinPoints points, so that D and P
	// were computed.
	KSRan bool
	// D is the two-sided two-sample KS statistic, as scipy 1.10 ks_2samp reports it (in its
	// exact branch rounded to a multiple of 1/lcm(NRef, NProbe)).
	D float64
	// P is scipy 1.10 ks_2samp's p-value, method='auto' (exact distribution when
	// max(NRef, NProbe) <= 10000, else the asymptotic kstwo distribution).
	P float64
	// PEtsyEra is the p-value of the SciPy Etsy ran (before 0.14):
	// kstwobign.sf((en + 0.12 + 0.11/en)·D), en = sqrt(NRef·NProbe/(NRef+NProbe)), with D the
	// unrounded statistic. Informational only; the verdict uses P.
	PEtsyEra float64
	// ADFRan reports whether the KS gate (P < 0.05 and D > 0.5) passed and the augmented
	// Dickey–Fuller test was run on the reference values.
	ADFRan bool
	// ADFStat is adfuller's test statistic (t-value of the lagged level); NaN when the
	// reference is constant (the golden harness's wrapper) or the regression is degenerate.
	ADFStat float64
	// ADFP is the MacKinnon (1994) approximate p-value of ADFStat.
	ADFP float64
	// ADFUsedLag is the lag order chosen by AIC (0..10); 0 for a constant reference, -1 when
	// the ADF stage did not run.
	ADFUsedLag int
	// Err is non-nil when Skyline's Python raises inside ks_test: adfuller rejects
	// maxlag = 10 for a reference of fewer than 24 points (ValueError), and cannot fit a
	// reference holding NaN or ±Inf. Skyline's run_selected_algorithm then catches the
	// exception and the whole ensemble returns (False, [], 1). The verdict is false.
	Err error
}

// KSTest is Etsy Skyline's ks_test, exactly as the golden data (scipy 1.10.1, statsmodels
// 0.13.5) computes it:
//
//	reference := values with now-3600 <= ts < now-600, in series order
//	probe     := values with ts >= now-600
//	if len(reference) < 20 or len(probe) < 20: return false
//	D, p := scipy.stats.ks_2samp(reference, probe)            // two-sided, method='auto'
//	if p < 0.05 and D > 0.5:
//	    adf := adfuller(reference, maxlag=10)                   // 'c', autolag='AIC'
//	    if adf p-value < 0.05: return true
//	return false
//
// now is Skyline's time() (unix seconds); the window bounds are now-3600 and now-600
// computed in float64. A NaN timestamp belongs to neither window. When the reference is
// constant the golden harness's wrapper gives a NaN ADF p-value (so false) instead of
// calling adfuller, which would raise. KSStats.Err reports where Python would raise; see
// KSStats. KSTest does not modify series.
func KSTest(series []Point, now float64) (anomalous bool, st KSStats) {
	nan := math.NaN()
	st = KSStats{D: nan, P: nan, PEtsyEra: nan, ADFStat: nan, ADFP: nan, ADFUsedLag: -1}
	hourAgo := now - KSReferenceStart
	tenMinutesAgo := now - KSProbeStart

	for _, pt := range series {
		switch {
		case pt.Timestamp >= hourAgo && pt.Timestamp < tenMinutesAgo:
			st.NRef++
		case pt.Timestamp >= tenMinutesAgo:
			st.NProbe++
		}
	}
	if st.NRef < KSMinPoints || st.NProbe < KSMinPoints {
		return false, st
	}
	buf := make([]float64, st.NRef+st.NProbe)
	ref, probe := buf[:0:st.NRef], buf[st.NRef:st.NRef]
	for _, pt := range series {
		switch {
		case pt.Timestamp >= hourAgo && pt.Timestamp < tenMinutesAgo:
			ref = append(ref, pt.Value)
		case pt.Timestamp >= tenMinutesAgo:
			probe = append(probe, pt.Value)
		}
	}

	d, p, dRaw := ks2Samp(ref, probe)
	st.KSRan = true
	st.D, st.P = d, p
	st.PEtsyEra = ksEtsyEraPValue(st.NRef, st.NProbe, dRaw)

	if !(st.P < KSMaxP && st.D > KSMinD) {
		return false, st
	}
	st.ADFRan = true
	res, err := adfTest(ref, KSADFMaxLag)
	st.ADFStat, st.ADFP = res.stat, res.p
	if err != nil {
		st.Err = err
		return false, st
	}
	st.ADFUsedLag = res.usedLag
	return st.ADFP < KSADFMaxP, st
}
