package writer

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kale-project/kale/horizon/protocol"
	"github.com/kale-project/kale/horizon/telemetry"
	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fixture struct {
	srv   *redistest.Server
	store *redisstore.Store
	w     *Writer
	stats *telemetry.Stats
	proto *telemetry.Proto
	logs  *syncBuffer
	stop  func()
	done  chan error
}

// syncBuffer collects the writer's log lines; Run writes while the test may read.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newFixture(t *testing.T, mod func(*Config)) *fixture {
	t.Helper()
	srv := redistest.Start(t)
	store, err := redisstore.Open(srv.URL(), redisstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	cfg := Config{QueueSize: 10_000, FlushInterval: 100 * time.Millisecond, FlushPoints: 1000,
		MaxResolution: 1000 * time.Second, SkipList: []string{"skipme"},
		FullNamespace: "metrics.", MiniNamespace: "mini.", ShutdownTimeout: 5 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	stats := telemetry.New(nil)
	f := &fixture{srv: srv, store: store, stats: stats, proto: stats.Proto(protocol.PickleTCP), done: make(chan error, 1),
		logs: &syncBuffer{}}
	f.w = New(cfg, store, stats, slog.New(slog.NewTextHandler(f.logs, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	go func() { f.done <- f.w.Run(ctx) }()
	f.stop = func() { cancel(); require.NoError(t, <-f.done) }
	return f
}

func pts(name string, ts0 int64, n int) []metric.Point {
	out := make([]metric.Point, n)
	for i := range out {
		out[i] = metric.Point{Name: name, Timestamp: metric.Int(ts0 + int64(i)), Value: metric.Float(float64(i) + 0.5)}
	}
	return out
}

func (f *fixture) count(t *testing.T, key string) int {
	b, _ := f.store.Client().Get(context.Background(), key).Bytes()
	_, st := redisstore.Series(b)
	require.Zero(t, st.BadBytes)
	return st.Pairs
}

func TestTimeBasedFlushAndLayout(t *testing.T) {
	f := newFixture(t, nil)
	defer f.stop()
	now := time.Now().Unix()
	require.NoError(t, f.w.Put(context.Background(), f.proto, []metric.Point{
		{Name: "a.b", Timestamp: metric.Int(now), Value: metric.Float(1.5)},
	}, false))
	// One point, no further traffic: it must reach Redis within the flush interval.
	require.Eventually(t, func() bool { return f.count(t, "metrics.a.b") == 1 }, time.Second, 10*time.Millisecond)
	raw, err := f.store.Client().Get(context.Background(), "metrics.a.b").Bytes()
	require.NoError(t, err)
	require.Equal(t, hex.EncodeToString(redisstore.AppendPair(nil, metric.Int(now), metric.Float(1.5))), hex.EncodeToString(raw))
	members, err := f.store.Members(context.Background(), "metrics.")
	require.NoError(t, err)
	require.Equal(t, []string{"metrics.a.b"}, members)
	require.Zero(t, f.w.Buffered())
}

func TestFilters(t *testing.T) {
	f := newFixture(t, nil)
	now := time.Now().Unix()
	in := []metric.Point{
		{Name: "ok", Timestamp: metric.Int(now), Value: metric.Int(1)},
		{Name: "ok", Timestamp: metric.Int(now + 590), Value: metric.Int(2)},         // within --max-future
		{Name: "ok", Timestamp: metric.Int(now - 999), Value: metric.Int(3)},         // within MAX_RESOLUTION
		{Name: "old", Timestamp: metric.Int(now - 1100), Value: metric.Int(4)},       // too old
		{Name: "future", Timestamp: metric.Int(now + 86400), Value: metric.Int(5)},   // too new
		{Name: "future", Timestamp: metric.Float(1e300), Value: metric.Int(6)},       // too new
		{Name: "future", Timestamp: metric.Int(math.MaxInt64), Value: metric.Int(7)}, // too new
		{Name: "future", Timestamp: metric.Float(math.NaN()), Value: metric.Int(8)},  // too new
		{Name: "x.skipme.y", Timestamp: metric.Int(now), Value: metric.Int(9)},
		{Name: "unique_metrics", Timestamp: metric.Int(now), Value: metric.Int(10)}, // a set of ours
	}
	require.NoError(t, f.w.Put(context.Background(), f.proto, in, true))
	f.stop()
	require.Equal(t, 3, f.count(t, "metrics.ok"))
	require.Zero(t, f.count(t, "metrics.old"))
	require.Zero(t, f.count(t, "metrics.future"))
	require.Zero(t, f.count(t, "metrics.x.skipme.y"))
	require.Equal(t, 1.0, counterValue(t, f.stats, "too_old"))
	require.Equal(t, 4.0, counterValue(t, f.stats, "too_new"))
	require.Equal(t, 1.0, counterValue(t, f.stats, "skip_list"))
	require.Equal(t, 1.0, counterValue(t, f.stats, "bad_name"))
	require.Zero(t, counterTotal(f.stats.FlushErrors))
	members, err := f.store.Members(context.Background(), "metrics.")
	require.NoError(t, err)
	require.Equal(t, []string{"metrics.ok"}, members)
	require.Zero(t, f.w.Buffered())
}

func TestMiniNamespace(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Mini = true })
	now := time.Now().Unix()
	require.NoError(t, f.w.Put(context.Background(), f.proto, pts("m", now, 5), true))
	f.stop()
	require.Equal(t, 5, f.count(t, "metrics.m"))
	require.Equal(t, 5, f.count(t, "mini.m"))
	mini, err := f.store.Members(context.Background(), "mini.")
	require.NoError(t, err)
	require.Equal(t, []string{"mini.m"}, mini)
}

func TestShutdownFlushesEverything(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.FlushInterval = time.Second; c.FlushPoints = 1 << 30 })
	now := time.Now().Unix()
	for i := range 50 {
		require.NoError(t, f.w.Put(context.Background(), f.proto, pts(fmt.Sprintf("s.%d", i), now, 100), true))
	}
	f.stop()
	for i := range 50 {
		require.Equal(t, 100, f.count(t, fmt.Sprintf("metrics.s.%d", i)))
	}
}

// While Redis is down the writer buffers up to the bound, refuses (UDP) or blocks (TCP)
// beyond it, and delivers everything buffered once Redis is back.
func TestOutageBuffersAndDelivers(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.QueueSize = 1000 })
	defer f.stop()
	f.srv.Stop()
	now := time.Now().Unix()
	ctx := context.Background()
	for i := range 9 {
		require.NoError(t, f.w.Put(ctx, f.proto, pts(fmt.Sprintf("o.%d", i), now, 100), false))
	}
	require.Eventually(t, func() bool { return counterTotal(f.stats.FlushErrors) > 0 }, 3*time.Second, 10*time.Millisecond)
	require.NoError(t, f.w.Put(ctx, f.proto, pts("o.9", now, 100), false), "exactly at the bound")
	require.ErrorIs(t, f.w.Put(ctx, f.proto, pts("o.10", now, 1), false), ErrFull)

	blocked, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, f.w.Put(blocked, f.proto, pts("o.11", now, 1), true), context.DeadlineExceeded, "TCP callers wait")

	waiting := make(chan error, 1)
	go func() { waiting <- f.w.Put(ctx, f.proto, pts("o.12", now, 10), true) }()

	f.srv.Restart()
	require.NoError(t, <-waiting, "a waiting TCP Put proceeds once Redis drains the buffer")
	require.Eventually(t, func() bool { return f.w.Buffered() == 0 }, 10*time.Second, 20*time.Millisecond)
	for i := range 10 {
		require.Equal(t, 100, f.count(t, fmt.Sprintf("metrics.o.%d", i)))
	}
	require.Equal(t, 10, f.count(t, "metrics.o.12"))
	members, err := f.store.Members(ctx, "metrics.")
	require.NoError(t, err)
	require.Len(t, members, 11)
}

func TestOversizedBatchIsAcceptedWhenEmpty(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.QueueSize = 10 })
	require.NoError(t, f.w.Put(context.Background(), f.proto, pts("big", time.Now().Unix(), 50), false))
	f.stop()
	require.Equal(t, 50, f.count(t, "metrics.big"))
}

func counterValue(t *testing.T, s *telemetry.Stats, reason string) float64 {
	t.Helper()
	return counterTotal(s.Rejected.WithLabelValues(protocol.PickleTCP, reason))
}
