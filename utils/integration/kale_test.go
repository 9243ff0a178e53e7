// Package integration drives Kale's ingest listeners with real senders: a real prometheus
// binary that scrapes Kale's /metrics and remote-writes to it, a StatsD client library and
// the InfluxDB v2 client library, each against horizon running in-process on free loopback
// ports and a real redis-server (utils/redistest). It holds tests only; they run in make
// test. Outside CI a missing binary skips a test with a reason; in CI (CI=true) it fails it.
package integration

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kale-project/kale/horizon"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
)

// bleve (imported through the webapp by the compat test) starts its analysis workers at init.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/blevesearch/bleve_index_api.AnalysisWorker"))
}

// kale is a running horizon with its self-metrics served on /metrics, as kale all serves
// them (utils/cmd/kale/serve.go).
type kale struct {
	svc     *horizon.Service
	store   *redisstore.Store
	reg     *prometheus.Registry
	metrics string // host:port of the /metrics server
}

// startKale runs horizon with the given listeners on free loopback ports, writing to a fresh
// redis-server, and a /metrics server on another free port; all stop when the test ends.
func startKale(t *testing.T, mod func(*horizon.Config), protocols ...string) *kale {
	t.Helper()
	srv := redistest.Start(t)
	store, err := redisstore.Open(srv.URL(), redisstore.Options{})
	require.NoError(t, err)
	cfg := horizon.DefaultConfig().Listen(protocols...)
	cfg.FlushInterval = 50 * time.Millisecond
	cfg.Roomba = false
	if mod != nil {
		mod(&cfg)
	}
	reg := prometheus.NewRegistry()
	svc, err := horizon.New(horizon.Options{Config: cfg, Store: store, Registry: reg,
		Log: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(l) }()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		require.NoError(t, hs.Close())
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("cannot serve /metrics: %v", err)
		}
		_ = store.Close()
	})
	return &kale{svc: svc, store: store, reg: reg, metrics: l.Addr().String()}
}

// waitSeries polls Redis until the series name satisfies ok, and returns its points; it
// fails the test after timeout with the last points seen.
func (k *kale) waitSeries(t *testing.T, name string, timeout time.Duration, ok func([]redisstore.Pair) bool) []redisstore.Pair {
	t.Helper()
	var p []redisstore.Pair
	deadline := time.Now().Add(timeout)
	for {
		p, _, _ = k.store.Series(context.Background(), name)
		if len(p) > 0 && ok(p) {
			return p
		}
		if time.Now().After(deadline) {
			members, _ := k.store.Members(context.Background(), k.store.Options().FullNamespace)
			t.Fatalf("series %q not as expected within %v: points %v; stored series %q", name, timeout, p, members)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// counter is the value of a counter or gauge of the registry with the given labels, summed
// over the series that match them; 0 when there is none.
func (k *kale) counter(t *testing.T, name string, pairs ...string) float64 {
	t.Helper()
	mfs, err := k.reg.Gather()
	require.NoError(t, err)
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i+1 < len(pairs); i += 2 {
				if labels[pairs[i]] != pairs[i+1] {
					continue next
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// lookPath finds a sender's binary: outside CI a missing one skips the test, in CI it fails
// it, because .ci/run installs it.
func lookPath(t *testing.T, name, pkg string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed, and CI=true: .ci/run must install it (apt-get install %s)", name, pkg)
		}
		t.Skipf("%s is not installed (apt-get install %s); skipping the integration test", name, pkg)
	}
	return bin
}

func sum(p []redisstore.Pair) (s float64) {
	for _, x := range p {
		s += x.Value
	}
	return s
}
