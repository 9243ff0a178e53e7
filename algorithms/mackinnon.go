package algorithms

import "gonum.org/v1/gonum/stat/distuv"

// MacKinnon's approximate asymptotic p-values for the Dickey–Fuller τ statistic, N = 1
// (one I(1) series, i.e. the (augmented) Dickey–Fuller test), regression with a constant
// ("c"). The numbers are the published response-surface coefficients of
//
//	J. G. MacKinnon (1994), "Approximate Asymptotic Distribution Functions for Unit-Root and
//	Cointegration Tests", Journal of Business & Economic Statistics 12(2), 167–176,
//
// as statsmodels 0.13.5 ships them in statsmodels/tsa/adfvalues.py (tau_max_c, tau_min_c,
// tau_star_c, tau_c_smallp, tau_c_largep; the MacKinnon (2010) tables statsmodels also ships
// are critical values, which this p-value does not use). statsmodels stores the coefficients unscaled and multiplies
// them by small_scaling = [1, 1, 1e-2] and large_scaling = [1, 1e-1, 1e-1, 1e-2] in float64;
// the constants below are those float64 products, bit for bit (e.g. 3.8269*1e-2 evaluates to
// 0.038269000000000004, not to the nearest double of 0.038269).
const (
	// mackinnonTauMaxC is tau_max_c[0]: above it the p-value is 1.
	mackinnonTauMaxC = 2.74
	// mackinnonTauMinC is tau_min_c[0]: below it the p-value is 0.
	mackinnonTauMinC = -18.83
	// mackinnonTauStarC is tau_star_c[0]: at or below it the small-p surface is used.
	mackinnonTauStarC = -1.61

	// tau_c_smallp[0] = [2.1659, 1.4412, 3.8269] * [1, 1, 1e-2]
	mackinnonSmallP0 = 2.1659
	mackinnonSmallP1 = 1.4412
	mackinnonSmallP2 = 0.038269000000000004

	// tau_c_largep[0] = [1.7339, 9.3202, -1.2745, -1.0368] * [1, 1e-1, 1e-1, 1e-2]
	mackinnonLargeP0 = 1.7339
	mackinnonLargeP1 = 0.9320200000000001
	mackinnonLargeP2 = -0.12745
	mackinnonLargeP3 = -0.010368
)

// mackinnonP is statsmodels.tsa.adfvalues.mackinnonp(teststat, regression='c', N=1):
//
//	teststat > 2.74              → 1
//	teststat < -18.83            → 0
//	teststat <= -1.61            → Φ(2.1659 + 1.4412·τ + 0.038269·τ²)
//	otherwise                    → Φ(1.7339 + 0.93202·τ - 0.12745·τ² - 0.010368·τ³)
//
// with the polynomial evaluated by Horner's rule from the highest power, as numpy.polyval
// does, and Φ the standard normal CDF (gonum's distuv.UnitNormal; SciPy uses cephes ndtr,
// the two agree to a few ulps). NaN gives NaN.
func mackinnonP(teststat float64) float64 {
	if teststat > mackinnonTauMaxC {
		return 1.0
	}
	if teststat < mackinnonTauMinC {
		return 0.0
	}
	var z float64
	if teststat <= mackinnonTauStarC {
		z = float64(mackinnonSmallP2*teststat) + mackinnonSmallP1
		z = float64(z*teststat) + mackinnonSmallP0
	} else {
		z = float64(mackinnonLargeP3*teststat) + mackinnonLargeP2
		z = float64(z*teststat) + mackinnonLargeP1
		z = float64(z*teststat) + mackinnonLargeP0
	}
	return distuv.UnitNormal.CDF(z)
}
