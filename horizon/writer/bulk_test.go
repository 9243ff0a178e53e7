package writer

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/horizon/protocol"
	"github.com/kale-project/kale/horizon/telemetry"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
)

// The bulk-loading options of kale import: points of any age are kept, only recent ones are
// copied to the mini namespace, and Stored counts what reached Redis.
func TestAnyAgeAndMiniWindow(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	f := newFixture(t, func(c *Config) {
		c.AnyAge, c.Mini, c.MiniWindow = true, true, time.Hour
		c.Now = func() time.Time { return now }
	})
	ctx := context.Background()
	require.NoError(t, f.w.Put(ctx, f.proto, pts("old", 1000, 3), true))                // years old
	require.NoError(t, f.w.Put(ctx, f.proto, pts("future", now.Unix()+86400, 2), true)) // a day ahead
	require.NoError(t, f.w.Put(ctx, f.proto, pts("edge", now.Unix()-3600-1, 3), true))  // 3600-1, 3600, 3600+1 s old
	f.stop()
	require.Equal(t, int64(8), f.w.Stored())
	require.Zero(t, counterTotal(f.stats.Rejected.WithLabelValues(protocol.PickleTCP, "too_old")))
	require.Zero(t, counterTotal(f.stats.Rejected.WithLabelValues(protocol.PickleTCP, "too_new")))
	for name, want := range map[string]int{"old": 3, "future": 2, "edge": 3} {
		p, _, err := f.store.Series(ctx, name)
		require.NoError(t, err)
		require.Len(t, p, want, name)
	}
	mini, err := f.store.Raw(ctx, []string{"mini.old", "mini.future", "mini.edge"})
	require.NoError(t, err)
	require.Nil(t, mini[0], "older than the mini window")
	require.Len(t, pairs(mini[1]), 2)
	require.Len(t, pairs(mini[2]), 1, "only the point newer than now - 1h")
}

// With FailFast a failed write ends Run with the error instead of being retried.
func TestFailFast(t *testing.T) {
	srv := redistest.Start(t)
	store, err := redisstore.Open(srv.URL(), redisstore.Options{})
	require.NoError(t, err)
	defer store.Close()
	stats := telemetry.New(nil)
	w := New(Config{QueueSize: 100, FlushInterval: 20 * time.Millisecond, FlushPoints: 1, FullNamespace: "metrics.",
		MiniNamespace: "mini.", AnyAge: true, FailFast: true}, store, stats, slog.New(slog.DiscardHandler))
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	srv.Stop()
	require.NoError(t, w.Put(context.Background(), stats.Proto("import"), pts("a", 1, 2), true))
	select {
	case err := <-done:
		require.ErrorContains(t, err, "cannot store 2 points (1 series not written)")
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after a failed write")
	}
	require.Zero(t, w.Stored())
}

func pairs(raw []byte) []redisstore.Pair {
	var out []redisstore.Pair
	redisstore.DecodeSeries(raw, func(p redisstore.Pair) { out = append(out, p) })
	return out
}
