package seasonal

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// StyleWeekday is a second, independently designed set ("weekday" style), so a detector
// is not judged only on the default style's own choices. It differs on purpose:
//
//   - a sine daily shape with a second harmonic (not a bump), its phase random;
//   - a factor per weekday on the whole value (±8 %), and the weekend at 35–85 % of it,
//     the whole day, not only its swing;
//   - a nightly batch job (70 % of series) whose start jitters by about 3 minutes a night,
//     5–35 minutes long and 0.3–2.8 times the base level high;
//   - noise of 1–8 % of the base level, additive (half the series) or multiplicative;
//     counts (base under 60) are Poisson;
//   - Series series carry the 12 anomalies round robin (with 10 series, two carry two), no
//     clean series, each anomaly on a weekday-or-weekend day of the second week; a quiet
//     spike sits at the quietest hour and reaches the daily peak, a drop is to 25 %, a
//     variance burst is five times the noise for 90 minutes.
//
// Label windows are the default style's (labelWindow).
const StyleWeekday = "weekday"

type weekdayProfile struct {
	base, dayAmp, phase, harm2 float64
	wd                         [7]float64 // factor on the whole value per weekday (Sunday = 0)
	batchMin, batchLen         int
	batchH, jitter, noise      float64
	additive, poisson          bool
}

func (p *weekdayProfile) expected(t time.Time) float64 {
	h := float64(t.Hour()) + float64(t.Minute())/60
	d := 1 + p.dayAmp*math.Sin(2*math.Pi*(h-p.phase)/24) + p.harm2*math.Sin(4*math.Pi*(h-p.phase)/24)
	return p.base * max(d, 0.05) * p.wd[int(t.Weekday())]
}

type weekdayAnomaly struct {
	kind string
	a, b int // rows [a, b)
}

// generateWeekday builds the weekday-style set of o (o.Clean is not used: o.Series series
// carry 6·o.PerKind anomalies).
func generateWeekday(o Options) []Series {
	rng := rand.New(rand.NewPCG(o.Seed, 77))
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 7*rng.IntN(30)) // a Monday
	n := o.Days * 86400 / o.Interval
	step := time.Duration(o.Interval) * time.Second
	rows := func(d time.Duration) int { return int(d / step) }
	nSeries := max(1, o.Series)
	kinds := make([][]string, nSeries)
	for i := range 6 * o.PerKind {
		kinds[i%nSeries] = append(kinds[i%nSeries], Kinds[i%len(Kinds)])
	}
	var out []Series
	for si := range nSeries {
		p := weekdayProfile{base: math.Pow(10, 0.7+3.5*rng.Float64()), dayAmp: 0.3 + 0.5*rng.Float64(),
			phase: 6 + 6*rng.Float64(), harm2: 0.15 * rng.Float64(), noise: 0.01 + 0.07*rng.Float64(),
			additive: rng.Float64() < 0.5}
		for d := range p.wd {
			p.wd[d] = 1 + 0.08*rng.NormFloat64()
		}
		weekend := 0.35 + 0.5*rng.Float64()
		p.wd[time.Sunday] *= weekend
		p.wd[time.Saturday] *= weekend * (0.9 + 0.2*rng.Float64())
		if rng.Float64() < 0.7 {
			p.batchMin, p.batchLen, p.batchH, p.jitter = rng.IntN(300), 5+rng.IntN(30), 0.3+2.5*rng.Float64(), 3
		}
		p.poisson = p.base < 60
		var as []weekdayAnomaly
		used := map[int]bool{}
		for _, k := range kinds[si] {
			day := 7 + rng.IntN(o.Days-8)
			for used[day] {
				day = 7 + rng.IntN(o.Days-8)
			}
			used[day] = true
			at := func(d int, m time.Duration) int { return rows(time.Duration(d)*24*time.Hour + m) }
			var a, b int
			switch k {
			case "night_like_day":
				a = at(day, time.Duration(rng.IntN(180))*time.Minute)
				b = a + rows(3*time.Hour)
			case "weekday_at_weekend":
				for wd := start.AddDate(0, 0, day).Weekday(); wd == time.Saturday || wd == time.Sunday || wd == time.Monday; wd = start.AddDate(0, 0, day).Weekday() {
					day++
				}
				if day > o.Days-2 {
					day -= 7
				}
				a, b = at(day, 8*time.Hour), at(day, 20*time.Hour)
			case "quiet_spike":
				quiet := int(math.Mod(p.phase+18, 24)) // the sine's trough
				a = at(day, time.Duration(quiet*60+rng.IntN(30))*time.Minute)
				b = a + rows(15*time.Minute)
			case "level_shift":
				a, b = at(day, time.Duration(rng.IntN(1440))*time.Minute), n
			case "variance_burst":
				a = at(day, time.Duration(rng.IntN(1300))*time.Minute)
				b = a + rows(90*time.Minute)
			case "drop":
				a = at(day, time.Duration(rng.IntN(1380))*time.Minute)
				b = a + rows(45*time.Minute)
			}
			as = append(as, weekdayAnomaly{k, a, min(b, n)})
		}
		out = append(out, weekdaySeries(rng, &p, start, n, step, as, fmt.Sprintf("w%02d.csv", si+1)))
	}
	return out
}

func weekdaySeries(rng *rand.Rand, p *weekdayProfile, start time.Time, n int, step time.Duration, as []weekdayAnomaly, name string) Series {
	s := Series{Name: name, Kind: "clean", TS: make([]float64, n), Values: make([]float64, n)}
	peak := 0.0
	for m := 0; m < 1440; m += 15 {
		peak = max(peak, p.expected(start.Add(time.Duration(m)*time.Minute)))
	}
	jitter, shift := 0, 1.0
	perDay := int(24 * time.Hour / step)
	for i := range n {
		t := start.Add(time.Duration(i) * step)
		if i%perDay == 0 {
			jitter = int(math.Round(p.jitter * rng.NormFloat64()))
		}
		e := p.expected(t)
		if m := t.Hour()*60 + t.Minute(); p.batchLen > 0 && m >= p.batchMin+jitter && m < p.batchMin+jitter+p.batchLen {
			e += p.batchH * p.base
		}
		sigma := p.noise
		for _, x := range as {
			if i < x.a || i >= x.b {
				continue
			}
			switch x.kind {
			case "night_like_day":
				e = p.expected(t.Add(12 * time.Hour))
			case "weekday_at_weekend":
				e = p.expected(t.AddDate(0, 0, 6-int(t.Weekday()))) // that week's Saturday
			case "quiet_spike":
				e = peak
			case "level_shift":
				shift = 1.3
			case "variance_burst":
				sigma *= 5
			case "drop":
				e *= 0.25
			}
		}
		e *= shift
		v := e * (1 + sigma*rng.NormFloat64())
		if p.additive {
			v = e + sigma*p.base*rng.NormFloat64()
		}
		v = max(v, 0)
		if p.poisson {
			v = poisson(rng, v)
		} else {
			v = math.Round(v*100) / 100
		}
		s.TS[i], s.Values[i] = float64(t.Unix()), v
	}
	for _, x := range as {
		s.Windows = append(s.Windows, labelWindow(x.kind, x.a, x.b, n, step))
	}
	switch {
	case len(as) == 1:
		s.Kind = as[0].kind
	case len(as) > 1:
		s.Kind = fmt.Sprintf("%s+%d", as[0].kind, len(as)-1)
	}
	return s
}

// poisson draws a Poisson count of mean l (a normal approximation above 30).
func poisson(rng *rand.Rand, l float64) float64 {
	if l > 30 {
		return max(0, math.Round(l+math.Sqrt(l)*rng.NormFloat64()))
	}
	limit, k, prod := math.Exp(-l), 0.0, 1.0
	for {
		prod *= rng.Float64()
		if prod <= limit {
			return k
		}
		k++
	}
}
