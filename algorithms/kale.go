package algorithms

import (
	"errors"
	"fmt"
	"math"
)

// Kale is Kale's own streaming anomaly detector, the default detector of `kale detect` and
// of the analyzer. It keeps a bounded state per metric, sees one row at a time (Update) and
// scores each row from the rows so far only (causal), so it can run on every metric every
// cycle and its state can be kept between cycles (MarshalBinary).
//
// Components (each in its own kale_*.go file, documented there):
//
//   - context (kale_context.go): a CAD-OSE-like novelty score, the fraction of new
//     quantised patterns; run as an ensemble of len(ContextLevels)×2 quantisations (each
//     level count with grid offsets 0 and ½) whose scores are averaged, which makes the
//     score insensitive to where the grid happens to cut the data. Data sampled more often
//     than every kaleContextStep/2 seconds is averaged into kaleContextStep rows first
//     (a row far outside the window range is a context row of its own at once);
//   - familiarity: the context score is weighted by 1 − b, where b is the exponentially
//     weighted mean of the context score itself (the recent base rate of novelty,
//     weight ContextBaseAlpha, starting as the plain mean of the rows so far); then it is
//     raised to kaleContextCalibration, which puts its alarm level at 0.632;
//   - seasonal (kale_season.go): daily and weekly profiles in fixed UTC buckets, the
//     period found per metric, a per-phase robust scale; a point score ("seasonal") and a
//     sustained score ("level"), both 0.632 at the alarm level, and level re-baselining;
//   - flat (kale_flat.go): a run of equal values longer than any before, scored by how
//     many long runs came before it;
//   - an exponentially weighted mean and variance (kaleEW), which only explains a context
//     or flat alert (Expected ± 3σ).
//
// Combination. With c(t) the calibrated, familiarity-weighted context score, s(t) the
// seasonal score and f(t) the flat score, and g(t) = s(t) where the row's phase is known and
// a period found (else 1):
//
//	raw(t) = max(c(t)·g(t), s(t) where the seasonal part may alarm, f(t)·g(t))
//
// lies in [0, 1]: where the season explains a phase, a novelty or a flat run counts only as
// far as the row is also unusual for its phase. NAB counts only the earliest detection in a
// window and charges for every detection outside one, so only the top of a new peak is
// reported: row t−1 is a new peak when raw(t−1) > max(raw(t−1−H) .. raw(t−2)), H =
// max(Rest, RestTime/dt) rows, and it is reported one row late, at the row t that confirms
// it is the top (raw(t) ≤ raw(t−1)):
//
//	Score(t) = raw(t−1) if row t−1 is a new peak and raw(t) ≤ raw(t−1), else 0
//
// (a rising pair of novel rows then fires once, not twice); within H rows of the last
// report a new peak must also beat that report's score by kaleReportMargin (a sustained
// anomaly whose score creeps up by hundredths, as at 10 s data, is not reported again).
// Rows 1..Probation and the first ProbationTime seconds score 0 (the detector learns during
// them), and until WarmupTime only a row far outside the range seen so far can be reported.
// The rule needs no alert threshold: whatever threshold the caller applies, a sustained
// anomaly fires once when it starts and again only if it gets materially worse.
// KaleScore.Timestamp and Value name the row a score is about.
type Kale struct {
	cfg   KaleConfig
	n     int
	peaks kalePeaks
	ctx   []kaleContext
	rng   BlockRange // the recent range the context grids are sized on
	seas  kaleSeason
	ew    kaleEW
	flat  kaleFlat
	base  float64 // b: EW mean of the context score (the novelty base rate)
	// The context step: rows closer than kaleContextStep seconds are averaged into one
	// context row (see Kale).
	cIdx int64
	cSum float64
	cn   int   // context rows so far
	cN   int32 // rows in the context step being filled
	// the range of the rows in the context step being filled
	cLo, cHi float64
	// the range the context grids were last sized on (not state: a restored detector
	// sizes them again at its first row, which changes nothing)
	gridLo, gridHi float64
	firstTS        float64
}

// kaleContextStep is the shortest step of the context part, in seconds: data sampled more
// often is averaged into 5-minute rows before it is quantised.
const kaleContextStep = 300

// kaleContextCalibration is the exponent that maps the familiarity-weighted context score
// onto the alarm scale of the other parts: a monotone map (the context part's ranking is
// unchanged) chosen so that the context score NAB's sweep picks (0.492 = 0.632^(1/0.6466))
// becomes 0.632 = 1 − 1/e, where the seasonal part alarms (z = SeasonZ) and where the
// analyzer's --kale-threshold default sits.
const kaleContextCalibration = 0.6466

// KaleConfig configures Kale; DefaultKaleConfig gives the one configuration used for every
// NAB file. All sizes are in rows.
type KaleConfig struct {
	// Probation is the number of first rows that score 0 while the detector learns.
	Probation int
	// Rest is the suppression horizon: a row must beat every raw score of the last Rest
	// rows to be reported.
	Rest int
	// RestTime is the shortest suppression horizon in seconds: at the current sampling
	// interval dt the horizon is max(Rest, RestTime/dt) rows, so it is the same time at any
	// interval of at most RestTime/Rest (5 minutes by default).
	RestTime float64
	// ContextOrder is the longest context (number of previous symbols) of the context
	// detector.
	ContextOrder int
	// ContextLevels lists the quantisation level counts of the context ensemble; each
	// runs at grid offsets 0 and ½.
	ContextLevels []int
	// ContextTableBits is log2 of the bits of each context model's memory.
	ContextTableBits int
	// ContextRangeWindow is the number of recent rows whose range sizes the context grids
	// (kept in kaleRangeBlocks blocks, so up to one block more); 0 means every row so far.
	ContextRangeWindow int
	// ContextShrinkBits: a context grid is refined when the range would fit a grid
	// 2^ContextShrinkBits times finer; 0 means grids only grow.
	ContextShrinkBits int
	// ContextBaseAlpha is the weight of the novelty base rate b (an EW mean of the
	// context score, α = max(ContextBaseAlpha, 1/n)); the context score is weighted by
	// 1 − b. 0 switches the weighting off.
	ContextBaseAlpha float64
	// SeasonZ is the seasonal alarm level: a residual of SeasonZ robust scales at its
	// phase scores 1 − 1/e ≈ 0.632 (kale_season.go).
	SeasonZ float64
	// ProbationTime is the shortest time (seconds from the first row) during which rows
	// score 0 whatever Probation says: the first day's shape is all new.
	ProbationTime float64
	// WarmupTime (seconds from the first row) is the warm-up after Probation: during it a
	// row is reported only if its value is outside the range seen so far by more than half
	// the range's width (a new extreme),
	// since in-range patterns of the first days are all new to the context part.
	WarmupTime float64
	// FlatMinTime is the shortest time (seconds) a run of equal values must last to count
	// for the flat detector, whatever FlatMinRun says.
	FlatMinTime float64
	// FlatMinRun is the shortest run of equal values the flat detector counts; 0 switches
	// the flat detector off.
	FlatMinRun int
	// DisableContext and DisableSeasonal switch a component off (for ablation).
	DisableContext, DisableSeasonal bool
}

// DefaultKaleConfig returns the configuration scored on NAB (algorithms/README.md).
func DefaultKaleConfig() KaleConfig {
	return KaleConfig{
		Probation:          150,
		Rest:               120,
		RestTime:           36000,
		ContextOrder:       4,
		ContextLevels:      []int{6, 8, 12},
		ContextTableBits:   9,
		ContextRangeWindow: 4800,
		ContextShrinkBits:  2,
		ContextBaseAlpha:   0.004,
		SeasonZ:            7,
		ProbationTime:      64800,
		WarmupTime:         345600,
		FlatMinRun:         12,
		FlatMinTime:        3600,
	}
}

// Validate reports the first invalid field.
func (c KaleConfig) Validate() error {
	switch {
	case c.Probation < 0:
		return fmt.Errorf("invalid Probation %d: must be >= 0", c.Probation)
	case c.Rest < 1 || c.Rest > 1<<20:
		return fmt.Errorf("invalid Rest %d: must be in [1, 2^20]", c.Rest)
	case !(c.RestTime >= 0) || c.RestTime > 1e8:
		return fmt.Errorf("invalid RestTime %v: must be in [0, 1e8]", c.RestTime)
	case c.ContextOrder < 0 || c.ContextOrder > 16:
		return fmt.Errorf("invalid ContextOrder %d: must be in [0, 16]", c.ContextOrder)
	case len(c.ContextLevels) == 0 && !c.DisableContext:
		return errors.New("invalid ContextLevels: empty")
	case c.ContextTableBits < 6 || c.ContextTableBits > 24:
		return fmt.Errorf("invalid ContextTableBits %d: must be in [6, 24]", c.ContextTableBits)
	case c.ContextRangeWindow < 0 || c.ContextRangeWindow > 1<<24:
		return fmt.Errorf("invalid ContextRangeWindow %d: must be in [0, 2^24]", c.ContextRangeWindow)
	case c.ContextShrinkBits < 0 || c.ContextShrinkBits > 30:
		return fmt.Errorf("invalid ContextShrinkBits %d: must be in [0, 30]", c.ContextShrinkBits)
	case !(c.ContextBaseAlpha >= 0 && c.ContextBaseAlpha <= 1):
		return fmt.Errorf("invalid ContextBaseAlpha %v: must be in [0, 1]", c.ContextBaseAlpha)
	case !(c.SeasonZ > 0) || math.IsInf(c.SeasonZ, 0):
		return fmt.Errorf("invalid SeasonZ %v: must be positive", c.SeasonZ)
	case !(c.ProbationTime >= 0) || math.IsInf(c.ProbationTime, 0):
		return fmt.Errorf("invalid ProbationTime %v: must be >= 0", c.ProbationTime)
	case !(c.WarmupTime >= 0) || math.IsInf(c.WarmupTime, 0):
		return fmt.Errorf("invalid WarmupTime %v: must be >= 0", c.WarmupTime)
	case !(c.FlatMinTime >= 0) || math.IsInf(c.FlatMinTime, 0):
		return fmt.Errorf("invalid FlatMinTime %v: must be >= 0", c.FlatMinTime)
	case c.FlatMinRun < 0 || c.FlatMinRun > 1<<20:
		return fmt.Errorf("invalid FlatMinRun %d: must be in [0, 2^20]", c.FlatMinRun)
	}
	for _, l := range c.ContextLevels {
		if l < 1 || l > 1<<16 {
			return fmt.Errorf("invalid ContextLevels entry %d: must be in [1, 65536]", l)
		}
	}
	return nil
}

// kaleRangeBlocks is the number of blocks the context range window is kept in.
const kaleRangeBlocks = 24

// rangeBlock is the block size of the context range window: ContextRangeWindow rows in
// kaleRangeBlocks blocks, or one endless block for the whole history.
func (c KaleConfig) rangeBlock() int {
	if c.ContextRangeWindow == 0 {
		return math.MaxInt
	}
	return (c.ContextRangeWindow + kaleRangeBlocks - 1) / kaleRangeBlocks
}

// KaleScore is one row's verdict with its explanation.
type KaleScore struct {
	// Score is in [0, 1]; higher is more anomalous, 0 when suppressed.
	Score float64
	// Timestamp and Value are the row the score is about: the row just passed to Update,
	// or, when a peak is confirmed (Score > 0), the row before it.
	Timestamp, Value float64
	// Component names the part that produced the raw score: "context" (novelty),
	// "seasonal" (one row far from its phase's expectation), "level" (rows held away
	// from it: a shift, a drop), "variance" (rows scattered around it: a burst of noise)
	// or "flat".
	Component string
	// Expected is the value the component expected, and [Lower, Upper] the band it
	// considered normal (context and flat: the EW mean ± 3 EW standard deviations, the
	// usual level and spread; seasonal, level and variance: the expectation for the row's
	// phase ± SeasonZ robust scales of that phase).
	Expected, Lower, Upper float64
	// Phase names the seasonal phase of a seasonal, level or variance score, e.g. "Mondays 03:00"
	// (weekly period) or "daily 03:00" (daily period; UTC, the start of the 15-minute
	// bucket); empty for other components and unreported rows. With Expected, Lower and
	// Upper it reads "Mondays 03:00 usually 120–180, got 410".
	Phase string
	phase uint8 // the period of Phase (kalePeriodDaily or kalePeriodWeekly), 0: none
}

// NewKale returns a Kale with an empty state. It panics if cfg is invalid (see Validate).
func NewKale(cfg KaleConfig) *Kale {
	if err := cfg.Validate(); err != nil {
		panic("algorithms.NewKale: " + err.Error())
	}
	cfg.ContextLevels = append([]int(nil), cfg.ContextLevels...)
	k := &Kale{
		cfg:   cfg,
		peaks: kalePeaks{raws: kaleRecentMax{w: cfg.Rest}},
	}
	k.flat.minRun = int32(cfg.FlatMinRun)
	k.rng = NewBlockRange(cfg.rangeBlock(), kaleRangeBlocks)
	if !cfg.DisableContext {
		k.ctx = make([]kaleContext, 0, 2*len(cfg.ContextLevels))
		for _, l := range cfg.ContextLevels {
			for _, off := range []float64{0, 0.5} {
				k.ctx = append(k.ctx, newKaleContext(cfg.ContextOrder, l, cfg.ContextTableBits, cfg.ContextShrinkBits, off))
			}
		}
	}
	return k
}

// Update scores the row (ts unix seconds, value finite) from the rows before it, then
// learns it. Rows must come in timestamp order; a non-finite value should not be passed.
func (k *Kale) Update(ts, value float64) KaleScore {
	k.n++
	if k.n == 1 {
		k.firstTS = ts
	}
	mean, sd := k.ew.mean, math.Sqrt(k.ew.variance)
	if k.ew.n == 0 {
		mean = value
	}
	cur := KaleScore{Timestamp: ts, Value: value, Component: "context",
		Expected: mean, Lower: mean - 3*sd, Upper: mean + 3*sd}
	k.ew.update(value)
	so := k.seas.update(ts, value, k.cfg.SeasonZ)
	extreme := kaleFarOutside(&k.rng, value)
	raw := 0.0
	if len(k.ctx) > 0 {
		raw = k.contextRow(ts, value)
		if so.known && so.periodic {
			// The seasonal baseline explains this phase: a novelty counts only as far as
			// the row is also unusual for its phase.
			raw *= so.score
		}
	}
	if !k.cfg.DisableSeasonal && so.armed && so.score > raw {
		raw = so.score
		cur.Component, cur.Expected, cur.Lower, cur.Upper = so.component, so.expected, so.lo, so.hi
		cur.phase = so.phase
	}
	if k.flat.minRun > 0 {
		if k.seas.dt > 0 {
			k.flat.minTime = int32(min(math.Ceil(k.cfg.FlatMinTime/k.seas.dt), 1<<30))
		}
		f := k.flat.update(value)
		if so.known && so.periodic {
			f *= so.score // a run at the phase's usual level is the season, not a stuck value
		}
		if f > raw {
			raw, cur.Component = f, "flat"
			cur.phase = 0
		}
	}
	cur.Score = raw // raw is never NaN: a mean of context scores, or a larger score
	if k.seas.dt > 0 {
		k.peaks.raws.w = max(k.cfg.Rest, min(int(math.Ceil(k.cfg.RestTime/k.seas.dt)), 1<<20))
	}
	// The first rows are never reported (they only learn), and during the warm-up only
	// new extremes are.
	age := ts - k.firstTS
	out := k.peaks.push(cur, k.n > k.cfg.Probation && age >= k.cfg.ProbationTime && (extreme || age >= k.cfg.WarmupTime))
	if out.Score > 0 && out.phase != 0 {
		out.Phase = kalePhaseName(out.Timestamp, out.phase)
	}
	return out
}

// contextRow feeds the context models: each row when the data is sampled every
// kaleContextStep/2 seconds or less often, otherwise the mean of each kaleContextStep time
// bucket when the next bucket starts (the score then belongs to the row that closes it),
// and a row far outside the range seen so far (kaleFarOutside) at once, on its own.
// It returns the familiarity-weighted context score of the row (0 while a bucket fills).
func (k *Kale) contextRow(ts, x float64) float64 {
	if k.seas.dt == 0 || k.seas.dt >= kaleContextStep/2 {
		k.cN = 0
		return k.contextScore(x, x, x)
	}
	idx := int64(math.Floor(ts / kaleContextStep))
	score := 0.0
	if idx != k.cIdx && k.cN > 0 {
		score = k.closeContextStep()
	}
	k.cIdx = idx
	if kaleFarOutside(&k.rng, x) {
		// A new extreme is not averaged away or delayed: the bucket so far is closed and
		// the row is a context row of its own.
		if k.cN > 0 {
			score = max(score, k.closeContextStep())
		}
		return max(score, k.contextScore(x, x, x))
	}
	if k.cN == 0 {
		k.cLo, k.cHi = x, x
	}
	k.cSum += x
	k.cLo, k.cHi = min(k.cLo, x), max(k.cHi, x)
	k.cN++
	return score
}

// closeContextStep scores the mean of the context step being filled, with the range of its
// rows, and empties it.
func (k *Kale) closeContextStep() float64 {
	score := k.contextScore(k.cSum/float64(k.cN), k.cLo, k.cHi)
	k.cSum, k.cN, k.cLo, k.cHi = 0, 0, 0, 0
	return score
}

// kaleFarOutside reports whether x lies outside the window range by more than half its
// width: a new extreme that needs no history to be news.
func kaleFarOutside(r *BlockRange, x float64) bool {
	lo, hi, have := r.Get()
	return have && (x < lo-(hi-lo)/2 || x > hi+(hi-lo)/2)
}

// contextScore scores one context row with the ensemble and the familiarity weight; the
// row is value, the mean of rows ranging over [spanLo, spanHi] (value itself when it is one
// row). The range window keeps the rows' range, not the means': a raw row is compared
// with raw rows (kaleFarOutside), and the grids are sized on what the data does.
func (k *Kale) contextScore(value, spanLo, spanHi float64) float64 {
	k.cn++
	raw := 0.0
	lo, hi, have := k.rng.Get()
	wlo, whi := spanLo, spanHi // the range with this row, which the grids are sized on
	if have {
		wlo, whi = min(lo, spanLo), max(hi, spanHi)
	}
	same := k.cn > 1 && wlo == k.gridLo && whi == k.gridHi
	k.gridLo, k.gridHi = wlo, whi
	for i := range k.ctx {
		raw += k.ctx[i].update(value, lo, hi, wlo, whi, have, same)
	}
	k.rng.PushSpan(spanLo, spanHi)
	raw /= float64(len(k.ctx))
	if a := k.cfg.ContextBaseAlpha; a > 0 {
		familiar := 0.0 // the first row has no base rate yet
		if k.cn > 1 {
			familiar = 1 - k.base
		}
		k.base += max(a, 1/float64(k.cn)) * (raw - k.base)
		raw *= familiar
	}
	if raw <= 0 {
		return 0
	}
	return math.Pow(raw, kaleContextCalibration)
}

// kalePeaks is the reporting rule (see Kale): it holds back a row that is a new peak until
// the next row shows it is the top.
type kalePeaks struct {
	raws kaleRecentMax // the largest of the last Rest raw scores
	// pending is the previous row's verdict (Score holds its raw score) while that row is
	// a new peak waiting for the next row to confirm it is the top.
	pending    KaleScore
	hasPending bool
	// the score of the last report, and the rows since it (1 at the row that reported it;
	// 0: none yet)
	repScore float64
	repAge   int
}

// kaleReportMargin is how much a new peak within the suppression horizon of the last report
// must beat that report's score to be reported too.
const kaleReportMargin = 0.03

// push takes the current row's verdict with its raw score in Score and returns what to
// report for this row: the pending peak if cur confirms it, otherwise cur's row with
// Score 0. eligible false keeps cur from ever being reported.
func (p *kalePeaks) push(cur KaleScore, eligible bool) KaleScore {
	out := KaleScore{Timestamp: cur.Timestamp, Value: cur.Value}
	if p.hasPending && cur.Score <= p.pending.Score {
		out = p.pending
		if out.Score > 0 {
			p.repScore, p.repAge = out.Score, 1
		}
	}
	// Within the horizon of the last report, a new peak must beat it by kaleReportMargin:
	// a sustained anomaly whose score creeps up by hundredths is not a new one (a score of 1
	// always may be, if it beats the horizon's raw scores).
	creeping := p.repAge > 0 && p.repAge <= p.raws.w && cur.Score < min(p.repScore+kaleReportMargin, 1)
	if p.repAge > 0 {
		if p.repAge++; p.repAge > p.raws.w {
			p.repAge = 0 // past the horizon: forgotten
		}
	}
	p.pending, p.hasPending = cur, eligible && !p.raws.beaten(cur.Score) && !creeping
	p.raws.push(cur.Score)
	return out
}

// kaleEWAlpha is the weight of kaleEW.
const kaleEWAlpha = 0.01

// kaleEW is an exponentially weighted mean and variance (West's incremental form):
// with d = x − mean, mean += α·d and variance = (1 − α)(variance + α·d²); α starts at 1/n
// so the first rows are averaged evenly.
type kaleEW struct {
	mean, variance float64
	n              int
}

func (e *kaleEW) update(x float64) {
	e.n++
	a := max(kaleEWAlpha, 1/float64(e.n))
	d := x - e.mean
	e.mean += a * d
	e.variance = (1 - a) * (e.variance + a*d*d)
}
