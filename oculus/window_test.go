package oculus

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
)

func TestTimeline(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ts      []float64
		regular bool
	}{
		{"empty", nil, true},
		{"one point", []float64{7}, true},
		{"every 10 s", []float64{100, 110, 120, 130}, true},
		{"a gap", []float64{100, 110, 130, 140}, false},
		{"irregular from the second", []float64{100, 105, 106}, false},
		{"tenths that do not add up exactly", []float64{0.1, 0.2, 0.3, 0.4, 0.5}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b timelineBuilder
			for _, ts := range tc.ts {
				b.add(ts)
			}
			tl := b.timeline()
			require.Equal(t, tc.regular, tl.ts == nil, "kept in two numbers when evenly spaced")
			for i, ts := range tc.ts {
				require.Equal(t, ts, tl.at(i), "exact at %d", i)
			}
		})
	}
}

// A search asked for windows returns each hit's and the query metric's window as searched:
// the stored points of the recent window, oldest first, timestamps exact.
func TestSearchWindows(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	enc := redisstore.NewEncoder()
	var irregular []byte
	var want []algorithms.Point
	for i, ts := range []int64{baseTS, baseTS + 10, baseTS + 15, baseTS + 15, baseTS + 40, baseTS + 41} {
		v := float64(i * i)
		irregular = enc.AppendPair(irregular, metric.Int(ts), metric.Float(v))
		if i != 3 { // the second of equal timestamps is dropped
			want = append(want, algorithms.Point{Timestamp: float64(ts), Value: v})
		}
	}
	require.NoError(t, e.store.Append(ctx, map[string][]byte{e.store.FullKey("w.irregular"): irregular}, nil).Err)
	e.put(map[string][]float64{"w.regular": {3, 1, 4, 1, 5}})
	s := e.synced()

	res, err := s.Search(ctx, Query{Metric: "w.regular", K: 2, Length: ptr(0), Windows: true, IncludeSelf: true})
	require.NoError(t, err)
	require.Len(t, res.Results, 2)
	regular := []algorithms.Point{{Timestamp: baseTS, Value: 3}, {Timestamp: baseTS + 1, Value: 1},
		{Timestamp: baseTS + 2, Value: 4}, {Timestamp: baseTS + 3, Value: 1}, {Timestamp: baseTS + 4, Value: 5}}
	require.Equal(t, regular, res.QueryWindow)
	for _, h := range res.Results {
		switch h.Metric {
		case "w.regular":
			require.Equal(t, regular, h.Window)
		case "w.irregular":
			require.Equal(t, want, h.Window)
		}
	}

	res, err = s.Search(ctx, Query{Values: []float64{1, 2, 3, 4, 5}, K: 2, Windows: true})
	require.NoError(t, err)
	require.Nil(t, res.QueryWindow, "a drawn query has no stored window")
	require.NotNil(t, res.Results[0].Window)

	res, err = s.Search(ctx, Query{Metric: "w.regular", K: 2})
	require.NoError(t, err)
	require.Nil(t, res.QueryWindow, "only when asked")
	require.Nil(t, res.Results[0].Window)
}
