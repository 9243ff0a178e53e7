package analyzer

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
)

func kaleAnalyzer(t *testing.T, store *redisstore.Store, clock *time.Time) *Analyzer {
	t.Helper()
	a, _ := newAnalyzer(t, store, func(c *Config) {
		c.Detector, c.Kale, c.KaleThreshold = DetectorKale, algorithms.DefaultKaleConfig(), 0.66
		c.ColdRows = -1 // learn from the whole stored day in the first cycle, as the checks below assume
		c.Now = func() time.Time { return *clock }
	})
	return a
}

func TestKaleDetector(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	clock := now
	steady := noisy(7)
	spikeAt := 1436
	data := map[string][]byte{
		"metrics.steady": series(1440, 60, noisy(8)),
		"metrics.spike": series(1440, 60, func(i int) float64 {
			v := steady(i)
			if i == spikeAt {
				v += 1000
			}
			return v
		}),
	}
	require.NoError(t, store.Append(ctx, data, nil).Err)

	a := kaleAnalyzer(t, store, &clock)
	st, err := a.Cycle(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, st.Analysed)
	require.Equal(t, 1, st.Anomalies, "the spike is found, the steady series is not")
	require.Equal(t, 1, st.AnomaliesNew)
	require.Zero(t, st.AnomaliesCarried)
	require.Equal(t, 1, st.Triggers[DetectorKale])
	cur, err := LoadCurrent(ctx, store.Client())
	require.NoError(t, err)
	r := cur.Anomalies[0]
	require.Equal(t, "spike", r.Metric)
	require.Equal(t, now.Unix()-int64(1439-spikeAt)*60, r.Timestamp, "the anomalous point, not the last one")
	require.NotNil(t, r.Explanation)
	require.NotEmpty(t, r.Explanation.Component)
	require.Less(t, float64(r.Explanation.Lower), float64(r.Value))
	b, err := json.Marshal(r)
	require.NoError(t, err)
	require.Contains(t, string(b), `"explanation":{"component":`)

	// The next cycle feeds only the new point: the old spike is not reported again.
	clock = now.Add(time.Minute)
	e := redisstore.NewEncoder()
	require.NoError(t, store.Append(ctx, map[string][]byte{
		"metrics.spike":  e.AppendPair(nil, metric.Int(clock.Unix()), metric.Float(100)),
		"metrics.steady": e.AppendPair(nil, metric.Int(clock.Unix()), metric.Float(100)),
	}, nil).Err)
	st, err = a.Cycle(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, st.Anomalies, "the spike stays current while it is recent")
	require.Equal(t, 1, st.AnomaliesCarried, "carried over, not scored again")
	require.Zero(t, st.AnomaliesNew)
	require.Equal(t, 1, st.Triggers[DetectorKale], "a reported anomaly counts as its detector's trigger")
	require.Equal(t, float64(clock.Unix()), a.states.get("spike").last)
	n0, err := store.Client().ZCard(ctx, KeyHistory).Result()
	require.NoError(t, err)
	require.EqualValues(t, 1, n0, "the history holds it once")

	// Once its point is older than the stale period it is no longer current.
	clock = now.Add(10 * time.Minute)
	require.NoError(t, store.Append(ctx, map[string][]byte{
		"metrics.spike":  e.AppendPair(nil, metric.Int(clock.Unix()), metric.Float(100)),
		"metrics.steady": e.AppendPair(nil, metric.Int(clock.Unix()), metric.Float(100)),
	}, nil).Err)
	st, err = a.Cycle(ctx)
	require.NoError(t, err)
	require.Zero(t, st.Anomalies)

	// States saved on shutdown are picked up by a new analyzer (a restart).
	n, err := a.SaveStates(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	ttl, err := store.Client().TTL(ctx, KeyStatePrefix+"spike").Result()
	require.NoError(t, err)
	require.Positive(t, ttl)
	b2 := kaleAnalyzer(t, store, &clock)
	st, err = b2.Cycle(ctx)
	require.NoError(t, err)
	require.Zero(t, st.Anomalies, "a restarted analyzer resumes instead of re-reporting the old spike")
	require.Zero(t, st.Errors)
	require.Equal(t, float64(clock.Unix()), b2.states.get("spike").last)

	// A corrupt saved state is a counted error and the metric is rebuilt from its series.
	require.NoError(t, store.Client().Set(ctx, KeyStatePrefix+"steady", "garbage!", 0).Err())
	c := kaleAnalyzer(t, store, &clock)
	st, err = c.Cycle(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, st.Errors)
	require.Equal(t, 2, st.Analysed)
}

func TestKaleStateForgetsVanishedMetrics(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	clock := now
	require.NoError(t, store.Append(ctx, map[string][]byte{"metrics.gone": series(200, 60, noisy(1))}, nil).Err)
	a := kaleAnalyzer(t, store, &clock)
	_, err := a.Cycle(ctx)
	require.NoError(t, err)
	require.NotNil(t, a.states.get("gone"))
	require.NoError(t, store.Client().Del(ctx, "metrics.gone").Err())
	require.NoError(t, store.Client().SRem(ctx, "metrics.unique_metrics", "metrics.gone").Err())
	require.NoError(t, store.Append(ctx, map[string][]byte{"metrics.other": series(200, 60, noisy(2))}, nil).Err)
	_, err = a.Cycle(ctx)
	require.NoError(t, err)
	require.Nil(t, a.states.get("gone"))
}
