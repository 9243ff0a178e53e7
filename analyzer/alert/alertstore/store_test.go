package alertstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/kale-project/kale/analyzer/alert"
	"github.com/kale-project/kale/utils/redistest"
)

// sink is an alert channel recording the metrics it was sent.
type sink struct {
	name string
	mu   sync.Mutex
	got  []string
}

func (s *sink) Name() string { return s.name }

func (s *sink) Send(_ context.Context, _ alert.Rule, a alert.Anomaly) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, a.Metric)
	return nil
}

func (s *sink) sent() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

var fast = alert.Options{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond, SendTimeout: 2 * time.Second, DrainTimeout: 2 * time.Second}

// dispatch runs a dispatcher over dedupe, calls each of cycles with it, stops it (draining
// the queues) and returns the registry holding its counters.
func dispatch(t *testing.T, rules []alert.Rule, ch *sink, dedupe alert.Deduper, cycles ...func(d *alert.Dispatcher)) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	d, err := alert.New(rules, map[string]alert.Channel{ch.name: ch}, dedupe, nil, reg, fast)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	for _, c := range cycles {
		c(d)
	}
	cancel()
	require.NoError(t, <-done)
	return reg
}

// counter is the value of name{strategy=strategy}.
func counter(t *testing.T, reg *prometheus.Registry, name, strategy string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "strategy" && l.GetValue() == strategy {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no metric %s{strategy=%q}", name, strategy)
	return 0
}

func TestLastAlertKey(t *testing.T) {
	require.Equal(t, "last_alert.smtp.skyline.horizon.queue_size", LastAlertKey("smtp", "skyline.horizon.queue_size"))
}

// TestDedupeKey checks the key layout Skyline reads: last_alert.<strategy>.<metric>, TTL =
// expiration, value = msgpack float64 of the anomalous value; that a key left by Skyline
// suppresses; and that an expired key alerts again.
func TestDedupeKey(t *testing.T) {
	rdb := redistest.Start(t).Client()
	ctx := context.Background()
	require.NoError(t, rdb.Set(ctx, "last_alert.smtp.skyline.old", []byte{0xcb, 0, 0, 0, 0, 0, 0, 0, 0}, time.Hour).Err())
	ch := &sink{name: "smtp"}
	a := alert.Anomaly{Metric: "skyline.horizon.queue_size", Value: 1000.25, Timestamp: 1700000000}
	old := alert.Anomaly{Metric: "skyline.old", Value: 1, Timestamp: 1700000000}
	key := "last_alert.smtp.skyline.horizon.queue_size"
	reg := dispatch(t, []alert.Rule{{Pattern: "skyline", Strategy: "smtp", Expiration: 1800 * time.Second}}, ch, New(rdb),
		func(d *alert.Dispatcher) {
			require.NoError(t, d.Dispatch(ctx, []alert.Anomaly{a, old}))
			ttl, err := rdb.TTL(ctx, key).Result()
			require.NoError(t, err)
			require.InDelta(t, 1800, ttl.Seconds(), 5)
			raw, err := rdb.Get(ctx, key).Bytes()
			require.NoError(t, err)
			require.Len(t, raw, 9)
			require.Equal(t, byte(0xcb), raw[0], "msgpack float64, as Python's msgpack.packb(float)")
			var v float64
			require.NoError(t, msgpack.Unmarshal(raw, &v))
			require.Equal(t, 1000.25, v)
		},
		func(d *alert.Dispatcher) { require.NoError(t, d.Dispatch(ctx, []alert.Anomaly{a})) },
		func(d *alert.Dispatcher) {
			require.NoError(t, rdb.PExpire(ctx, key, time.Millisecond).Err())
			require.Eventually(t, func() bool { return rdb.Exists(ctx, key).Val() == 0 }, 2*time.Second, 5*time.Millisecond)
			require.NoError(t, d.Dispatch(ctx, []alert.Anomaly{a}))
		})
	require.Equal(t, []string{a.Metric, a.Metric}, ch.sent(), "once, suppressed, then again after the key expired; never the metric Skyline alerted")
	require.Equal(t, 2.0, counter(t, reg, "kale_alerts_suppressed_total", "smtp"))
	require.Equal(t, 2.0, counter(t, reg, "kale_alerts_sent_total", "smtp"))
}

func TestRedisDownAlertsAnyway(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, DialTimeout: time.Second, DialerRetries: 1})
	t.Cleanup(func() { _ = rdb.Close() })
	srv.Stop()
	ch := &sink{name: "log"}
	dispatch(t, []alert.Rule{{Strategy: "log", Expiration: time.Minute}}, ch, New(rdb), func(d *alert.Dispatcher) {
		err := d.Dispatch(context.Background(), []alert.Anomaly{{Metric: "a.b"}})
		require.ErrorContains(t, err, "cannot de-duplicate alerts in Redis")
	})
	require.Equal(t, []string{"a.b"}, ch.sent())
}

func TestClaim(t *testing.T) {
	s := New(redistest.Start(t).Client())
	ctx := context.Background()
	claims := []alert.Claim{{Strategy: "log", Metric: "a", Expiration: time.Minute}, {Strategy: "smtp", Metric: "a", Expiration: time.Minute}}
	first, err := s.Claim(ctx, claims)
	require.NoError(t, err)
	require.Equal(t, []bool{true, true}, first)
	first, err = s.Claim(ctx, append(claims, alert.Claim{Strategy: "log", Metric: "b", Expiration: time.Minute}))
	require.NoError(t, err)
	require.Equal(t, []bool{false, false, true}, first)
}
