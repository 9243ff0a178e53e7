package algorithms

import (
	"cmp"
	"fmt"
	"math"
	"time"
)

// kaleSeason is Kale's seasonal baseline: daily and weekly profiles in fixed UTC time
// buckets, so the same profile is learnt at 10 s, 60 s or 5 min data, kept in the state
// (a week of shape survives although Redis holds a day).
//
// Profiles. The day is cut into 96 buckets of 15 minutes (d), the week into 168 hours
// (w, Monday 00:00 UTC = 0). When a bucket closes, with m its mean of the rows in it (de-
// levelled: divided by the level factor g, see below) and W[w] the weekly correction of
// its hour,
//
//	D[d] += a·(m − W[w] − D[d]),  a = max(1/days(d), 1/4)
//
// and when an hour closes, with h its mean and D̄ the mean of D over the rows of the hour,
//
//	W[w] += b·(h − D̄ − W[w]),  b = max(1/weeks(w), 1/2)
//
// (backfitting: the daily profile learns the signal without its weekly part and the
// weekly correction learns what the daily profile misses at that hour of the week). The
// expectation of a row is E = g·(D[d] + W[w]) (W only when the weekly period is found).
//
// Scale. Per daily bucket, S[d] is an EW mean over days (weight a) of the RMS residual of
// the bucket's rows against their expectation, each day's sample capped at 3·S[d] (one
// wild day moves it little); on the first day the rows' spread around the bucket mean. A
// row's z is r/σ with r = x − E and σ = max(S[d], mean S / 4, 2 % of the daily profile's
// range, the data's resolution (the smallest step between two rows), 1e-6·|E|) · max(1, ρ),
// ρ an EW mean of |z| over ~6 hours divided by 1.25, so noise that grows slowly raises the
// scale with it while a burst of minutes does not hide. With the weekly period, S is the
// scale of the residuals against the weekly expectation (the mean of those scales on a
// bucket's first weekly pass).
//
// Period. Per closed bucket out-of-sample errors are kept as EW means over ~4 days of
// bucket means: none, |m − L| (L an EW mean of bucket means over ~a day); daily,
// |m − D[d]|; weekly, |m − weekly(d, w)| (only while W[w] is known, with none's and daily's
// errors on the same buckets). The period is daily when errD < kaleDailyRatio·errN (kept
// while below 0.8·errN); weekly when errW < 0.8·errD on the same buckets and either the
// daily period holds or errW < kaleDailyRatio·errN on them (kept while below 0.8); else none.
// The component scores only when a period is found, the row's bucket has ≥ 3 days, its
// hour of the week has been seen (a week of data: the first weekend must not look like an
// anomaly), and its scale is learnt.
//
// Score. z0 is Config.SeasonZ. Per row, point = 1 − exp(−(z/z_ref)²) with z_ref = max(z0,
// 1.2 × the largest recent |z|) (z = z0 scores 1 − 1/e ≈ 0.632, the shipped alarm
// threshold); sustained = 1 − exp(−(z̄/L)²) with z̄ an EW mean over 30 minutes of z clipped
// to ±1.5·z0·kaleSustained, and L = z0·kaleSustained lowered (to no less than kaleCalFloor
// of it) to kaleCalLevel times the usual RMS of z̄; variance = 1 − exp(−(v/(z0·kaleVariance))²)
// with v the RMS of z around z̄ over the same 30 minutes. The score is the largest.
//
// Level shift. When |z̄| has stayed above L for an hour, the level factor g is multiplied
// by the ratio of the rows' mean to their expectation over that hour (or, if the profile is
// not positive, the mean residual is added as an offset), z̄ restarts at 0: the detector
// re-baselines instead of alarming for hours; the profiles keep learning the de-levelled
// data. For a day the old level may return (see update).
type kaleSeason struct {
	day         [kaleDayBuckets]int16     // quantised by dayQ
	dayS        [kaleDayBuckets]kaleScale // scale of the residuals against day; 0 unset
	weekS       [kaleDayBuckets]kaleScale // scale of the residuals against the weekly expectation
	dayN        [kaleDayBuckets]uint8     // days seen (saturating)
	week        [kaleWeekBuckets]int16    // quantised by weekQ
	weekN       [kaleWeekBuckets]uint8
	dayQ, weekQ kaleQuant

	g, off float64 // level factor and offset: E = g·(D+W) + off

	bIdx            int64 // current 15-min bucket number (unix/900), 0 none
	bSum, bSq, bRes float64
	bResW           float64
	// cached at each bucket close: mean scales and the daily profile's range
	meanS, meanW, dLo, dHi float64
	hIdx                   int64 // current hour number
	hSum                   float64
	lvl                    float64
	errN, errD, errW       [2]float64 // EW sum and weight of the predictors' errors
	errDW, errNW           [2]float64 // errD and errN on the buckets errW is known on

	lastTS          float64 // 0 before the first row
	lastX, quantum  float64 // the last value; the smallest step between two rows
	dt              float64 // EW mean interval (s)
	zbar, rho, zmax float64
	// lvlV is the usual size of zbar² (an EW mean over about a day, each sample capped),
	// which calibrates the level score (see update)
	lvlV           float64
	z2             float64 // EW mean of the clipped z², the 30-minute second moment
	shiftSince     float64 // ts since |zbar| is above the shift level; 0 none
	shiftX, shiftE float64 // sums of rows and expectations since then
	// the level before the last re-baselining, when (ts) it happened, and since when rows
	// have been back at it (see update)
	gPrev, offPrev, rebasedAt, backSince float64

	bN, bResN, bResWN int32 // rows in the bucket; of them with a daily, weekly expectation
	hN                int32 // rows in the hour
	nb                int32 // closed buckets
	shiftN            int32
	period            uint8 // 0 none, 1 daily, 2 weekly
}

const (
	kaleDayBuckets  = 96
	kaleWeekBuckets = 168
	kaleBucketSec   = 900
	// kaleRangeFloor is the smallest scale, as a share of the daily profile's range.
	kaleRangeFloor = 0.02
	// kaleSustained is the share of SeasonZ at which the 15-minute mean z scores 0.632.
	kaleSustained = 0.5
	// kaleVariance is the share of SeasonZ at which the 30-minute RMS of z (around its
	// mean) scores 0.632: 2.94 for SeasonZ 7, where noise of the learnt size gives about 1.
	kaleVariance = 0.42
	// kaleSustainTau (s) is the time constant of the sustained mean z, and kaleSustainClip
	// clips each z to ± kaleSustainClip·kaleSustained·SeasonZ before it is averaged (one
	// spike alone cannot make a sustained shift).
	kaleSustainTau  = 1800
	kaleSustainClip = 1.5
	// kaleDailyRatio: the daily period is found when the daily profile's error is below
	// this share of the error of the plain level.
	kaleDailyRatio = 0.3
	// kaleZMaxTau (s) is the time constant over which the largest recent |z| is forgotten;
	// a point must beat kaleZMaxFactor times it to score fully.
	kaleZMaxTau    = 3 * 86400
	kaleZMaxFactor = 1.2
	// Calibration of the level score (see update): its alarm level is kaleCalLevel times
	// the usual RMS of the 30-minute mean z, within [kaleCalFloor, 1] times its fixed level;
	// kaleCalTau (s) is the time constant of that usual size.
	kaleCalLevel = 8
	kaleCalFloor = 0.35
	kaleCalTau   = 86400
	// kaleRevertTime (s): for this long after a re-baselining the old level may return.
	kaleRevertTime = 86400
)

// The periods of kaleSeason.period.
const (
	kalePeriodNone = iota
	kalePeriodDaily
	kalePeriodWeekly
)

func kaleBuckets(ts float64) (bucket, hour int64, d, w int) {
	s := int64(math.Floor(ts))
	bucket, hour = floorDiv(s, kaleBucketSec), floorDiv(s, 3600)
	d = int(bucket % kaleDayBuckets)
	if d < 0 {
		d += kaleDayBuckets
	}
	w = int((hour + 3*24) % kaleWeekBuckets) // 1970-01-01 was a Thursday
	if w < 0 {
		w += kaleWeekBuckets
	}
	return bucket, hour, d, w
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// expect returns the expectation for buckets d, w without the level (D + W).
func (s *kaleSeason) profile(d, w int) float64 {
	if s.period == kalePeriodWeekly && s.weekN[w] > 0 {
		return s.weekly(d, w)
	}
	return s.dayQ.get(s.day[:], d)
}

// weekly is the weekly expectation: the hour-of-week mean plus the daily profile's shape
// within the hour.
func (s *kaleSeason) weekly(d, w int) float64 {
	h0 := d / 4 * 4
	sum, n := 0.0, 0
	for i := h0; i < h0+4; i++ {
		if s.dayN[i] > 0 {
			sum += s.dayQ.get(s.day[:], i)
			n++
		}
	}
	e := s.weekQ.get(s.week[:], w)
	if n > 0 && s.dayN[d] > 0 {
		e += s.dayQ.get(s.day[:], d) - sum/float64(n)
	}
	return e
}

func (s *kaleSeason) expect(d, w int) float64 { return s.g*s.profile(d, w) + s.off }

// band returns the expectation of phase (d, w) and its σ (see the type's doc).
func (s *kaleSeason) band(d, w int) (e, sig float64) {
	e = s.expect(d, w)
	sd, mean := s.dayS[d].get(), s.meanS
	if s.period == kalePeriodWeekly && s.weekN[w] > 0 {
		if s.weekS[d] != 0 {
			sd, mean = s.weekS[d].get(), s.meanW
		} else if n := s.weekScales(); n > 0 {
			// The first pass of this bucket against the weekly profile: the mean weekly
			// scale of the buckets learnt so far, not the daily scale (which holds the
			// weekday-to-weekend differences the weekly profile explains).
			sd, mean = s.meanW*kaleDayBuckets/float64(n), s.meanW
		}
	}
	sig = max(sd, mean/4, kaleRangeFloor*(s.dHi-s.dLo), 0.5*s.quantum/s.g) * s.g
	return e, max(sig, 1e-6*math.Abs(e), 1e-12) * max(1, s.rho/1.25)
}

// weekScales returns the number of daily buckets with a weekly scale.
func (s *kaleSeason) weekScales() int {
	n := 0
	for _, v := range s.weekS {
		if v != 0 {
			n++
		}
	}
	return n
}

// kaleNeighbour returns the daily bucket and hour of the week step (±1) buckets away.
func kaleNeighbour(d, w, step int) (int, int) {
	dn := d + step
	wn := w
	switch {
	case dn < 0:
		dn, wn = kaleDayBuckets-1, w-1
	case dn >= kaleDayBuckets:
		dn, wn = 0, w+1
	case dn/4 != d/4:
		wn = w + step
	}
	return dn, (wn + kaleWeekBuckets) % kaleWeekBuckets
}

// known reports whether the row's phase has an expectation and a scale to compare with
// (the score then weighs the flat part, and the context part when a period is found);
// armed whether it may also alarm.
func (s *kaleSeason) known(d int) bool {
	return s.dayN[d] >= 2 && s.dayS[d] != 0
}

func (s *kaleSeason) armed(d, w int) bool { return s.dayN[d] >= 3 && s.weekN[w] > 0 }

// kaleSeasonOut is a seasonal verdict: score, expectation and band, and the phase.
type kaleSeasonOut struct {
	score, expected, lo, hi float64
	component               string // "seasonal" (point) or "level" (sustained)
	phase                   uint8  // the period; 0 when not scored
	known, armed            bool   // score is valid; it may alarm (see kaleSeason.known)
	periodic                bool   // a period is found
}

// update scores (ts, x) and learns it; z0 is the alarm z.
func (s *kaleSeason) update(ts, x, z0 float64) (out kaleSeasonOut) {
	if s.g == 0 {
		s.g = 1
	}
	if gap := ts - s.lastTS; s.lastTS != 0 && gap > 0 {
		if s.dt == 0 {
			s.dt = gap
		} else {
			s.dt += 0.01 * (min(gap, 10*s.dt) - s.dt)
		}
	}
	gap := ts - s.lastTS
	if step := math.Abs(x - s.lastX); s.lastTS != 0 && step > 0 && (s.quantum == 0 || step < s.quantum) {
		s.quantum = step // the data's resolution: 1 for counts
	}
	s.lastTS, s.lastX = ts, x
	bucket, hour, d, w := kaleBuckets(ts)
	if bucket != s.bIdx {
		s.closeBucket()
		s.bIdx = bucket
	}
	if hour != s.hIdx {
		s.closeHour()
		s.hIdx = hour
	}
	x0 := (x - s.off) / s.g // de-levelled
	s.bSum += x0
	s.bSq += x0 * x0
	s.bN++
	s.hSum += x0
	s.hN++
	if s.dayN[d] > 0 {
		r := x0 - s.dayQ.get(s.day[:], d)
		s.bRes += r * r
		s.bResN++
		if s.weekN[w] > 0 {
			r = x0 - s.weekly(d, w)
			s.bResW += r * r
			s.bResWN++
		}
	}
	out.expected = x
	if !s.known(d) {
		s.shiftSince = 0
		return out
	}
	out.known, out.armed = true, s.period != kalePeriodNone && s.armed(d, w)
	out.periodic = s.period != kalePeriodNone
	e, sig := s.band(d, w)
	z := (x - e) / sig
	// Phase tolerance for the point score: a row that is normal for the next or the
	// previous 15 minutes is no spike (a nightly job that starts a few minutes early or
	// late, timestamps jittering across a bucket boundary). The sustained score keeps the
	// row's own phase: a shift held for a while is news even where the profile is steep.
	zp := z
	for _, step := range [2]int{-1, 1} {
		if math.Abs(zp) < z0/2 {
			break // too small to score: the neighbours would only make it smaller
		}
		dn, wn := kaleNeighbour(d, w, step)
		if s.dayN[dn] < 2 || s.dayS[dn] == 0 {
			continue
		}
		if en, sn := s.band(dn, wn); math.Abs(x-en)/sn < math.Abs(zp) {
			zp = (x - en) / sn
		}
	}
	if s.rebasedAt != 0 && ts-s.rebasedAt < kaleRevertTime {
		// Within a day of a re-baselining, the level before it is normal too: a row back
		// at it is not news, and once they have been back for a while the old level returns.
		e0 := s.gPrev*s.profile(d, w) + s.offPrev
		z0v := (x - e0) / (sig / s.g * s.gPrev)
		if math.Abs(z0v) < math.Abs(z) {
			z = z0v
			s.backSince = cmp.Or(s.backSince, ts)
			if ts-s.backSince >= 1800 {
				s.g, s.off, s.rebasedAt, s.backSince, s.zbar = s.gPrev, s.offPrev, 0, 0, 0
			}
		} else {
			s.backSince = 0
		}
	}
	// One row stands for at most 5 minutes of evidence: after a gap the means restart
	// from what they were, not from the first row alone.
	wgap := max(min(gap, 300), 0)
	a := 1 - kaleDecay(wgap/kaleSustainTau)
	zc := kaleSustainClip * kaleSustained * z0
	zcl := max(min(z, zc), -zc)
	s.zbar += a * (zcl - s.zbar)
	s.z2 += a * (zcl*zcl - s.z2)
	s.rho += (1 - kaleDecay(wgap/(6*3600))) * (min(math.Abs(z), 4*z0) - s.rho)
	// The point score is relative to the largest |z| of the recent past (decaying with
	// time constant kaleZMaxTau): a spike no larger than recent ones is not news.
	s.zmax *= kaleDecay(max(gap, 0) / kaleZMaxTau)
	if math.Abs(z) < math.Abs(zp) {
		zp = z // back at the level before a re-baselining
	}
	zref := max(z0, kaleZMaxFactor*s.zmax)
	if out.armed {
		s.zmax = max(s.zmax, min(math.Abs(zp), 1e6))
	}
	point := kaleSquash(zp / zref)
	// The level is judged against its own usual size: its alarm level, z0·kaleSustained,
	// is lowered (never raised, and to no less than kaleCalFloor of it) to kaleCalLevel
	// times the usual RMS of the 30-minute mean z. Where the residuals are white (a good
	// profile, fine-grained data) the mean of many rows is steady and a smaller held shift
	// is news; where the profile misses by whole stretches the level stays where it was.
	levelAt := z0 * kaleSustained
	if s.lvlV == 0 {
		s.lvlV = (levelAt / kaleCalLevel) * (levelAt / kaleCalLevel)
	}
	levelAt *= max(kaleCalFloor, min(1, kaleCalLevel*math.Sqrt(s.lvlV)/levelAt))
	if out.armed {
		// one sample per row, capped at 3 RMS (an anomaly moves it little)
		s.lvlV += (1 - kaleDecay(wgap/kaleCalTau)) * (min(s.zbar*s.zbar, 9*s.lvlV) - s.lvlV)
	}
	sustained := kaleSquash(s.zbar / levelAt)
	// Variance: the 30-minute variance of z (around its mean, so a shift is not a burst);
	// an RMS of SeasonZ·kaleVariance scores 0.632.
	variance := kaleSquash(math.Sqrt(max(0, s.z2-s.zbar*s.zbar)) / (z0 * kaleVariance))
	out.score, out.component = point, "seasonal"
	if sustained > out.score {
		out.score, out.component = sustained, "level"
	}
	if variance > out.score {
		out.score, out.component = variance, "variance"
	}
	out.expected, out.lo, out.hi = e, e-z0*sig, e+z0*sig
	out.phase = s.period
	// Level shift: |zbar| above the sustained level for an hour re-baselines.
	if out.armed && math.Abs(s.zbar) > levelAt {
		if s.shiftSince == 0 {
			s.shiftSince, s.shiftX, s.shiftE, s.shiftN = ts, 0, 0, 0
		}
		s.shiftX += x
		s.shiftE += e
		s.shiftN++
		if ts-s.shiftSince >= 3600 && s.shiftN >= 4 {
			s.rebase(ts)
		}
	} else {
		s.shiftSince = 0
	}
	return out
}

// rebase moves the level to the rows of the confirmed shift (see the type's doc).
func (s *kaleSeason) rebase(ts float64) {
	if s.rebasedAt == 0 || ts-s.rebasedAt >= kaleRevertTime {
		// A second shift within the day keeps the level from before the first one.
		s.gPrev, s.offPrev, s.rebasedAt = s.g, s.off, ts
	}
	s.backSince = 0
	mx, me := s.shiftX/float64(s.shiftN), s.shiftE/float64(s.shiftN)
	if me > 0 && mx > 0 && s.g > 0 {
		s.g *= mx / me
	} else {
		s.off += mx - me
	}
	s.zbar, s.shiftSince = 0, 0
	s.rho = 0
}

// kalePhaseName describes the phase of ts: "Mondays 03:00" with a weekly period, "daily
// 03:00" with a daily one (the start of the 15-minute bucket, UTC).
func kalePhaseName(ts float64, period uint8) string {
	t := time.Unix(int64(math.Floor(ts)), 0).UTC()
	hm := fmt.Sprintf("%02d:%02d", t.Hour(), t.Minute()/15*15)
	if period == kalePeriodWeekly {
		return t.Weekday().String() + "s " + hm
	}
	return "daily " + hm
}

// kaleScale is a positive scale in 2 bytes: 0 is unset (or zero), otherwise the scale is
// 2^((v−1)/256 − 80), a relative precision of 0.14 % over 10^−24 .. 10^53.
type kaleScale uint16

func (v kaleScale) get() float64 {
	if v == 0 {
		return 0
	}
	return math.Exp2(float64(v-1)/256 - 80)
}

func (v *kaleScale) set(x float64) {
	if !(x > 0) {
		*v = 0
		return
	}
	*v = kaleScale(max(1, min(65535, math.Round((math.Log2(x)+80)*256)+1)))
}

// kaleQuant quantises a profile into int16s: value = base + q·unit. base is the first value
// set; unit starts tiny and doubles (halving every q) whenever a value does not fit, so the
// resolution is the profile's largest distance from base / 32767.
type kaleQuant struct{ base, unit float64 }

func (k *kaleQuant) get(q []int16, i int) float64 { return k.base + float64(q[i])*k.unit }

func (k *kaleQuant) set(q []int16, i int, x float64) {
	if k.unit == 0 {
		k.base, k.unit = x, max(math.Abs(x)*0x1p-40, 0x1p-100)
	}
	v := math.Round((x - k.base) / k.unit)
	if math.Abs(v) > math.MaxInt16 {
		shift := int(math.Ceil(math.Log2(math.Abs(v) / math.MaxInt16)))
		for j := range q {
			q[j] = int16(math.Round(math.Ldexp(float64(q[j]), -shift)))
		}
		k.unit = math.Ldexp(k.unit, shift)
		v = max(-math.MaxInt16, min(math.MaxInt16, math.Round((x-k.base)/k.unit)))
	}
	q[i] = int16(v)
}

// kaleSquash is 1 − exp(−u²), the score of u alarm levels (u = 1 scores 1 − 1/e), with the
// series 1 − exp(−t) = t − t²/2 + t³/6 below t = 10^−3 (exact to 10^−13, no exp call for
// the usual small values).
func kaleSquash(u float64) float64 {
	t := u * u
	if t < 1e-3 {
		return t * (1 - t/2*(1-t/3))
	}
	return 1 - math.Exp(-t)
}

// kaleDecay is exp(−t) for t ≥ 0, with the series 1 − t + t²/2 − t³/6 below t = 0.02 (error
// under 10^−8; the usual decay over one row of a long time constant needs no exp call).
func kaleDecay(t float64) float64 {
	if t < 0.02 {
		return 1 - t*(1-t/2*(1-t/3))
	}
	return math.Exp(-t)
}
