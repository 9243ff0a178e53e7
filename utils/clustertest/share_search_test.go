package clustertest

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/analyzer"
	"github.com/kale-project/kale/oculus"
	"github.com/kale-project/kale/oculus/collectionstore"
	"github.com/kale-project/kale/oculus/indexstore"
	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
)

// openCluster starts a 3-master cluster without replicas and opens a store on it.
func openCluster(t *testing.T) (*redistest.Cluster, *redisstore.Store) {
	t.Helper()
	cl := redistest.StartCluster(t, 3, 0)
	store, err := redisstore.Open(cl.URL, redisstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	require.NoError(t, store.Ping(context.Background()))
	return cl, store
}

// put writes name → values (one point a minute, the last one now) to the full namespace in
// batches of 2,000 keys.
func put(t *testing.T, store *redisstore.Store, series map[string][]float64) {
	t.Helper()
	enc := redisstore.NewEncoder()
	end := time.Now().Unix()
	data := make(map[string][]byte, 2000)
	flush := func() {
		require.NoError(t, store.Append(context.Background(), data, nil).Err)
		clear(data)
	}
	for name, vals := range series {
		var b []byte
		for i, v := range vals {
			b = enc.AppendPair(b, metric.Int(end-int64(len(vals)-1-i)*60), metric.Float(v))
		}
		data[store.FullKey(name)] = b
		if len(data) == 2000 {
			flush()
		}
	}
	flush()
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// Two analyzers against one 3-master cluster analyse each of 20,000 metrics exactly once per
// cycle; one of them killed in the middle of a cycle (no Leave: its lease expires) loses no
// metric in the survivor's next cycle.
func TestTwoAnalyzersShareOneCycleOnCluster(t *testing.T) {
	_, store := openCluster(t)
	ctx := context.Background()
	const total, points = 20_000, 30
	t0 := time.Now()
	rng := rand.New(rand.NewPCG(1, 2))
	series := make(map[string][]float64, total)
	for i := range total {
		vals := make([]float64, points)
		for j := range vals {
			vals[j] = 100 + rng.NormFloat64()
		}
		series[fmt.Sprintf("share.host%03d.m%03d", i/100, i%100)] = vals
	}
	put(t, store, series)
	t.Logf("wrote %d metrics × %d points in %v", total, points, time.Since(t0))

	const lease = 2 * time.Second
	newMember := func(id string) *analyzer.Analyzer {
		a, err := analyzer.New(analyzer.Options{
			Config: analyzer.Config{Detector: analyzer.DetectorSkyline, Settings: algorithms.DefaultSettings(), Workers: 4,
				AnomalyHistory: time.Hour, ID: id, Lease: lease},
			Store: store, Registry: prometheus.NewRegistry(), Log: slog.New(slog.DiscardHandler),
		})
		require.NoError(t, err)
		return a
	}
	a, b := newMember("analyzer-a"), newMember("analyzer-b")
	require.NoError(t, a.Join(ctx))
	require.NoError(t, b.Join(ctx))
	members, err := a.Members(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"analyzer-a", "analyzer-b"}, members)

	// One cycle, both analyzers at once.
	var stA, stB analyzer.CycleStats
	var errA, errB error
	var wg sync.WaitGroup
	t1 := time.Now()
	wg.Go(func() { stA, errA = a.Cycle(ctx) })
	wg.Go(func() { stB, errB = b.Cycle(ctx) })
	wg.Wait()
	t.Logf("shared cycle: %v; a assigned %d (analysed %d, exceptions %v), b assigned %d (analysed %d, exceptions %v)",
		time.Since(t1), stA.Assigned, stA.Analysed, stA.Exceptions, stB.Assigned, stB.Analysed, stB.Exceptions)
	require.NoError(t, errA)
	require.NoError(t, errB)
	for _, st := range []analyzer.CycleStats{stA, stB} {
		require.Equal(t, total, st.Metrics)
		require.Equal(t, 2, st.Instances, "%s saw both members", st.Instance)
		require.Equal(t, st.Assigned, st.Analysed+sum(st.Exceptions), "%s: each assigned metric analysed or excepted once", st.Instance)
		require.InDelta(t, total/2, st.Assigned, total/10, "%s got a fair share", st.Instance)
		require.Zero(t, st.Errors)
	}
	require.Equal(t, total, stA.Assigned+stB.Assigned, "no metric missed, none assigned twice")
	cur, err := analyzer.LoadCurrent(ctx, store.Client())
	require.NoError(t, err)
	require.Equal(t, total, cur.Cycle.Metrics)
	require.Equal(t, total, cur.Cycle.Assigned, "the merged document counts both shares")
	require.Equal(t, total, cur.Cycle.Analysed+sum(cur.Cycle.Exceptions))
	require.Equal(t, 2, cur.Cycle.Instances)

	// Next cycle: b is killed in the middle of it (its context ends, it never calls Leave
	// nor another Cycle), a finishes its share; once b's lease has expired, a's next cycle
	// covers every metric.
	kill, killB := context.WithCancel(ctx)
	wg.Go(func() { _, errB = b.Cycle(kill) })
	time.AfterFunc(30*time.Millisecond, killB)
	stA, errA = a.Cycle(ctx)
	wg.Wait()
	killB()
	require.NoError(t, errA)
	require.Equal(t, 2, stA.Instances)
	require.Less(t, stA.Assigned, total)
	t.Logf("b killed mid-cycle (its cycle returned %v)", errB)
	time.Sleep(lease + 100*time.Millisecond)
	require.NoError(t, a.Join(ctx)) // a alive (its heartbeat, as Run would send; Cycle joins too)
	members, err = a.Members(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"analyzer-a"}, members, "b's lease expired")
	t2 := time.Now()
	st, err := a.Cycle(ctx)
	require.NoError(t, err)
	t.Logf("survivor's cycle over all metrics: %v", time.Since(t2))
	require.Equal(t, 1, st.Instances)
	require.Equal(t, total, st.Assigned, "the dead analyzer's share is picked up in one cycle")
	require.Equal(t, total, st.Analysed+sum(st.Exceptions))
	cur, err = analyzer.LoadCurrent(ctx, store.Client())
	require.NoError(t, err)
	require.Equal(t, 1, cur.Cycle.Instances, "the dead member's part is left out")
	require.Equal(t, total, cur.Cycle.Assigned)
	require.Equal(t, total, cur.Cycle.Analysed+sum(cur.Cycle.Exceptions))
}

// The search path on a cluster: oculus syncs a few hundred series from a 3-master cluster
// into an in-memory index, finds a planted near-duplicate with DTW and Euclidean distance,
// and saves and lists collections there.
func TestSearchOnCluster(t *testing.T) {
	_, store := openCluster(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	walk := func(n int) []float64 {
		out := make([]float64, n)
		v := 0.0
		for i := range out {
			v += rng.NormFloat64()
			out[i] = v
		}
		return out
	}
	const n, length = 300, 120
	series := make(map[string][]float64, n+2)
	for i := range n {
		series[fmt.Sprintf("search.host%02d.m%02d", i/20, i%20)] = walk(length)
	}
	twinA := walk(length)
	twinB := make([]float64, length)
	for i, v := range twinA {
		twinB[i] = v + 0.01*rng.NormFloat64()
	}
	series["search.twin.a"], series["search.twin.b"] = twinA, twinB
	put(t, store, series)

	cfg := oculus.DefaultConfig() // the index in memory
	cfg.Window = 24 * time.Hour
	cfg.SearchTimeout = time.Minute
	log := slog.New(slog.DiscardHandler)
	svc, err := oculus.New(oculus.Options{Config: cfg, Series: store, Collections: collectionstore.New(store.Client(), log),
		State: indexstore.New(store.Client()), Log: log})
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close() })
	_, err = svc.Sync(ctx)
	require.NoError(t, err)

	for _, method := range []string{oculus.MethodDTW, oculus.MethodEuclidean} {
		res, err := svc.Search(ctx, oculus.Query{Metric: "search.twin.a", Method: method, K: 5, IncludeSelf: true})
		require.NoError(t, err, method)
		require.Equal(t, method, res.Method)
		require.Equal(t, n+2, res.Total, "%s: every series synced from the cluster", method)
		require.Len(t, res.Results, 5, method)
		require.Equal(t, "search.twin.a", res.Results[0].Metric, "%s: the query finds itself first", method)
		require.Zero(t, res.Results[0].Distance)
		require.Equal(t, "search.twin.b", res.Results[1].Metric, "%s: the planted twin is the top non-self hit: %+v", method, res.Results)
		require.Less(t, res.Results[1].Distance, res.Results[2].Distance)
	}

	// Collections: kale.collections (a hash) and its version counter on a cluster.
	saved, err := svc.SaveCollection(ctx, "twins", "a <b>planted</b> pair", []string{"search.twin.a", "search.twin.b"})
	require.NoError(t, err)
	require.Len(t, saved.Members, 2)
	_, err = svc.SaveCollection(ctx, "one host", "", []string{"search.host00.m00"})
	require.NoError(t, err)
	all, err := svc.Collections(ctx)
	require.NoError(t, err)
	names := []string{}
	for _, c := range all {
		names = append(names, c.Name)
		if c.Name == "twins" {
			require.Len(t, c.Members, 2)
			require.Len(t, c.Members[0].Points, length)
		}
	}
	require.ElementsMatch(t, []string{"twins", "one host"}, names)
	res, err := svc.Search(ctx, oculus.Query{Metric: "search.twin.a", K: 2, IncludeSelf: true})
	require.NoError(t, err)
	require.Equal(t, []oculus.CollectionMatch{{Collection: "twins", Members: []string{"search.twin.a", "search.twin.b"}}}, res.Collections)
}
