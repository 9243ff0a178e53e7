package oculus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestValidate(t *testing.T) {
	vals := []float64{1, 2, 3}
	for _, tc := range []struct {
		q    Query
		want string // "" = valid
	}{
		{Query{Metric: "a.b"}, ""},
		{Query{Values: vals, Method: "Euclidian"}, ""},
		{Query{Values: vals, Method: "FastDTW", Radius: ptr(0), Slop: ptr(0)}, ""},
		{Query{Values: vals, Window: ptr(0.0), Length: ptr(0), Normalize: "none", Exclude: []string{"x", "a.b"}}, ""},
		{Query{}, "give a metric name or values"},
		{Query{Metric: "a", Values: vals}, "either metric or values"},
		{Query{Values: []float64{1}}, "at least 2 values"},
		{Query{Values: make([]float64, MaxValues+1)}, "at most 100000 values"},
		{Query{Values: []float64{1, math.NaN()}}, "values[1] is NaN"},
		{Query{Values: []float64{math.Inf(1), 1}}, "values[0] is +Inf"},
		{Query{Values: vals, Method: "cosine"}, `method "cosine"`},
		{Query{Values: vals, K: -1}, "k -1"},
		{Query{Values: vals, K: MaxK + 1}, "k 1001"},
		{Query{Values: vals, Page: -1}, "page -1"},
		{Query{Values: vals, K: 1000, Page: 10}, "beyond the first 10000"},
		{Query{Values: vals, Window: ptr(1.5)}, "window 1.5"},
		{Query{Values: vals, Window: ptr(math.NaN())}, "window NaN"},
		{Query{Values: vals, Radius: ptr(-1)}, "radius -1"},
		{Query{Values: vals, Length: ptr(1)}, "length 1"},
		{Query{Values: vals, Length: ptr(-5)}, "length -5"},
		{Query{Values: vals, Normalize: "minmax"}, `normalize "minmax"`},
		{Query{Values: vals, Exclude: []string{""}}, "empty segment"},
		{Query{Values: vals, Slop: ptr(-2)}, "slop -2"},
		{Query{Values: vals, Prefix: strings.Repeat("p", 2000)}, "prefix of 2000 bytes"},
	} {
		_, err := validate(tc.q, 256)
		require.Equal(t, err, tc.q.Validate(), "the exported check is the search's")
		if tc.want == "" {
			require.NoError(t, err, "%+v", tc.q)
			continue
		}
		require.ErrorIs(t, err, ErrBadQuery, "%+v", tc.q)
		require.ErrorContains(t, err, tc.want)
	}
	p, err := validate(Query{Metric: "m", Exclude: []string{"a.b", "c"}}, 128)
	require.NoError(t, err)
	require.Equal(t, plan{metric: "m", method: MethodDTW, k: 10, need: 11, window: 0.1, radius: 5, length: 128,
		normalize: true, exclude: []string{"a", "b", "c"}, slop: 20, dropSelf: true}, p)
}

func TestSearchQueries(t *testing.T) {
	e := newEnv(t)
	rng := rand.New(rand.NewPCG(11, 12))
	corpus := map[string][]float64{}
	for i := range 200 {
		corpus[fmt.Sprintf("svc.%s.m%03d", []string{"a", "b"}[i%2], i)] = randomWalk(rng, 120)
	}
	e.put(corpus)
	s := e.synced()
	ctx := context.Background()

	// A bad query, an unknown metric.
	_, err := s.Search(ctx, Query{Values: []float64{1}})
	require.ErrorIs(t, err, ErrBadQuery)
	_, err = s.Search(ctx, Query{Metric: "no.such.metric"})
	require.ErrorIs(t, err, ErrNotFound)

	// The full-namespace prefix is accepted, and the metric finds itself first when asked.
	res, err := s.Search(ctx, Query{Metric: "metrics.svc.a.m010", IncludeSelf: true})
	require.NoError(t, err)
	require.Equal(t, "svc.a.m010", res.Results[0].Metric)
	require.Zero(t, res.Results[0].Distance)
	require.Equal(t, MethodDTW, res.Method)
	require.False(t, res.Approximate)
	require.Equal(t, 200, res.Total)
	require.Positive(t, res.Candidates)
	require.Positive(t, res.Scanned)
	require.NotNil(t, res.Collections)
	b, err := json.Marshal(res)
	require.NoError(t, err)
	require.Contains(t, string(b), `"collections":[]`)

	// A metric written after the last sync is read from Redis.
	e.put(map[string][]float64{"late.metric": corpus["svc.b.m011"]})
	res, err = s.Search(ctx, Query{Metric: "late.metric", K: 1})
	require.NoError(t, err)
	require.Equal(t, "svc.b.m011", res.Results[0].Metric)

	// Filters.
	res, err = s.Search(ctx, Query{Metric: "svc.a.m010", Prefix: "svc.b.", K: 50})
	require.NoError(t, err)
	require.Equal(t, 100, res.Total)
	for _, h := range res.Results {
		require.True(t, strings.HasPrefix(h.Metric, "svc.b."), h.Metric)
	}
	res, err = s.Search(ctx, Query{Metric: "svc.a.m010", Exclude: []string{"a"}, K: 1000})
	require.NoError(t, err)
	require.Len(t, res.Results, 100)

	// Native length skips and counts series of another length.
	res, err = s.Search(ctx, Query{Values: randomWalk(rng, 50), Length: ptr(0)})
	require.NoError(t, err)
	require.Empty(t, res.Results)
	require.Equal(t, 200, res.Skipped)

	// A drawn shape of another length is resampled.
	res, err = s.Search(ctx, Query{Values: []float64{0, 10, 20, 30, 20, 10, 0}, Method: MethodEuclidean, K: 3})
	require.NoError(t, err)
	require.Len(t, res.Results, 3)
	require.Equal(t, MethodEuclidean, res.Method)

	// A search that cannot finish in time.
	s.cfg.SearchTimeout = time.Nanosecond
	_, err = s.Search(ctx, Query{Metric: "svc.a.m010"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "search-timeout")
}

func TestFastDTWSearch(t *testing.T) {
	e := newEnv(t)
	rng := rand.New(rand.NewPCG(13, 14))
	base := randomWalk(rng, 80)
	corpus := map[string][]float64{"fd.base": base}
	for i := range 5 {
		x := make([]float64, len(base))
		for j := range x {
			x[j] = 2*base[j] + 7 + rng.NormFloat64()*0.01*float64(i)
		}
		corpus[fmt.Sprintf("fd.twin%d", i)] = x
	}
	for i := range 150 {
		corpus[fmt.Sprintf("fd.walk%03d", i)] = randomWalk(rng, 80)
	}
	e.put(corpus)
	s := e.synced()
	ctx := context.Background()
	res, err := s.Search(ctx, Query{Metric: "fd.base", Method: "FastDTW", K: 6, IncludeSelf: true})
	require.NoError(t, err)
	require.True(t, res.Approximate)
	require.Equal(t, MethodFastDTW, res.Method)
	require.Equal(t, "fd.base", res.Results[0].Metric)
	require.Zero(t, res.Results[0].Distance)
	var twins int
	for _, h := range res.Results {
		if strings.HasPrefix(h.Metric, "fd.twin") {
			twins++
		}
	}
	require.GreaterOrEqual(t, twins, 4, "%v", res.Results)
	for i := 1; i < len(res.Results); i++ {
		require.LessOrEqual(t, res.Results[i-1].Distance, res.Results[i].Distance)
	}
	require.Equal(t, len(corpus), res.Total)
	require.LessOrEqual(t, res.Scanned, res.Candidates)

	// At native length and with a strict phrase (slop 0) the twins still match.
	res, err = s.Search(ctx, Query{Metric: "fd.base", Method: MethodFastDTW, Length: ptr(0), Slop: ptr(0), Radius: ptr(2), IncludeSelf: true})
	require.NoError(t, err)
	require.Equal(t, "fd.base", res.Results[0].Metric)

	// A flat drawn shape has an empty fingerprint: candidates come from the iSAX words.
	res, err = s.Search(ctx, Query{Values: []float64{3, 3, 3, 3}, Method: MethodFastDTW})
	require.NoError(t, err)
	require.NotEmpty(t, res.Results)
}

func TestCollections(t *testing.T) {
	e := newEnv(t)
	rng := rand.New(rand.NewPCG(15, 16))
	e.put(map[string][]float64{"c.one": randomWalk(rng, 20), "c.two": randomWalk(rng, 20), "c.three": randomWalk(rng, 20)})
	s := e.synced()
	ctx := context.Background()

	c, err := s.SaveCollection(ctx, "Incident 42", `<p onclick="x()">Disk <b>full</b><script>alert(1)</script> <a href="javascript:evil()">x</a></p>`,
		[]string{"c.one", "metrics.c.two", "c.one"})
	require.NoError(t, err)
	require.Equal(t, "Incident 42", c.Name)
	require.NotContains(t, c.Description, "script")
	require.NotContains(t, c.Description, "onclick")
	require.NotContains(t, c.Description, "javascript")
	require.Contains(t, c.Description, "<b>full</b>")
	require.Len(t, c.Members, 2)
	require.Equal(t, "c.two", c.Members[1].Metric)
	require.Len(t, c.Members[0].Points, 20)
	require.Equal(t, [2]float64{baseTS, c.Members[0].Points[0][1]}, c.Members[0].Points[0])

	// Clashes, bad input, unknown metrics.
	_, err = s.SaveCollection(ctx, "Incident 42", "", []string{"c.three"})
	require.ErrorIs(t, err, ErrConflict)
	for _, name := range []string{"", "  ", "<b>", "a/b", strings.Repeat("x", 101), "-lead"} {
		_, err = s.SaveCollection(ctx, name, "", []string{"c.three"})
		require.ErrorIs(t, err, ErrBadQuery, "name %q", name)
	}
	_, err = s.SaveCollection(ctx, "empty", "", nil)
	require.ErrorIs(t, err, ErrBadQuery)
	_, err = s.SaveCollection(ctx, "ghost", "", []string{"c.nope"})
	require.ErrorIs(t, err, ErrNotFound)
	_, err = s.SaveCollection(ctx, "long", strings.Repeat("d", MaxDescription+1), []string{"c.one"})
	require.ErrorIs(t, err, ErrBadQuery)

	// The frozen copy does not follow later data.
	e.put(map[string][]float64{"c.one": {100, 200}})
	got, err := s.Collection(ctx, "Incident 42")
	require.NoError(t, err)
	require.Equal(t, c.Members, got.Members)
	require.True(t, c.Created.Equal(got.Created))

	// Searches report collections holding result metrics.
	res, err := s.Search(ctx, Query{Metric: "c.two", K: 3, Length: ptr(0), IncludeSelf: true})
	require.NoError(t, err)
	require.Equal(t, []CollectionMatch{{Collection: "Incident 42", Members: []string{"c.one", "c.two"}}}, sortedMembers(res.Collections))

	_, err = s.SaveCollection(ctx, "second", "", []string{"c.three"})
	require.NoError(t, err)
	list, err := s.Collections(ctx)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "Incident 42", list[0].Name)
	require.Equal(t, "second", list[1].Name)

	// Rename and re-describe.
	_, err = s.UpdateCollection(ctx, "Incident 42", "second", "")
	require.ErrorIs(t, err, ErrConflict)
	_, err = s.UpdateCollection(ctx, "nope", "x", "")
	require.ErrorIs(t, err, ErrNotFound)
	_, err = s.UpdateCollection(ctx, "Incident 42", "bad/name", "")
	require.ErrorIs(t, err, ErrBadQuery)
	u, err := s.UpdateCollection(ctx, "Incident 42", "disk-full 2024", "")
	require.NoError(t, err)
	require.Equal(t, c.Description, u.Description, "an empty description keeps it")
	u, err = s.UpdateCollection(ctx, "disk-full 2024", "", "<i>solved</i><script>x</script>")
	require.NoError(t, err)
	require.Equal(t, "disk-full 2024", u.Name)
	require.Equal(t, "<i>solved</i>", u.Description)
	_, err = s.Collection(ctx, "Incident 42")
	require.ErrorIs(t, err, ErrNotFound)
	res, err = s.Search(ctx, Query{Metric: "c.two", K: 3, Length: ptr(0), IncludeSelf: true})
	require.NoError(t, err)
	require.Equal(t, "disk-full 2024", sortedMembers(res.Collections)[0].Collection, "the search sees the rename")

	require.NoError(t, s.DeleteCollection(ctx, "disk-full 2024"))
	require.ErrorIs(t, s.DeleteCollection(ctx, "disk-full 2024"), ErrNotFound)
	list, err = s.Collections(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	res, err = s.Search(ctx, Query{Metric: "c.two", K: 1, Length: ptr(0)})
	require.NoError(t, err)
	require.Empty(t, res.Collections)
	require.True(t, errors.Is(fmt.Errorf("wrapped: %w", ErrNotFound), ErrNotFound))
}

func sortedMembers(ms []CollectionMatch) []CollectionMatch {
	for _, m := range ms {
		for i := 1; i < len(m.Members); i++ {
			for j := i; j > 0 && m.Members[j] < m.Members[j-1]; j-- {
				m.Members[j], m.Members[j-1] = m.Members[j-1], m.Members[j]
			}
		}
	}
	return ms
}

// TestSearchLeavesOutTheQueryMetric checks issue #18 item 8: a search by metric name returns
// k other metrics (the query metric, its own distance-0 match, only with IncludeSelf), for
// every method, on every page, by either form of the name; exact copies of the query are
// other metrics and stay.
func TestSearchLeavesOutTheQueryMetric(t *testing.T) {
	e := newEnv(t)
	rng := rand.New(rand.NewPCG(21, 22))
	base := randomWalk(rng, 90)
	corpus := map[string][]float64{"self.q": base, "self.copy1": base, "self.copy2": base}
	for i := range 60 {
		corpus[fmt.Sprintf("self.walk%02d", i)] = randomWalk(rng, 90)
	}
	e.put(corpus)
	s := e.synced()
	e.put(map[string][]float64{"late.q": base}) // not indexed yet: read from Redis
	ctx := context.Background()

	for _, tc := range []struct {
		name      string
		q         Query
		wantSelf  bool
		wantTotal int
	}{
		{"dtw", Query{Metric: "self.q", K: 5}, false, 62},
		{"dtw namespaced name", Query{Metric: "metrics.self.q", K: 5}, false, 62},
		{"euclidean", Query{Metric: "self.q", K: 5, Method: MethodEuclidean}, false, 62},
		{"fastdtw", Query{Metric: "self.q", K: 5, Method: MethodFastDTW}, false, 62},
		{"page 2", Query{Metric: "self.q", K: 5, Page: 1}, false, 62},
		{"native length", Query{Metric: "self.q", K: 5, Length: ptr(0)}, false, 62},
		{"include self", Query{Metric: "self.q", K: 5, IncludeSelf: true}, true, 63},
		{"include self fastdtw", Query{Metric: "self.q", K: 5, Method: MethodFastDTW, IncludeSelf: true}, true, 63},
		{"query not indexed", Query{Metric: "late.q", K: 5}, false, 63},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := s.Search(ctx, tc.q)
			require.NoError(t, err)
			require.Len(t, res.Results, tc.q.K, "k results whatever happens to self")
			require.Equal(t, tc.wantTotal, res.Total)
			var names []string
			for _, h := range res.Results {
				names = append(names, h.Metric)
			}
			self := strings.TrimPrefix(tc.q.Metric, "metrics.")
			if tc.wantSelf {
				// Distance-0 ties go by name: the copies, then the metric itself.
				require.Equal(t, []string{"self.copy1", "self.copy2", "self.q"}, names[:3])
				require.Zero(t, res.Results[2].Distance)
			} else {
				require.NotContains(t, names, self)
			}
			if tc.q.Page == 0 && !tc.wantSelf {
				require.ElementsMatch(t, []string{"self.copy1", "self.copy2"}, names[:2], "exact copies are other metrics")
			}
			if self == "late.q" {
				require.Contains(t, names, "self.q", "only the query metric itself is left out")
			}
		})
	}

	// The second page continues the first without a gap or an overlap.
	p1, err := s.Search(ctx, Query{Metric: "self.q", K: 5})
	require.NoError(t, err)
	p2, err := s.Search(ctx, Query{Metric: "self.q", K: 5, Page: 1})
	require.NoError(t, err)
	all, err := s.Search(ctx, Query{Metric: "self.q", K: 10})
	require.NoError(t, err)
	require.Equal(t, all.Results, append(p1.Results, p2.Results...))
}
