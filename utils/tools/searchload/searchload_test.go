package searchload

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
)

func TestLatency(t *testing.T) {
	for _, tc := range []struct {
		name string
		ms   []float64
		want Latency
	}{
		{"empty", nil, Latency{}},
		{"one", []float64{7}, Latency{N: 1, P50: 7, P90: 7, P99: 7, Max: 7}},
		{"hundred", func() []float64 {
			var x []float64
			for i := 100; i >= 1; i-- {
				x = append(x, float64(i))
			}
			return x
		}(), Latency{N: 100, P50: 51, P90: 91, P99: 100, Max: 100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, latency(tc.ms))
		})
	}
}

func TestSummariseSplitsByCycle(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	rep := Report{Cycles: []CycleWindow{{Start: t0, Duration: 10}, {Start: t0.Add(30 * time.Second), Duration: 5}}}
	samples := []sample{
		{at: t0.Add(-time.Second), ms: 1},
		{at: t0, ms: 100},                       // a cycle starts: during
		{at: t0.Add(9 * time.Second), ms: 200},  // during
		{at: t0.Add(10 * time.Second), ms: 2},   // the cycle ended
		{at: t0.Add(31 * time.Second), ms: 300}, // second cycle
		{at: t0.Add(40 * time.Second), ms: 3},
		{at: t0.Add(41 * time.Second), err: context.DeadlineExceeded}, // failed: not counted
	}
	summarise(&rep, samples)
	require.Equal(t, 6, rep.All.N)
	require.Equal(t, Latency{N: 3, P50: 200, P90: 300, P99: 300, Max: 300}, rep.DuringCycle)
	require.Equal(t, Latency{N: 3, P50: 2, P90: 3, P99: 3, Max: 3}, rep.OutsideCycle)
}

func TestSame(t *testing.T) {
	a := []hit{{"x", 1}, {"y", 2}}
	require.True(t, same(a, []hit{{"x", 1 + 1e-12}, {"y", 2}}))
	require.False(t, same(a, []hit{{"y", 2}, {"x", 1}}))
	require.False(t, same(a, []hit{{"x", 1.001}, {"y", 2}}))
	require.False(t, same(a, a[:1]))
}

func TestSeriesAreDeterministic(t *testing.T) {
	names := seriesNames(25)
	require.Len(t, names, 25)
	require.Equal(t, "searchload.shape.f000.m000000", names[0])
	require.Equal(t, "searchload.walk.h001.m000001", names[1])
	require.Equal(t, seriesValues(3, 64), seriesValues(3, 64))
	require.NotEqual(t, seriesValues(3, 64), seriesValues(4, 64))
	for i := range 25 {
		for _, v := range seriesValues(i, 256) {
			require.False(t, math.IsNaN(v) || math.IsInf(v, 0))
		}
	}
}

// zWindow applies the oculus window rule: sorted, first of equal timestamps kept, only the
// last hour, then resampled and z-normalised.
func TestZWindow(t *testing.T) {
	enc := redisstore.NewEncoder()
	var b []byte
	const now = 1_700_010_000
	// An old point (outside the hour), a NaN, out-of-order and duplicate timestamps.
	for _, p := range [][2]float64{{now - 7200, 1e6}, {now - 10, 3}, {now - 30, 1}, {now - 20, 2}, {now - 20, 99}, {now, math.NaN()}, {now - 5, 4}} {
		b = enc.AppendPair(b, metric.Int(int64(p[0])), metric.Float(p[1]))
	}
	want := algorithms.PAA(nil, []float64{1, 2, 3, 4}, searchLength)
	want = algorithms.ZNormalize(want, want)
	require.Equal(t, want, zWindow(b))
	require.Nil(t, zWindow(nil))
}

// Seeding writes every series once (a second seed leaves existing keys alone), and the
// brute force ranks a series' own copy first.
func TestSeedAndBrute(t *testing.T) {
	srv := redistest.Start(t)
	store, err := redisstore.Open(srv.URL(), redisstore.Options{})
	require.NoError(t, err)
	defer store.Close()
	ctx := context.Background()
	o := Defaults()
	o.Points = 40
	names := seriesNames(60)
	require.NoError(t, seed(ctx, store, names, o))
	require.NoError(t, seed(ctx, store, names, o)) // no double append
	keys, err := store.Members(ctx, "metrics.")
	require.NoError(t, err)
	require.Len(t, keys, 60)
	pairs, _, err := store.Series(ctx, names[7])
	require.NoError(t, err)
	require.Len(t, pairs, 40)

	zs, err := loadAll(ctx, store, names)
	require.NoError(t, err)
	r := algorithms.SakoeChibaCells(searchWindow, searchLength)
	got := brute(zs, names, zs[7], names[7], r, 5)
	require.Len(t, got, 5)
	require.True(t, slices.IsSortedFunc(got, func(a, b hit) int {
		if a.Distance < b.Distance {
			return -1
		}
		if a.Distance > b.Distance {
			return 1
		}
		return 0
	}))
	for _, h := range got {
		require.NotEqual(t, names[7], h.Metric, "the query metric is left out")
	}
	// With a copy of series 7 among the candidates, it comes first at distance 0.
	withCopy := append(slices.Clone(zs), zs[7])
	got = brute(withCopy, append(slices.Clone(names), "copy"), zs[7], names[7], r, 1)
	require.Equal(t, []hit{{"copy", 0}}, got)
}
