package oculus

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/oculus/indexstore"
	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
)

func TestSyncIsIncrementalAndSurvivesRestart(t *testing.T) {
	e := newEnv(t)
	e.cfg.IndexPath = filepath.Join(t.TempDir(), "idx")
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 7))
	corpus := map[string][]float64{}
	for i := range 50 {
		corpus[fmt.Sprintf("app.m%02d", i)] = randomWalk(rng, 100)
	}
	corpus["app.short"] = []float64{1} // one point: not searchable
	e.put(corpus)

	s1, err := New(e.options())
	require.NoError(t, err)
	st, err := s1.Sync(ctx)
	require.NoError(t, err)
	require.Equal(t, SyncStats{Metrics: 51, Indexed: 50, Skipped: 1, Documents: 50}, withoutDuration(st))
	st, err = s1.Sync(ctx)
	require.NoError(t, err)
	require.Equal(t, SyncStats{Metrics: 51, Unchanged: 50, Skipped: 1, Documents: 50}, withoutDuration(st), "nothing changed")
	require.NoError(t, s1.Close())

	// A restart reads the series into memory but re-indexes nothing.
	s2 := e.service()
	st, err = s2.Sync(ctx)
	require.NoError(t, err)
	require.Equal(t, SyncStats{Metrics: 51, Loaded: 50, Skipped: 1, Documents: 50}, withoutDuration(st), "restart")
	res, err := s2.Search(ctx, Query{Metric: "app.m07", K: 1, IncludeSelf: true})
	require.NoError(t, err)
	require.Equal(t, "app.m07", res.Results[0].Metric)

	// One series grows, one vanishes, one appears.
	enc := redisstore.NewEncoder()
	res1 := e.store.Append(ctx, map[string][]byte{
		e.store.FullKey("app.m03"): enc.AppendPair(nil, metric.Int(baseTS+1000), metric.Float(5)),
		e.store.FullKey("app.new"): enc.AppendPair(enc.AppendPair(nil, metric.Int(baseTS), metric.Float(1)), metric.Int(baseTS+1), metric.Float(2)),
	}, nil)
	require.NoError(t, res1.Err)
	rdb := e.store.Client()
	require.NoError(t, rdb.Del(ctx, e.store.FullKey("app.m09")).Err())
	require.NoError(t, rdb.SRem(ctx, "metrics.unique_metrics", e.store.FullKey("app.m09")).Err())
	// A key still listed in the set but gone from Redis counts as vanished too.
	require.NoError(t, rdb.Del(ctx, e.store.FullKey("app.m10")).Err())
	st, err = s2.Sync(ctx)
	require.NoError(t, err)
	require.Equal(t, SyncStats{Metrics: 51, Indexed: 2, Unchanged: 47, Deleted: 2, Skipped: 1, Documents: 49}, withoutDuration(st))
	_, err = s2.Search(ctx, Query{Metric: "app.m09"})
	require.ErrorIs(t, err, ErrNotFound)
	res, err = s2.Search(ctx, Query{Metric: "app.new", K: 1, Length: ptr(0), IncludeSelf: true})
	require.NoError(t, err)
	require.Equal(t, "app.new", res.Results[0].Metric)

	status := s2.Status(ctx)
	require.Equal(t, 49, status.Documents)
	require.Equal(t, e.cfg.IndexPath, status.Path)
	require.Positive(t, status.SizeBytes)
	require.False(t, status.LastImportEnd.IsZero())
	require.False(t, status.Indexing)
	end, err := rdb.Get(ctx, indexstore.KeyImportEnd).Result()
	require.NoError(t, err)
	parsed, err := time.Parse(time.RFC3339Nano, end)
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), parsed, time.Minute)
	docs, err := rdb.Get(ctx, indexstore.KeyDocuments).Int()
	require.NoError(t, err)
	require.Equal(t, 49, docs)

	// Rebuild drops and re-indexes everything.
	require.NoError(t, s2.Rebuild(ctx))
	require.Equal(t, 49, s2.Status(ctx).Documents)
	st, err = s2.Sync(ctx)
	require.NoError(t, err)
	require.Equal(t, 49, st.Unchanged)
	require.NoError(t, s2.Close())

	// Other settings make the stored index unusable: it is rebuilt.
	e.cfg.SearchLength = 128
	s3 := e.service()
	st, err = s3.Sync(ctx)
	require.NoError(t, err)
	require.Equal(t, 49, st.Indexed)
}

func withoutDuration(st SyncStats) SyncStats {
	st.Duration = 0
	return st
}

func TestRunSyncsUntilCancelled(t *testing.T) {
	e := newEnv(t)
	e.cfg.Interval = 50 * time.Millisecond
	rng := rand.New(rand.NewPCG(8, 8))
	e.put(map[string][]float64{"run.a": randomWalk(rng, 30), "run.b": randomWalk(rng, 30)})
	s := e.service()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	require.Eventually(t, func() bool { return len(s.snap.Load().list) == 2 }, 10*time.Second, 10*time.Millisecond)
	e.put(map[string][]float64{"run.c": randomWalk(rng, 30)})
	require.Eventually(t, func() bool { return len(s.snap.Load().list) == 3 }, 10*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	_, err := s.Search(context.Background(), Query{Metric: "run.a"})
	require.ErrorIs(t, err, ErrClosed, "Run closes the index")
}

func TestWindowAndSource(t *testing.T) {
	e := newEnv(t)
	e.cfg.Window = 10 * time.Second
	ctx := context.Background()
	enc := redisstore.NewEncoder()
	var b []byte
	// Out of order and with a duplicate timestamp: sorted, first kept, last 10 s only.
	for _, p := range [][2]float64{{105, 5}, {100, 0}, {101, 1}, {115, 15}, {110, 10}, {110, 99}, {114, 14}} {
		b = enc.AppendPair(b, metric.Int(int64(p[0])), metric.Float(p[1]))
	}
	require.NoError(t, e.store.Append(ctx, map[string][]byte{"metrics.win": b}, nil).Err)
	s := e.synced()
	require.Equal(t, int32(3), s.snap.Load().get("win").n)
	wins, err := s.loadWindows(ctx, []string{"win"})
	require.NoError(t, err)
	require.Equal(t, []float64{10, 14, 15}, wins[0].vals)

	// The mini source reads mini.<name> whole.
	e.cfg.Source = SourceMini
	require.NoError(t, e.store.Append(ctx, map[string][]byte{"mini.win": b}, nil).Err)
	m := e.synced()
	require.Equal(t, int32(6), m.snap.Load().get("win").n)
	wins, err = m.loadWindows(ctx, []string{"win"})
	require.NoError(t, err)
	require.Equal(t, []float64{0, 1, 5, 10, 14, 15}, wins[0].vals)
}

func TestSearchWhileSyncing(t *testing.T) {
	e := newEnv(t)
	rng := rand.New(rand.NewPCG(9, 10))
	corpus := map[string][]float64{}
	for i := range 300 {
		corpus[fmt.Sprintf("cc.m%03d", i)] = randomWalk(rng, 64)
	}
	e.put(corpus)
	reg := prometheus.NewRegistry()
	s, err := New(e.optionsWith(reg))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	_, err = s.Sync(ctx)
	require.NoError(t, err)
	stop := make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		defer close(errs)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.Search(ctx, Query{Metric: "cc.m001", K: 5}); err != nil {
				errs <- err
				return
			}
		}
	}()
	for i := range 5 {
		e.put(map[string][]float64{fmt.Sprintf("cc.m%03d", i): randomWalk(rng, 64)})
		_, err := s.Sync(ctx)
		require.NoError(t, err)
	}
	require.NoError(t, s.Rebuild(ctx))
	close(stop)
	require.NoError(t, <-errs)

	require.Equal(t, 300.0, testutil.ToFloat64(s.m.documents))
	require.Equal(t, 300.0+5+300, testutil.ToFloat64(s.m.reindexed))
	require.Positive(t, testutil.ToFloat64(s.m.searches.WithLabelValues(MethodDTW, "ok")))
	n, err := testutil.GatherAndCount(reg, "kale_oculus_search_seconds", "kale_oculus_sync_seconds")
	require.NoError(t, err)
	require.Equal(t, 3+1, n, "a search histogram per method (pre-initialised), one sync histogram")
	_, err = New(e.optionsWith(reg))
	require.ErrorContains(t, err, "cannot register", "a second service on the same registry")
}
