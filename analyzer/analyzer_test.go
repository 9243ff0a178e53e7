package analyzer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/analyzer/alert"
	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
)

var now = time.Unix(1_700_000_000, 0)

func series(n int, step int64, value func(i int) float64) []byte {
	var b []byte
	e := redisstore.NewEncoder()
	end := now.Unix()
	for i := range n {
		b = e.AppendPair(b, metric.Int(end-int64(n-1-i)*step), metric.Float(value(i)))
	}
	return b
}

func noisy(seed uint64) func(int) float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	return func(int) float64 { return 100 + r.NormFloat64() }
}

type recorder struct {
	mu   sync.Mutex
	got  [][]alert.Anomaly
	fail bool
}

func (r *recorder) Dispatch(_ context.Context, a []alert.Anomaly) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, a)
	if r.fail {
		return errors.New("redis is gone")
	}
	return nil
}

type brokenGraphite struct{ calls int }

func (g *brokenGraphite) Send(context.Context, map[string]float64, time.Time) error {
	g.calls++
	return errors.New("connection refused")
}

func newAnalyzer(t testing.TB, store *redisstore.Store, mod func(*Config)) (*Analyzer, *prometheus.Registry) {
	t.Helper()
	// One id for every analyzer of a test: a second analyzer built on the same store replaces
	// the first instead of sharing the cycle with its still-live lease.
	cfg := Config{Settings: algorithms.DefaultSettings(), Workers: 3, AnomalyHistory: 24 * time.Hour,
		ID: "test", Now: func() time.Time { return now }}
	if mod != nil {
		mod(&cfg)
	}
	reg := prometheus.NewRegistry()
	a, err := New(Options{Config: cfg, Store: store, Registry: reg, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	return a, reg
}

func openStore(t *testing.T) *redisstore.Store {
	srv := redistest.Start(t)
	s, err := redisstore.Open(srv.URL(), redisstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestCycle(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	spike := noisy(2)
	data := map[string][]byte{
		"metrics.ok": series(1440, 60, noisy(1)),
		"metrics.spike": series(1440, 60, func(i int) float64 {
			v := spike(i)
			if i >= 1437 {
				v += 500
			}
			return v
		}),
		"metrics.stale":        append([]byte{}, series(100, 60, noisy(3))[:0]...),
		"metrics.flat":         series(1440, 60, func(int) float64 { return 7 }),
		"metrics.corrupt.tail": append(series(1440, 60, noisy(4)), 0xc1, 0xc1, 0x92, 0xcb),
		"metrics.nan": series(1440, 60, func(i int) float64 {
			if i%7 == 0 {
				return math.NaN()
			}
			return float64(i % 10)
		}),
	}
	// A series whose last point is 20 minutes old.
	var stale []byte
	e := redisstore.NewEncoder()
	for i := range 100 {
		stale = e.AppendPair(stale, metric.Int(now.Unix()-1200-int64(100-i)*60), metric.Float(float64(i)))
	}
	data["metrics.stale"] = stale
	require.NoError(t, store.Append(ctx, data, []string{"metrics.vanished"}).Err)

	rec := &recorder{}
	g := &brokenGraphite{}
	a, _ := newAnalyzer(t, store, nil)
	a.alerter, a.graphite = rec, g
	dump := filepath.Join(t.TempDir(), "anomalies.json")
	a.cfg.AnomalyDump = dump

	st, err := a.Cycle(ctx)
	require.NoError(t, err)
	require.Equal(t, 7, st.Metrics)
	require.Equal(t, map[string]int{Stale: 1, Boring: 1, DeletedByRoomba: 1}, st.Exceptions)
	require.Equal(t, 4, st.Analysed)
	require.Equal(t, st.Metrics, st.Analysed+sum(st.Exceptions), "every metric is analysed or skipped exactly once")
	require.Equal(t, 1, st.Anomalies)
	require.Equal(t, 1, g.calls, "a failing Graphite costs nothing but a counted error")

	cur, err := LoadCurrent(ctx, store.Client())
	require.NoError(t, err)
	require.Len(t, cur.Anomalies, 1)
	r := cur.Anomalies[0]
	require.Equal(t, "spike", r.Metric)
	require.Equal(t, now.Unix(), r.Timestamp)
	require.GreaterOrEqual(t, len(r.Triggered), 6)
	require.InDelta(t, float64(len(r.Triggered))/9, float64(r.Score), 1e-12)
	require.Equal(t, st.Metrics, cur.Cycle.Metrics)

	dumpRedis, err := store.Client().Get(ctx, KeyDump).Result()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(dumpRedis, `handle_data([[`), dumpRedis)
	require.True(t, strings.HasSuffix(dumpRedis, `, "spike"]])`), dumpRedis)
	file, err := os.ReadFile(dump)
	require.NoError(t, err)
	require.Equal(t, dumpRedis, string(file))

	for _, k := range []string{KeyHistory, KeyMetricPrefix + "spike"} {
		n, err := store.Client().ZCard(ctx, k).Result()
		require.NoError(t, err)
		require.EqualValues(t, 1, n, k)
	}
	require.Len(t, rec.got, 1)
	require.Equal(t, "spike", rec.got[0][0].Metric)

	// The same anomaly in the next cycle does not grow the history; a failing alert
	// de-duplication is counted and the cycle completes.
	rec.fail = true
	st, err = a.Cycle(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, st.Errors)
	n, err := store.Client().ZCard(ctx, KeyHistory).Result()
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
}

func TestEveryKeyOnceWithManyWorkers(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	data := map[string][]byte{}
	for i := range 1003 {
		data[fmt.Sprintf("metrics.m.%04d", i)] = series(60, 60, noisy(uint64(i)))
	}
	require.NoError(t, store.Append(ctx, data, nil).Err)
	for _, workers := range []int{1, 4, 7} {
		a, _ := newAnalyzer(t, store, func(c *Config) { c.Workers = workers })
		st, err := a.Cycle(ctx)
		require.NoError(t, err)
		require.Equal(t, 1003, st.Metrics)
		require.Equal(t, 1003, st.Analysed+sum(st.Exceptions), "workers=%d", workers)
		total := 0
		for _, n := range st.Triggers {
			total += n
		}
		require.Positive(t, total)
	}
}

func TestUnsortedSeriesIsSorted(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	// Arrival order differs from time order (before Roomba passes): the newest point
	// arrived first; Stale must look at the newest timestamp, not the last arrival.
	raw := series(200, 60, noisy(9))
	first := raw[:15]
	rest := raw[15:]
	last := redisstore.AppendPair(nil, metric.Int(now.Unix()+1), metric.Float(100))
	unsorted := append(append(append([]byte{}, last...), rest...), first...)
	require.NoError(t, store.Append(ctx, map[string][]byte{"metrics.unsorted": unsorted}, nil).Err)
	a, _ := newAnalyzer(t, store, nil)
	st, err := a.Cycle(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, st.Analysed, "%v", st.Exceptions)
}

func TestSecondOrder(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	a, _ := newAnalyzer(t, store, func(c *Config) { c.SecondOrder = true })
	ok, err := a.secondOrder(ctx, "metrics.x", float64(now.Unix()), 5)
	require.NoError(t, err)
	b, err := store.Client().Get(ctx, "trigger_history.metrics.x").Bytes()
	require.NoError(t, err, "the trigger history is stored in Skyline's key")
	require.NotEmpty(t, b)
	_ = ok
	// Garbage in the key is a counted error, not a crash.
	require.NoError(t, store.Client().Set(ctx, "trigger_history.metrics.y", "\xc1\xc1", 0).Err())
	_, err = a.secondOrder(ctx, "metrics.y", float64(now.Unix()), 5)
	require.ErrorContains(t, err, "cannot decode trigger_history.metrics.y")
}

func TestDump(t *testing.T) {
	require.Equal(t, "handle_data([])", Dump(nil))
	require.Equal(t, `handle_data([[1.5, "a"], [null, "b\"\u003c/script\u003e"]])`,
		Dump([]Record{{Metric: "b\"</script>", Value: Float(math.NaN())}, {Metric: "a", Value: 1.5}}))
	var doc Current
	require.NoError(t, json.Unmarshal([]byte(`{"anomalies":[{"metric":"a","value":null,"timestamp":1,"triggered":["grubbs"],"score":0.5}]}`), &doc))
	require.Equal(t, "a", doc.Anomalies[0].Metric)
}

func TestEmptyStore(t *testing.T) {
	store := openStore(t)
	a, _ := newAnalyzer(t, store, nil)
	st, err := a.Cycle(context.Background())
	require.NoError(t, err)
	require.Zero(t, st.Metrics)
	cur, err := LoadCurrent(context.Background(), store.Client())
	require.NoError(t, err)
	require.Empty(t, cur.Anomalies)
}

func TestSelfTestRejectsUnknownAlgorithm(t *testing.T) {
	store := openStore(t)
	s := algorithms.DefaultSettings()
	s.Algorithms = append(s.Algorithms, "no_such_detector")
	_, err := New(Options{Config: Config{Settings: s}, Store: store, Log: slog.Default()})
	require.ErrorContains(t, err, "no_such_detector")
}
