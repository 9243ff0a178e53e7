package webapp

import (
	"fmt"
	"math"
	"strings"

	"github.com/kale-project/kale/algorithms"
)

// Kale's own render functions, which no Graphite has: kale.expected, kale.upper and
// kale.lower draw the band a series was expected in, kale.score the detector's anomaly score
// over time. Each evaluates its argument over the stored full duration before from (so the
// detector has learnt the series by the first point drawn), runs the kale detector
// (algorithms.NewKale with the analyzer's default configuration) over its non-null values
// in time order, and keeps (from, until].
//
// The band at a point is the metric page's (kale.band in common.js): the exponentially
// weighted moving average (centre of mass 50) ± 3 exponentially weighted standard deviations
// of the points before it, null for the first 10; at a point the detector reports, it is
// the detector's own explanation of that point (Expected, Lower, Upper: the EW band of its
// context model, or the value a day earlier ± its seasonal band). The score is the
// detector's Score at the point it is about (0 elsewhere, null where the series is null).

// kaleBandWarmup is how many points the band needs before it is drawn (common.js).
const kaleBandWarmup = 10

// maxKaleSeries caps the series one kale.* call runs the detector over (about 1.3 ms per
// day of minutely points each).
const maxKaleSeries = 500

// kaleKind is what a kale.* function draws.
type kaleKind int

const (
	kaleExpected kaleKind = iota
	kaleUpper
	kaleLower
	kaleScoreKind
)

var kaleFuncNames = map[kaleKind]string{kaleExpected: "kale.expected", kaleUpper: "kale.upper", kaleLower: "kale.lower", kaleScoreKind: "kale.score"}

func kaleFunc(kind kaleKind, desc string) gFunc {
	name := kaleFuncNames[kind]
	return gFunc{"Kale", desc, []gParam{pSeriesList}, func(ev *gEval, a *gArgs) ([]*gSeries, error) {
		arg := a.get(0)
		if arg == nil {
			return nil, a.errf("missing seriesList")
		}
		preview := int64(ev.fullDuration.Seconds())
		list, err := ev.with(ev.from-preview, ev.until).eval(arg)
		if err != nil {
			return nil, err
		}
		if len(list) > maxKaleSeries {
			return nil, a.errf("%d series, more than %d; narrow the path expression", len(list), maxKaleSeries)
		}
		out := make([]*gSeries, 0, len(list))
		for _, s := range list {
			if err := ev.ctx.Err(); err != nil {
				return nil, err // the client went away
			}
			vals := kaleSeries(s, kind)
			// keep the slots after ev.from, as the argument alone would have drawn them
			skip := 0
			if first := ev.from - mod(ev.from, s.step) + s.step; first > s.start {
				skip = min(len(vals), int((first-s.start)/s.step))
			}
			c := s.copyWith(fmt.Sprintf("%s(%s)", name, s.name), vals[skip:]).withTags("kale", strings.TrimPrefix(name, "kale."))
			c.start = s.start + int64(skip)*s.step
			c.end = c.start + int64(len(c.vals))*s.step
			out = append(out, c)
		}
		return out, nil
	}}
}

// kaleSeries runs the detector and the band over s's values.
func kaleSeries(s *gSeries, kind kaleKind) []float64 {
	k := algorithms.NewKale(algorithms.DefaultKaleConfig())
	out := make([]float64, len(s.vals))
	alpha := 1 / (1 + float64(ewmCom))
	mean, variance, n := math.NaN(), 0.0, 0
	for i, v := range s.vals {
		out[i] = math.NaN()
		if kind != kaleScoreKind && n >= kaleBandWarmup {
			sd := math.Sqrt(variance)
			switch kind {
			case kaleExpected:
				out[i] = mean
			case kaleUpper:
				out[i] = mean + 3*sd
			case kaleLower:
				out[i] = mean - 3*sd
			}
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		if kind == kaleScoreKind {
			out[i] = 0
		}
		ts := s.start + int64(i)*s.step
		r := k.Update(float64(ts), v)
		if r.Score > 0 {
			// the score is about row r.Timestamp: this one or the one before it
			if j := i - int((ts-int64(r.Timestamp))/s.step); j >= 0 && j <= i {
				switch kind {
				case kaleScoreKind:
					out[j] = r.Score
				case kaleExpected:
					out[j] = r.Expected
				case kaleUpper:
					out[j] = r.Upper
				case kaleLower:
					out[j] = r.Lower
				}
			}
		}
		n++
		if n == 1 {
			mean = v
			continue
		}
		d := v - mean
		incr := alpha * d
		mean += incr
		variance = (1 - alpha) * (variance + d*incr)
	}
	return out
}
