package webapp

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/utils/redisstore"
)

var N = math.NaN()

// fakeFetch serves hand-made series at step 10 from 10 (from=0, until=50: 5 slots), matched by
// glob; a series asked for earlier gets leading values of -1 per extra slot.
func fakeFetch(data map[string][]float64) gFetcher {
	return func(_ context.Context, path string, from, until int64) ([]*gSeries, error) {
		re, err := globRegexp(path)
		if err != nil {
			return nil, err
		}
		var out []*gSeries
		for _, name := range []string{"a.x.c", "a.y.c", "b.x", "z"} {
			vals, ok := data[name]
			if !ok || !re.MatchString(name) {
				continue
			}
			start := from - mod(from, 10) + 10
			var v []float64
			for ts := start; ts < 10; ts += 10 {
				v = append(v, float64(ts)) // before the hand-made data: the slot's time
			}
			v = append(v, vals...)
			out = append(out, &gSeries{name: name, pathExpr: path, start: start, step: 10, end: start + int64(len(v))*10, vals: v})
		}
		return out, nil
	}
}

func evalTarget(t *testing.T, target string) ([]*gSeries, error) {
	t.Helper()
	e, err := parseTarget(target)
	require.NoError(t, err, target)
	ev := &gEval{ctx: context.Background(), from: 0, until: 50, fetch: fakeFetch(map[string][]float64{
		"a.x.c": {1, 2, N, 4, 5},
		"a.y.c": {10, N, 30, 40, 2},
		"b.x":   {5, 3, 8, N, N},
		"z":     {0, 2, 0, -4, 1},
	})}
	return ev.eval(e)
}

func eqVals(t *testing.T, want, got []float64, msg string) {
	t.Helper()
	require.Equal(t, len(want), len(got), "%s: %v", msg, got)
	for i := range want {
		if math.IsNaN(want[i]) {
			require.True(t, math.IsNaN(got[i]), "%s[%d]: want null, got %v", msg, i, got[i])
		} else {
			require.InDelta(t, want[i], got[i], 1e-9, "%s[%d]: %v", msg, i, got)
		}
	}
}

func TestGraphiteFunctions(t *testing.T) {
	for _, tc := range []struct {
		target string
		names  []string
		vals   [][]float64
	}{
		{"a.x.c", []string{"a.x.c"}, [][]float64{{1, 2, N, 4, 5}}},
		{"sumSeries(a.*.c)", []string{"sumSeries(a.*.c)"}, [][]float64{{11, 2, 30, 44, 7}}},
		{"sumSeries(a.x.c,b.x)", []string{"sumSeries(a.x.c,b.x)"}, [][]float64{{6, 5, 8, 4, 5}}},
		{"averageSeries(a.*.c)", []string{"averageSeries(a.*.c)"}, [][]float64{{5.5, 2, 30, 22, 3.5}}},
		{"maxSeries(a.*.c)", []string{"maxSeries(a.*.c)"}, [][]float64{{10, 2, 30, 40, 5}}},
		{"minSeries(a.*.c)", []string{"minSeries(a.*.c)"}, [][]float64{{1, 2, 30, 4, 2}}},
		{"scale(a.x.c,2)", []string{"scale(a.x.c,2)"}, [][]float64{{2, 4, N, 8, 10}}},
		{"scale(a.x.c,0.5)", []string{"scale(a.x.c,0.5)"}, [][]float64{{.5, 1, N, 2, 2.5}}},
		{"offset(a.x.c,-1)", []string{"offset(a.x.c,-1)"}, [][]float64{{0, 1, N, 3, 4}}},
		{"absolute(z)", []string{"absolute(z)"}, [][]float64{{0, 2, 0, 4, 1}}},
		{"alias(z,'zed')", []string{"zed"}, [][]float64{{0, 2, 0, -4, 1}}},
		{"aliasByNode(a.*.c,1)", []string{"x", "y"}, nil},
		{"aliasByNode(scale(a.*.c,2),0,-1)", []string{"a.c", "a.c"}, nil},
		{`aliasSub(a.*.c,'^a\.(\w)\.c$','node-\1')`, []string{"node-x", "node-y"}, nil},
		{"derivative(a.x.c)", []string{"derivative(a.x.c)"}, [][]float64{{N, 1, N, N, 1}}},
		{"nonNegativeDerivative(z)", []string{"nonNegativeDerivative(z)"}, [][]float64{{N, 2, N, N, 5}}},
		{"nonNegativeDerivative(z,10)", []string{"nonNegativeDerivative(z)"}, [][]float64{{N, 2, 9, 7, 5}}},
		{"perSecond(z)", []string{"perSecond(z)"}, [][]float64{{N, .2, N, N, .5}}},
		{"integral(a.x.c)", []string{"integral(a.x.c)"}, [][]float64{{1, 3, N, 7, 12}}},
		{"keepLastValue(b.x)", []string{"keepLastValue(b.x)"}, [][]float64{{5, 3, 8, 8, 8}}},
		{"keepLastValue(b.x,1)", []string{"keepLastValue(b.x)"}, [][]float64{{5, 3, 8, N, N}}},
		{"keepLastValue(a.x.c)", []string{"keepLastValue(a.x.c)"}, [][]float64{{1, 2, 2, 4, 5}}},
		{"transformNull(b.x)", []string{"transformNull(b.x,0)"}, [][]float64{{5, 3, 8, 0, 0}}},
		{"transformNull(b.x,-1.5)", []string{"transformNull(b.x,-1.5)"}, [][]float64{{5, 3, 8, -1.5, -1.5}}},
		// window of 2 points before each point; the two before the range are the fake's
		// bootstrap values -10 and 0 (slot times).
		{"movingAverage(z,2)", []string{"movingAverage(z,2)"}, [][]float64{{-5, 0, 1, 1, -2}}},
		{"movingAverage(a.x.c,1)", []string{"movingAverage(a.x.c,1)"}, [][]float64{{0, 1, 2, N, 4}}},
		{"movingAverage(a.y.c,3)", []string{"movingAverage(a.y.c,3)"}, [][]float64{{-10, 0, 5, 20, 35}}},
		{"movingAverage(a.x.c,0)", []string{"movingAverage(a.x.c,0)"}, [][]float64{{N, N, N, N, N}}},
		{"highestCurrent(a.*.c)", []string{"a.x.c"}, nil},
		{"highestCurrent(group(a.*.c,z),2)", []string{"a.x.c", "a.y.c"}, nil},
		{"highestMax(group(a.*.c,b.x),1)", []string{"a.y.c"}, nil},
		{"lowestCurrent(group(a.*.c,z),2)", []string{"z", "a.y.c"}, nil},
		{"limit(group(z,a.*.c),2)", []string{"z", "a.x.c"}, nil},
		{"sortByMaxima(group(z,a.x.c,b.x))", []string{"b.x", "a.x.c", "z"}, nil},
		{"group(z,b.x)", []string{"z", "b.x"}, nil},
		{"asPercent(a.*.c)", []string{"asPercent(a.x.c,sumSeries(a.*.c))", "asPercent(a.y.c,sumSeries(a.*.c))"},
			[][]float64{{100.0 / 11, 100, N, 100.0 / 11, 500.0 / 7}, {1000.0 / 11, N, 100, 4000.0 / 44, 200.0 / 7}}},
		{"asPercent(a.x.c,10)", []string{"asPercent(a.x.c,10)"}, [][]float64{{10, 20, N, 40, 50}}},
		{"asPercent(a.*.c,z)", []string{"asPercent(a.x.c,z)", "asPercent(a.y.c,z)"}, [][]float64{{N, 100, N, -100, 500}, {N, N, N, -1000, 200}}},
		{"divideSeries(a.*.c,z)", []string{"divideSeries(a.x.c,z)", "divideSeries(a.y.c,z)"},
			[][]float64{{N, 1, N, -1, 5}, {N, N, N, -10, 2}}},
		// buckets from 0 to end - end%20 + 20 (graphite-web): the last is empty
		{"summarize(a.x.c,'20s')", []string{`summarize(a.x.c, "20s", "sum")`}, [][]float64{{1, 2, 9, N}}},
		{"summarize(a.y.c,'20s','max')", []string{`summarize(a.y.c, "20s", "max")`}, [][]float64{{10, 30, 40, N}}},
		{"summarize(a.y.c,'20s','avg')", []string{`summarize(a.y.c, "20s", "avg")`}, [][]float64{{10, 30, 21, N}}},
		{"summarize(a.y.c,'20s','min')", []string{`summarize(a.y.c, "20s", "min")`}, [][]float64{{10, 30, 2, N}}},
		{"timeShift(z,'10s')", []string{`timeShift(z, "-10s")`}, [][]float64{{0, 0, 2, 0, -4}}},
	} {
		got, err := evalTarget(t, tc.target)
		require.NoError(t, err, tc.target)
		var names []string
		for _, s := range got {
			names = append(names, s.name)
		}
		require.Equal(t, tc.names, names, tc.target)
		for i, want := range tc.vals {
			eqVals(t, want, got[i].vals, tc.target)
		}
	}
}

func TestGraphiteFunctionErrors(t *testing.T) {
	for _, tc := range []struct{ target, err string }{
		{"nope(a.x.c)", "unknown function nope"},
		{"scale(nope(a),2)", "unknown function nope"},
		{"scale(a.x.c)", "missing factor"},
		{"scale(a.x.c,'x')", "must be a number"},
		{"divideSeries(a.*.c,a.*.c)", "exactly one series"},
		{"summarize(a.x.c,'1x')", "invalid interval"},
		{"summarize(a.x.c,'1h','median')", "unsupported func"},
		{"aliasSub(a.x.c,'(','x')", "bad regular expression"},
		{"movingAverage(a.x.c,'5lightyears')", "windowSize"},
		{"movingAverage(a.x.c,x.y)", "must be a number"},
		{"kale.score()", "missing seriesList"},
		{"'str'", "is not a series"},
	} {
		_, err := evalTarget(t, tc.target)
		require.Error(t, err, tc.target)
		require.Contains(t, err.Error(), tc.err, tc.target)
	}
}

func TestGraphiteAlignAndConsolidate(t *testing.T) {
	// step inferred as the median interval (60 s); a missing minute is null, the last point of a slot wins
	pairs := []struct{ ts, v float64 }{{60, 1}, {120, 2}, {240, 4}, {250, 5}, {300, 6}}
	g := alignSeries("m", toPairs(pairs), 0, 300, 100)
	require.Nil(t, alignSeries("m", toPairs(pairs), 0, 300, 4), "more slots than allowed")
	require.EqualValues(t, 60, g.step)
	require.EqualValues(t, 60, g.start)
	eqVals(t, []float64{1, 2, N, 5, 6}, g.vals, "aligned")

	// maxDataPoints: 10 points at step 10 into ≤ 4, averaged as graphite-web
	s := &gSeries{name: "m", start: 10, step: 10, end: 110, vals: []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}
	out := renderJSON([]*gSeries{s}, 0, 100, 4)
	var got []float64
	var ts []float64
	for _, dp := range out[0].Datapoints {
		got = append(got, *dp[0])
		ts = append(ts, *dp[1])
	}
	// 3 values a point, 30 s; nudge 30+0-10 = 20: one value dropped, groups 2-4, 5-7, 8-10
	eqVals(t, []float64{3, 6, 9}, got, "consolidated")
	require.Equal(t, []float64{30, 60, 90}, ts)
	require.True(t, strings.HasPrefix(pyRepr(1), "1.0") && pyRepr(N) == "None" && pyRepr(0.25) == "0.25" && pyRepr(1e20) == "1e+20")
}

func toPairs(in []struct{ ts, v float64 }) []redisstore.Pair {
	out := make([]redisstore.Pair, len(in))
	for i, p := range in {
		out[i] = redisstore.Pair{Timestamp: p.ts, Value: p.v}
	}
	return out
}
