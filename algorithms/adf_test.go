package algorithms

import (
	"errors"
	"math"
	"testing"
)

// The expected values in this file were computed with statsmodels 0.13.5 (Debian 12's
// python3-statsmodels, the version that produced the golden data):
// statsmodels.tsa.stattools.adfuller(np.array(x), 10) and
// statsmodels.tsa.adfvalues.mackinnonp(t, 'c', 1).

// adfNoise is ((i²·mul + 104729·i) mod m)/m - 0.5, a deterministic noise computed
// identically in Go and Python.
func adfNoise(n, mul, m int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = float64((i*i*mul+i*104729)%m)/float64(m) - 0.5
	}
	return x
}

func adfAR(n int, phi float64) []float64 {
	e := adfNoise(n, 7919, 10007)
	x := make([]float64, n)
	for i := 1; i < n; i++ {
		x[i] = float64(phi*x[i-1]) + e[i]
	}
	return x
}

func adfRandomWalk(n int) []float64 {
	e := adfNoise(n, 104723, 10009)
	x := make([]float64, n)
	for i := 1; i < n; i++ {
		x[i] = x[i-1] + e[i]
	}
	return x
}

func adfTriangle(n int) []float64 {
	e := adfNoise(n, 31, 101)
	x := make([]float64, n)
	for i := range x {
		x[i] = math.Abs(float64(i%20-10))*1.0 + e[i]
	}
	return x
}

func adfConstantThenLast(n int, c, last float64) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = c
	}
	x[n-1] = last
	return x
}

func TestADFStatsmodels(t *testing.T) {
	for _, c := range []struct {
		name    string
		x       []float64
		stat, p float64
		lag     int
		tol     float64
	}{
		// Well-conditioned: statsmodels' own statistic moves by < 4e-12 relative when the
		// input is perturbed by 1e-12.
		{"white noise 300", adfNoise(300, 7919, 10007), -11.87962220851157, 6.222149304108511e-22, 2, 1e-10},
		{"white noise 40", adfNoise(40, 7919, 10007), -3.129577574528532, 0.024440348078197748, 4, 1e-10},
		{"AR(1) 0.5", adfAR(100, 0.5), -5.33425611463551, 4.648424676377903e-06, 3, 1e-10},
		{"AR(1) 0.95", adfAR(150, 0.95), -2.8188260003235577, 0.05563452040778877, 0, 1e-10},
		{"random walk", adfRandomWalk(300), -1.1123511216137294, 0.7101213712838947, 0, 1e-10},
		{"triangle wave", adfTriangle(100), -14.654709115957967, 3.455988604229934e-27, 9, 1e-10},
		// Constant lagged level: add_trend skips the constant, all lagged differences are
		// zero, every lag ties and the t-value is exactly 1 in exact arithmetic.
		{"constant then jump", adfConstantThenLast(100, 41.5, 46.69257005696153), 0.9999999999999998, 0.9942659485477608, 0, 1e-15},
		// Zero lagged level: its coefficient and standard error are both 0, t = NaN.
		{"zeros then jump", adfConstantThenLast(100, 0, 5.74058028191005), math.NaN(), math.NaN(), 0, 0},
	} {
		r, err := adfTest(c.x, 10)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if r.usedLag != c.lag {
			t.Errorf("%s: usedlag %d, want %d", c.name, r.usedLag, c.lag)
		}
		ksWithin(t, c.name+": stat", r.stat, c.stat, c.tol)
		ksWithin(t, c.name+": p", r.p, c.p, c.tol)
	}
}

func TestADFEdgeCases(t *testing.T) {
	// statsmodels raises ValueError for maxlag 10 with fewer than 24 points.
	if _, err := adfTest(adfNoise(23, 7919, 10007), 10); !errors.Is(err, errADFTooShort) {
		t.Errorf("23 points: err = %v, want errADFTooShort", err)
	}
	// The golden harness's wrapper: a constant input gives a NaN p-value, no error.
	r, err := adfTest([]float64{2, 2, 2, 2, 2}, 10)
	if err != nil || !math.IsNaN(r.p) || !math.IsNaN(r.stat) || r.usedLag != 0 {
		t.Errorf("constant: %+v %v", r, err)
	}
	// Non-finite input makes statsmodels raise.
	x := adfNoise(50, 7919, 10007)
	x[7] = math.NaN()
	if _, err := adfTest(x, 10); !errors.Is(err, errADFNonFinite) {
		t.Errorf("NaN input: err = %v", err)
	}
	x[7] = math.Inf(-1)
	if _, err := adfTest(x, 10); !errors.Is(err, errADFNonFinite) {
		t.Errorf("-Inf input: err = %v", err)
	}
}

func TestADFMacKinnonP(t *testing.T) {
	for _, c := range []struct{ t, want float64 }{
		{-25.0, 0.0},
		{-18.83, 2.022123723345286e-30},
		{-18.8, 2.0229167170824544e-30},
		{-10.0, 1.8953190533444514e-17},
		{-3.0, 0.034894400275345266},
		{-1.61, 0.4779756525941893},
		{-1.6, 0.4835934696535866},
		{0.0, 0.958532086060056},
		{2.0, 0.9986729511999243},
		{2.74, 0.9990880801041981},
		{2.75, 1.0},
	} {
		ksWithin(t, "mackinnonp", mackinnonP(c.t), c.want, 1e-13)
	}
	if p := mackinnonP(math.NaN()); !math.IsNaN(p) {
		t.Errorf("mackinnonp(NaN) = %v", p)
	}
	if p := mackinnonP(math.Inf(-1)); p != 0 {
		t.Errorf("mackinnonp(-Inf) = %v", p)
	}
}
