package analyzer

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
)

// A point stamped years ahead, in the series or in a saved detector state, must not blind
// detection: a later spike is found, and recorded, exactly as on a control metric that never
// saw such a point.
func TestFarFuturePointDoesNotBlindDetection(t *testing.T) {
	years := now.Add(5 * 365 * 24 * time.Hour).Unix()
	e := redisstore.NewEncoder()
	for _, tc := range []struct {
		name   string
		future []byte // prepended to the test metric's series (it arrived first)
		state  bool   // a saved state of the test metric whose last timestamp is years ahead
	}{
		{name: "point years ahead in the series", future: e.AppendPair(nil, metric.Int(years), metric.Float(100))},
		{name: "point at int64 max", future: e.AppendPair(nil, metric.Int(math.MaxInt64), metric.Float(100))},
		{name: "point at 1e300", future: e.AppendPair(nil, metric.Float(1e300), metric.Float(100))},
		{name: "saved state stamped years ahead", state: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := openStore(t)
			ctx := context.Background()
			clock := now
			base := series(1440, 60, noisy(11))
			require.NoError(t, store.Append(ctx, map[string][]byte{
				"metrics.control": base,
				"metrics.test":    append(append([]byte{}, tc.future...), base...),
			}, nil).Err)
			if tc.state {
				blob, err := algorithms.NewKale(algorithms.DefaultKaleConfig()).MarshalBinary()
				require.NoError(t, err)
				st := newMetricState()
				st.blob, st.last = blob, float64(years)
				require.NoError(t, store.Client().Set(ctx, KeyStatePrefix+"test", encodeState(nil, st), 0).Err())
			}
			a, _ := newAnalyzer(t, store, func(c *Config) {
				c.Detector, c.Kale, c.KaleThreshold = DetectorKale, algorithms.DefaultKaleConfig(), 0.66
				c.ColdRows = -1 // learn from the whole stored day in the first cycle, as the checks below assume
				c.Now = func() time.Time { return clock }
			})
			st, err := a.Cycle(ctx)
			require.NoError(t, err)
			require.Equal(t, 2, st.Analysed, "%v", st.Exceptions)
			require.Zero(t, st.Anomalies)
			if tc.future != nil {
				require.Equal(t, 1.0, testutil.ToFloat64(a.m.future))
			}

			// Normal points, a spike, and the point that confirms it.
			clock = now.Add(3 * time.Minute)
			var next []byte
			for i, v := range []float64{100, 1100, 100} {
				next = e.AppendPair(next, metric.Int(now.Unix()+int64(60*(i+1))), metric.Float(v))
			}
			require.NoError(t, store.Append(ctx, map[string][]byte{"metrics.control": next, "metrics.test": next}, nil).Err)
			st, err = a.Cycle(ctx)
			require.NoError(t, err)
			require.Equal(t, 2, st.Anomalies, "the spike is found on both metrics")
			cur, err := LoadCurrent(ctx, store.Client())
			require.NoError(t, err)
			require.Len(t, cur.Anomalies, 2)
			require.Equal(t, cur.Anomalies[0].Timestamp, cur.Anomalies[1].Timestamp)
			require.Equal(t, now.Unix()+120, cur.Anomalies[1].Timestamp)
			for _, m := range []string{"control", "test"} {
				n, err := store.Client().ZCard(ctx, KeyMetricPrefix+m).Result()
				require.NoError(t, err)
				require.EqualValues(t, 1, n, "%s has its history record", m)
			}
			require.Equal(t, float64(clock.Unix()), a.states.get("test").last)
		})
	}
}

// The skyline ensemble ignores far-future points too: the newest real point decides Stale.
func TestSkylineIgnoresFarFuturePoints(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	// A series whose real points are 20 minutes old, plus one stamped years ahead.
	var raw []byte
	e := redisstore.NewEncoder()
	for i := range 100 {
		raw = e.AppendPair(raw, metric.Int(now.Unix()-1200-int64(100-i)*60), metric.Float(float64(i)))
	}
	raw = e.AppendPair(raw, metric.Int(now.Unix()+1e9), metric.Float(1))
	require.NoError(t, store.Append(ctx, map[string][]byte{"metrics.stale": raw}, nil).Err)
	a, _ := newAnalyzer(t, store, nil)
	st, err := a.Cycle(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]int{Stale: 1}, st.Exceptions)
}
