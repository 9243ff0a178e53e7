package analyzer

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
)

// labelled returns the value of every series of a metric family, keyed by the value of label.
func labelled(t *testing.T, reg *prometheus.Registry, family, label string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != family {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label {
					out[lp.GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

// Every labelled counter is exported as 0 before its first event, so absent() alerts and
// dashboards work from the start.
func TestCountersExistBeforeTheirFirstEvent(t *testing.T) {
	for _, tc := range []struct {
		name     string
		detector string
		triggers []string
	}{
		{"skyline", DetectorSkyline, algorithms.DefaultSettings().Algorithms},
		{"kale", DetectorKale, []string{DetectorKale}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, reg := newAnalyzer(t, openStore(t), func(c *Config) {
				c.Detector, c.Kale, c.KaleThreshold = tc.detector, algorithms.DefaultKaleConfig(), 0.66
			})
			for family, want := range map[string]struct {
				label  string
				values []string
			}{
				"kale_analyzer_errors_total":     {"kind", errorKinds},
				"kale_analyzer_exceptions_total": {"reason", exceptionNames},
				"kale_analyzer_triggers_total":   {"algorithm", tc.triggers},
				"kale_analyzer_anomalies_total":  {"kind", []string{"new", "carried"}},
			} {
				got := labelled(t, reg, family, want.label)
				require.Len(t, got, len(want.values), family)
				for _, v := range want.values {
					require.Contains(t, got, v, family)
					require.Zero(t, got[v], family)
				}
			}
			require.Contains(t, errorKinds, "read")
		})
	}
}

// The cycle document and the counters agree: the trigger counts add up to at least the
// anomalies, new plus carried make the anomalies, and the counters grow by the cycle's counts.
func TestCycleCountsAgreeWithCounters(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	clock := now
	base := noisy(7)
	data := map[string][]byte{"metrics.steady": series(1440, 60, noisy(8))}
	for _, name := range []string{"a", "b", "c"} {
		data["metrics.spike."+name] = series(1440, 60, func(i int) float64 {
			v := base(i)
			if i == 1436 {
				v += 1000
			}
			return v
		})
	}
	require.NoError(t, store.Append(ctx, data, nil).Err)
	a, reg := newAnalyzer(t, store, func(c *Config) {
		c.Detector, c.Kale, c.KaleThreshold = DetectorKale, algorithms.DefaultKaleConfig(), 0.66
		c.ColdRows = -1 // learn from the whole stored day in the first cycle, as the checks below assume
		c.Now = func() time.Time { return clock }
	})
	e := redisstore.NewEncoder()
	var sumAnomalies, sumNew, sumCarried, sumTriggers int
	for cycle := range 3 {
		if cycle > 0 { // one new ordinary point per metric and minute
			clock = clock.Add(time.Minute)
			next := map[string][]byte{}
			for k := range data {
				next[k] = e.AppendPair(nil, metric.Int(clock.Unix()), metric.Float(100))
			}
			require.NoError(t, store.Append(ctx, next, nil).Err)
		}
		st, err := a.Cycle(ctx)
		require.NoError(t, err)
		require.Equal(t, 3, st.Anomalies, "cycle %d", cycle)
		require.Equal(t, st.Anomalies, st.AnomaliesNew+st.AnomaliesCarried, "cycle %d", cycle)
		require.GreaterOrEqual(t, sum(st.Triggers), st.Anomalies, "cycle %d", cycle)
		if cycle == 0 {
			require.Equal(t, 3, st.AnomaliesNew)
		} else {
			require.Equal(t, 3, st.AnomaliesCarried, "cycle %d", cycle)
		}
		cur, err := LoadCurrent(ctx, store.Client())
		require.NoError(t, err)
		require.Equal(t, st.Triggers, cur.Cycle.Triggers, "the stored document")
		require.Equal(t, st.AnomaliesCarried, cur.Cycle.AnomaliesCarried)

		sumAnomalies += st.Anomalies
		sumNew += st.AnomaliesNew
		sumCarried += st.AnomaliesCarried
		sumTriggers += st.Triggers[DetectorKale]
		require.Equal(t, map[string]float64{"new": float64(sumNew), "carried": float64(sumCarried)},
			labelled(t, reg, "kale_analyzer_anomalies_total", "kind"))
		require.InDelta(t, float64(sumTriggers), testutil.ToFloat64(a.m.triggers.WithLabelValues(DetectorKale)), 0)
		require.GreaterOrEqual(t, sumTriggers, sumAnomalies)
	}
}
