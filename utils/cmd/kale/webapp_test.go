package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/kale-project/kale/horizon/listener"
	"github.com/kale-project/kale/utils/config"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
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
