package algorithms

import (
	"math"
	"testing"
)

// The expected values in this file were computed with SciPy 1.10.1 (Debian 12's
// python3-scipy, the version that produced the golden data):
// scipy.stats.ks_2samp(a, b), scipy.stats.kstwo.sf, scipy.special.smirnov,
// scipy.special.kolmogorov and SciPy's private helpers _compute_outer_prob_inside_method and
// _compute_prob_outside_square.

// ksWithin fails unless got is within rel (relative) of want; NaN matches NaN.
func ksWithin(t *testing.T, name string, got, want, rel float64) {
	t.Helper()
	if e := ksRelErr(got, want); !(e <= rel) {
		t.Errorf("%s = %v, want %v (rel err %.3g > %.3g)", name, got, want, e, rel)
	}
}

func TestKS2SampScipy(t *testing.T) {
	for _, c := range []struct {
		name string
		a, b []float64
		d, p float64
	}{
		{"normal shift n1!=n2", []float64{1.029, 1.642, 1.147, -0.973, -1.393, 0.067, 0.861, 0.509, 1.81, 0.751, 0.64, -0.731, -1.108, 1.484, 0.049, 0.812, -1.376, -0.436, -1.291, -0.776, 0.903, -1.481, -0.534, 0.164, -0.668}, []float64{0.148, 0.178, 0.818, -0.031, 0.672, 0.457, 0.825, 0.625, 2.058, -0.264, 1.599, -0.003, -0.558, 1.611, -0.04, 0.012, -0.989, -1.698, 1.034, -0.765, 1.178}, 0.24952380952380954, 0.39914695110706055},
		{"equal sizes", []float64{1.848, -0.115, -1.127, 0.394, 0.762, -0.262, 0.017, 1.335, 1.265, 0.71, -0.866, -0.054, 0.603, -0.212, -0.61, -0.765, -0.632, -0.672, -0.451, 1.146, -0.801, 0.887, 0.418, 0.14, -0.827, -0.457, 1.974, 0.099, 0.538, 0.663}, []float64{1.056, -0.238, -0.61, -0.06, -0.261, 0.791, 0.19, 0.239, 0.145, 1.228, -0.543, -0.478, 0.885, -0.106, 0.361, -0.729, 0.023, 0.432, -1.327, -0.695, 0.423, 2.249, 0.462, -0.059, -0.845, 0.392, -2.501, -0.05, -0.33, -0.519}, 0.2, 0.5940706297759378},
		{"integer ties", []float64{2.0, 0.0, 1.0, 1.0, 1.0, 0.0, 3.0, 1.0, 0.0, 3.0, 0.0, 0.0, 1.0, 3.0, 2.0, 2.0, 1.0, 2.0, 3.0, 3.0, 3.0, 2.0}, []float64{2.0, 1.0, 2.0, 4.0, 1.0, 4.0, 5.0, 5.0, 2.0, 1.0, 5.0, 2.0, 4.0, 5.0, 5.0, 3.0, 3.0, 2.0, 4.0, 3.0}, 0.45, 0.017996213730368686},
		{"disjoint-ish", []float64{0.11, -0.05, 0.89, 0.51, -0.44, 0.11, -2.86, -0.8, -0.15, -2.39, -0.32, 0.25, 1.03, 0.4, 1.88, 1.53, -1.63, -0.23, -0.16, 0.09, -0.57, 0.61, 0.75, -1.52}, []float64{3.95, 2.35, 4.06, 3.56, 2.87, 4.99, 3.89, 3.03, 3.25, 5.42, 4.42, 3.95, 3.22, 3.56, 3.15, 1.47, 3.89, 3.41, 1.65, 2.36}, 0.9166666666666666, 2.873303200066978e-10},
		{"fully separated equal n", []float64{0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0, 19.0}, []float64{100.0, 101.0, 102.0, 103.0, 104.0, 105.0, 106.0, 107.0, 108.0, 109.0, 110.0, 111.0, 112.0, 113.0, 114.0, 115.0, 116.0, 117.0, 118.0, 119.0}, 1.0, 1.4508889103849681e-11},
		{"small probe", []float64{0.049, 0.41, 0.307, 1.6, 0.429, 0.94, 0.82, 1.142, 0.705, 1.982, 0.029, 0.296, 0.749, 0.824, 1.576, 0.132, 0.346, 0.596, 0.444, 2.311, 0.874, 1.716, 1.367, 1.444, 2.421, 0.966, 0.167, 4.268, 1.284, 1.908, 0.458, 1.328, 1.173, 1.944, 0.179}, []float64{0.449, 4.395, 2.706, 1.825, 1.487, 0.118, 4.945, 0.601, 0.188, 3.176, 4.935, 0.444}, 0.3880952380952381, 0.09102202123847897},
		{"identical samples", []float64{1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0}, []float64{1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0}, 0.0, 1.0},
		{"NaN sorts last", []float64{1.206, -0.445, 0.306, -0.62, 0.552, 1.19, -0.256}, []float64{math.NaN(), 0.1, 0.2, -0.3, math.NaN()}, 0.4, 0.6388888888888888},
	} {
		d, p, _ := ks2Samp(c.a, c.b)
		ksWithin(t, c.name+": D", d, c.d, 0)
		ksWithin(t, c.name+": p", p, c.p, 1e-15)
		// Symmetric in its arguments.
		d2, p2, _ := ks2Samp(c.b, c.a)
		ksWithin(t, c.name+": D swapped", d2, c.d, 0)
		ksWithin(t, c.name+": p swapped", p2, c.p, 1e-15)
	}
}

// ksRationalSample is ((i·mul) mod m)/m + shift for i = 0..n-1, computed identically in
// Go and NumPy.
func ksRationalSample(n, mul, m int, shift float64) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = float64((i*mul)%m)/float64(m) + shift
	}
	return x
}

// TestKS2SampAsymp covers method='auto' switching to the asymptotic kstwo distribution when
// a sample has more than 10000 points.
func TestKS2SampAsymp(t *testing.T) {
	for _, c := range []struct {
		n1, n2 int
		shift  float64
		d, p   float64
	}{
		{10500, 40, 0.1, 0.11238095238095236, 0.6520402131430162},
		{12000, 3000, 0.02, 0.022249999999999992, 0.18290399419552628},
		{10001, 25, 0.6, 0.6183301669833017, 9.727436942274134e-10},
		{20000, 20000, 0.01, 0.010100000000000109, 0.25770453019684114},
	} {
		a := ksRationalSample(c.n1, 7919, 10007, 0)
		b := ksRationalSample(c.n2, 104729, 10009, c.shift)
		d, p, _ := ks2Samp(a, b)
		ksWithin(t, "asymp D", d, c.d, 0)
		ksWithin(t, "asymp p", p, c.p, 1e-11)
	}
}

func TestKSExactHelpersScipy(t *testing.T) {
	for _, c := range []struct {
		m, n, g, h int
		want       float64
	}{
		{300, 61, 1, 12016, 1.4999836880373884e-21},
		{300, 61, 1, 3000, 0.11534402464882015},
		{100, 21, 1, 1857, 1.7725110401322366e-15},
		{150, 31, 1, 500, 0.8915610830559391},
		{100, 20, 20, 10, 0.9931404484997538},
		{7, 5, 1, 1, 1.0},
		{700, 699, 1, 300000, 2.0055026051851942e-123},
		{9999, 20, 1, 150000, 4.010399728946982e-12},
	} {
		ksWithin(t, "outer prob inside method", ksOuterProbInsideMethod(c.m, c.n, c.g, c.h), c.want, 1e-15)
	}
	for _, c := range []struct {
		n, h int
		want float64
	}{
		{20, 1, 0.9999999999999998},
		{20, 5, 0.571336004933722},
		{20, 20, 1.4508889103849681e-11},
		{100, 37, 1.7527190839835072e-06},
		{1000, 80, 0.003311056963176061},
		{5000, 2500, 0.0},
	} {
		ksWithin(t, "prob outside square", ksProbOutsideSquare(c.n, c.h), c.want, 1e-15)
	}
}

// TestKSKstwoScipy covers every method _kolmogn selects: Ruben–Gambino, 2·smirnov, Durbin
// (DMTW), Pomeranz and Pelz–Good, for n <= 140 and above.
func TestKSKstwoScipy(t *testing.T) {
	for _, c := range []struct{ x, n, want float64 }{
		{0.004, 100.0, 1.0},
		{0.3, 100.0, 1.7719869892662917e-08},
		{0.05, 100.0, 0.9532159710635725},
		{0.12, 100.0, 0.10330374901819939},
		{0.6, 100.0, 5.912822156396238e-35},
		{0.99, 100.0, 2.0000000000001775e-200},
		{0.02, 2500.0, 0.2664504478465197},
		{0.04, 2500.0, 0.0006518689632456868},
		{0.6, 2500.0, 0.0},
		{0.003, 150000.0, 0.1341018124495077},
		{0.01, 50000.0, 9.018048811843602e-05},
		{0.5, 20.0, 3.787595240539032e-05},
		{0.2, 20.0, 0.352720173623415},
		{0.015, 2000.0, 0.7531526992658674},
		{0.45, 1000.0, 2.524336024487931e-185},
		{0.01, 1000.0, 0.9999496745370611},
		{0.0004, 2000.0, 1.0},
		{0.008, 100.0, 1.0},
		{0.02, 3000.0, 0.17889813623188955},
	} {
		ksWithin(t, "kstwo.sf", ksKstwoSF(c.x, c.n), c.want, 1e-11)
	}
	for _, c := range []struct {
		n       int
		x, want float64
	}{
		{1, 0.5, 0.5},
		{10, 0.3, 0.1354635556},
		{100, 0.1, 0.1265906584562817},
		{1000, 0.05, 0.006506037390545166},
		{5000, 0.02, 0.01806981293722266},
		{5000, 0.6, 0.0},
		{2000000, 0.001, 0.018303432023617325},
	} {
		ksWithin(t, "smirnov", ksSmirnovSF(c.n, c.x), c.want, 1e-12)
	}
	for _, c := range []struct{ x, want float64 }{
		{0.0, 1.0},
		{0.03, 1.0},
		{0.3, 0.9999906941986655},
		{0.82, 0.5119717052984973},
		{0.9, 0.3927307079406543},
		{1.5, 0.022217962616525127},
		{3.0, 3.045995948942526e-08},
		{6.0, 1.0760372320042276e-31},
	} {
		ksWithin(t, "kolmogorov", ksKolmogorovSF(c.x), c.want, 1e-14)
	}
	if p := ksKstwoSF(math.NaN(), 10); !math.IsNaN(p) {
		t.Errorf("kstwo.sf(NaN) = %v", p)
	}
}
