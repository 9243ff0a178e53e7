package algorithms

import "math"

// The 'asymp' branch of ks2samp.go: scipy.stats.kstwo.sf(d, n), the two-sided one-sample
// Kolmogorov distribution, as scipy.stats._ksstats._kolmogn(n, d, cdf=False) (SciPy 1.10)
// selects its method after Simard & L'Ecuyer (2011), and Kolmogorov's limiting
// distribution for the p-value of Etsy's era.

const (
	ksE128       = 128
	ksMinLog     = -708
	ksKolmogNMax = 140 // _kolmogn: "n <= 140" exact-method limit
)

// ksKstwoSF is scipy.stats.kstwo.sf(x, n) for integral n >= 1 (given as a float64, as
// SciPy's np.round(en) is): support (0.5/n, 1); 1 below it, 0 at and above 1.
func ksKstwoSF(x, fn float64) float64 {
	if math.IsNaN(x) || math.IsNaN(fn) || fn < 1 {
		return math.NaN()
	}
	if x <= 0.5/fn {
		return 1
	}
	if x >= 1 {
		return 0
	}
	return ksKolmognSF(int(fn), x)
}

// ksKolmognSF is _kolmogn(n, x, cdf=False) for 0 < x < 1.
func ksKolmognSF(n int, x float64) float64 {
	fn := float64(n)
	t := fn * x
	if t <= 1.0 { // Ruben–Gambino: 1/2n <= x <= 1/n
		if t <= 0.5 {
			return 1
		}
		var cdf float64
		if n <= ksKolmogNMax {
			// np.prod(np.arange(1, n+1) * (1.0/n) * (2*t - 1))
			rn, f := 1.0/fn, 2*t-1
			cdf = 1.0
			for i := 1; i <= n; i++ {
				cdf *= float64(float64(i)*rn) * f
			}
		} else {
			cdf = math.Exp(ksLogNFactorialDivNPowN(fn) + fn*math.Log(2*t-1))
		}
		return ksClip01(1.0 - cdf)
	}
	if t >= fn-1 { // Ruben–Gambino
		return ksClip01(2 * math.Pow(1.0-x, fn))
	}
	if x >= 0.5 { // exact: 2·smirnov
		return ksClip01(2 * ksSmirnovSF(n, x))
	}
	nxsquared := t * x
	if n <= ksKolmogNMax {
		if nxsquared <= 0.754693 {
			return ksClip01(1.0 - ksClip01(ksKolmognDMTW(n, x)))
		}
		if nxsquared <= 4 {
			return ksClip01(1.0 - ksClip01(ksKolmognPomeranz(n, x)))
		}
		return ksClip01(2 * ksSmirnovSF(n, x))
	}
	if nxsquared >= 370.0 {
		return 0
	}
	if nxsquared >= 2.2 {
		return ksClip01(2 * ksSmirnovSF(n, x))
	}
	var cdf float64
	switch {
	case nxsquared >= 18.0:
		cdf = 1.0
	case n <= 100000 && fn*math.Pow(x, 1.5) <= 1.4:
		cdf = ksClip01(ksKolmognDMTW(n, x))
	default:
		cdf = ksKolmognPelzGood(n, x)
	}
	return ksClip01(1.0 - cdf)
}

// ksLogNFactorialDivNPowN is _log_nfactorial_div_n_pow_n: log(n!/n^n) by Stirling's series.
func ksLogNFactorialDivNPowN(n float64) float64 {
	// Bernoulli-number coefficients B_2j/(2j)/(2j-1), j = 8..1 (highest power first).
	stirling := [...]float64{-2.955065359477124183e-2, 6.4102564102564102564e-3,
		-1.9175269175269175269e-3, 8.4175084175084175084e-4,
		-5.952380952380952381e-4, 7.9365079365079365079e-4,
		-2.7777777777777777778e-3, 8.3333333333333333333e-2}
	rn := 1.0 / n
	return math.Log(n)/2 - n + math.Log(2*math.Pi)/2 + rn*ksPolyval(stirling[:], rn/n)
}

// ksPolyval is numpy.polyval (Horner, highest power first, no fused multiply-add).
func ksPolyval(p []float64, x float64) float64 {
	y := 0.0
	for _, c := range p {
		y = float64(y*x) + c
	}
	return y
}

// ksKolmognDMTW is _kolmogn_DMTW: Pr(D_n <= d) by Durbin's matrix algorithm in the
// Marsaglia–Tsang–Wang (2003) form, with SciPy's 2^128 rescaling.
func ksKolmognDMTW(n int, d float64) float64 {
	if d >= 1.0 {
		return 1
	}
	fn := float64(n)
	nd := fn * d
	if nd <= 0.5 {
		return 0
	}
	k := int(math.Ceil(nd))
	h := float64(k) - nd
	m := 2*k - 1

	v := make([]float64, m)
	w := make([]float64, m)
	fac := 1.0
	for j := 1; j <= m; j++ {
		v[j-1] = 1.0 - math.Pow(h, float64(j))
		w[j-1] = fac
		fac /= float64(j)
		v[j-1] *= fac
	}
	tt := math.Pow(math.Max(2*h-1.0, 0), float64(m)) - 2*math.Pow(h, float64(m))
	v[m-1] = (1.0 + tt) * fac

	H := make([]float64, m*m)
	for i := 1; i < m; i++ {
		for r := i - 1; r < m; r++ {
			H[r*m+i] = w[r-(i-1)]
		}
	}
	for r := 0; r < m; r++ {
		H[r*m] = v[r]
	}
	for c := 0; c < m; c++ {
		H[(m-1)*m+c] = v[m-1-c]
	}
	Hpwr := make([]float64, m*m)
	for r := 0; r < m; r++ {
		Hpwr[r*m+r] = 1
	}
	tmp := make([]float64, m*m)
	mul := func(dst, a, b []float64) {
		for r := 0; r < m; r++ {
			for c := 0; c < m; c++ {
				s := 0.0
				for q := 0; q < m; q++ {
					s += float64(a[r*m+q] * b[q*m+c])
				}
				dst[r*m+c] = s
			}
		}
	}
	ep128 := math.Ldexp(1, ksE128)
	em128 := math.Ldexp(1, -ksE128)
	nn := n
	expnt, hexpnt := 0, 0
	for nn > 0 {
		if nn%2 == 1 {
			mul(tmp, Hpwr, H)
			Hpwr, tmp = tmp, Hpwr
			expnt += hexpnt
		}
		mul(tmp, H, H)
		H, tmp = tmp, H
		hexpnt *= 2
		if math.Abs(H[(k-1)*m+(k-1)]) > ep128 {
			for q := range H {
				H[q] /= ep128
			}
			hexpnt += ksE128
		}
		nn /= 2
	}
	p := Hpwr[(k-1)*m+(k-1)]
	for i := 1; i <= n; i++ {
		p = float64(float64(i)*p) / fn
		if math.Abs(p) < em128 {
			p *= ep128
			expnt -= ksE128
		}
	}
	if expnt != 0 {
		p = math.Ldexp(p, expnt)
	}
	return p
}

// ksPomeranzJ1J2 is _pomeranz_compute_j1j2.
func ksPomeranzJ1J2(i, n, ll, ceilf, roundf int) (int, int) {
	var j1, j2 int
	if i == 0 {
		j1, j2 = -ll-ceilf-1, ll+ceilf-1
	} else {
		ip1div2, ip1mod2 := (i+1)/2, (i+1)%2
		if ip1mod2 == 0 { // i is odd
			if ip1div2 == n+1 {
				j1, j2 = n-ll-ceilf-1, n+ll+ceilf-1
			} else {
				j1, j2 = ip1div2-1-ll-roundf-1, ip1div2+ll-1+ceilf-1
			}
		} else {
			j1, j2 = ip1div2-1-ll-1, ip1div2+ll+roundf-1
		}
	}
	return max(j1+2, 0), min(j2, n)
}

// ksKolmognPomeranz is _kolmogn_Pomeranz: Pr(D_n <= x) by Pomeranz's (1974) recursion.
func ksKolmognPomeranz(n int, x float64) float64 {
	fn := float64(n)
	t := fn * x
	ll := int(math.Floor(t))
	f := 1.0 * (t - float64(ll))
	g := math.Min(f, 1.0-f)
	ceilf, roundf := 0, 0
	if f > 0 {
		ceilf = 1
	}
	if f > 0.5 {
		roundf = 1
	}
	npwrs := 2 * (ll + 1)
	gpower := make([]float64, npwrs)
	twogpower := make([]float64, npwrs)
	onem2gpower := make([]float64, npwrs)
	gpower[0], twogpower[0], onem2gpower[0] = 1, 1, 1
	expnt := 0
	gOverN, twoGOverN, oneMinusTwoGOverN := g/fn, 2*g/fn, (1-2*g)/fn
	for m := 1; m < npwrs; m++ {
		fm := float64(m)
		gpower[m] = gpower[m-1] * gOverN / fm
		twogpower[m] = twogpower[m-1] * twoGOverN / fm
		onem2gpower[m] = onem2gpower[m-1] * oneMinusTwoGOverN / fm
	}
	V0 := make([]float64, npwrs)
	V1 := make([]float64, npwrs)
	V1[0] = 1
	V0s, V1s := 0, 0
	ep128 := math.Ldexp(1, ksE128)
	em128 := math.Ldexp(1, -ksE128)
	conv := make([]float64, 2*npwrs)

	j1, j2 := ksPomeranzJ1J2(0, n, ll, ceilf, roundf)
	for i := 1; i < 2*n+2; i++ {
		k1 := j1
		V0, V1 = V1, V0
		V0s, V1s = V1s, V0s
		clear(V1)
		j1, j2 = ksPomeranzJ1J2(i, n, ll, ceilf, roundf)
		var pwrs []float64
		switch {
		case i == 1 || i == 2*n+1:
			pwrs = gpower
		case i%2 == 1:
			pwrs = twogpower
		default:
			pwrs = onem2gpower
		}
		ln2 := j2 - k1 + 1
		if ln2 > 0 {
			a := V0[k1-V0s : k1-V0s+ln2]
			b := pwrs[:ln2]
			// np.convolve(a, b), full length 2*ln2-1.
			nc := 2*ln2 - 1
			for q := 0; q < nc; q++ {
				s := 0.0
				for r := max(0, q-ln2+1); r <= min(q, ln2-1); r++ {
					s += float64(a[r] * b[q-r])
				}
				conv[q] = s
			}
			convStart := j1 - k1
			convLen := j2 - j1 + 1
			for q := 0; q < convLen; q++ {
				V1[q] = conv[convStart+q]
			}
			vmax := V1[0]
			for _, e := range V1 {
				vmax = math.Max(vmax, e)
			}
			if 0 < vmax && vmax < em128 {
				for q := range V1 {
					V1[q] *= ep128
				}
				expnt -= ksE128
			}
			V1s = V0s + j1 - k1
		}
	}
	ans := V1[n-V1s]
	for m := 1; m <= n; m++ {
		if math.Abs(ans) > ep128 {
			ans *= em128
			expnt += ksE128
		}
		ans *= float64(m)
	}
	if expnt != 0 {
		ans = math.Ldexp(ans, expnt)
	}
	return ans
}

// ksKolmognPelzGood is _kolmogn_PelzGood: the Pelz–Good (1976) approximation to
// Pr(D_n <= x).
func ksKolmognPelzGood(n int, x float64) float64 {
	if x <= 0.0 {
		return 0
	}
	if x >= 1.0 {
		return 1
	}
	const (
		piSquared = math.Pi * math.Pi
		piFour    = piSquared * piSquared
		piSix     = piFour * piSquared
	)
	sqrt2pi := math.Sqrt(2 * math.Pi)
	sqrt3 := math.Sqrt(3)
	z := math.Sqrt(float64(n)) * x
	zsquared, zthree, zfour, zsix := z*z, z*z*z, math.Pow(z, 4), math.Pow(z, 6)

	qlog := -piSquared / 8 / zsquared
	if qlog < ksMinLog {
		return 0
	}
	q := math.Exp(qlog)

	k1a := -zsquared
	k1b := piSquared / 4
	k2a := 6*zsix + 2*zfour
	k2b := (2*zfour - 5*zsquared) * piSquared / 4
	k2c := piFour * (1 - 2*zsquared) / 16
	k3d := piSix * (5 - 30*zsquared) / 64
	k3c := piFour * (-60*zsquared + 212*zfour) / 16
	k3b := piSquared * (135*zfour - 96*zsix) / 4
	k3a := -30*zsix - 90*math.Pow(z, 8)

	var K [4]float64
	maxk := int(math.Ceil(16 * z / math.Pi))
	for k := maxk; k > 0; k-- {
		m := float64(2*k - 1)
		msquared, mfour, msix := m*m, math.Pow(m, 4), math.Pow(m, 6)
		qpower := math.Pow(q, float64(8*k))
		coeffs := [4]float64{1.0,
			k1a + k1b*msquared,
			k2a + k2b*msquared + k2c*mfour,
			k3a + k3b*msquared + k3c*mfour + k3d*msix}
		for i := range K {
			K[i] *= qpower
			K[i] += coeffs[i]
		}
	}
	div := [4]float64{z, 6 * zfour, 72 * math.Pow(z, 7), 6480 * math.Pow(z, 10)}
	for i := range K {
		K[i] *= q
		K[i] *= sqrt2pi
		K[i] /= div[i]
	}
	q = math.Exp(-piSquared / 2 / zsquared)
	sqrt3z := sqrt3 * z
	var k2extra, k3extra float64
	for k := maxk; k > 0; k-- {
		fk := float64(k)
		ksq := fk * fk
		qp := math.Pow(q, ksq)
		kspi := math.Pi * fk
		k2extra += ksq * qp
		k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ksq * qp
	}
	k2extra *= piSquared * sqrt2pi / (-36 * zthree)
	K[2] += k2extra
	k3extra *= piSquared * sqrt2pi / (216 * zsix)
	K[3] += k3extra
	for i := range K {
		K[i] /= math.Pow(float64(n), float64(i)/2.0)
	}
	return K[0] + K[1] + K[2] + K[3]
}

// ksSmirnovSF is scipy.special.smirnov(n, x): the one-sided Smirnov survival function
// Pr(D+_n >= x), by the Birnbaum–Tingey sum
//
//	x · Σ_{j=0}^{⌊n(1-x)⌋} C(n,j) (x + j/n)^(j-1) (1 - x - j/n)^(n-j),
//
// every term positive, evaluated in log space with compensated sums (SciPy uses
// double-double arithmetic; the two agree to about 1e-12 relative). Like SciPy, n above
// 10^6 uses the approximation exp(-(6nx+1)^2/(18n)).
func ksSmirnovSF(n int, x float64) float64 {
	if !(n > 0 && x >= 0.0 && x <= 1.0) {
		return math.NaN()
	}
	if x == 0 {
		return 1
	}
	if x >= 1 {
		return 0
	}
	fn := float64(n)
	if n > 1000000 {
		logp := -math.Pow(6.0*fn*x+1, 2) / 18.0 / fn
		if logp < -math.Ln2 {
			return math.Exp(logp)
		}
		return 1 - (-math.Expm1(logp))
	}
	nx := fn * x
	last := int(math.Floor(fn * (1 - x)))
	logx := math.Log(x)
	// lc = log C(n, j), accumulated with Neumaier compensation.
	lc, lcComp := 0.0, 0.0
	sum, sumComp := 0.0, 0.0
	for j := 0; j <= last && j <= n; j++ {
		fj := float64(j)
		a := (nx + fj) / fn           // x + j/n
		b := (float64(n-j) - nx) / fn // 1 - x - j/n
		if b > 0 || j == n {
			var logb float64
			if a < 0.5 {
				logb = math.Log1p(-a)
			} else {
				logb = math.Log(b)
			}
			var t, tc float64
			t, tc = ksTwoSum(logx, lc+lcComp)
			var e float64
			t, e = ksTwoSum(t, (fj-1)*math.Log(a))
			tc += e
			if n-j > 0 {
				t, e = ksTwoSum(t, float64(n-j)*logb)
				tc += e
			}
			lt := t + tc
			if lt > -745 {
				term := math.Exp(lt)
				s, e := ksTwoSum(sum, term)
				sum, sumComp = s, sumComp+e
			}
		}
		if j < n {
			s, e := ksTwoSum(lc, math.Log(float64(n-j)/float64(j+1)))
			lc, lcComp = s, lcComp+e
		}
	}
	return sum + sumComp
}

// ksTwoSum returns s = a+b rounded and the exact rounding error (Knuth's TwoSum).
func ksTwoSum(a, b float64) (s, e float64) {
	s = a + b
	bb := s - a
	e = (a - (s - bb)) + (b - bb)
	return s, e
}

// ksKolmogorovSF is scipy.special.kolmogorov(x) = kstwobign.sf(x), Kolmogorov's limiting
// distribution Pr(sqrt(n)·D_n > x) (two Jacobi-theta series, cut over at x = 0.82 as in
// SciPy's cephes kolmogorov.c). It gives the p-value of Etsy's era.
func ksKolmogorovSF(x float64) float64 {
	if math.IsNaN(x) {
		return math.NaN()
	}
	if x <= 0 {
		return 1
	}
	const cutover = 0.82
	if x <= cutover {
		// CDF = w·u·(1 + u^8 + u^24 + u^48), u = e^(-pi^2/(8x^2)), w = sqrt(2pi)/x.
		w := math.Sqrt(2*math.Pi) / x
		logu8 := -math.Pi * math.Pi / (x * x)
		u := math.Exp(logu8 / 8)
		var cdf float64
		if u == 0 {
			cdf = math.Exp(logu8/8 + math.Log(w))
		} else {
			u8 := math.Exp(logu8)
			u8cub := math.Pow(u8, 3)
			P := 1.0
			P = 1 + u8cub*P
			P = 1 + u8*u8*P
			P = 1 + u8*P
			cdf = w * u * P
		}
		return ksClip01(1 - ksClip01(cdf))
	}
	// SF = 2v(1 - v^3(1 - v^5(1 - v^7))), v = e^(-2x^2).
	v := math.Exp(-2 * x * x)
	vsq := v * v
	v3 := math.Pow(v, 3)
	P := 1.0
	P = 1 - v3*v3*v*P
	P = 1 - v3*vsq*P
	P = 1 - v3*P
	return ksClip01(2 * v * P)
}

// ksEtsyEraPValue is the two-sample p-value of SciPy before 0.14 (Etsy's era):
// kstwobign.sf((en + 0.12 + 0.11/en)·d) with en = sqrt(n1·n2/(n1+n2)).
func ksEtsyEraPValue(n1, n2 int, d float64) float64 {
	en := math.Sqrt(float64(n1*n2) / float64(n1+n2))
	return ksKolmogorovSF((en + 0.12 + 0.11/en) * d)
}
