package analyzer

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
)

// residentPerMetric loads n metrics of rows points into a kale analyzer, runs one cycle (and
// refines the young detectors when refine is set) and returns the heap the analyzer holds
// per metric afterwards (runtime.MemStats, after a GC) and the mean serialised state.
func residentPerMetric(t testing.TB, n, rows int, refine bool) (perMetric, blob float64) {
	srv := redistest.Start(t)
	store, err := redisstore.Open(srv.URL(), redisstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	ctx := context.Background()
	e := redisstore.NewEncoder()
	batch := map[string][]byte{}
	for m := range n {
		var raw []byte
		for i := range rows {
			v := 100 + 20*math.Sin(2*math.Pi*float64(i)/1440+float64(m)) + float64((m*31+i*17)%13)
			raw = e.AppendPair(raw, metric.Int(now.Unix()-int64(rows-1-i)*60), metric.Float(v))
		}
		batch[fmt.Sprintf("metrics.resident.host%04d.m%02d", m/100, m%100)] = raw
		if len(batch) == 500 || m == n-1 {
			require.NoError(t, store.Append(ctx, batch, nil).Err)
			batch = map[string][]byte{}
		}
	}
	a, _ := newAnalyzer(t, store, func(c *Config) {
		c.Detector, c.Kale, c.KaleThreshold = DetectorKale, algorithms.DefaultKaleConfig(), 0.66
		c.Workers = 2
	})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err = a.Cycle(ctx)
	require.NoError(t, err)
	if refine {
		_, err = a.refine(ctx, time.Now().Add(time.Hour))
		require.NoError(t, err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	all, young, _ := a.states.sweep(a.cycles)
	require.Equal(t, n, all)
	if refine {
		require.Zero(t, young)
	}
	total := 0
	for i := range a.states.shards {
		for _, ms := range a.states.shards[i].m {
			total += len(ms.blob)
		}
	}
	runtime.KeepAlive(a)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n), float64(total) / float64(n)
}

// The analyzer holds little more per metric than the serialised detector state: the
// metricState, its map entry and the metric's name.
func TestResidentBytesPerMetric(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 5,000 metrics")
	}
	for _, refine := range []bool{false, true} {
		per, blob := residentPerMetric(t, 5000, 1440, refine)
		t.Logf("refined %v: %.0f bytes resident per metric, of which %.0f the serialised detector", refine, per, blob)
		require.Less(t, per, blob+600, "overhead per metric beyond the serialised state")
	}
}

// BenchmarkResidentBytesPerMetric reports the analyzer's heap per metric with the kale
// detector over KALE_BENCH_METRICS metrics (default 20,000) of a day at 60 s, after the cold
// cycle and after refinement.
func BenchmarkResidentBytesPerMetric(b *testing.B) {
	n := benchMetrics(b, 20_000)
	for b.Loop() {
		per, blob := residentPerMetric(b, n, 1440, false)
		b.ReportMetric(per, "B/metric-young")
		b.ReportMetric(blob, "B/state-young")
		per, blob = residentPerMetric(b, n, 1440, true)
		b.ReportMetric(per, "B/metric")
		b.ReportMetric(blob, "B/state")
	}
}
