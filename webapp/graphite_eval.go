package webapp

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
)

// gFetcher returns the series a path expression matches over (from, until].
type gFetcher func(ctx context.Context, path string, from, until int64) ([]*gSeries, error)

// gEval evaluates targets over one time range.
type gEval struct {
	ctx   context.Context
	from  int64
	until int64
	fetch gFetcher
	// fullDuration is how long series are kept: the kale.* functions read that far before from.
	fullDuration time.Duration
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
	var e *gExpr
	if i < len(a.call.args) {
		e = a.call.args[i]
	} else if i < len(a.params) {
		e = a.call.kwargs[a.params[i].Name]
	}
	if e != nil && e.kind == gNone {
		return nil // None: the parameter's default
	}
	return e
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

// floatTag is Python's str() of float argument i as graphite-web tags it ("-1.0"); def (the
// signature's default, as written there) when it is absent.
func (a *gArgs) floatTag(i int, def string) string {
	if e := a.get(i); e != nil && e.kind == gNumber {
		return pyRepr(e.num)
	}
	return def
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
		"seriesByTag": {"Special", "The series whose tags match every expression: tag=v, tag!=v, tag=~re, tag!=~re (anchored at the start; a missing tag reads as empty).",
			[]gParam{{Name: "tagExpressions", Type: "string", Required: true, Multiple: true}},
			func(ev *gEval, a *gArgs) ([]*gSeries, error) { return ev.fetch(ev.ctx, a.call.raw, ev.from, ev.until) }},
		"kale.expected": kaleFunc(kaleExpected, "The value Kale expected at each point: the moving average of the points before it, or the detector's own expectation at a point it reports."),
		"kale.upper":    kaleFunc(kaleUpper, "The top of the band Kale expected each point in (the moving average + 3σ, or the detector's band at a point it reports)."),
		"kale.lower":    kaleFunc(kaleLower, "The bottom of the band Kale expected each point in (the moving average − 3σ, or the detector's band at a point it reports)."),
		"kale.score":    kaleFunc(kaleScoreKind, "Kale's anomaly score (0 to 1) at each point: the detector's score at the points it reports, 0 elsewhere."),
		"group": {"Combine", "Takes an arbitrary number of seriesLists and adds them to a single seriesList.", []gParam{pSeriesLists},
			func(ev *gEval, a *gArgs) ([]*gSeries, error) { return a.seriesFrom(0) }},
		"scale": perPoint("Transform", "Multiplies each value by a constant.", []gParam{pSeriesList, {Name: "factor", Type: "float", Required: true}},
			func(a *gArgs) (func(*gSeries) *gSeries, error) {
				f, err := a.num(1, nil)
				return func(s *gSeries) *gSeries {
					return mapVals(s, fmt.Sprintf("scale(%s,%s)", s.name, fmtG(f)), func(v float64) float64 { return v * f }).withTags("scale", pyRepr(f))
				}, err
			}),
		"offset": perPoint("Transform", "Adds a constant to each value.", []gParam{pSeriesList, {Name: "factor", Type: "float", Required: true}},
			func(a *gArgs) (func(*gSeries) *gSeries, error) {
				f, err := a.num(1, nil)
				return func(s *gSeries) *gSeries {
					return mapVals(s, fmt.Sprintf("offset(%s,%s)", s.name, fmtG(f)), func(v float64) float64 { return v + f }).withTags("offset", pyRepr(f))
				}, err
			}),
		"absolute": perPoint("Transform", "Absolute value of each value.", []gParam{pSeriesList},
			func(a *gArgs) (func(*gSeries) *gSeries, error) {
				return func(s *gSeries) *gSeries {
					return mapVals(s, "absolute("+s.name+")", math.Abs).withTags("absolute", "1")
				}, nil
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
					return s.copyWith("derivative("+s.name+")", out).withTags("derivative", "1")
				}, nil
			}),
		"nonNegativeDerivative": perPoint("Transform", "Like derivative, but a counter reset gives null (or wraps at maxValue).",
			[]gParam{pSeriesList, {Name: "maxValue", Type: "float"}, {Name: "minValue", Type: "float"}},
			func(a *gArgs) (func(*gSeries) *gSeries, error) {
				maxV, minV, err := maxMin(a)
				return func(s *gSeries) *gSeries {
					return s.copyWith("nonNegativeDerivative("+s.name+")", nonNegDeltas(s.vals, maxV, minV, 1)).withTags("nonNegativeDerivative", "1")
				}, err
			}),
		"perSecond": perPoint("Transform", "nonNegativeDerivative divided by the step: the rate per second.",
			[]gParam{pSeriesList, {Name: "maxValue", Type: "float"}, {Name: "minValue", Type: "float"}},
			func(a *gArgs) (func(*gSeries) *gSeries, error) {
				maxV, minV, err := maxMin(a)
				return func(s *gSeries) *gSeries {
					out := nonNegDeltas(s.vals, maxV, minV, float64(s.step))
					for i, v := range out {
						out[i] = round6(v) // graphite-web rounds the rate to 6 decimals
					}
					return s.copyWith("perSecond("+s.name+")", out).withTags("perSecond", "1")
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
					return s.copyWith("integral("+s.name+")", out).withTags("integral", "1")
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
					return s.copyWith(fmt.Sprintf("transformNull(%s,%s)", s.name, fmtG(d)), out).withTags("transformNull", a.floatTag(1, "0"))
				}, err
			}),
		"movingAverage": {"Calculate", "Each point is the average of the windowSize points (or the interval, \"5min\") before it.",
			[]gParam{pSeriesList, {Name: "windowSize", Type: "intOrInterval", Required: true}, {Name: "xFilesFactor", Type: "float"}}, fnMovingAverage},
		"timeShift": {"Transform", "Draws the series as it was timeShift ago (\"1d\", \"-2h\"; no sign means back).",
			[]gParam{pSeriesList, {Name: "timeShift", Type: "string", Required: true}, {Name: "resetEnd", Type: "boolean", Default: true}}, fnTimeShift},
		"summarize": {"Transform", "Aggregates the values into buckets of an interval (sum, avg, max, min, last), aligned to the epoch or, with alignToFrom, to the start.",
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
