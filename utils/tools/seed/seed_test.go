package seed

import (
	"bytes"
	"context"
	"github.com/kale-project/kale/horizon/protocol"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/horizon"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
)

// startHorizon runs a horizon whose listeners bind free loopback ports (disabled ones left
// empty) in front of a fresh redis-server, and returns its store and the enabled targets.
func startHorizon(t *testing.T, disabled ...string) (*redisstore.Store, []Target) {
	t.Helper()
	srv := redistest.Start(t)
	store, err := redisstore.Open(srv.URL(), redisstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	var protocols []string
	for _, p := range horizon.Protocols {
		if !slices.Contains(disabled, p) {
			protocols = append(protocols, p)
		}
	}
	cfg := horizon.DefaultConfig().Listen(protocols...)
	svc, err := horizon.New(horizon.Options{Config: cfg, Store: store,
		Log: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	var targets []Target
	for _, l := range cfg.Listeners {
		if a := svc.Addr(l.Protocol); a != "" {
			targets = append(targets, Target{Protocol: l.Protocol, Addr: a})
		}
	}
	return store, targets
}

func TestSeedThroughHorizon(t *testing.T) {
	store, targets := startHorizon(t)
	require.Len(t, targets, 5)
	var logs bytes.Buffer
	now := time.Now()
	rep, err := Run(context.Background(), Options{Store: store, Targets: targets, Now: now, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	require.True(t, rep.OK(), rep.String())
	require.Equal(t, DefaultMetrics, rep.Metrics)
	require.Len(t, rep.Sent, 5)
	for _, p := range protocol.All {
		require.GreaterOrEqual(t, rep.Sent[p], 7*90, "%s carries several metrics", p)
	}
	require.Equal(t, DefaultMetrics*90, rep.SentTotal())
	require.Equal(t, rep.SentTotal(), rep.Stored)
	require.Equal(t, DefaultMetrics*1425, rep.History)
	require.Empty(t, rep.Missing)
	require.Contains(t, rep.String(), "seed OK: 36 metrics, 3240 datapoints via pickle-tcp 720, pickle-udp 630, msgpack-udp 630, plaintext-tcp 630, plaintext-udp 630, verified in Redis")
	require.Contains(t, logs.String(), "writing history directly to Redis")
	require.Contains(t, logs.String(), "seed OK")

	// A second run writes no history twice, and its recent datapoints must arrive again:
	// the first run's copies do not count.
	again, err := Run(context.Background(), Options{Store: store, Targets: targets, Now: now})
	require.NoError(t, err)
	require.Zero(t, again.History)
	require.Equal(t, again.SentTotal(), again.Stored)
	third, err := Run(context.Background(), Options{Store: store, Targets: targets[:4], Now: now, VerifyTimeout: 500 * time.Millisecond})
	require.NoError(t, err, "plaintext-udp left out: its metrics go elsewhere")
	require.Equal(t, third.SentTotal(), third.Stored)

	// The stored series are the generated ones: history then recent, values exact.
	members, err := store.Members(context.Background(), "metrics.")
	require.NoError(t, err)
	require.Len(t, members, DefaultMetrics)
	want := map[string]Series{}
	for _, s := range Generate(Options{Now: now}) {
		want[s.Name] = s
	}
	for _, name := range []string{"demo.web.requests", "demo.web.requests_total", "demo.config.replicas", "demo.cpu.host04.user"} {
		pairs, st, err := store.Series(context.Background(), name)
		require.NoError(t, err)
		require.Zero(t, st.BadBytes)
		got := map[float64]float64{}
		history := 0
		for _, p := range pairs {
			got[p.Timestamp] = p.Value
			if p.Timestamp <= float64(want[name].Points[1424].Timestamp) {
				history++
			}
		}
		require.Equal(t, 1425, history, "%s: history written once", name)
		require.Len(t, got, 1425+90, name)
		require.Len(t, pairs, 1425+3*90, "%s: recent datapoints stored once per run (Roomba dedupes them later)", name)
		for _, p := range want[name].Points {
			require.Equal(t, p.Value.Float64(), got[float64(p.Timestamp)], "%s at %d", name, p.Timestamp)
		}
	}
}

// A disabled listener is not a target: the others carry all the metrics.
func TestSeedSkipsDisabledProtocol(t *testing.T) {
	store, targets := startHorizon(t, protocol.PlaintextUDP, protocol.PickleUDP)
	require.Len(t, targets, 3)
	rep, err := Run(context.Background(), Options{Store: store, Targets: targets, Metrics: 12, History: time.Hour})
	require.NoError(t, err)
	require.Equal(t, map[string]int{protocol.PickleTCP: 360, protocol.MsgpackUDP: 360, protocol.PlaintextTCP: 360}, rep.Sent)
	require.Equal(t, 12*90, rep.Stored)
	require.NotContains(t, rep.String(), "plaintext-udp")
}

// Datagrams sent where nobody listens never arrive: verification fails, naming the metrics
// and the protocol, within the timeout — even when an earlier run stored the same datapoints.
func TestSeedFailsWhenNothingListens(t *testing.T) {
	store, targets := startHorizon(t, protocol.MsgpackUDP)
	now := time.Now()
	_, err := Run(context.Background(), Options{Store: store, Targets: targets, Metrics: 10, History: time.Hour, Now: now})
	require.NoError(t, err)

	targets = append(targets, Target{Protocol: protocol.MsgpackUDP, Addr: redistest.FreePort(t, "udp")})
	start := time.Now()
	rep, err := Run(context.Background(), Options{Store: store, Targets: targets, Metrics: 10, History: time.Hour, Now: now, VerifyTimeout: time.Second})
	require.Less(t, time.Since(start), 5*time.Second)
	require.Error(t, err)
	require.False(t, rep.OK())
	require.ErrorContains(t, err, "demo.web.errors: ")
	require.ErrorContains(t, err, "90 of 90 recent datapoints (msgpack-udp) missing")
	require.Len(t, rep.Missing, 2, "metrics 4 and 9 went to msgpack-udp")
	require.Equal(t, 8*90, rep.Stored)
	require.Contains(t, rep.String(), "seed FAILED: 10 metrics, 720 of ")
	if len(rep.Errors) == 0 { // the kernel may not have reported the closed port yet
		require.ErrorIs(t, err, ErrNotStored)
	}

	// A TCP listener that is not there fails at once.
	tcp := append(targets[:0:0], Target{Protocol: protocol.PickleTCP, Addr: redistest.FreePort(t, "tcp")})
	_, err = Run(context.Background(), Options{Store: store, Targets: tcp, Metrics: 2, History: time.Hour, VerifyTimeout: 10 * time.Second})
	require.ErrorContains(t, err, "cannot connect to pickle-tcp at ")
}
