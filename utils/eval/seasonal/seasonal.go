// Package seasonal generates a production-like seasonal corpus with labelled anomalies
// and scores a detector's output on it, the way an operator would judge it: anomalies
// found and false alarms per 1,000 metric-days at one threshold.
//
// Every series is 60 s data over Days days (UTC, starting on a Monday at 00:00) built from
// a level, a daily shape (trough at night, peak in the afternoon, random width and peak
// hour), a weekend factor on the daily swing (most series), a nightly batch-job spike at
// the same minute every night (half of the series), and multiplicative noise whose size
// follows a slow random walk (it changes over days). Counts below 100 are rounded to
// integers. A few series have no season at all (a level with slow drift).
//
// Anomalies (one per anomalous series, in the second week, after a week to learn):
//
//   - night_like_day: three night hours follow the daytime shape;
//   - weekday_at_weekend: a weekday from 07:00 to 21:00 at the weekend level;
//   - quiet_spike: 15 minutes at a quiet hour reaching only the usual daily peak;
//   - level_shift: +30 % from a moment on, to the end of the series;
//   - variance_burst: 90 minutes of six times the noise, mean unchanged;
//   - drop: 45 minutes at 10–40 % of the expected value.
//
// The label window of an anomaly runs from its first row to 15 minutes after its last
// (a level shift's window is its first 4 hours: alarms after that are false alarms, the
// detector should have re-baselined). A set of one seed holds 2 series of each kind and
// Clean series without anomaly; another seed draws a new random set.
package seasonal

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Kinds are the anomaly kinds, in generation order.
var Kinds = []string{"night_like_day", "weekday_at_weekend", "quiet_spike", "level_shift", "variance_burst", "drop"}

// Options size a generated set.
type Options struct {
	Seed     uint64
	Days     int // days per series (>= 10)
	PerKind  int // anomalous series per kind
	Clean    int // series without anomaly
	Interval int // seconds between rows
	// Style is "" (the default style above) or StyleWeekday (weekday.go: a second,
	// independently designed set); Series is the weekday style's number of series.
	Style  string
	Series int
}

// DefaultOptions: 14 days of 60 s data, 2 series per kind (12 anomalies) and 6 clean series
// (the weekday style: the same 12 anomalies over 10 series).
func DefaultOptions(seed uint64) Options {
	return Options{Seed: seed, Days: 14, PerKind: 2, Clean: 6, Interval: 60, Series: 10}
}

// Series is one generated metric with its label windows (row indices, inclusive).
type Series struct {
	Name    string // file name, e.g. s03_quiet_spike.csv
	Kind    string // anomaly kind, or "clean"
	TS      []float64
	Values  []float64
	Windows [][2]int
}

// profile is the normal behaviour of one series.
type profile struct {
	level, amp, peak, width float64
	weekend                 float64 // factor on the daily swing at weekends (1: none)
	batchMin, batchLen      int     // nightly batch: minute of day and length in minutes (0: none)
	batchH                  float64 // batch height, relative to the level
	sigma0                  float64
	seasonal                bool
	counts                  bool
}

// shape is the daily shape in [0, 1] at hour h (0 at the trough, 1 at the peak).
func (p *profile) shape(h float64) float64 {
	d := math.Mod(h-p.peak+36, 24) - 12 // hours from the peak, in [-12, 12)
	return math.Exp(-0.5 * (d / p.width) * (d / p.width))
}

// expected is the normal value at time t (no noise, no anomaly).
func (p *profile) expected(t time.Time) float64 {
	if !p.seasonal {
		return p.level
	}
	h := float64(t.Hour()) + float64(t.Minute())/60
	swing := p.amp * p.shape(h)
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		swing *= p.weekend
	}
	v := p.level * (1 - p.amp + swing)
	if m := t.Hour()*60 + t.Minute(); p.batchLen > 0 && m >= p.batchMin && m < p.batchMin+p.batchLen {
		v += p.batchH * p.level
	}
	return v
}

// Generate returns the set of o.Seed; the same options give the same set.
func Generate(o Options) ([]Series, error) {
	if o.Days < 10 || o.PerKind < 0 || o.Clean < 0 || o.Interval <= 0 || o.Interval > 3600 {
		return nil, fmt.Errorf("invalid options %+v: want Days >= 10, Interval in (0, 3600]", o)
	}
	switch o.Style {
	case "":
	case StyleWeekday:
		if o.Series < 1 {
			return nil, fmt.Errorf("invalid options %+v: the weekday style wants Series >= 1", o)
		}
		return generateWeekday(o), nil
	default:
		return nil, fmt.Errorf("unknown style %q: want \"\" or %q", o.Style, StyleWeekday)
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x5ea5))
	// A Monday 00:00 UTC in 2025 or 2026.
	start := time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 7*rng.IntN(100))
	var out []Series
	idx := 0
	add := func(kind string) {
		idx++
		out = append(out, generateOne(rng, o, start, fmt.Sprintf("s%02d_%s.csv", idx, kind), kind))
	}
	for range o.PerKind {
		for _, k := range Kinds {
			add(k)
		}
	}
	for range o.Clean {
		add("clean")
	}
	return out, nil
}

func uniform(rng *rand.Rand, a, b float64) float64 { return a + (b-a)*rng.Float64() }

func generateOne(rng *rand.Rand, o Options, start time.Time, name, kind string) Series {
	p := profile{
		level: math.Pow(10, uniform(rng, 1, 4)), amp: uniform(rng, 0.4, 0.8),
		peak: uniform(rng, 11, 17), width: uniform(rng, 2.5, 5), weekend: 1,
		sigma0: uniform(rng, 0.02, 0.06), seasonal: true,
	}
	if kind == "weekday_at_weekend" || rng.Float64() < 0.75 {
		p.weekend = uniform(rng, 0.25, 0.6)
	}
	if rng.Float64() < 0.5 {
		p.batchMin, p.batchLen, p.batchH = 60+rng.IntN(90), 10+rng.IntN(11), uniform(rng, 0.5, 1.5)
	}
	if kind == "clean" && rng.Float64() < 0.34 {
		p.seasonal, p.batchLen = false, 0
	}
	p.counts = p.level < 100
	n := o.Days * 86400 / o.Interval
	s := Series{Name: name, Kind: kind, TS: make([]float64, n), Values: make([]float64, n)}
	step := time.Duration(o.Interval) * time.Second
	rows := func(d time.Duration) int { return int(d / step) }

	// The anomaly: its first row a, rows [a, b), and the label window.
	day := 7 + rng.IntN(o.Days-9) // a day in the second week, not the last
	a, b := 0, 0
	switch kind {
	case "night_like_day":
		a = rows(time.Duration(day)*24*time.Hour + time.Duration(60+rng.IntN(90))*time.Minute)
		b = a + rows(3*time.Hour)
	case "weekday_at_weekend":
		for start.AddDate(0, 0, day).Weekday() == time.Saturday || start.AddDate(0, 0, day).Weekday() == time.Sunday ||
			start.AddDate(0, 0, day).Weekday() == time.Monday {
			day++
		}
		a = rows(time.Duration(day)*24*time.Hour + 7*time.Hour)
		b = a + rows(14*time.Hour)
	case "quiet_spike":
		m := 240 + rng.IntN(60) // 04:00–05:00, after any batch job
		a = rows(time.Duration(day)*24*time.Hour + time.Duration(m)*time.Minute)
		b = a + rows(15*time.Minute)
	case "level_shift", "variance_burst", "drop":
		a = rows(time.Duration(day)*24*time.Hour + time.Duration(rng.IntN(24*60))*time.Minute)
		switch kind {
		case "level_shift":
			b = n
		case "variance_burst":
			b = a + rows(90*time.Minute)
		default:
			b = a + rows(45*time.Minute)
		}
	}
	dropTo := uniform(rng, 0.1, 0.4)
	logSigma := 0.0
	for i := range n {
		t := start.Add(time.Duration(i) * step)
		s.TS[i] = float64(t.Unix())
		exp := p.expected(t)
		sigma := p.sigma0 * math.Exp(logSigma)
		logSigma = 0.999*logSigma + 0.01*rng.NormFloat64() // changes over hours to days
		in := kind != "clean" && i >= a && i < b
		if in {
			switch kind {
			case "night_like_day":
				exp = p.expected(t.Add(12 * time.Hour))
			case "weekday_at_weekend":
				exp = p.expected(t.AddDate(0, 0, 6-int(t.Weekday()))) // the Saturday of that week
			case "quiet_spike":
				exp = p.level * (1 + 0.03*rng.NormFloat64())
			case "level_shift":
				exp *= 1.3
			case "variance_burst":
				sigma *= 6
			case "drop":
				exp *= dropTo
			}
		}
		v := exp * (1 + sigma*rng.NormFloat64())
		if !p.seasonal {
			v = p.level * (1 + 0.1*math.Sin(float64(i)/float64(n)*3)) * (1 + sigma*rng.NormFloat64())
		}
		v = max(v, 0)
		if p.counts {
			v = math.Round(v)
		} else {
			v = math.Round(v*100) / 100
		}
		s.Values[i] = v
	}
	if kind != "clean" {
		s.Windows = [][2]int{labelWindow(kind, a, b, n, step)}
	}
	return s
}

// labelWindow is the label window (row indices, inclusive) of an anomaly of kind on rows
// [a, b) of n rows step apart: from its first row to 15 minutes after its last, or a level
// shift's first 4 hours (alarms after that are false alarms: the detector should have
// re-baselined).
func labelWindow(kind string, a, b, n int, step time.Duration) [2]int {
	end := b + int(15*time.Minute/step)
	if kind == "level_shift" {
		end = a + int(4*time.Hour/step)
	}
	return [2]int{a, min(end, n) - 1}
}
