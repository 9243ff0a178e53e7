package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/kale-project/kale/horizon/listener"
	"github.com/kale-project/kale/utils/config"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
	"github.com/kale-project/kale/webapp"
)

func TestStartWebapp(t *testing.T) {
	srv := redistest.Start(t)
	c := config.DefaultConfig()
	c.Redis = srv.URL()
	c.Webapp = redistest.FreePort(t, "tcp")
	store, err := redisstore.Open(c.Redis, redisstore.Options{})
	require.NoError(t, err)
	defer store.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	listeners := func() []listener.State {
		return []listener.State{{Protocol: "plaintext-tcp", Addr: "127.0.0.1:2003", Up: true}}
	}
	stopped := make(chan struct{})
	require.NoError(t, startWebapp(gctx, g, c, store, prometheus.NewRegistry(), log, nil, nil, listeners,
		func() { close(stopped) }))

	var body []byte
	require.Eventually(t, func() bool {
		res, err := http.Get("http://" + c.Webapp + "/healthz")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		body, _ = io.ReadAll(res.Body)
		return res.StatusCode == http.StatusOK
	}, 5*time.Second, 20*time.Millisecond)
	require.Contains(t, string(body), `"plaintext-tcp"`)
	res, err := http.Post("http://"+c.Webapp+"/api/v1/search", "application/json", nil)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode, "no oculus in this process")

	select {
	case <-stopped:
		t.Fatal("stopped was called while the webapp serves")
	default:
	}
	cancel()
	require.NoError(t, g.Wait())
	select {
	case <-stopped: // the index behind the search routes may now close
	default:
		t.Fatal("stopped was not called once the webapp had drained")
	}

	// An empty --webapp starts nothing.
	c.Webapp = ""
	g2 := &errgroup.Group{}
	called := false
	require.NoError(t, startWebapp(context.Background(), g2, c, store, prometheus.NewRegistry(), log, nil, nil, nil,
		func() { called = true }))
	require.NoError(t, g2.Wait())
	require.True(t, called, "without a webapp, what waits for it is released at once")
}

// TestWebappConfigMapping checks that every field of webapp.Config is mapped from the process's
// configuration: a field added to webapp.Config but forgotten in webappConfig stays zero.
func TestWebappConfigMapping(t *testing.T) {
	c := config.DefaultConfig()
	c.Webapp, c.WebappMaxConns, c.WebappAllowedHosts = "127.0.0.1:1501", 7, []string{"kale.example.com"}
	c.WebappToken, c.WebappUser, c.WebappPassword = "tok", "ops", "pw"
	c.SearchRate, c.SearchBurst, c.SearchTimeout, c.ShutdownTimeout = 3, 4, 5*time.Second, 6*time.Second
	c.GraphURL, c.FullNamespace, c.Detector = "http://graphite/?target=%s", "full.", "skyline"
	c.FullDuration = 7 * time.Hour
	c.Algorithms, c.Consensus = []string{"grubbs", "ks_test"}, 2
	got := webappConfig(c)
	v := reflect.ValueOf(got)
	for i := range v.NumField() {
		require.False(t, v.Field(i).IsZero(), "webapp.Config.%s is not mapped", v.Type().Field(i).Name)
	}
	require.Equal(t, webapp.Config{
		Addr: "127.0.0.1:1501", MaxConns: 7, AllowedHosts: []string{"kale.example.com"},
		Token: "tok", User: "ops", Password: "pw",
		SearchRate: 3, SearchBurst: 4, SearchTimeout: 5 * time.Second, ShutdownTimeout: 6 * time.Second,
		GraphURL: "http://graphite/?target=%s", FullNamespace: "full.", FullDuration: 7 * time.Hour, Detector: "skyline",
		Algorithms: []string{"grubbs", "ks_test"}, Consensus: 2,
	}, got)
}

// TestWebappHorizonTraffic checks that horizon's listener counters reach the webapp by protocol.
func TestWebappHorizonTraffic(t *testing.T) {
	reg := prometheus.NewRegistry()
	received := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kale_horizon_received_total", Help: "test"}, []string{"protocol"})
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kale_horizon_rejected_total", Help: "test"}, []string{"protocol", "reason"})
	reg.MustRegister(received, rejected)
	received.WithLabelValues("plaintext-tcp").Add(52_340)
	received.WithLabelValues("msgpack-udp").Add(1_200)
	rejected.WithLabelValues("plaintext-tcp", "bad_value").Add(2)
	rejected.WithLabelValues("plaintext-tcp", "too_long").Add(3)
	rec, rej := horizonTraffic(reg)()
	require.Equal(t, map[string]float64{"plaintext-tcp": 52_340, "msgpack-udp": 1_200}, rec)
	require.Equal(t, map[string]float64{"plaintext-tcp": 5}, rej)
}
