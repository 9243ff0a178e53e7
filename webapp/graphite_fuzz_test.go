package webapp

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/kale-project/kale/utils/redisstore"
)

// memFetch is fetchSeries over series held in memory: the same matching and alignment, and
// one budget of maxRenderPoints slots per request.
func memFetch(data map[string][]redisstore.Pair) gFetcher {
	names := make([]string, 0, len(data))
	for n := range data {
		names = append(names, n)
	}
	slices.Sort(names)
	budget := int64(maxRenderPoints)
	return func(_ context.Context, path string, from, until int64) ([]*gSeries, error) {
		matched, err := matchNames(names, path)
		if err != nil {
			return nil, err
		}
		var out []*gSeries
		for _, n := range matched {
			g := alignSeries(n, data[n], from, until, budget)
			if g == nil {
				return nil, errBadTarget{fmt.Errorf("over budget")}
			}
			budget -= int64(len(g.vals))
			g.pathExpr, g.tags = path, seriesTags(n)
			out = append(out, g)
		}
		return out, nil
	}
}

// FuzzGraphiteEval evaluates arbitrary targets over a few series (plain, tagged, with gaps and
// an irregular step) and renders them with an arbitrary maxDataPoints: an error is fine, a
// panic or a hang is not, and every series has as many values as its range holds.
func FuzzGraphiteEval(f *testing.F) {
	for _, s := range []string{"sumSeries(a.*.c)", "movingAverage(a.x.c,'5min')", "summarize(a.*.c,'7min','max',true)",
		"seriesByTag('name=~a','dc!=2')", "kale.score(a.x.c)", "asPercent(a.*.c,sumSeries(a.*.c))", "timeShift(a.y.c,'-1h')",
		"divideSeries(a.x.c,a.y.c)", "perSecond(b.x)", "keepLastValue(a.y.c,2)", "aliasByNode(seriesByTag('dc=1'),0)",
		"a.x.c;dc=1", "highestMax(a.*.c,1)"} {
		f.Add(s, uint16(7))
	}
	const t0 = 1_700_000_040
	data := map[string][]redisstore.Pair{}
	for i := range 300 {
		ts := float64(t0 + 60*i)
		data["a.x.c"] = append(data["a.x.c"], redisstore.Pair{Timestamp: ts, Value: math.Sin(float64(i) / 9)})
		if i%7 != 3 {
			data["a.y.c"] = append(data["a.y.c"], redisstore.Pair{Timestamp: ts, Value: float64(i % 13)})
		}
		data["a.x.c;dc=1"] = append(data["a.x.c;dc=1"], redisstore.Pair{Timestamp: ts, Value: -float64(i)})
		if i%2 == 0 {
			data["b.x"] = append(data["b.x"], redisstore.Pair{Timestamp: ts + float64(i%3), Value: float64(i * i)})
		}
	}
	f.Fuzz(func(t *testing.T, target string, maxDP uint16) {
		e, err := parseTarget(target)
		if err != nil {
			return
		}
		from, until := int64(t0+600), int64(t0+250*60)
		ev := &gEval{ctx: context.Background(), from: from, until: until, fetch: memFetch(data), fullDuration: 2 * time.Hour}
		list, err := ev.eval(e)
		if err != nil {
			return
		}
		for _, s := range list {
			if s.step <= 0 {
				t.Fatalf("%q: %s has step %d", target, s.name, s.step)
			}
		}
		_ = renderJSON(list, from, until, int(maxDP))
	})
}
