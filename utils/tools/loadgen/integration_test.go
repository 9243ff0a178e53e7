package loadgen

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/horizon"
	"github.com/kale-project/kale/horizon/protocol"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
)

// startHorizon runs a horizon with all five listeners on free loopback ports, writing to a
// fresh redis-server; it stops when the test ends.
func startHorizon(t *testing.T) (*horizon.Service, *redistest.Server) {
	t.Helper()
	return startHorizonWith(t, horizon.DefaultConfig().Listen(horizon.Protocols...))
}

// startHorizonWith runs a horizon of cfg writing to a fresh redis-server.
func startHorizonWith(t *testing.T, cfg horizon.Config) (*horizon.Service, *redistest.Server) {
	t.Helper()
	srv := redistest.Start(t)
	store, err := redisstore.Open(srv.URL(), redisstore.Options{})
	require.NoError(t, err)
	svc, err := horizon.New(horizon.Options{Config: cfg, Store: store,
		Log: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		_ = store.Close()
	})
	return svc, srv
}

// 20,000 datapoints over each protocol at a modest rate all reach Redis: no loss over TCP,
// next to none over loopback UDP.
func TestLoadgenIntoHorizon(t *testing.T) {
	svc, srv := startHorizon(t)
	for _, tc := range []struct {
		scheme, option string
		maxLossPct     float64
	}{
		{"pickle", "pickle-tcp", 0},
		{"pickle-udp", "pickle-udp", 2},
		{"msgpack", "msgpack-udp", 2},
		{"plaintext", "plaintext-tcp", 0},
		{"plaintext-udp", "plaintext-udp", 2},
	} {
		t.Run(tc.option, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			rep, err := Run(context.Background(), Options{
				Target: tc.scheme + "://" + svc.Addr(tc.option), Metrics: 200, Rate: 20_000, Duration: time.Second,
				Prefix: "lg." + tc.option + ".", VerifyRedis: srv.URL(), VerifyIdle: time.Second, VerifyTimeout: 10 * time.Second,
				Progress: -1,
			}, &out)
			require.NoError(t, err, out.String())
			require.Equal(t, int64(20_000), rep.Sent)
			require.True(t, rep.Verified)
			require.LessOrEqual(t, rep.LossPct(), tc.maxLossPct, out.String())
			if tc.maxLossPct == 0 {
				require.Equal(t, rep.Sent, rep.Stored)
			}
			require.Contains(t, out.String(), "verified in Redis: stored")
			t.Log(rep)
		})
	}
}

// A second run under the same prefix counts only its own datapoints, and each metric's
// timestamps stay unique across runs (nothing for Roomba to deduplicate).
func TestLoadgenVerifyIsRelative(t *testing.T) {
	svc, srv := startHorizon(t)
	o := Options{Target: "pickle://" + svc.Addr("pickle-tcp"), Metrics: 50, Rate: 10_000, Duration: 300 * time.Millisecond,
		VerifyRedis: srv.URL(), VerifyIdle: time.Second, Progress: -1}
	for range 2 {
		var out bytes.Buffer
		rep, err := Run(context.Background(), o, &out)
		t.Log(out.String())
		require.NoError(t, err)
		require.Equal(t, int64(3000), rep.Sent)
		require.Equal(t, int64(3000), rep.Stored)
	}
	store, err := redisstore.Open(srv.URL(), redisstore.Options{})
	require.NoError(t, err)
	defer store.Close()
	pairs, _, err := store.Series(context.Background(), "loadgen.000007")
	require.NoError(t, err)
	require.Len(t, pairs, 120)
	seen := map[float64]bool{}
	for _, p := range pairs {
		require.False(t, seen[p.Timestamp], "timestamp %v twice", p.Timestamp)
		seen[p.Timestamp] = true
		require.GreaterOrEqual(t, p.Timestamp, float64(time.Now().Add(-time.Minute).Unix()))
	}
}

// The HTTP formats reach Redis without loss under their tagged names (remote_write and
// Influx v1 and v2 share the ingest-http listener); StatsD gauges arrive as one aggregate per
// metric per flush, which verification does not count but the store shows.
func TestLoadgenIntoHorizonNewFormats(t *testing.T) {
	cfg := horizon.DefaultConfig().Listen(protocol.IngestHTTP, protocol.StatsdUDP)
	cfg.StatsdFlush = 200 * time.Millisecond
	svc, srv := startHorizonWith(t, cfg)
	for _, scheme := range []string{"remote-write", "influx", "influx-v1"} {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			rep, err := Run(context.Background(), Options{
				Target: scheme + "://" + svc.Addr(protocol.IngestHTTP), Metrics: 200, Rate: 20_000, Duration: time.Second,
				Prefix: "lg." + scheme + ".", VerifyRedis: srv.URL(), VerifyIdle: time.Second, VerifyTimeout: 10 * time.Second,
				Progress: -1,
			}, &out)
			require.NoError(t, err, out.String())
			require.Equal(t, int64(20_000), rep.Sent)
			require.GreaterOrEqual(t, rep.Payloads, int64(10)) // paced: what is due per 5 ms slice, at most 2,000
			require.True(t, rep.Verified)
			require.Equal(t, rep.Sent, rep.Stored, out.String())
			t.Log(rep)
		})
	}
	t.Run("statsd", func(t *testing.T) {
		t.Parallel()
		var out bytes.Buffer
		rep, err := Run(context.Background(), Options{
			Target: "statsd://" + svc.Addr(protocol.StatsdUDP), Metrics: 200, Rate: 20_000, Duration: time.Second,
			Prefix: "lg.statsd.", VerifyRedis: srv.URL(), Progress: -1,
		}, &out)
		require.NoError(t, err, out.String())
		require.Equal(t, int64(20_000), rep.Sent)
		require.False(t, rep.Verified)
		require.Contains(t, out.String(), "skipping --verify-redis for statsd")
		t.Log(rep)

		store, err := redisstore.Open(srv.URL(), redisstore.Options{})
		require.NoError(t, err)
		defer store.Close()
		// Every gauge is flushed within a few intervals (UDP over loopback may drop a datagram,
		// never a whole second of them).
		require.Eventually(t, func() bool {
			for _, name := range StoredNames(protocol.StatsdUDP, Names("lg.statsd.", 200)) {
				pairs, _, err := store.Series(context.Background(), name)
				if err != nil || len(pairs) == 0 {
					return false
				}
			}
			return true
		}, 5*time.Second, 100*time.Millisecond)
	})
}
