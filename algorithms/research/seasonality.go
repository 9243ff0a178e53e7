package research

import (
	"errors"
	"fmt"
	"math"

	"github.com/kale-project/kale/algorithms"
)

// szHarmonicMargin settles near-ties between candidate periods in DetectPeriod: a multiple
// of a true period (a week for a daily pattern) correlates about as well as the period
// itself, so the shortest accepted candidate within szHarmonicMargin of the best
// autocorrelation wins.
const szHarmonicMargin = 0.1

// szMinPairs is the fewest lag pairs with both values present that DetectPeriod needs to
// trust a candidate's autocorrelation.
const szMinPairs = 8

// szMaxBaselinePeriods bounds SeasonalityConfig.BaselinePeriods (the median is taken over a
// fixed-size array).
const szMaxBaselinePeriods = 8

// DetectPeriod returns the strongest seasonal period of xs (evenly spaced, dt seconds apart) among the
// candidate periods (in seconds; e.g. 86400 and 604800), as a number of rows, with its autocorrelation;
// 0, 0 when no candidate has autocorrelation >= minACF or fewer than two periods of data exist.
// NaN values are ignored (treated as missing: pairs with a NaN are skipped).
//
// A candidate c is p = round(c/dt) rows (p ≥ 2, needing len(xs) ≥ 2p). With m the mean of
// the present values (±Inf counts as missing too), d_i = x_i − m and every sum over the
// pairs (x_i, x_{i−p}) with both values present,
//
//	acf(p) = Σ d_i·d_{i−p} / sqrt(Σ d_i² · Σ d_{i−p}²)
//
// in [−1, 1] by Cauchy–Schwarz. Without missing values this is close to the sample
// autocorrelation of kale's seasonal part (algorithms.kaleACF, whose denominator is
// (n−p)/n · Σ_i d_i²); normalising over the pairs actually used keeps a block of missing
// values at one phase from biasing it. A candidate with fewer than szMinPairs pairs, or a
// constant series, has no autocorrelation. Among the candidates with acf ≥ minACF, the
// shortest one whose acf is within szHarmonicMargin (0.1) of the highest wins: a multiple
// of a true period correlates about as well as the period itself. The values are scaled by a power of two before
// summing, so huge values (±1e300) do not overflow. O(len(xs)·(2 + len(candidates))), no
// allocation.
func DetectPeriod(xs []float64, dt float64, candidates []float64, minACF float64) (period int, acf float64) {
	if !(dt > 0) || math.IsInf(dt, 0) {
		return 0, 0
	}
	inv, mean, ok := szMoments(xs)
	if !ok {
		return 0, 0
	}
	// The first candidates' autocorrelations are kept for the second pass; more are
	// recomputed.
	var got [8]float64
	acfOf := func(i int) float64 {
		if i < len(got) {
			return got[i]
		}
		return szLagACF(xs, szLag(candidates[i], dt, len(xs)), inv, mean)
	}
	best := math.NaN()
	for i, c := range candidates {
		a := szLagACF(xs, szLag(c, dt, len(xs)), inv, mean)
		if i < len(got) {
			got[i] = a
		}
		if a >= minACF && !(a <= best) {
			best = a
		}
	}
	if math.IsNaN(best) {
		return 0, 0
	}
	for i, c := range candidates {
		a := acfOf(i)
		if !(a >= minACF && a >= best-szHarmonicMargin) {
			continue
		}
		if p := szLag(c, dt, len(xs)); period == 0 || p < period {
			period, acf = p, a
		}
	}
	return period, acf
}

// szFinite reports whether x is neither NaN nor ±Inf (x − x is NaN exactly for those).
func szFinite(x float64) bool { return x-x == 0 }

// szLag returns the candidate period c (seconds) in rows of dt seconds, 0 when it is not a
// usable lag for n rows (fewer than 2 rows, or more than n/2).
func szLag(c, dt float64, n int) int {
	p := math.Round(c / dt)
	if !(p >= 2 && p <= float64(n/2)) {
		return 0
	}
	return int(p)
}

// szMoments returns a power-of-two scale inv that maps the present values of xs into
// (−1, 1), and the mean of the scaled present values; ok is false when no value is present
// or all present values are 0.
func szMoments(xs []float64) (inv, mean float64, ok bool) {
	maxAbs, n := 0.0, 0
	for _, x := range xs {
		if szFinite(x) {
			maxAbs = max(maxAbs, math.Abs(x))
			n++
		}
	}
	if n == 0 || maxAbs == 0 {
		return 0, 0, false
	}
	_, e := math.Frexp(maxAbs) // maxAbs < 2^e
	inv = math.Ldexp(1, -max(e, -1000))
	sum := 0.0
	for _, x := range xs {
		if szFinite(x) {
			sum += x * inv
		}
	}
	return inv, sum / float64(n), true
}

// szLagACF returns acf(p) of the scaled values (see DetectPeriod), NaN when p is 0, fewer
// than szMinPairs pairs are present or either side of the pairs is constant at the mean.
func szLagACF(xs []float64, p int, inv, mean float64) float64 {
	if p <= 0 {
		return math.NaN()
	}
	var num, ssA, ssB float64
	pairs := 0
	for i := p; i < len(xs); i++ {
		a, b := xs[i], xs[i-p]
		if szFinite(a) && szFinite(b) {
			da, db := a*inv-mean, b*inv-mean
			num += da * db
			ssA += da * da
			ssB += db * db
			pairs++
		}
	}
	if pairs < szMinPairs || ssA == 0 || ssB == 0 {
		return math.NaN()
	}
	// sqrt(ssA)·sqrt(ssB), not sqrt(ssA·ssB): the product of two tiny sums could underflow.
	return max(-1, min(1, num/(math.Sqrt(ssA)*math.Sqrt(ssB))))
}

// Seasonality is a streaming seasonal-baseline detector: it finds a daily or weekly period
// in a bucketed history of the series (DetectPeriod) and scores each row by its residual
// against the same phase of earlier periods. Like Kale it keeps a bounded state, sees one
// row at a time (Update) and scores each row from the rows so far only (causal). Unlike
// Kale's seasonal component (algorithms/kale_seasonal.go, a daily period only, a ring of
// raw rows) it can hold a weekly period in bounded memory, and it phases rows by their
// timestamps, so gaps and irregular sampling do not shift the baseline.
//
// Buckets. With W = BucketSeconds, row (t, x_t) falls in bucket k(t) = floor(t/W) (aligned
// to multiples of W since the Unix epoch, so with W dividing a day, buckets start at UTC
// midnight). A bucket holds the mean m_k of its rows; the last H = HistoryBuckets completed
// buckets are kept, an empty bucket (a gap) as missing. The defaults, W = 30 min and H = 1008,
// keep three weeks in 8 KiB; two weeks are 672 buckets. A row whose timestamp is before its
// predecessor's bucket is counted in the current bucket.
//
// Period. Every CheckBuckets completed buckets (daily by default), (P, acf) =
// DetectPeriod(m_{k−H..k−1}, W, Candidates, MinACF) on the kept bucket means, P in buckets;
// this is O(H), the history ring being rotated in place to hand it over as one slice. A
// change of P (to another period or to none) restarts the calibration below. Period
// reports P·W/dt rows, dt the exponentially weighted mean (weight 0.01) of the positive
// timestamp differences.
//
// Baseline. With K = BaselinePeriods, the expected value of row t is the median of the
// bucket means at the same phase of the last K periods that are kept and not empty,
//
//	e_t = median{ m_{k(t)−jP} : j = 1..K }   (the mean of the middle two for an even count)
//
// so one anomalous period does not echo into the next one (for K ≥ 3). The baseline is
// constant over a bucket: variation inside a bucket that repeats every period enters the
// residuals, and the calibration absorbs it as long as it is common (as for a smooth daily
// curve, where every row carries some). No period, or no kept bucket at those phases,
// means no baseline: the row scores 0 and is not learned as a residual.
//
// Score. The residual is a_t = |x_t − e_t|/2 (halved so that it cannot overflow). With q_t the
// 0.99 quantile (numpy "lower": the element of rank floor(0.99·(n−1))) of the calibration
// window, the n ≤ ResidWindow residuals of the rows before t that precede the newest
// ResidDelay ones,
//
//	score(t) = min(1, a_t / (Scale · max(q_t, 1e-9·|e_t|/2)))
//
// (0 when a_t = 0, 1 when the denominator is 0 and a_t is not): a residual Scale times the
// 99th percentile of recent residuals scores 1. Scoring starts once n ≥ ResidWindow/4; a_t
// is learned after the row is scored. Holding back the newest ResidDelay residuals lets an
// anomaly that lasts up to ResidDelay rows (a day at 5-minute steps, by default) score high
// all along instead of raising q within its first ResidWindow/100 rows; afterwards its
// residuals do raise q, until they leave the window.
//
// Memory and cost. Every buffer is sized in NewSeasonality: 8·(H + 2·ResidWindow +
// ResidDelay) bytes (26 KiB by default). Update allocates nothing; it is O(K) per row plus
// one sorted insertion and deletion in the calibration window (kept sorted, so q_t is one
// lookup; O(log ResidWindow) search, O(ResidWindow) memmove), and O(H) every CheckBuckets
// buckets (the period check).
//
// Numerics. A row with a non-finite timestamp or value is ignored: it scores 0 and is not
// learned. Bucket means are updated as m += d/n + d/n with d = x/2 − m/2, which neither
// overflows nor drifts on a constant series, so huge values (±1e300) give finite scores.
type Seasonality struct {
	cfg      SeasonalityConfig
	hist     algorithms.Ring // completed bucket means, oldest first; NaN = empty bucket
	resid    algorithms.Ring // a_t of the rows since the period was last set
	calib    []float64       // the calibration window's residuals, ascending
	started  bool            // a row has been learned
	bucket   int64           // k of the current (incomplete) bucket
	mean     float64         // mean of the current bucket's rows
	count    int             // rows in the current bucket
	sinceChk int             // buckets completed since the last period check
	period   int             // P in buckets, 0 if none
	acf      float64         // autocorrelation of P at the last check
	lastTS   float64
	dt       float64 // EW mean of the positive timestamp differences, 0 until known
}

// SeasonalityConfig configures Seasonality; DefaultSeasonalityConfig gives the defaults.
type SeasonalityConfig struct {
	// Candidates are the candidate periods in seconds; each must be a multiple of
	// BucketSeconds, at least two buckets long.
	Candidates []float64
	// MinACF is the autocorrelation a candidate period needs to be used (see
	// DetectPeriod).
	MinACF float64
	// BucketSeconds is W, the width of the history buckets in seconds; it should be at
	// least the sampling interval (a sparser series leaves buckets empty, which only thins
	// the autocorrelation's pairs).
	BucketSeconds float64
	// HistoryBuckets is H, the number of completed buckets kept; at least two of the
	// longest candidate period, or it could never be detected.
	HistoryBuckets int
	// CheckBuckets is how often, in completed buckets, the period is detected again.
	CheckBuckets int
	// BaselinePeriods is K, the number of earlier periods whose same-phase bucket means
	// the baseline is the median of; in [1, 8].
	BaselinePeriods int
	// ResidWindow is the number of residuals (rows) the score is calibrated on.
	ResidWindow int
	// ResidDelay is the number of newest residuals (rows) left out of the calibration.
	ResidDelay int
	// Scale: a residual Scale times the 99th percentile of recent residuals scores 1.
	Scale float64
}

// DefaultSeasonalityConfig returns the default configuration: daily and weekly candidates
// (acf ≥ 0.6) on 30-minute buckets kept for three weeks and checked daily, a baseline
// median over three periods, and a score calibrated on the 1008 residuals (3.5 days at
// 5-minute steps) before the newest 288 (a day).
func DefaultSeasonalityConfig() SeasonalityConfig {
	return SeasonalityConfig{
		Candidates:      []float64{86400, 604800},
		MinACF:          0.6,
		BucketSeconds:   1800,
		HistoryBuckets:  1008,
		CheckBuckets:    48,
		BaselinePeriods: 3,
		ResidWindow:     1008,
		ResidDelay:      288,
		Scale:           5,
	}
}

// Validate reports the first invalid field.
func (c SeasonalityConfig) Validate() error {
	switch {
	case len(c.Candidates) == 0:
		return errors.New("invalid Candidates: empty")
	case !(c.MinACF > 0 && c.MinACF <= 1):
		return fmt.Errorf("invalid MinACF %v: must be in (0, 1]", c.MinACF)
	case !(c.BucketSeconds > 0) || math.IsInf(c.BucketSeconds, 0):
		return fmt.Errorf("invalid BucketSeconds %v: must be positive", c.BucketSeconds)
	}
	longest := 0
	for _, p := range c.Candidates {
		b := p / c.BucketSeconds
		if !(b >= 2 && b <= 1<<20) || math.Abs(b-math.Round(b)) > 1e-9*b {
			return fmt.Errorf("invalid Candidates entry %v: must be a multiple of BucketSeconds (%v), in [2, 2^20] buckets", p, c.BucketSeconds)
		}
		longest = max(longest, int(math.Round(b)))
	}
	switch {
	case c.HistoryBuckets < 2*longest || c.HistoryBuckets > 1<<22:
		return fmt.Errorf("invalid HistoryBuckets %d: must be in [2×the longest candidate (%d), 2^22]", c.HistoryBuckets, 2*longest)
	case c.CheckBuckets < 1 || c.CheckBuckets > 1<<22:
		return fmt.Errorf("invalid CheckBuckets %d: must be in [1, 2^22]", c.CheckBuckets)
	case c.BaselinePeriods < 1 || c.BaselinePeriods > szMaxBaselinePeriods:
		return fmt.Errorf("invalid BaselinePeriods %d: must be in [1, %d]", c.BaselinePeriods, szMaxBaselinePeriods)
	case c.ResidWindow < 20 || c.ResidWindow > 1<<22:
		return fmt.Errorf("invalid ResidWindow %d: must be in [20, 2^22]", c.ResidWindow)
	case c.ResidDelay < 0 || c.ResidDelay > 1<<22:
		return fmt.Errorf("invalid ResidDelay %d: must be in [0, 2^22]", c.ResidDelay)
	case !(c.Scale > 0) || math.IsInf(c.Scale, 0):
		return fmt.Errorf("invalid Scale %v: must be positive", c.Scale)
	}
	return nil
}

// NewSeasonality returns a Seasonality with an empty state. It panics if cfg is invalid (see
// Validate).
func NewSeasonality(cfg SeasonalityConfig) *Seasonality {
	if err := cfg.Validate(); err != nil {
		panic("research.NewSeasonality: " + err.Error())
	}
	cfg.Candidates = append([]float64(nil), cfg.Candidates...)
	return &Seasonality{
		cfg:   cfg,
		hist:  algorithms.NewRing(cfg.HistoryBuckets),
		resid: algorithms.NewRing(cfg.ResidWindow + cfg.ResidDelay),
		calib: make([]float64, 0, cfg.ResidWindow),
	}
}

// Update scores the row (ts unix seconds, value finite) from rows 0..i only (causal), then learns it; returns a score in [0,1].
// A row with a non-finite ts or x is ignored (scores 0, not learned).
func (d *Seasonality) Update(ts, x float64) float64 {
	k := ts / d.cfg.BucketSeconds
	if !szFinite(x) || !(math.Abs(k) < 1<<62) {
		return 0
	}
	b := int64(math.Floor(k))
	switch {
	case !d.started:
		d.started, d.bucket, d.lastTS = true, b, ts
	case b > d.bucket:
		d.advance(b)
	}
	if diff := ts - d.lastTS; diff > 0 {
		if d.dt == 0 {
			d.dt = diff
		} else {
			d.dt += 0.01 * (diff - d.dt)
		}
		d.lastTS = ts
	}
	score := 0.0
	if e, ok := d.baseline(); ok {
		a := math.Abs(x/2 - e/2)
		if n := len(d.calib); n >= max(1, d.cfg.ResidWindow/4) {
			score = szScore(a, d.calib[int(0.99*float64(n-1))], e, d.cfg.Scale)
		}
		d.learn(a)
	}
	d.count++
	h := x/2 - d.mean/2
	d.mean = d.mean + h/float64(d.count) + h/float64(d.count)
	return score
}

// Period reports the period in rows in use (0 if none) and its autocorrelation.
func (d *Seasonality) Period() (rows int, acf float64) {
	if d.period == 0 || !(d.dt > 0) {
		return 0, 0
	}
	r := math.Round(float64(d.period) * d.cfg.BucketSeconds / d.dt)
	return int(max(1, min(r, math.MaxInt32))), d.acf
}

// advance closes the current bucket and moves to bucket b > d.bucket, marking the skipped
// buckets empty; then it re-detects the period when due.
func (d *Seasonality) advance(b int64) {
	elapsed := b - d.bucket
	d.hist.Push(d.mean)
	d.mean, d.count, d.bucket = 0, 0, b
	gap := elapsed - 1
	if gap >= int64(d.hist.Cap()) {
		// Everything kept is older than the history: start over.
		d.hist.Reset()
		d.setPeriod(0, 0)
		d.sinceChk = 0
		return
	}
	for range gap {
		d.hist.Push(math.NaN())
	}
	d.sinceChk += int(elapsed)
	if d.sinceChk >= d.cfg.CheckBuckets {
		d.sinceChk = 0
		d.setPeriod(DetectPeriod(d.hist.Linear(), d.cfg.BucketSeconds, d.cfg.Candidates, d.cfg.MinACF))
	}
}

// setPeriod sets the period in buckets; a change restarts the calibration.
func (d *Seasonality) setPeriod(p int, acf float64) {
	if p != d.period {
		d.resid.Reset()
		d.calib = d.calib[:0]
	}
	d.period, d.acf = p, acf
}

// learn appends the residual a: the residual ResidDelay rows older enters the calibration
// window, and the one ResidWindow rows older than that leaves it. The ring holds
// ResidWindow+ResidDelay residuals, so the leaving one is its oldest.
func (d *Seasonality) learn(a float64) {
	n, delay := d.resid.Len(), d.cfg.ResidDelay
	in := a
	if delay > 0 {
		if n-delay < 0 {
			d.resid.Push(a)
			return
		}
		in = d.resid.At(n - delay)
	}
	if out := n - delay - d.cfg.ResidWindow; out >= 0 {
		sortedReplace(d.calib, d.resid.At(out), in)
	} else {
		d.calib = sortedInsert(d.calib, in)
	}
	d.resid.Push(a)
}

// baseline returns e_t for a row in the current bucket, ok false when there is none.
func (d *Seasonality) baseline() (e float64, ok bool) {
	if d.period == 0 {
		return 0, false
	}
	var vals [szMaxBaselinePeriods]float64
	n := 0
	for j := 1; j <= d.cfg.BaselinePeriods; j++ {
		back := j*d.period - 1 // bucket k − jP, counted back from the newest kept (k − 1)
		if back >= d.hist.Len() {
			break
		}
		if v := d.hist.Back(back); !math.IsNaN(v) {
			vals[n] = v
			n++
		}
	}
	if n == 0 {
		return 0, false
	}
	return szMedianSmall(vals[:n]), true
}

// szMedianSmall returns the median of a few values (insertion sort, in place); the mean of
// the middle two for an even count, computed without overflow.
func szMedianSmall(a []float64) float64 {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
	n := len(a)
	if n%2 == 1 {
		return a[n/2]
	}
	return a[n/2-1]/2 + a[n/2]/2
}

// szScore is min(1, a / (scale · max(q, 1e-9·|e|/2))), 0 for a = 0 and 1 for a zero
// denominator.
func szScore(a, q, e, scale float64) float64 {
	if a == 0 {
		return 0
	}
	den := scale * max(q, 1e-9*math.Abs(e/2))
	if den == 0 {
		return 1
	}
	return min(1, a/den)
}
