// Package clustertest runs Kale's ingest → analyze → search path against a real 3-master
// Redis Cluster of redis-server processes (utils/redistest.StartCluster): a master failover
// during TCP ingestion, two analyzers sharing a cycle of 20,000 metrics (one killed
// mid-cycle), and oculus sync, search and collections.
package clustertest

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/analyzer"
	"github.com/kale-project/kale/horizon"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
)

// env is a horizon writing to a cluster, with plaintext TCP as its only listener.
type env struct {
	cl    *redistest.Cluster
	store *redisstore.Store
	svc   *horizon.Service
	stop  func()
}

func start(t *testing.T, replicas int) *env {
	t.Helper()
	cl := redistest.StartCluster(t, 3, replicas)
	store, err := redisstore.Open(cl.URL, redisstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	require.NoError(t, store.Ping(context.Background()))
	cfg := horizon.DefaultConfig().Listen("plaintext-tcp")
	cfg.Roomba = false // the tests count every stored point
	cfg.FlushInterval = 50 * time.Millisecond
	svc, err := horizon.New(horizon.Options{Config: cfg, Store: store,
		Registry: prometheus.NewRegistry(), Log: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	e := &env{cl: cl, store: store, svc: svc}
	e.stop = func() {
		cancel()
		require.NoError(t, <-done)
	}
	t.Cleanup(func() {
		if ctx.Err() == nil {
			e.stop()
		}
	})
	return e
}

// count returns the stored datapoints per key, and keys holding a timestamp twice.
func (e *env) count(t *testing.T, keys []string) (total int, dup []string) {
	t.Helper()
	raws, err := e.store.Raw(context.Background(), keys)
	require.NoError(t, err)
	for i, raw := range raws {
		seen := map[float64]bool{}
		redisstore.DecodeSeries(raw, func(p redisstore.Pair) {
			total++
			if seen[p.Timestamp] {
				dup = append(dup, keys[i])
			}
			seen[p.Timestamp] = true
		})
	}
	return total, dup
}

// waitStored waits until want points are stored in keys (or the deadline passes).
func (e *env) waitStored(t *testing.T, keys []string, want int, timeout time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		n, _ := e.count(t, keys)
		if n >= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func metricNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("cluster.host%03d.cpu", i)
	}
	return out
}

// Ingest over plaintext TCP into a 3-master cluster, then one analyzer cycle sees every
// metric exactly once.
func TestIngestAnalyzeOnCluster(t *testing.T) {
	e := start(t, 0)
	names := metricNames(300)
	const points = 40
	now := time.Now().Unix()
	conn, err := net.Dial("tcp", e.svc.Addr("plaintext-tcp"))
	require.NoError(t, err)
	w := bufio.NewWriter(conn)
	for j := range points {
		for i, n := range names {
			v := float64(i%7) + float64(j%5)*0.1
			if j == points-1 && i%50 == 0 {
				v = 1e6 // a spike on some metrics
			}
			fmt.Fprintf(w, "%s %g %d\n", n, v, now-int64(points-j)*10)
		}
	}
	require.NoError(t, w.Flush())
	require.NoError(t, conn.Close())

	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = e.store.FullKey(n)
	}
	require.Equal(t, len(names)*points, e.waitStored(t, keys, len(names)*points, 15*time.Second))
	members, err := e.store.Members(context.Background(), "metrics.")
	require.NoError(t, err)
	require.ElementsMatch(t, keys, members)

	a, err := analyzer.New(analyzer.Options{
		Config: analyzer.Config{Detector: analyzer.DetectorSkyline, Settings: algorithms.DefaultSettings(), Workers: 4,
			AnomalyHistory: time.Hour},
		Store: e.store, Registry: prometheus.NewRegistry(), Log: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	st, err := a.Cycle(context.Background())
	require.NoError(t, err)
	require.Equal(t, len(names), st.Metrics)
	seen := st.Analysed
	for _, n := range st.Exceptions {
		seen += n
	}
	require.Equal(t, len(names), seen, "every metric analysed or excepted exactly once: %+v", st)
	require.Zero(t, st.Errors)
	cur, err := analyzer.LoadCurrent(context.Background(), e.store.Client())
	require.NoError(t, err)
	require.Len(t, cur.Anomalies, st.Anomalies)
}

// A coordinated master failover (CLUSTER FAILOVER on a replica) in the middle of TCP
// ingestion loses no datapoint and stores none twice.
func TestFailoverDuringIngestion(t *testing.T) {
	e := start(t, 1)
	names := metricNames(200)
	const points = 60 // 12,000 datapoints
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = e.store.FullKey(n)
	}
	now := time.Now().Unix()
	conn, err := net.Dial("tcp", e.svc.Addr("plaintext-tcp"))
	require.NoError(t, err)
	w := bufio.NewWriter(conn)
	send := func(j int) {
		for i, n := range names {
			fmt.Fprintf(w, "%s %d %d\n", n, i*1000+j, now-600+int64(j))
		}
		require.NoError(t, w.Flush())
	}
	var old, promoted string
	for j := 0; j < points; j++ {
		send(j)
		time.Sleep(10 * time.Millisecond) // spread the sending over several flushes
		if j == points/2 {
			// Fail over the master of the first metric while points keep coming.
			done := make(chan struct{})
			go func() {
				defer close(done)
				old, promoted = e.cl.Failover(t, keys[0])
			}()
			for running := true; running && j+1 < points; {
				select {
				case <-done:
					running = false
				case <-time.After(20 * time.Millisecond):
					j++
					send(j)
				}
			}
			<-done
			require.NotEmpty(t, promoted, "the failover failed")
		}
	}
	require.NoError(t, conn.Close())
	sent := len(names) * points
	stored := e.waitStored(t, keys, sent, 20*time.Second)
	total, dup := e.count(t, keys)
	t.Logf("failover %s → %s; sent %d, stored %d, keys with a duplicated timestamp: %d", old, promoted, sent, total, len(dup))
	require.Equal(t, sent, stored, "no datapoint lost")
	require.Empty(t, dup, "no datapoint stored twice")
	m, _ := e.cl.MasterOf(t, keys[0])
	require.Equal(t, promoted, m)
	members, err := e.store.Members(context.Background(), "metrics.")
	require.NoError(t, err)
	require.ElementsMatch(t, keys, members)
}
