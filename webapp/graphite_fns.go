package webapp

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The render functions that need more than a line or two, and their helpers; the table of
// every function is graphiteFuncs in graphite_eval.go.

var pyBackrefs = regexp.MustCompile(`\\(\d+)`)

func maxMin(a *gArgs) (maxV, minV float64, err error) {
	if maxV, err = a.num(1, ptr(math.NaN())); err != nil {
		return
	}
	minV, err = a.num(2, ptr(math.NaN()))
	return
}

// nonNegDeltas is graphite's _nonNegativeDelta over the values, divided by div.
func nonNegDeltas(vals []float64, maxV, minV, div float64) []float64 {
	out := make([]float64, len(vals))
	prev := math.NaN()
	for i, v := range vals {
		out[i] = math.NaN()
		switch {
		case !math.IsNaN(maxV) && v > maxV, !math.IsNaN(minV) && v < minV:
			prev = math.NaN()
			continue
		case math.IsNaN(prev) || math.IsNaN(v):
		case v >= prev:
			out[i] = (v - prev) / div
		case !math.IsNaN(maxV):
			lo := 0.0
			if !math.IsNaN(minV) {
				lo = minV
			}
			out[i] = (maxV + 1 + v - prev - lo) / div
		}
		prev = v
	}
	return out
}

// keepLast is graphite's keepLastValue.
func keepLast(vals []float64, limit int) []float64 {
	out := slices.Clone(vals)
	nones := 0
	for i, v := range out {
		if i == 0 {
			continue
		}
		if math.IsNaN(v) {
			nones++
			continue
		}
		if nones > 0 && nones <= limit {
			for j := i - nones; j < i; j++ {
				out[j] = out[i-nones-1]
			}
		}
		nones = 0
	}
	if nones > 0 && nones <= limit {
		for j := len(out) - nones; j < len(out); j++ {
			out[j] = out[len(out)-nones-1]
		}
	}
	return out
}

// combineSeries aggregates series point by point after normalizing them. The values are
// accumulated series by series (column-wise, no row copies); a point's sum adds its values
// in series order, as graphite-web's sum over the row does, so the floats are the same.
func combineSeries(name string, list []*gSeries, agg string) *gSeries {
	start, end, step, vals := normalize(list)
	n := 0
	for _, v := range vals {
		n = max(n, len(v))
	}
	out := make([]float64, n)
	cnt := make([]int32, n)
	for _, v := range vals {
		for i, x := range v {
			if math.IsNaN(x) {
				continue
			}
			switch {
			case cnt[i] == 0:
				out[i] = x
			case agg == "sum" || agg == "average":
				out[i] += x
			case agg == "max":
				if x > out[i] {
					out[i] = x
				}
			case agg == "min":
				if x < out[i] {
					out[i] = x
				}
			}
			cnt[i]++
		}
	}
	for i, c := range cnt {
		switch {
		case c == 0:
			out[i] = math.NaN()
		case agg == "average":
			out[i] /= float64(c)
		}
	}
	tags := map[string]string{}
	for k, v := range list[0].tags {
		tags[k] = v
	}
	for _, s := range list[1:] {
		for k, v := range tags {
			if w, ok := s.tags[k]; !ok || w != v {
				delete(tags, k)
			}
		}
	}
	if _, ok := tags["name"]; !ok {
		tags["name"] = name
	}
	tags["aggregatedBy"] = aggName[agg]
	return &gSeries{name: name, pathExpr: name, start: start, end: end, step: step, vals: out, tags: tags}
}

// aggName is the aggregatedBy tag graphite-web gives a combined series.
var aggName = map[string]string{"sum": "sum", "average": "average", "max": "max", "min": "min"}

func fnAliasByNode(ev *gEval, a *gArgs) ([]*gSeries, error) {
	list, err := a.series(0)
	if err != nil {
		return nil, err
	}
	var nodes []int
	for i := 1; i < len(a.call.args); i++ {
		n, err := a.intArg(i, nil)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	if len(nodes) == 0 {
		return nil, a.errf("missing nodes")
	}
	out := make([]*gSeries, len(list))
	for i, s := range list {
		parts := strings.Split(innerPath(s.name), ".")
		var picked []string
		for _, n := range nodes {
			if n < 0 {
				n += len(parts)
			}
			if n >= 0 && n < len(parts) {
				picked = append(picked, parts[n])
			}
		}
		c := *s
		c.name = strings.Join(picked, ".")
		out[i] = &c
	}
	return out, nil
}

// innerPathRE finds the metric path inside a series name wrapped in functions, as graphite's
// aliasByNode does.
var innerPathRE = regexp.MustCompile(`(?:.*\()?([-\w*.:#{}\[\]?]+)(?:,|\)?.*)?`)

func innerPath(name string) string {
	if m := innerPathRE.FindStringSubmatch(name); m != nil {
		return m[1]
	}
	return name
}

func fnMovingAverage(ev *gEval, a *gArgs) ([]*gSeries, error) {
	var w int
	var window string // the windowSize as an interval ("5min"), or "" for a number of points
	var preview int64
	if e := a.get(1); e != nil && e.kind == gString {
		window = e.str
		d, err := parseInterval(window)
		if err != nil {
			return nil, a.errf("windowSize: %v", err)
		}
		preview = max(d, -d)
	} else {
		var err error
		if w, err = a.intArg(1, nil); err != nil {
			return nil, err
		}
		if w < 0 {
			return nil, a.errf("windowSize must not be negative")
		}
	}
	xff, err := a.num(2, ptr(0.0))
	if err != nil {
		return nil, err
	}
	list, err := a.series(0)
	if err != nil || len(list) == 0 {
		return list, err
	}
	if window == "" {
		var maxStep int64
		for _, s := range list {
			maxStep = max(maxStep, s.step)
		}
		preview = int64(w) * maxStep
	}
	boot, err := ev.with(ev.from-preview, ev.until).eval(a.get(0))
	if err != nil {
		return nil, err
	}
	out := make([]*gSeries, 0, len(boot))
	for _, b := range boot {
		name := fmt.Sprintf("movingAverage(%s,%d)", b.name, w)
		if window != "" {
			w = int(preview / b.step)
			name = fmt.Sprintf("movingAverage(%s,\"%s\")", b.name, window)
		}
		off := w // graphite-web: the first window points only feed the first average
		vals := make([]float64, 0, max(0, len(b.vals)-off))
		var sum float64 // of the non-null values in b.vals[i-w:i]
		nn := 0
		for i := 0; i < len(b.vals); i++ {
			if i >= off {
				if nn > 0 && float64(nn)/float64(max(w, 1)) >= xff {
					vals = append(vals, sum/float64(nn))
				} else {
					vals = append(vals, math.NaN())
				}
			}
			if v := b.vals[i]; !math.IsNaN(v) {
				sum += v
				nn++
			}
			if j := i - w; j >= 0 {
				if v := b.vals[j]; !math.IsNaN(v) {
					sum -= v
					nn--
				}
			}
			if nn == 0 {
				sum = 0 // no drift across a gap
			}
		}
		tag := strconv.Itoa(w)
		if window != "" {
			tag = window
		}
		s := b.copyWith(name, vals).withTags("movingAverage", tag)
		s.start = b.start + preview // as graphite-web, even when preview is not a multiple of the step
		s.end = s.start + int64(len(vals))*b.step
		out = append(out, s)
	}
	return out, nil
}

func fnTimeShift(ev *gEval, a *gArgs) ([]*gSeries, error) {
	shift, err := a.str(1, nil)
	if err != nil {
		return nil, err
	}
	resetEnd, err := a.boolArg(2, true)
	if err != nil {
		return nil, err
	}
	spec := shift
	if !strings.HasPrefix(spec, "+") && !strings.HasPrefix(spec, "-") {
		spec = "-" + spec
	}
	d, err := parseInterval(spec)
	if err != nil {
		return nil, a.errf("%v", err)
	}
	list, err := ev.with(ev.from+d, ev.until+d).eval(a.get(0))
	if err != nil {
		return nil, err
	}
	out := make([]*gSeries, len(list))
	for i, s := range list {
		c := s.copyWith(fmt.Sprintf("timeShift(%s, \"%s\")", s.name, spec), s.vals).withTags("timeShift", spec)
		c.start, c.end = s.start-d, s.end-d
		if resetEnd && c.end > ev.until+c.step {
			n := max(0, int((ev.until+c.step-c.start)/c.step))
			c.vals = c.vals[:min(n, len(c.vals))]
			c.end = c.start + int64(len(c.vals))*c.step
		}
		out[i] = c
	}
	return out, nil
}

func fnSummarize(ev *gEval, a *gArgs) ([]*gSeries, error) {
	list, err := a.series(0)
	if err != nil {
		return nil, err
	}
	ivs, err := a.str(1, nil)
	if err != nil {
		return nil, err
	}
	iv, err := parseInterval(ivs)
	if err != nil || iv <= 0 {
		return nil, a.errf("invalid interval %q", ivs)
	}
	fn, err := a.str(2, ptr("sum"))
	if err != nil {
		return nil, err
	}
	switch fn {
	case "sum", "avg", "average", "max", "min", "last":
	default:
		return nil, a.errf("unsupported func %q (sum, avg, max, min, last)", fn)
	}
	align, err := a.boolArg(3, false)
	if err != nil {
		return nil, err
	}
	suffix := ""
	if align {
		suffix = ", true"
	}
	out := make([]*gSeries, len(list))
	for k, s := range list {
		// buckets of iv from a multiple of iv (or, with alignToFrom, from the series' start)
		start, end := s.start-mod(s.start, iv), s.end-mod(s.end, iv)+iv
		if align {
			start, end = s.start, s.end
		}
		n := (end - start + iv - 1) / iv
		if n > maxRenderPoints {
			return nil, a.errf("interval %q makes more than %d points", ivs, maxRenderPoints)
		}
		vals := make([]float64, n)
		i := 0
		for b := range vals {
			lo := i
			for i < len(s.vals) && s.start+int64(i)*s.step < start+int64(b+1)*iv {
				i++
			}
			vals[b] = aggregate(s.vals[lo:i], fn)
		}
		c := s.copyWith(fmt.Sprintf("summarize(%s, \"%s\", \"%s\"%s)", s.name, ivs, fn, suffix), vals).withTags("summarize", ivs, "summarizeFunction", fn)
		c.start, c.step, c.end = start, iv, start+n*iv
		out[k] = c
	}
	return out, nil
}

// sortByKey sorts series by an aggregate of their values; series whose key is null go last.
func sortByKey(list []*gSeries, agg string, desc bool) {
	slices.SortStableFunc(list, func(x, y *gSeries) int {
		kx, ky := aggregate(x.vals, agg), aggregate(y.vals, agg)
		switch {
		case math.IsNaN(kx) && math.IsNaN(ky):
			return 0
		case math.IsNaN(kx):
			return 1
		case math.IsNaN(ky):
			return -1
		case kx == ky:
			return 0
		case (kx < ky) != desc:
			return -1
		}
		return 1
	})
}

func selectFn(desc, agg string, highest bool) gFunc {
	return gFunc{"Filter Series", desc, []gParam{pSeriesList, {Name: "n", Type: "integer", Default: 1}},
		func(ev *gEval, a *gArgs) ([]*gSeries, error) {
			list, err := a.series(0)
			if err != nil {
				return nil, err
			}
			n, err := a.intArg(1, ptr(1))
			if err != nil {
				return nil, err
			}
			sortByKey(list, agg, highest)
			return list[:max(0, min(n, len(list)))], nil
		}}
}

func fnAsPercent(ev *gEval, a *gArgs) ([]*gSeries, error) {
	list, err := a.series(0)
	if err != nil || len(list) == 0 {
		return list, err
	}
	_, _, _, vals := normalize(list)
	var total []float64
	var totalText string
	switch t := a.get(1); {
	case t == nil:
		n := 0
		for _, v := range vals {
			n = max(n, len(v))
		}
		total = make([]float64, n)
		row := make([]float64, 0, len(vals))
		for i := range total {
			row = row[:0]
			for _, v := range vals {
				if i < len(v) {
					row = append(row, v[i])
				}
			}
			total[i] = aggregate(row, "sum")
		}
		totalText = "sumSeries(" + pathExprs(list) + ")" // as graphite-web 1.1.8
	case t.kind == gNumber:
		totalText = t.text // Python's str(total) of the number as written
		total = nil
		for range vals[0] {
			total = append(total, t.num)
		}
		for _, v := range vals {
			for len(total) < len(v) {
				total = append(total, t.num)
			}
		}
	default:
		tl, err := ev.eval(t)
		if err != nil {
			return nil, err
		}
		if len(tl) != 1 {
			return nil, a.errf("total must be one series, got %d", len(tl))
		}
		all := append(slices.Clone(list), tl[0])
		_, _, _, nv := normalize(all)
		vals, total, totalText = nv[:len(list)], nv[len(list)], tl[0].name
	}
	start, end, step, _ := normalize(list)
	out := make([]*gSeries, len(list))
	for k, s := range list {
		v := make([]float64, len(vals[k]))
		for i, x := range vals[k] {
			v[i] = math.NaN()
			if i < len(total) && total[i] != 0 {
				v[i] = x / total[i] * 100
			}
		}
		tt := totalText
		if tt == "" {
			tt = s.pathExpr
		}
		c := s.copyWith(fmt.Sprintf("asPercent(%s,%s)", s.name, tt), v)
		c.tags = map[string]string{"name": c.name} // a new series, as graphite-web
		c.start, c.end, c.step = start, end, step
		out[k] = c
	}
	return out, nil
}

func fnDivideSeries(ev *gEval, a *gArgs) ([]*gSeries, error) {
	list, err := a.series(0)
	if err != nil {
		return nil, err
	}
	div, err := a.series(1)
	if err != nil {
		return nil, err
	}
	if len(div) != 1 {
		return nil, a.errf("divisorSeries must be exactly one series, got %d", len(div))
	}
	out := make([]*gSeries, len(list))
	for k, s := range list {
		start, end, step, vals := normalize([]*gSeries{s, div[0]})
		v := make([]float64, len(vals[0]))
		for i, x := range vals[0] {
			v[i] = math.NaN()
			if i < len(vals[1]) && vals[1][i] != 0 {
				v[i] = x / vals[1][i]
			}
		}
		c := s.copyWith(fmt.Sprintf("divideSeries(%s,%s)", s.name, div[0].name), v)
		c.tags = map[string]string{"name": c.name} // a new series, as graphite-web
		c.start, c.end, c.step = start, end, step
		out[k] = c
	}
	return out, nil
}

// round6 is Python's round(v, 6): correctly rounded to 6 decimals, ties to even.
func round6(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) >= 1e15 {
		return v
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', 6, 64), 64)
	return r
}
