package oculus

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// exactCorpus is random walks of several lengths, planted near-duplicates of a few shapes,
// exact duplicates under other names (ties), affine copies and flat series.
func exactCorpus(rng *rand.Rand, n int) map[string][]float64 {
	corpus := map[string][]float64{}
	groups := []string{"web", "db", "cache", "queue"}
	lengths := []int{256, 256, 256, 180, 300, 64}
	for i := range n {
		name := fmt.Sprintf("%s.host%02d.rw.%04d", groups[i%len(groups)], i%17, i)
		corpus[name] = randomWalk(rng, lengths[i%len(lengths)])
	}
	for f := range 5 {
		base := randomWalk(rng, 256)
		for j := range 12 {
			x := slices.Clone(base)
			for i := range x {
				x[i] += rng.NormFloat64() * 0.05 * float64(j)
			}
			corpus[fmt.Sprintf("family.f%d.near.%02d", f, j)] = x
		}
		for j := range 4 { // exact ties
			corpus[fmt.Sprintf("tie.f%d.copy%d", f, j)] = slices.Clone(base)
		}
		scaled := make([]float64, len(base))
		for i, v := range base {
			scaled[i] = 3*v + 100
		}
		corpus[fmt.Sprintf("family.f%d.affine", f)] = scaled
	}
	for j := range 3 {
		flat := make([]float64, 256)
		for i := range flat {
			flat[i] = float64(j)
		}
		corpus[fmt.Sprintf("flat.%d", j)] = flat
	}
	return corpus
}

func requireSameHits(t *testing.T, want, got []Hit, msg string) {
	t.Helper()
	require.Len(t, got, len(want), msg)
	for i := range want {
		require.Equal(t, want[i].Metric, got[i].Metric, "%s: rank %d (want %v, got %v)", msg, i, want, got)
		require.InDelta(t, want[i].Distance, got[i].Distance, 1e-9*math.Max(1, want[i].Distance), "%s: rank %d", msg, i)
	}
}

func TestSearchEqualsBruteForce(t *testing.T) {
	saved := parallelMinSeries
	parallelMinSeries = 64 // exercise the parallel scans on a small corpus
	t.Cleanup(func() { parallelMinSeries = saved })

	e := newEnv(t)
	rng := rand.New(rand.NewPCG(1, 2))
	corpus := exactCorpus(rng, 1200)
	e.put(corpus)
	s := e.synced()
	ctx := context.Background()

	names := make([]string, 0, len(corpus))
	for n := range corpus {
		names = append(names, n)
	}
	slices.Sort(names)
	var queries []Query
	for i := range 6 {
		queries = append(queries, Query{Metric: names[rng.IntN(len(names))]})
		queries = append(queries, Query{Values: randomWalk(rng, 256)})
		queries = append(queries, Query{Values: randomWalk(rng, 40+i*20)})
	}
	queries = append(queries, Query{Metric: "family.f1.near.00"}, Query{Metric: "tie.f2.copy3"}, Query{Metric: "flat.1"})
	variants := []func(Query) Query{
		func(q Query) Query { return q },
		func(q Query) Query { q.Window = ptr(0.05); return q },
		func(q Query) Query { q.Window = ptr(0.0); return q },
		func(q Query) Query { q.Prefix = "db."; return q },
		func(q Query) Query { q.Exclude = []string{"web", "host03"}; q.Page = 1; return q },
		func(q Query) Query { q.K = 7; q.Page = 2; return q },
		func(q Query) Query { q.Normalize = "none"; return q },
		func(q Query) Query { q.Length = ptr(128); return q },
		func(q Query) Query { q.Length = ptr(0); return q },
		func(q Query) Query { q.IncludeSelf = true; q.Page = 1; return q },
	}
	for qi, base := range queries {
		for vi, v := range variants {
			for _, method := range []string{MethodEuclidean, MethodDTW} {
				q := v(base)
				q.Method = method
				msg := fmt.Sprintf("query %d variant %d %s", qi, vi, method)
				got, err := s.Search(ctx, q)
				require.NoError(t, err, msg)
				want := bruteForce(corpus, q, e.cfg.SearchLength)
				requireSameHits(t, want, got.Results, msg)
				total := got.Total
				if q.Metric != "" && !q.IncludeSelf {
					total++ // the query metric is scored (then left out) but not counted
				}
				require.LessOrEqual(t, got.Scanned, total, msg)
			}
		}
	}
}

func TestSearchTiesBrokenByName(t *testing.T) {
	e := newEnv(t)
	rng := rand.New(rand.NewPCG(3, 4))
	base := randomWalk(rng, 256)
	corpus := map[string][]float64{}
	for _, n := range []string{"t.e", "t.b", "t.d", "t.a", "t.c"} {
		corpus[n] = slices.Clone(base)
	}
	for i := range 300 {
		corpus[fmt.Sprintf("other.%03d", i)] = randomWalk(rng, 256)
	}
	e.put(corpus)
	s := e.synced()
	for _, method := range []string{MethodEuclidean, MethodDTW} {
		for k := 1; k <= 5; k++ {
			res, err := s.Search(context.Background(), Query{Values: base, Method: method, K: k})
			require.NoError(t, err)
			var got []string
			for _, h := range res.Results {
				got = append(got, h.Metric)
				require.Zero(t, h.Distance)
			}
			require.Equal(t, []string{"t.a", "t.b", "t.c", "t.d", "t.e"}[:k], got, "%s k=%d", method, k)
		}
		// Page through the ties two at a time.
		var paged []string
		for page := range 3 {
			res, err := s.Search(context.Background(), Query{Values: base, Method: method, K: 2, Page: page})
			require.NoError(t, err)
			for _, h := range res.Results {
				paged = append(paged, h.Metric)
			}
		}
		require.Equal(t, "t.a t.b t.c t.d t.e", fmt.Sprint(paged[:5])[1:len(fmt.Sprint(paged[:5]))-1])
	}
}
