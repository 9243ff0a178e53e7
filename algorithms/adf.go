package algorithms

import (
	"math"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack"
	"gonum.org/v1/gonum/lapack/lapack64"
)

// This file is the augmented Dickey–Fuller test as Etsy Skyline's ks_test calls it,
// statsmodels 0.13.5 adfuller(x, maxlag) with its defaults regression='c', autolag='AIC',
// behind the golden harness's wrapper that returns a NaN p-value for a constant input.
//
// Conventions, all statsmodels':
//
//   - dx = diff(x). For a lag order L the regression sample is t = L+1 .. n-1 (0-based
//     indices of x): the response is dx[t-1], the regressors are the lagged level x[t-1],
//     the lagged differences dx[t-2], …, dx[t-1-L], and a constant.
//   - add_trend(has_constant='skip'): the constant is NOT added when some other regressor
//     column is constant and non-zero on the sample (its first value is not 0).
//   - Lag selection: every L = 0..maxlag is fitted on the common sample t = maxlag+1 .. n-1
//     (same nobs = n-1-maxlag for all lags, so the AICs are comparable), and the lag with the
//     smallest AIC wins; ties go to the smaller lag (Python's min over (aic, lag) tuples,
//     with a NaN AIC never displacing an earlier lag). The chosen lag is then refitted on its
//     own, longer sample t = L+1 .. n-1 and the statistic is the t-value of the lagged level.
//   - OLS is statsmodels' default method='pinv': β = pinv(X)·y with numpy's SVD pseudo-
//     inverse (singular values <= 1e-15·s_max are dropped), rank = the number of singular
//     values > s_max·k·eps (numpy.linalg.matrix_rank of diag(s), k = number of columns),
//     df_resid = nobs - rank, scale = SSR/df_resid, bse = sqrt(diag(pinv·pinvᵀ)·scale),
//     residuals y - X·β computed explicitly. The SVD is taken as LAPACK takes it for a tall
//     matrix: Householder QR, X = Q·R, then gonum's LAPACK Dgesvd of the small R (this keeps
//     gonum's BLAS from going parallel on the tall matrix).
//   - AIC = -2·llf + 2·(df_model + k_constant) = -2·llf + 2·rank, with
//     llf = -nobs/2·log(2π) - nobs/2·log(SSR/nobs) - nobs/2 (so SSR = 0 gives -Inf).
//   - p-value: MacKinnon (1994) via mackinnonP (mackinnon.go).
//
// A regressor column that is exactly zero is dropped before the factorisation and given
// β = 0 and a zero variance, which is what LAPACK's SVD yields for it; its t-value is then
// 0/0 = NaN, as statsmodels reports. Every other number agrees with statsmodels to rounding (about
// 1e-13 relative on well-conditioned regressions; on exactly collinear or exactly fitting
// regressions both are dominated by rounding noise and cannot be compared digit for digit).

// adfError is an error of adfTest where statsmodels' adfuller raises.
type adfError string

func (e adfError) Error() string { return string(e) }

const (
	// errADFTooShort: statsmodels adfuller raises "maxlag must be less than (nobs/2 - 1 -
	// ntrend)" (ValueError) because the reference window holds fewer than 2·maxlag+4 points.
	errADFTooShort adfError = "adfuller: maxlag must be less than (nobs/2 - 1 - ntrend) where n trend is the number of included deterministic regressors"
	// errADFNonFinite: statsmodels raises MissingDataError ("exog contains inf or nans") or
	// fails to converge when the input is not finite.
	errADFNonFinite adfError = "adfuller: exog contains inf or nans"
	// errADFSVD: numpy.linalg.svd raises LinAlgError when the SVD does not converge.
	errADFSVD adfError = "adfuller: SVD did not converge"
)

// adfResult holds adfuller's first three outputs.
type adfResult struct {
	stat    float64 // t-value of the lagged level in the refitted regression
	p       float64 // MacKinnon approximate p-value
	usedLag int     // lag order chosen by AIC
}

// adfTest is the golden harness's ADF call: NaN statistic and p-value (lag 0) when x is
// constant (min == max), otherwise statsmodels 0.13.5 adfuller(x, maxlag, regression='c',
// autolag='AIC'). It returns an error where adfuller raises: maxlag > len(x)/2 - 2, and
// input holding NaN or ±Inf (MissingDataError or LinAlgError in statsmodels).
func adfTest(x []float64, maxlag int) (adfResult, error) {
	nan := math.NaN()
	if len(x) == 0 {
		return adfResult{stat: nan, p: nan}, errADFNonFinite
	}
	// The wrapper's x.min() == x.max() (NumPy's min and max propagate NaN).
	lo, hi := x[0], x[0]
	finite := true
	for _, v := range x {
		if math.IsNaN(v) {
			lo, hi = v, v
		} else if !math.IsNaN(lo) {
			lo = math.Min(lo, v)
			hi = math.Max(hi, v)
		}
		finite = finite && !math.IsInf(v, 0) && !math.IsNaN(v)
	}
	if lo == hi {
		return adfResult{stat: nan, p: nan}, nil
	}
	if !finite {
		return adfResult{stat: nan, p: nan}, errADFNonFinite
	}
	n := len(x)
	const ntrend = 1
	if maxlag < 0 || maxlag > n/2-ntrend-1 {
		return adfResult{stat: nan, p: nan}, errADFTooShort
	}

	w := newADFWork(n, maxlag+2)

	// Lag selection on the common sample.
	nobs := n - 1 - maxlag
	hasConst := w.design(x, maxlag, true)
	first := 0 // column of the lagged level
	if hasConst {
		first = 1
	}
	bestLag, bestAIC := -1, math.NaN()
	for lag := 0; lag <= maxlag; lag++ {
		k := first + 1 + lag
		aic, _, ok := w.fit(nobs, k, -1)
		if !ok {
			return adfResult{stat: nan, p: nan}, errADFSVD
		}
		// min((aic, lag)): a later lag replaces the best only if its aic is strictly smaller.
		if bestLag < 0 || aic < bestAIC {
			bestLag, bestAIC = lag, aic
		}
	}

	// Refit at the chosen lag on its own sample; the constant (if any) is the last column.
	nobs = n - 1 - bestLag
	hasConst = w.design(x, bestLag, false)
	k := 1 + bestLag
	if hasConst {
		k++
	}
	_, t, ok := w.fit(nobs, k, 0)
	if !ok {
		return adfResult{stat: nan, p: nan}, errADFSVD
	}
	return adfResult{stat: t, p: mackinnonP(t), usedLag: bestLag}, nil
}

// adfWork holds the design matrix and scratch space of one adfTest call.
type adfWork struct {
	x       []float64 // row-major nobs × cols design matrix
	y       []float64
	qty     []float64
	r       []float64
	keep    []int
	sub     []float64
	u       []float64
	vt      []float64
	work    []float64
	uty     []float64
	s       []float64
	sinv    []float64
	beta    []float64
	diagCov []float64
	cols    int
}

func newADFWork(n, cols int) *adfWork {
	return &adfWork{
		x:       make([]float64, n*cols),
		y:       make([]float64, n),
		qty:     make([]float64, n),
		keep:    make([]int, 0, cols),
		sub:     make([]float64, n*cols),
		r:       make([]float64, cols*cols),
		u:       make([]float64, cols*cols),
		vt:      make([]float64, cols*cols),
		work:    make([]float64, 64*cols),
		uty:     make([]float64, cols),
		s:       make([]float64, cols),
		sinv:    make([]float64, cols),
		beta:    make([]float64, cols),
		diagCov: make([]float64, cols),
		cols:    cols,
	}
}

// design fills the regression of lag order lag on its own sample, whose responses are
// dx[lag..n-2], statsmodels' xdall = lagmat(dx, lag, trim='both', original='in') with the
// level in column 0, and reports whether add_trend added the constant. With prepend the
// constant is column 0 (autolag's fullRHS), otherwise the last column (the final
// regression). The autolag fits use the first columns of the maxlag design.
func (w *adfWork) design(x []float64, lag int, prepend bool) (hasConst bool) {
	n := len(x)
	start := lag
	nobs := n - 1 - start
	stride := w.cols
	// Lagged level, then lagged differences.
	off := 0
	if prepend {
		off = 1
	}
	constNonZero := false
	for c := 0; c <= lag; c++ {
		isConst := true
		var first float64
		for r := 0; r < nobs; r++ {
			t := start + 1 + r // index of x whose difference is the response
			var v float64
			if c == 0 {
				v = x[t-1]
			} else {
				v = x[t-c] - x[t-c-1]
			}
			if r == 0 {
				first = v
			} else if v != first {
				isConst = false
			}
			w.x[r*stride+off+c] = v
		}
		if isConst && first != 0 {
			constNonZero = true
		}
	}
	for r := 0; r < nobs; r++ {
		t := start + 1 + r
		w.y[r] = x[t] - x[t-1]
	}
	hasConst = !constNonZero
	if !hasConst {
		if prepend {
			// Shift the columns left: there is no constant column.
			for r := 0; r < nobs; r++ {
				row := w.x[r*stride : r*stride+lag+2]
				copy(row, row[1:])
			}
		}
		return false
	}
	constCol := lag + 1
	if prepend {
		constCol = 0
	}
	for r := 0; r < nobs; r++ {
		w.x[r*stride+constCol] = 1
	}
	return true
}

// fit runs OLS (statsmodels method='pinv') of y[:nobs] on the first k columns of the
// design matrix (the autolag fits use exog[:, :lag], so k is also the column count in
// numpy's rank tolerance). It returns the AIC and, if tcol >= 0, the t-value of column tcol.
func (w *adfWork) fit(nobs, k, tcol int) (aic, tval float64, ok bool) {
	stride := w.cols
	// Exactly-zero columns are left out of the SVD.
	w.keep = w.keep[:0]
	for c := 0; c < k; c++ {
		zero := true
		for r := 0; r < nobs; r++ {
			if w.x[r*stride+c] != 0 {
				zero = false
				break
			}
		}
		if !zero {
			w.keep = append(w.keep, c)
		}
	}
	kk := len(w.keep)
	beta := w.beta[:k]
	diagCov := w.diagCov[:k]
	clear(beta)
	clear(diagCov)
	rank := 0
	if kk > 0 {
		// Column-major copy of the kept columns, then X = Q·R and c = Qᵀy.
		sub := w.sub[:nobs*kk]
		for j, c := range w.keep {
			col := sub[j*nobs : (j+1)*nobs]
			for r := range col {
				col[r] = w.x[r*stride+c]
			}
		}
		qty := w.qty[:nobs]
		copy(qty, w.y[:nobs])
		adfHouseholderQR(sub, nobs, kk, qty)
		// X = Q·R = (Q·Ur)·S·Vᵀ: the singular values and right singular vectors of X are
		// those of the small kk×kk R, which is how LAPACK's SVD treats a tall matrix too.
		r := w.r[:kk*kk]
		for i := 0; i < kk; i++ {
			for c := 0; c < kk; c++ {
				r[i*kk+c] = 0
				if c >= i {
					r[i*kk+c] = sub[c*nobs+i]
				}
			}
		}
		s, u, vt, ok := w.svdSquare(kk)
		if !ok {
			return math.NaN(), math.NaN(), false
		}
		smax := s[0]
		cutoff := 1e-15 * smax
		rankTol := smax * float64(k) * eps64
		sinv := w.sinv[:kk]
		for i, si := range s {
			sinv[i] = 0
			if si > cutoff {
				sinv[i] = 1 / si
			}
			if si > rankTol {
				rank++
			}
		}
		// Uᵀy = Urᵀ·(Qᵀy)[:kk], scaled by 1/s.
		uty := w.uty[:kk]
		for i := 0; i < kk; i++ {
			acc := 0.0
			for q := 0; q < kk; q++ {
				acc += u[q*kk+i] * qty[q]
			}
			uty[i] = acc * sinv[i]
		}
		for j, c := range w.keep {
			b, dc := 0.0, 0.0
			for i := 0; i < kk; i++ {
				vji := vt[i*kk+j]
				b += vji * uty[i]
				dc += (vji * sinv[i]) * (vji * sinv[i])
			}
			beta[c] = b
			diagCov[c] = dc
		}
	}
	ssr := 0.0
	for r := 0; r < nobs; r++ {
		fitted := 0.0
		for c := 0; c < k; c++ {
			fitted += w.x[r*stride+c] * beta[c]
		}
		e := w.y[r] - fitted
		ssr += e * e
	}
	fn := float64(nobs)
	nobs2 := fn / 2
	llf := -nobs2*math.Log(2*math.Pi) - nobs2*math.Log(ssr/fn) - nobs2
	aic = -2*llf + 2*float64(rank)
	tval = math.NaN()
	if tcol >= 0 {
		scale := ssr / float64(nobs-rank)
		tval = beta[tcol] / math.Sqrt(diagCov[tcol]*scale)
	}
	return aic, tval, true
}

// svdSquare computes the SVD of the kk×kk row-major matrix in w.r (destroying it) with
// gonum's LAPACK Dgesvd: the singular values in decreasing order, U and Vᵀ (row-major).
// (The matrix is at most 12×12, so gonum's BLAS stays serial.)
func (w *adfWork) svdSquare(kk int) (s, u, vt []float64, ok bool) {
	a := blas64.General{Rows: kk, Cols: kk, Stride: kk, Data: w.r[:kk*kk]}
	ug := blas64.General{Rows: kk, Cols: kk, Stride: kk, Data: w.u[:kk*kk]}
	vg := blas64.General{Rows: kk, Cols: kk, Stride: kk, Data: w.vt[:kk*kk]}
	s = w.s[:kk]
	lapack64.Gesvd(lapack.SVDAll, lapack.SVDAll, a, ug, vg, s, w.work[:1], -1)
	if need := int(w.work[0]); need > len(w.work) {
		w.work = make([]float64, max(need, 2*len(w.work)))
	}
	ok = lapack64.Gesvd(lapack.SVDAll, lapack.SVDAll, a, ug, vg, s, w.work, len(w.work))
	return s, ug.Data, vg.Data, ok
}

// adfHouseholderQR factors the column-major m×n matrix a (m >= n) in place as Q·R with
// Householder reflections (LAPACK dgeqr2/dlarfg conventions): on return R is in the upper
// triangle of a, and y is overwritten by Qᵀy.
func adfHouseholderQR(a []float64, m, n int, y []float64) {
	for j := 0; j < n; j++ {
		col := a[j*m : (j+1)*m]
		alpha := col[j]
		xnorm := adfNorm2(col[j+1:])
		if xnorm == 0 {
			continue // H = I, R[j][j] = alpha
		}
		beta := -math.Copysign(math.Hypot(alpha, xnorm), alpha)
		tau := (beta - alpha) / beta
		scal := 1 / (alpha - beta)
		v := col[j+1:]
		for i := range v {
			v[i] *= scal
		}
		col[j] = beta
		apply := func(x []float64) {
			d := x[j]
			for i, vi := range v {
				d += vi * x[j+1+i]
			}
			d *= tau
			x[j] -= d
			for i, vi := range v {
				x[j+1+i] -= d * vi
			}
		}
		for c := j + 1; c < n; c++ {
			apply(a[c*m : (c+1)*m])
		}
		apply(y)
	}
}

// adfNorm2 is the Euclidean norm, scaled against overflow and underflow.
func adfNorm2(x []float64) float64 {
	scale := 0.0
	for _, v := range x {
		scale = math.Max(scale, math.Abs(v))
	}
	if scale == 0 || math.IsInf(scale, 0) {
		return scale
	}
	ss := 0.0
	for _, v := range x {
		t := v / scale
		ss += t * t
	}
	return scale * math.Sqrt(ss)
}

// eps64 is numpy.finfo(float64).eps.
const eps64 = 2.220446049250313e-16
