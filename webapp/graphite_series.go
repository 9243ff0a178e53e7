package webapp

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/kale-project/kale/utils/redisstore"
)

// gSeries is one series of the render API: values at start, start+step, …, NaN for null.
type gSeries struct {
	name     string
	pathExpr string
	start    int64
	end      int64 // start + len(vals)*step
	step     int64
	vals     []float64
	tags     map[string]string // graphite's tags ("name" and a tagged name's tags); shared, never changed in place
}

func (s *gSeries) copyWith(name string, vals []float64) *gSeries {
	c := *s
	c.name, c.pathExpr, c.vals = name, name, vals
	return &c
}

// withTags gives s (a copy made by copyWith) its own tags with kv (key, value, …) set, as
// graphite-web's functions tag what they did ("scale": "2").
func (s *gSeries) withTags(kv ...string) *gSeries {
	tags := make(map[string]string, len(s.tags)+len(kv)/2)
	for k, v := range s.tags {
		tags[k] = v
	}
	if _, ok := tags["name"]; !ok {
		tags["name"] = s.name
	}
	for i := 0; i+1 < len(kv); i += 2 {
		tags[kv[i]] = kv[i+1]
	}
	s.tags = tags
	return s
}

// defaultStep is the step of a series with fewer than two points.
const defaultStep = 60

// inferStep is the median positive interval between consecutive timestamps.
func inferStep(pairs []redisstore.Pair) int64 {
	if len(pairs) > 1 { // the common case, every interval equal: no allocation
		iv := int64(pairs[1].Timestamp) - int64(pairs[0].Timestamp)
		regular := iv > 0
		for i := 2; regular && i < len(pairs); i++ {
			regular = int64(pairs[i].Timestamp)-int64(pairs[i-1].Timestamp) == iv
		}
		if regular {
			return iv
		}
	}
	var d []int64
	for i := 1; i < len(pairs); i++ {
		if iv := int64(pairs[i].Timestamp) - int64(pairs[i-1].Timestamp); iv > 0 {
			d = append(d, iv)
		}
	}
	if len(d) == 0 {
		return defaultStep
	}
	slices.Sort(d)
	return d[len(d)/2]
}

// alignSeries places the pairs on their inferred step over (from, until], as whisper does:
// the first slot is from - from%step + step; a slot without a point is NaN, the last point in
// a slot wins.
// It returns nil, without allocating, when the series would have more than maxSlots slots.
func alignSeries(name string, pairs []redisstore.Pair, from, until, maxSlots int64) *gSeries {
	return alignSeriesIn(name, pairs, from, until, func(n int64) bool { return n <= maxSlots })
}

// alignSeriesIn is alignSeries with the slots taken from a shared budget: reserve(n) says
// whether n more slots may be allocated (and takes them); nil when it refuses.
func alignSeriesIn(name string, pairs []redisstore.Pair, from, until int64, reserve func(n int64) bool) *gSeries {
	if !pairsSorted(pairs) {
		pairs = slices.Clone(pairs)
		sortPairs(pairs)
	}
	step := inferStep(pairs)
	start := from - mod(from, step) + step
	end := until - mod(until, step) + step
	if end < start {
		end = start
	}
	n := (end - start) / step
	if !reserve(n) {
		return nil
	}
	vals := make([]float64, n)
	for i := range vals {
		vals[i] = math.NaN()
	}
	for _, p := range pairs {
		ts := int64(p.Timestamp)
		slot := ts - mod(ts, step)
		if slot < start || slot >= end {
			continue
		}
		vals[(slot-start)/step] = p.Value
	}
	return &gSeries{name: name, pathExpr: name, start: start, end: start + n*step, step: step, vals: vals}
}

func pairsSorted(pairs []redisstore.Pair) bool {
	for i := 1; i < len(pairs); i++ {
		if pairs[i].Timestamp < pairs[i-1].Timestamp {
			return false
		}
	}
	return true
}

func sortPairs(pairs []redisstore.Pair) {
	slices.SortStableFunc(pairs, func(a, b redisstore.Pair) int {
		switch {
		case a.Timestamp < b.Timestamp:
			return -1
		case a.Timestamp > b.Timestamp:
			return 1
		}
		return 0
	})
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// consolidateAvg averages groups of n values (NaN when a group has none), as graphite's
// TimeSeries.consolidate with the default average.
func consolidateAvg(vals []float64, n int) []float64 {
	if n <= 1 {
		return vals
	}
	out := make([]float64, 0, (len(vals)+n-1)/n)
	for i := 0; i < len(vals); i += n {
		out = append(out, aggregate(vals[i:min(i+n, len(vals))], "average"))
	}
	return out
}

// aggregate applies a Graphite aggregation to the non-null values (NaN when there are none).
func aggregate(vals []float64, fn string) float64 {
	acc, cnt := math.NaN(), 0
	for _, v := range vals {
		if math.IsNaN(v) {
			continue
		}
		cnt++
		switch {
		case cnt == 1:
			acc = v
		case fn == "sum" || fn == "total" || fn == "average" || fn == "avg":
			acc += v
		case fn == "max":
			acc = math.Max(acc, v)
		case fn == "min":
			acc = math.Min(acc, v)
		case fn == "last":
			acc = v
		}
	}
	switch {
	case cnt == 0:
		return math.NaN()
	case fn == "average" || fn == "avg":
		return acc / float64(cnt)
	case fn == "count":
		return float64(cnt)
	case fn == "sum" || fn == "total" || fn == "max" || fn == "min" || fn == "last":
		return acc
	}
	return math.NaN()
}

// normalize brings series to a common step (their least common multiple, consolidating by
// average) and start, as graphite's normalize.
func normalize(list []*gSeries) (start, end, step int64, vals [][]float64) {
	step = 1
	for _, s := range list {
		step = lcm(step, s.step)
	}
	start, end = list[0].start, list[0].end
	for _, s := range list {
		start, end = min(start, s.start), max(end, s.end)
	}
	end -= (end - start) % step
	vals = make([][]float64, len(list))
	for i, s := range list {
		vals[i] = consolidateAvg(s.vals, int(step/s.step))
	}
	return start, end, step, vals
}

func lcm(a, b int64) int64 {
	x, y := a, b
	for y != 0 {
		x, y = y, x%y
	}
	if x == 0 {
		return max(a, b)
	}
	return a / x * b
}

// pathExprs is graphite's formatPathExpressions: the distinct path expressions, in order.
func pathExprs(list []*gSeries) string {
	var out []string
	for _, s := range list {
		if !slices.Contains(out, s.pathExpr) {
			out = append(out, s.pathExpr)
		}
	}
	return strings.Join(out, ",")
}

// fmtG formats a number as Python's "%g".
func fmtG(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

// pyRepr formats a value as Python's repr of a float (None for null).
func pyRepr(v float64) string {
	if math.IsNaN(v) {
		return "None"
	}
	if math.IsInf(v, 1) {
		return "inf"
	}
	if math.IsInf(v, -1) {
		return "-inf"
	}
	if math.Abs(v) >= 1e16 {
		return strconv.FormatFloat(v, 'e', -1, 64) // Python: 1e+16
	}
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if strings.ContainsAny(s, ".e") {
		return s
	}
	return s + ".0"
}
