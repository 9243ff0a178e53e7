package webapp

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/analyzer"
	"github.com/kale-project/kale/analyzer/recordstore"
	"github.com/kale-project/kale/utils/config"
	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
)

// Performance bars of issue 6, measured on a real redis-server holding 100,000 metrics and
// 1,000 current anomalies: dashboard first paint ≤ 300 ms and search result page ≤ 500 ms of
// server time.
//
//	go test ./webapp/ -run '^$' -bench Webapp100k -benchtime 20x
//
// BenchmarkWebapp100k includes the real oculus index (its sync of 100,000 series takes a
// while); set KALE_BENCH_NO_OCULUS=1 to measure the pages without it.

const (
	benchMetrics   = 100_000
	benchAnomalies = 1_000
	benchPoints    = 120 // two hours at one point a minute: enough for the search window
)

func benchName(i int) string {
	return fmt.Sprintf("bench.svc%03d.host%02d.m%d", i%500, (i/500)%40, i)
}

// seedBench writes metrics series of benchPoints points and an anomaly document of
// anomalies records (spread over the metrics).
func seedBench(tb testing.TB, store *redisstore.Store, now time.Time, metrics, anomalies int) {
	tb.Helper()
	ctx := context.Background()
	end := now.Unix() / 60 * 60
	enc := redisstore.NewEncoder()
	rng := rand.New(rand.NewPCG(1, 2))
	const chunk = 5000
	for start := 0; start < metrics; start += chunk {
		data := make(map[string][]byte, chunk)
		for i := start; i < min(start+chunk, metrics); i++ {
			b := make([]byte, 0, benchPoints*14)
			level, phase, amp := 100*rng.Float64()+1, rng.Float64()*2*math.Pi, rng.Float64()*20
			for p := range benchPoints {
				ts := end - int64(benchPoints-1-p)*60
				v := level + amp*math.Sin(phase+float64(p)/10) + rng.NormFloat64()
				b = enc.AppendPair(b, metric.Int(ts), metric.Float(math.Round(v*1000)/1000))
			}
			data[store.FullKey(benchName(i))] = b
		}
		require.NoError(tb, store.Append(ctx, data, nil).Err)
	}
	recs := make([]analyzer.Record, anomalies)
	for i := range recs {
		recs[i] = analyzer.Record{Metric: benchName(i * metrics / anomalies), Value: analyzer.Float(rng.Float64() * 100), Timestamp: end,
			Triggered: []string{"grubbs", "histogram_bins", "ks_test", "least_squares", "median_absolute_deviation", "stddev_from_average"},
			Score:     analyzer.Float(6.0 / 9)}
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Metric < recs[j].Metric })
	st := analyzer.CycleStats{Started: now.UTC(), DurationS: 4.2, Metrics: metrics, Analysed: metrics, Anomalies: anomalies,
		Exceptions: map[string]int{}, Triggers: map[string]int{}}
	cur, err := json.Marshal(analyzer.Current{Anomalies: recs, Cycle: st})
	require.NoError(tb, err)
	cyc, err := json.Marshal(st)
	require.NoError(tb, err)
	require.NoError(tb, store.Client().Set(ctx, analyzer.KeyCurrent, cur, 0).Err())
	require.NoError(tb, store.Client().Set(ctx, analyzer.KeyCycle, cyc, 0).Err())
	require.NoError(tb, store.Client().Set(ctx, analyzer.KeyDump, analyzer.Dump(recs), 0).Err())
}

func BenchmarkWebapp100k(b *testing.B) {
	srv := redistest.Start(b)
	cfg := config.DefaultConfig()
	cfg.Redis, cfg.OculusIndex = srv.URL(), ""
	cfg.SearchRate, cfg.SearchBurst = 1e9, 1e9
	store, err := redisstore.Open(cfg.Redis, redisstore.Options{})
	require.NoError(b, err)
	defer store.Close()
	t0 := time.Now()
	seedBench(b, store, time.Now(), benchMetrics, benchAnomalies)
	b.Logf("seeded %d metrics and %d anomalies in %v", benchMetrics, benchAnomalies, time.Since(t0).Round(time.Millisecond))

	opts := Options{Config: configOf(cfg), Store: store, Records: recordstore.New(store.Client()), Registry: prometheus.NewRegistry(), Log: slog.New(slog.DiscardHandler)}
	if os.Getenv("KALE_BENCH_NO_OCULUS") == "" {
		oc := newOculus(b, cfg, store)
		defer oc.Close()
		t0 = time.Now()
		_, err := oc.Sync(context.Background())
		require.NoError(b, err)
		b.Logf("oculus indexed %d series in %v", benchMetrics, time.Since(t0).Round(time.Millisecond))
		opts.Search, opts.Collections = oc, oc
	}
	s, err := New(opts)
	require.NoError(b, err)
	h := s.Handler()

	for _, c := range []struct{ name, path string }{
		{"dashboard", "/"},
		{"anomalies-api", "/api/v1/anomalies"},
		{"search-page", "/search?search_type=DTW&query=" + benchName(4242)},
		{"search-page-fastdtw", "/search?search_type=FastDTW&query=" + benchName(4242)},
		{"search-page-euclidean-drawn", "/search?search_type=Euclidean&draw_values=1,2,3,5,8,13,21,34,55,89,55,34,21,13,8,5,3,2,1"},
		{"metric-page", "/metric/" + benchName(97)},
		{"autocomplete", "/api/v1/metrics?q=bench.svc042.&limit=20"}, // what the UI sends: one pass over the names
		{"metrics-prefix", "/api/v1/metrics?prefix=bench.svc042.&limit=20"},
		{"sparklines-50", "/api/v1/sparklines?" + sparkQuery(50)},
		{"status", "/status"},
	} {
		if opts.Search == nil && (c.name == "search-page" || c.name == "search-page-fastdtw" || c.name == "search-page-euclidean-drawn") {
			continue
		}
		b.Run(c.name, func(b *testing.B) {
			serve(b, h, c.path) // warm: the name cache, connections
			b.ReportAllocs()
			durations := make([]time.Duration, 0, b.N)
			for b.Loop() {
				t := time.Now()
				serve(b, h, c.path)
				durations = append(durations, time.Since(t))
			}
			sort.Slice(durations, func(i, j int) bool { return durations[i] < durations[j] })
			p := func(q float64) float64 {
				return float64(durations[min(len(durations)-1, int(q*float64(len(durations))))].Microseconds()) / 1000
			}
			b.ReportMetric(p(0.5), "p50-ms")
			b.ReportMetric(p(0.95), "p95-ms")
		})
	}
}

func sparkQuery(n int) string {
	q := ""
	for i := range n {
		if i > 0 {
			q += "&"
		}
		q += "metric=" + benchName(i*97)
	}
	return q
}

func serve(b *testing.B, h http.Handler, path string) {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("%s: %d %s", path, rec.Code, rec.Body.String()[:min(rec.Body.Len(), 500)])
	}
}
