package algorithms

import "math"

// Learning of kaleSeason (kale_season.go): when a 15-minute bucket closes, the out-of-sample
// errors of the three predictors, the per-phase scales, the daily profile and the period;
// when an hour closes, the weekly profile.

func (s *kaleSeason) closeBucket() {
	if s.bN == 0 {
		return
	}
	d := int(s.bIdx % kaleDayBuckets)
	w := int((floorDiv(s.bIdx, 4) + 3*24) % kaleWeekBuckets)
	if d < 0 {
		d += kaleDayBuckets
	}
	if w < 0 {
		w += kaleWeekBuckets
	}
	n := float64(s.bN)
	m := s.bSum / n
	// Out-of-sample errors of the three predictors (before learning this bucket).
	const eb = 1.0 / 384
	ew := func(e *[2]float64, sample float64) {
		// e[0]/e[1] is the EW mean (bias-corrected: e[1] is the EW weight), samples capped
		// at 4 times the mean so far.
		if e[1] > 0 {
			sample = min(sample, 4*e[0]/e[1])
		}
		e[0] = (1-eb)*e[0] + sample
		e[1] = (1-eb)*e[1] + 1
	}
	if s.nb > 0 {
		ew(&s.errN, math.Abs(m-s.lvl))
		if s.dayN[d] > 0 {
			ew(&s.errD, math.Abs(m-s.dayQ.get(s.day[:], d)))
			if s.weekN[w] > 0 { // compared on the same buckets
				ew(&s.errDW, math.Abs(m-s.dayQ.get(s.day[:], d)))
				ew(&s.errNW, math.Abs(m-s.lvl))
				ew(&s.errW, math.Abs(m-s.weekly(d, w)))
			}
		}
	}
	if s.nb == 0 {
		s.lvl = m
	} else {
		s.lvl += (1.0 / 96) * (m - s.lvl)
	}
	s.nb++
	// Scale sample: RMS residual against the expectation, or the spread on the first day.
	var sample float64
	if s.bResN > 0 {
		sample = math.Sqrt(s.bRes / float64(s.bResN))
	} else {
		sample = math.Sqrt(max(0, s.bSq/n-m*m))
	}
	a := max(1/float64(s.dayN[d]+1), 0.25)
	learnScale := func(sc *kaleScale, sample float64) {
		if old := sc.get(); old > 0 {
			sample = min(sample, 3*old)
			sc.set(old + a*(sample-old))
		} else {
			sc.set(sample)
		}
	}
	oldS, oldW, oldD := s.dayS[d].get(), s.weekS[d].get(), s.dayQ.get(s.day[:], d)
	learnScale(&s.dayS[d], sample)
	if s.bResWN > 0 {
		learnScale(&s.weekS[d], math.Sqrt(s.bResW/float64(s.bResWN)))
	}
	if s.dayN[d] == 0 {
		s.dayQ.set(s.day[:], d, m)
	} else {
		old := s.dayQ.get(s.day[:], d)
		// Winsorised: a day far off (an anomaly) moves the profile by at most 3 scales.
		lim := 3 * max(s.dayS[d].get(), s.meanS/4)
		s.dayQ.set(s.day[:], d, old+max(a, 1.0/7)*max(-lim, min(lim, m-old)))
	}
	s.dayN[d] = uint8(min(int(s.dayN[d])+1, 255))
	s.bSum, s.bSq, s.bRes, s.bN, s.bResN, s.bResW, s.bResWN = 0, 0, 0, 0, 0, 0, 0
	// The cached mean scales and profile range, updated for bucket d alone unless d held
	// an end of the range and moved inward.
	s.meanS += (s.dayS[d].get() - oldS) / kaleDayBuckets
	s.meanW += (s.weekS[d].get() - oldW) / kaleDayBuckets
	nd := s.dayQ.get(s.day[:], d)
	switch {
	case s.dayN[d] == 1 && s.nb == 1:
		s.dLo, s.dHi = nd, nd
	case s.dayN[d] > 1 && (oldD == s.dLo && nd > oldD || oldD == s.dHi && nd < oldD):
		s.dLo, s.dHi = math.Inf(1), math.Inf(-1)
		for i := range s.day {
			if s.dayN[i] > 0 {
				s.dLo, s.dHi = min(s.dLo, s.dayQ.get(s.day[:], i)), max(s.dHi, s.dayQ.get(s.day[:], i))
			}
		}
	default:
		s.dLo, s.dHi = min(s.dLo, nd), max(s.dHi, nd)
	}
	// Period, with hysteresis: a profile is found when its error is below kaleDailyRatio
	// times the plain level's and kept while it is below 0.8 times; the weekly profile
	// (once a week is known) is chosen when it is found on its own terms and beats the
	// daily one by a fifth (a metric whose weekends sit at another level has no usable daily
	// profile, but a weekly one).
	ratio := func(found bool) float64 {
		if found {
			return 0.8
		}
		return kaleDailyRatio
	}
	switch {
	case s.nb <= 2*kaleDayBuckets:
	case s.errN[1] == 0 || s.errD[1] == 0:
	default:
		daily := s.err(&s.errD) < ratio(s.period != kalePeriodNone)*s.err(&s.errN)
		weekly := s.errW[1] >= 48 && s.err(&s.errW) < 0.8*s.err(&s.errDW) &&
			(daily || s.err(&s.errW) < ratio(s.period == kalePeriodWeekly)*s.err(&s.errNW))
		switch {
		case weekly:
			s.period = kalePeriodWeekly
		case daily:
			s.period = kalePeriodDaily
		default:
			s.period = kalePeriodNone
		}
	}
}

func (s *kaleSeason) err(e *[2]float64) float64 {
	if e[1] == 0 {
		return 0
	}
	return e[0] / e[1]
}

func (s *kaleSeason) closeHour() {
	if s.hN == 0 {
		return
	}
	w := int((s.hIdx + 3*24) % kaleWeekBuckets)
	if w < 0 {
		w += kaleWeekBuckets
	}
	r := s.hSum / float64(s.hN)
	if s.weekN[w] == 0 {
		s.weekQ.set(s.week[:], w, r)
	} else {
		b := max(1/float64(s.weekN[w]+1), 0.5)
		old := s.weekQ.get(s.week[:], w)
		lim := 3 * max(s.meanW, s.meanS) // winsorised as the daily profile
		s.weekQ.set(s.week[:], w, old+b*max(-lim, min(lim, r-old)))
	}
	s.weekN[w] = uint8(min(int(s.weekN[w])+1, 255))
	s.hSum, s.hN = 0, 0
}
