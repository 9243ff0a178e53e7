package webapp

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
)

// gFetcher returns the series a path expression matches over (from, until].
type gFetcher func(ctx context.Context, path string, from, until int64) ([]*gSeries, error)

// gEval evaluates targets over one time range.
type gEval struct {
	ctx   context.Context
	from  int64
	until int64
	fetch gFetcher
}

// errUnknownFunc reports a function the render API does not have.
type errUnknownFunc string

func (e errUnknownFunc) Error() string { return fmt.Sprintf("unknown function %s", string(e)) }

// eval evaluates one node to a list of series.
func (ev *gEval) eval(e *gExpr) ([]*gSeries, error) {
	switch e.kind {
	case gPath:
		return ev.fetch(ev.ctx, e.str, ev.from, ev.until)
	case gCall:
		f, ok := graphiteFuncs[e.str]
		if !ok {
			return nil, errUnknownFunc(e.str)
		}
		return f.fn(ev, &gArgs{ev: ev, call: e, params: f.params})
	}
	return nil, fmt.Errorf("%s is not a series", e.String())
}

// with is ev over another time range.
func (ev *gEval) with(from, until int64) *gEval {
	c := *ev
	c.from, c.until = from, until
	return &c
}

// gArgs are the arguments of one call.
type gArgs struct {
	ev     *gEval
	call   *gExpr
	params []gParam
}

// get returns argument i (or the keyword argument of param i's name); nil when absent.
func (a *gArgs) get(i int) *gExpr {
	if i < len(a.call.args) {
		return a.call.args[i]
	}
	if i < len(a.params) {
		return a.call.kwargs[a.params[i].Name]
	}
	return nil
}

func (a *gArgs) name(i int) string {
	if i < len(a.params) {
		return a.params[i].Name
	}
	return fmt.Sprintf("argument %d", i+1)
}

func (a *gArgs) errf(format string, args ...any) error {
	return fmt.Errorf("%s: %s", a.call.str, fmt.Sprintf(format, args...))
}

func (a *gArgs) series(i int) ([]*gSeries, error) {
	e := a.get(i)
	if e == nil {
		return nil, a.errf("missing %s", a.name(i))
	}
	return a.ev.eval(e)
}

// seriesFrom evaluates every positional argument from i on, concatenated (*seriesLists).
func (a *gArgs) seriesFrom(i int) ([]*gSeries, error) {
	var out []*gSeries
	for ; i < len(a.call.args); i++ {
		l, err := a.ev.eval(a.call.args[i])
		if err != nil {
			return nil, err
		}
		out = append(out, l...)
	}
	return out, nil
}

func (a *gArgs) num(i int, def *float64) (float64, error) {
	e := a.get(i)
	if e == nil {
		if def == nil {
			return 0, a.errf("missing %s", a.name(i))
		}
		return *def, nil
	}
	if e.kind != gNumber {
		return 0, a.errf("%s must be a number, not %s", a.name(i), e.String())
	}
	return e.num, nil
}

func (a *gArgs) intArg(i int, def *int) (int, error) {
	var d *float64
	if def != nil {
		f := float64(*def)
		d = &f
	}
	f, err := a.num(i, d)
	if err != nil {
		return 0, err
	}
	if f != math.Trunc(f) || math.Abs(f) > 1e9 {
		return 0, a.errf("%s must be an integer", a.name(i))
	}
	return int(f), nil
}

func (a *gArgs) str(i int, def *string) (string, error) {
	e := a.get(i)
	if e == nil {
		if def == nil {
			return "", a.errf("missing %s", a.name(i))
		}
		return *def, nil
	}
	if e.kind != gString {
		return "", a.errf("%s must be a string, not %s", a.name(i), e.String())
	}
	return e.str, nil
}

func (a *gArgs) boolArg(i int, def bool) (bool, error) {
	e := a.get(i)
	if e == nil {
		return def, nil
	}
	switch e.kind {
	case gBool:
		return e.b, nil
	case gNumber:
		return e.num != 0, nil
	}
	return false, a.errf("%s must be true or false", a.name(i))
}

func ptr[T any](v T) *T { return &v }

// gParam describes a parameter in /functions.
type gParam struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Required bool   `json:"required,omitempty"`
	Multiple bool   `json:"multiple,omitempty"`
	Default  any    `json:"default,omitempty"`
	Options  []any  `json:"options,omitempty"`
}

// gFunc is a render function.
type gFunc struct {
	group, desc string
	params      []gParam
	fn          func(ev *gEval, a *gArgs) ([]*gSeries, error)
}

var (
	pSeriesList  = gParam{Name: "seriesList", Type: "seriesList", Required: true}
	pSeriesLists = gParam{Name: "seriesLists", Type: "seriesList", Required: true, Multiple: true}
)

// graphiteFuncs are the functions of the render API (graphite-web 1.1's semantics).
var graphiteFuncs map[string]gFunc

func init() {
	combine := func(name, agg string) gFunc {
		return gFunc{"Combine", "Combines series by " + agg + " at each point, ignoring nulls.", []gParam{pSeriesLists},
			func(ev *gEval, a *gArgs) ([]*gSeries, error) {
				list, err := a.seriesFrom(0)
				if err != nil || len(list) == 0 {
					return nil, err
				}
				return []*gSeries{combineSeries(fmt.Sprintf("%s(%s)", name, pathExprs(list)), list, agg)}, nil
			}}
	}
	perPoint := func(group, desc string, params []gParam, f func(a *gArgs) (func(s *gSeries) *gSeries, error)) gFunc {
		return gFunc{group, desc, params, func(ev *gEval, a *gArgs) ([]*gSeries, error) {
			list, err := a.series(0)
			if err != nil {
				return nil, err
			}
			t, err := f(a)
			if err != nil {
				return nil, err
			}
			out := make([]*gSeries, len(list))
			for i, s := range list {
				out[i] = t(s)
			}
			return out, nil
		}}
	}
	mapVals := func(s *gSeries, name string, f func(v float64) float64) *gSeries {
		out := make([]float64, len(s.vals))
		for i, v := range s.vals {
			if math.IsNaN(v) {
				out[i] = v
			} else {
				out[i] = f(v)
			}
		}
		return s.copyWith(name, out)
	}
	graphiteFuncs = map[string]gFunc{
		"sumSeries":     combine("sumSeries", "sum"),
		"averageSeries": combine("averageSeries", "average"),
		"maxSeries":     combine("maxSeries", "max"),
		"minSeries":     combine("minSeries", "min"),
		"group": {"Combine", "Takes an arbitrary number of seriesLists and adds them to a single seriesList.", []gParam{pSeriesLists},
			func(ev *gEval, a *gArgs) ([]*gSeries, error) { return a.seriesFrom(0) }},
		"scale": perPoint("Transform", "Multiplies each value by a constant.", []gParam{pSeriesList, {Name: "factor", Type: "float", Required: true}},
			func(a *gArgs) (func(*gSeries) *gSeries, error) {
				f, err := a.num(1, nil)
				return func(s *gSeries) *gSeries {
					return mapVals(s, fmt.Sprintf("scale(%s,%s)", s.name, fmtG(f)), func(v float64) float64 { return v * f })
				}, err
			}),
		"offset": perPoint("Transform", "Adds a constant to each value.", []gParam{pSeriesList, {Name: "factor", Type: "float", Required: true}},
			func(a *gArgs) (func(*gSeries) *gSeries, error) {
				f, err := a.num(1, nil)
				return func(s *gSeries) *gSeries {
					return mapVals(s, fmt.Sprintf("offset(%s,%s)", s.name, fmtG(f)), func(v float64) float64 { return v + f })
				}, err
			}),
		"absolute": perPoint("Transform", "Absolute value of each value.", []gParam{pSeriesList},
			func(a *gArgs) (func(*gSeries) *gSeries, error) {
				return func(s *gSeries) *gSeries { return mapVals(s, "absolute("+s.name+")", math.Abs) }, nil
			}),
		"alias": perPoint("Alias", "Renames the series.", []gParam{pSeriesList, {Name: "newName", Type: "string", Required: true}},
			func(a *gArgs) (func(*gSeries) *gSeries, error) {
				n, err := a.str(1, nil)
				return func(s *gSeries) *gSeries { c := *s; c.name = n; return &c }, err
			}),
		"aliasByNode": {"Alias", "Renames each series to the given nodes of its path (negative counts from the end).",
			[]gParam{pSeriesList, {Name: "nodes", Type: "nodeOrTag", Required: true, Multiple: true}}, fnAliasByNode},
		"aliasSub": perPoint("Alias", "Runs a regular expression substitution on each series name.",
			[]gParam{pSeriesList, {Name: "search", Type: "string", Required: true}, {Name: "replace", Type: "string", Required: true}},
			func(a *gArgs) (func(*gSeries) *gSeries, error) {
				search, err := a.str(1, nil)
				if err != nil {
					return nil, err
				}
				repl, err := a.str(2, nil)
				if err != nil {
					return nil, err
				}
				re, err := regexp.Compile(search)
				if err != nil {
					return nil, a.errf("bad regular expression %q: %v", search, err)
				}
				repl = pyBackrefs.ReplaceAllString(strings.ReplaceAll(repl, "$", "$$"), "${$1}")
				return func(s *gSeries) *gSeries { c := *s; c.name = re.ReplaceAllString(s.name, repl); return &c }, nil
			}),
		"derivative": perPoint("Transform", "The difference between each value and the one before (null after a null).", []gParam{pSeriesList},
			func(a *gArgs) (func(*gSeries) *gSeries, error) {
				return func(s *gSeries) *gSeries {
					out := make([]float64, len(s.vals))
					prev := math.NaN()
					for i, v := range s.vals {
						out[i] = v - prev // NaN when either is null
						prev = v
					}
					return s.copyWith("derivative("+s.name+")", out)
				}, nil
			}),
		"nonNegativeDerivative": perPoint("Transform", "Like derivative, but a counter reset gives null (or wraps at maxValue).",
			[]gParam{pSeriesList, {Name: "maxValue", Type: "float"}, {Name: "minValue", Type: "float"}},
			func(a *gArgs) (func(*gSeries) *gSeries, error) {
				maxV, minV, err := maxMin(a)
				return func(s *gSeries) *gSeries {
					return s.copyWith("nonNegativeDerivative("+s.name+")", nonNegDeltas(s.vals, maxV, minV, 1))
				}, err
			}),
		"perSecond": perPoint("Transform", "nonNegativeDerivative divided by the step: the rate per second.",
			[]gParam{pSeriesList, {Name: "maxValue", Type: "float"}, {Name: "minValue", Type: "float"}},
			func(a *gArgs) (func(*gSeries) *gSeries, error) {
				maxV, minV, err := maxMin(a)
				return func(s *gSeries) *gSeries {
					return s.copyWith("perSecond("+s.name+")", nonNegDeltas(s.vals, maxV, minV, float64(s.step)))
				}, err
			}),
		"integral": perPoint("Transform", "The running sum of the values (a null stays null).", []gParam{pSeriesList},
			func(a *gArgs) (func(*gSeries) *gSeries, error) {
				return func(s *gSeries) *gSeries {
					out := make([]float64, len(s.vals))
					var sum float64
					for i, v := range s.vals {
						if math.IsNaN(v) {
							out[i] = v
							continue
						}
						sum += v
						out[i] = sum
					}
					return s.copyWith("integral("+s.name+")", out)
				}, nil
			}),
		"keepLastValue": perPoint("Transform", "Fills runs of at most limit nulls with the last value before them.",
			[]gParam{pSeriesList, {Name: "limit", Type: "integer", Default: "INF"}},
			func(a *gArgs) (func(*gSeries) *gSeries, error) {
				limit, err := a.intArg(1, ptr(1_000_000_000)) // INF
				return func(s *gSeries) *gSeries {
					return s.copyWith("keepLastValue("+s.name+")", keepLast(s.vals, limit))
				}, err
			}),
		"transformNull": perPoint("Transform", "Replaces nulls with a default value.", []gParam{pSeriesList, {Name: "default", Type: "float", Default: 0}},
			func(a *gArgs) (func(*gSeries) *gSeries, error) {
				d, err := a.num(1, ptr(0.0))
				return func(s *gSeries) *gSeries {
					out := slices.Clone(s.vals)
					for i, v := range out {
						if math.IsNaN(v) {
							out[i] = d
						}
					}
					return s.copyWith(fmt.Sprintf("transformNull(%s,%s)", s.name, fmtG(d)), out)
				}, err
			}),
		"movingAverage": {"Calculate", "Each point is the average of the windowSize points before it (points form).",
			[]gParam{pSeriesList, {Name: "windowSize", Type: "integer", Required: true}, {Name: "xFilesFactor", Type: "float"}}, fnMovingAverage},
		"timeShift": {"Transform", "Draws the series as it was timeShift ago (\"1d\", \"-2h\"; no sign means back).",
			[]gParam{pSeriesList, {Name: "timeShift", Type: "string", Required: true}, {Name: "resetEnd", Type: "boolean", Default: true}}, fnTimeShift},
		"summarize": {"Transform", "Aggregates the values into buckets of an interval (sum, avg, max, min, last), aligned to the epoch.",
			[]gParam{pSeriesList, {Name: "intervalString", Type: "interval", Required: true},
				{Name: "func", Type: "aggFunc", Default: "sum", Options: []any{"sum", "avg", "average", "max", "min", "last"}},
				{Name: "alignToFrom", Type: "boolean", Default: false}}, fnSummarize},
		"highestCurrent": selectFn("Keeps the n series with the highest last value.", "last", true),
		"highestMax":     selectFn("Keeps the n series with the highest maximum.", "max", true),
		"lowestCurrent":  selectFn("Keeps the n series with the lowest last value.", "last", false),
		"limit": {"Filter Series", "Keeps the first n series.", []gParam{pSeriesList, {Name: "n", Type: "integer", Required: true}},
			func(ev *gEval, a *gArgs) ([]*gSeries, error) {
				list, err := a.series(0)
				if err != nil {
					return nil, err
				}
				n, err := a.intArg(1, nil)
				if err != nil {
					return nil, err
				}
				return list[:max(0, min(n, len(list)))], nil
			}},
		"sortByMaxima": {"Sorting", "Sorts the series by their maximum, highest first.", []gParam{pSeriesList},
			func(ev *gEval, a *gArgs) ([]*gSeries, error) {
				list, err := a.series(0)
				if err != nil {
					return nil, err
				}
				sortByKey(list, "max", true)
				return list, nil
			}},
		"asPercent": {"Combine", "Each series as a percent of the total: the sum of the series, a number, or one series.",
			[]gParam{pSeriesList, {Name: "total", Type: "any"}}, fnAsPercent},
		"divideSeries": {"Combine", "Divides each series by one divisor series (null where it is 0 or null).",
			[]gParam{{Name: "dividendSeriesList", Type: "seriesList", Required: true}, {Name: "divisorSeries", Type: "seriesList", Required: true}}, fnDivideSeries},
	}
}

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

// combineSeries aggregates series point by point after normalizing them.
func combineSeries(name string, list []*gSeries, agg string) *gSeries {
	start, end, step, vals := normalize(list)
	n := 0
	for _, v := range vals {
		n = max(n, len(v))
	}
	out := make([]float64, n)
	row := make([]float64, 0, len(vals))
	for i := range out {
		row = row[:0]
		for _, v := range vals {
			if i < len(v) {
				row = append(row, v[i])
			}
		}
		out[i] = aggregate(row, agg)
	}
	return &gSeries{name: name, pathExpr: name, start: start, end: end, step: step, vals: out}
}

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
	w, err := a.intArg(1, nil)
	if err != nil {
		return nil, err
	}
	if w < 0 {
		return nil, a.errf("windowSize must not be negative")
	}
	xff, err := a.num(2, ptr(0.0))
	if err != nil {
		return nil, err
	}
	list, err := a.series(0)
	if err != nil || len(list) == 0 {
		return list, err
	}
	var maxStep int64
	for _, s := range list {
		maxStep = max(maxStep, s.step)
	}
	preview := int64(w) * maxStep
	boot, err := ev.with(ev.from-preview, ev.until).eval(a.get(0))
	if err != nil {
		return nil, err
	}
	out := make([]*gSeries, 0, len(boot))
	for _, b := range boot {
		name := fmt.Sprintf("movingAverage(%s,%d)", b.name, w)
		off := int(preview / b.step)
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
		s := b.copyWith(name, vals)
		s.start = b.start + int64(off)*b.step
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
		c := s.copyWith(fmt.Sprintf("timeShift(%s, \"%s\")", s.name, spec), s.vals)
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
	if align {
		return nil, a.errf("alignToFrom=true is not supported")
	}
	out := make([]*gSeries, len(list))
	for k, s := range list {
		buckets := map[int64][]float64{}
		for i, v := range s.vals {
			ts := s.start + int64(i)*s.step
			if !math.IsNaN(v) {
				b := ts - mod(ts, iv)
				buckets[b] = append(buckets[b], v)
			}
		}
		start := s.start - mod(s.start, iv)
		end := s.end - mod(s.end, iv) + iv
		if (end-start)/iv > maxRenderPoints {
			return nil, a.errf("interval %q makes more than %d points", ivs, maxRenderPoints)
		}
		var vals []float64
		for ts := start; ts < end; ts += iv {
			vals = append(vals, aggregate(buckets[ts], fn))
		}
		c := s.copyWith(fmt.Sprintf("summarize(%s, \"%s\", \"%s\")", s.name, ivs, fn), vals)
		c.start, c.step, c.end = start, iv, start+int64(len(vals))*iv
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
		totalText = "" // each series' path expression, as graphite-web
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
		c := s.copyWith(fmt.Sprintf("asPercent(%s, %s)", s.name, tt), v)
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
		c.start, c.end, c.step = start, end, step
		out[k] = c
	}
	return out, nil
}
