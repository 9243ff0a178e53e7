package algorithms

import "math"

// kaleSeasonal is Kale's seasonal baseline: it finds a daily period and scores the residual
// against the same phase one period earlier.
//
// Period. The sampling interval dt is tracked as an exponentially weighted mean of the
// timestamp differences (weight 0.01); the candidate period is P = round(86400 s / dt) rows,
// fixed once 50 rows are seen, and used only if the history ring holds two periods.
//
// Seasonality test. Every P rows, once 2P rows are kept, the lag-P autocorrelation of the
// kept history x_1..x_n (mean m) is
//
//	acf(P) = [Σ_{i>P} (x_i − m)(x_{i−P} − m) / (n − P)] / [Σ_i (x_i − m)² / n]
//
// and the baseline is trusted while acf(P) ≥ MinACF.
//
// Score. The residual is r_t = x_t − x_{t−P}. With q the 0.99 quantile (numpy "lower"
// convention: the element of rank floor(0.99·(n−1))) of |r| over the last residual window,
//
//	seasonal(t) = min(1, |r_t| / (Scale · q))
//
// a residual Scale times larger than the 99th percentile of recent residuals scores 1.
// Expected is x_{t−P}; the band is ± Scale·q.
//
// Memory. The history ring must keep the last SeasonalHistory values from the first row:
// the period can be fixed at any later row (dt is an EW mean, so one long gap in a 60 s
// series can raise it past 144 s) and the first lag-P autocorrelation then reads values
// from before that row. It is stored as scaled int32 decimals when that is exact
// (kaleValRing). The residual ring and the quantile scratch are read and written only once
// a period is fixed (resid) or the baseline is trusted (scratch), so they are allocated
// then: a series sampled more often than every ~144 s never allocates them.
type kaleSeasonal struct {
	hist     kaleValRing
	resid    Ring      // allocated when period is fixed
	scratch  []float64 // allocated at the first seasonal score
	window   int       // the residual window (capacity of resid)
	minACF   float64
	scale    float64
	period   int
	lastTS   float64
	dt       float64
	acf      float64
	active   bool
	sinceChk int
}

func newKaleSeasonal(history, residWindow int, minACF, scale float64) kaleSeasonal {
	return kaleSeasonal{
		hist: newKaleValRing(history), window: residWindow, minACF: minACF, scale: scale,
	}
}

// kaleACF returns the lag autocorrelation of the ring's values (see kaleSeasonal), 0 when
// fewer than 2·lag values are kept or the values are constant.
func kaleACF(r *kaleValRing, lag int) float64 {
	n := r.n
	if lag <= 0 || n < 2*lag {
		return 0
	}
	mean := 0.0
	for i := 0; i < n; i++ {
		mean += r.at(i)
	}
	mean /= float64(n)
	var num, den float64
	for i := 0; i < n; i++ {
		d := r.at(i) - mean
		den += d * d
		if i >= lag {
			num += d * (r.at(i-lag) - mean)
		}
	}
	if den == 0 {
		return 0
	}
	return (num / float64(n-lag)) / (den / float64(n))
}

// update scores (ts, x) and learns it. It returns the score, the expected value and the
// half-width of the band (0 while the baseline is not trusted).
func (s *kaleSeasonal) update(ts, x float64) (score, expected, band float64) {
	if s.lastTS != 0 {
		if dt := ts - s.lastTS; s.dt == 0 {
			s.dt = dt
		} else {
			s.dt += 0.01 * (dt - s.dt)
		}
	}
	s.lastTS = ts
	if s.period == 0 && s.dt > 0 && s.hist.n > 50 {
		if p := int(math.Round(86400 / s.dt)); p >= 4 && 2*p <= s.hist.size {
			s.period = p
			s.resid = NewRing(s.window)
		}
	}
	expected = x
	if s.period > 0 {
		s.sinceChk++
		if s.sinceChk >= s.period && s.hist.n >= 2*s.period {
			s.sinceChk = 0
			s.acf = kaleACF(&s.hist, s.period)
			s.active = s.acf >= s.minACF
		}
		if s.hist.n >= s.period {
			expected = s.hist.back(s.period - 1)
			r := x - expected
			if s.active && s.resid.n >= 20 {
				if s.scratch == nil {
					s.scratch = make([]float64, s.window)
				}
				m := s.resid.CopyLast(s.scratch, s.resid.n)
				for i, v := range m {
					m[i] = math.Abs(v)
				}
				k := int(0.99 * float64(len(m)-1))
				band = s.scale * max(selectKth(m, k), 1e-9)
				score = min(1, math.Abs(r)/band)
			}
			s.resid.Push(r)
		}
	}
	s.hist.push(x)
	return score, expected, band
}
