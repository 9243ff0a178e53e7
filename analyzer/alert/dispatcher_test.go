package alert

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/kale-project/kale/utils/config"
	"github.com/kale-project/kale/utils/redistest"
)

// fakeChannel records every attempt as "pattern|metric"; send decides the n-th attempt's
// outcome (nil: success).
type fakeChannel struct {
	name  string
	send  func(ctx context.Context, n int) error
	mu    sync.Mutex
	calls []string
}

func (f *fakeChannel) Name() string { return f.name }

func (f *fakeChannel) Send(ctx context.Context, rule config.AlertRule, a Anomaly) error {
	f.mu.Lock()
	f.calls = append(f.calls, rule.Pattern+"|"+a.Metric)
	n := len(f.calls)
	f.mu.Unlock()
	if f.send != nil {
		return f.send(ctx, n)
	}
	return nil
}

func (f *fakeChannel) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// fakes returns one fakeChannel per strategy, and the channel map for New.
func fakes(strategies ...string) (map[string]*fakeChannel, map[string]Channel) {
	f := make(map[string]*fakeChannel)
	m := make(map[string]Channel)
	for _, s := range strategies {
		f[s] = &fakeChannel{name: s}
		m[s] = f[s]
	}
	return f, m
}

// fastOptions make retries and shutdown quick.
var fastOptions = Options{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond, SendTimeout: 2 * time.Second, DrainTimeout: 2 * time.Second}

// start runs d until the returned stop is called (or the test ends); stop waits for Run.
func start(t *testing.T, d *Dispatcher) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return within 10s of its context ending")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func anomalies(metrics ...string) []Anomaly {
	out := make([]Anomaly, len(metrics))
	for i, m := range metrics {
		out[i] = Anomaly{Metric: m, Value: float64(i) + 0.5, Timestamp: 1700000000, Triggered: []string{"grubbs"}}
	}
	return out
}

func count(v *prometheus.CounterVec, strategy string) float64 {
	return testutil.ToFloat64(v.WithLabelValues(strategy))
}

// TestDispatchMatchAndDedupe runs each case's anomalies through Dispatch twice within the
// expiration against a real Redis: the second cycle must send nothing.
func TestDispatchMatchAndDedupe(t *testing.T) {
	rdb := redistest.Start(t).Client()
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		rules      []config.AlertRule
		existing   []string // last_alert keys present before the first cycle (left by Skyline)
		metrics    []string
		want       map[string][]string // strategy → "pattern|metric" sent
		suppressed map[string]float64  // strategy → suppressed count after both cycles
	}{
		{
			name:       "substring match",
			rules:      []config.AlertRule{rule("skyline", "smtp", 1800)},
			metrics:    []string{"skyline.horizon.queue_size", "stats.web.errors", "x.skyline"},
			want:       map[string][]string{"smtp": {"skyline|skyline.horizon.queue_size", "skyline|x.skyline"}},
			suppressed: map[string]float64{"smtp": 2},
		},
		{
			name:    "key per strategy and metric, first rule wins",
			rules:   []config.AlertRule{rule("skyline", "smtp", 1800), rule("horizon", "smtp", 60)},
			metrics: []string{"skyline.horizon.queue_size", "horizon.only"},
			want:    map[string][]string{"smtp": {"skyline|skyline.horizon.queue_size", "horizon|horizon.only"}},
			// cycle 1: the horizon rule finds the skyline rule's key; cycle 2: all three.
			suppressed: map[string]float64{"smtp": 4},
		},
		{
			name:       "each strategy alerts once",
			rules:      []config.AlertRule{rule("skyline", "smtp", 1800), rule("skyline", "log", 60), rule("queue", "log", 60)},
			metrics:    []string{"skyline.horizon.queue_size"},
			want:       map[string][]string{"smtp": {"skyline|skyline.horizon.queue_size"}, "log": {"skyline|skyline.horizon.queue_size"}},
			suppressed: map[string]float64{"smtp": 1, "log": 3},
		},
		{
			name:       "key left by Skyline suppresses",
			rules:      []config.AlertRule{rule("skyline", "smtp", 1800)},
			existing:   []string{"last_alert.smtp.skyline.a"},
			metrics:    []string{"skyline.a", "skyline.b"},
			want:       map[string][]string{"smtp": {"skyline|skyline.b"}},
			suppressed: map[string]float64{"smtp": 3},
		},
		{
			name:       "another strategy's key does not suppress",
			rules:      []config.AlertRule{rule("skyline", "smtp", 1800)},
			existing:   []string{"last_alert.log.skyline.a"},
			metrics:    []string{"skyline.a"},
			want:       map[string][]string{"smtp": {"skyline|skyline.a"}},
			suppressed: map[string]float64{"smtp": 1},
		},
		{
			name:       "no match",
			rules:      []config.AlertRule{rule("skyline", "smtp", 1800)},
			metrics:    []string{"stats.a"},
			want:       map[string][]string{"smtp": nil},
			suppressed: map[string]float64{"smtp": 0},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, rdb.FlushDB(ctx).Err())
			for _, k := range tc.existing {
				require.NoError(t, rdb.Set(ctx, k, []byte{0xcb, 0, 0, 0, 0, 0, 0, 0, 0}, time.Hour).Err())
			}
			var strategies []string
			for s := range tc.want {
				strategies = append(strategies, s)
			}
			fk, chans := fakes(strategies...)
			d, err := New(tc.rules, chans, rdb, nil, nil, fastOptions)
			require.NoError(t, err)
			stop := start(t, d)
			require.NoError(t, d.Dispatch(ctx, anomalies(tc.metrics...)))
			require.NoError(t, d.Dispatch(ctx, anomalies(tc.metrics...)))
			stop() // drains the queues
			for s, want := range tc.want {
				require.ElementsMatch(t, want, fk[s].got(), s)
				require.Equal(t, float64(len(want)), count(d.m.sent, s), s)
				require.Equal(t, tc.suppressed[s], count(d.m.suppressed, s), s)
			}
		})
	}
}

// TestDedupeKey checks the key layout Skyline reads: last_alert.<strategy>.<metric>, TTL =
// expiration, value = msgpack float64 of the anomalous value; and that an expired key alerts again.
func TestDedupeKey(t *testing.T) {
	rdb := redistest.Start(t).Client()
	ctx := context.Background()
	fk, chans := fakes("smtp")
	d, err := New([]config.AlertRule{rule("skyline", "smtp", 1800)}, chans, rdb, nil, nil, fastOptions)
	require.NoError(t, err)
	stop := start(t, d)
	a := Anomaly{Metric: "skyline.horizon.queue_size", Value: 1000.25, Timestamp: 1700000000}
	require.NoError(t, d.Dispatch(ctx, []Anomaly{a}))

	key := "last_alert.smtp.skyline.horizon.queue_size"
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

	require.NoError(t, d.Dispatch(ctx, []Anomaly{a}))
	require.NoError(t, rdb.PExpire(ctx, key, time.Millisecond).Err())
	require.Eventually(t, func() bool { return rdb.Exists(ctx, key).Val() == 0 }, 2*time.Second, 5*time.Millisecond)
	require.NoError(t, d.Dispatch(ctx, []Anomaly{a}))
	stop()
	require.Len(t, fk["smtp"].got(), 2, "once, suppressed, then again after the key expired")
}

func TestDispatchRedisDownAlertsAnyway(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, DialTimeout: time.Second, DialerRetries: 1})
	t.Cleanup(func() { _ = rdb.Close() })
	srv.Stop()
	fk, chans := fakes("log")
	d, err := New([]config.AlertRule{rule("", "log", 60)}, chans, rdb, nil, nil, fastOptions)
	require.NoError(t, err)
	stop := start(t, d)
	err = d.Dispatch(context.Background(), anomalies("a.b"))
	require.ErrorContains(t, err, "cannot de-duplicate alerts in Redis")
	stop()
	require.Equal(t, []string{"|a.b"}, fk["log"].got())
}

func TestRetryFlakyWebhook(t *testing.T) {
	srv := newHookServer(t, func(n int) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	c := testConfig()
	c.AlertWebhookURL = srv.URL
	w, err := NewWebhook(c)
	require.NoError(t, err)
	d, err := New([]config.AlertRule{rule("skyline", "webhook", 60)}, map[string]Channel{"webhook": w}, nil, nil, nil, fastOptions)
	require.NoError(t, err)
	stop := start(t, d)
	require.NoError(t, d.Dispatch(context.Background(), anomalies("skyline.a")))
	require.Eventually(t, func() bool { return count(d.m.sent, "webhook") == 1 }, 5*time.Second, 5*time.Millisecond)
	stop()
	require.Equal(t, 3, srv.count())
	require.Equal(t, 2.0, count(d.m.retried, "webhook"))
	require.Equal(t, 1.0, count(d.m.sent, "webhook"))
	require.Equal(t, 0.0, count(d.m.failed, "webhook"))
}

func TestRetryGivesUp(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		status               int
		calls                int
		retried, failed, got float64
	}{
		{"5xx retried until MaxAttempts", http.StatusInternalServerError, 3, 2, 1, 0},
		{"4xx permanent", http.StatusBadRequest, 1, 0, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newHookServer(t, func(int) int { return tc.status })
			c := testConfig()
			c.AlertWebhookURL = srv.URL
			w, err := NewWebhook(c)
			require.NoError(t, err)
			opts := fastOptions
			opts.MaxAttempts = 3
			d, err := New([]config.AlertRule{rule("", "webhook", 60)}, map[string]Channel{"webhook": w}, nil, nil, nil, opts)
			require.NoError(t, err)
			stop := start(t, d)
			require.NoError(t, d.Dispatch(context.Background(), anomalies("a")))
			require.Eventually(t, func() bool { return count(d.m.failed, "webhook") == tc.failed }, 5*time.Second, 5*time.Millisecond)
			stop()
			require.Equal(t, tc.calls, srv.count())
			require.Equal(t, tc.retried, count(d.m.retried, "webhook"))
			require.Equal(t, tc.got, count(d.m.sent, "webhook"))
		})
	}
}

// TestFailingChannelDoesNotBlock: a channel that hangs until each attempt's timeout delays
// neither Dispatch nor the other channels, and Run still stops within DrainTimeout.
func TestFailingChannelDoesNotBlock(t *testing.T) {
	fk, chans := fakes("webhook", "log")
	fk["webhook"].send = func(ctx context.Context, _ int) error { <-ctx.Done(); return ctx.Err() }
	opts := Options{SendTimeout: 100 * time.Millisecond, MinBackoff: 10 * time.Millisecond, DrainTimeout: 200 * time.Millisecond}
	d, err := New([]config.AlertRule{rule("", "webhook", 60), rule("", "log", 60)}, chans, nil, nil, nil, opts)
	require.NoError(t, err)
	stop := start(t, d)

	var metrics []string
	for i := range 50 {
		metrics = append(metrics, "m."+strconv.Itoa(i))
	}
	t0 := time.Now()
	require.NoError(t, d.Dispatch(context.Background(), anomalies(metrics...)))
	require.Less(t, time.Since(t0), 500*time.Millisecond, "Dispatch must not wait for deliveries")
	require.Eventually(t, func() bool { return len(fk["log"].got()) == 50 }, 2*time.Second, 5*time.Millisecond,
		"the log channel is delivered while the webhook hangs")

	t0 = time.Now()
	stop()
	require.Less(t, time.Since(t0), 2*time.Second, "Run stops within about DrainTimeout")
	require.Equal(t, 0.0, count(d.m.sent, "webhook"))
	require.Equal(t, 50.0, count(d.m.sent, "log"))
	require.Equal(t, 50.0, count(d.m.dropped, "webhook")+count(d.m.failed, "webhook"),
		"every webhook alert is accounted for as failed or dropped at shutdown")
	require.Greater(t, count(d.m.dropped, "webhook"), 0.0)
}

func TestQueueOverflow(t *testing.T) {
	fk, chans := fakes("log")
	opts := fastOptions
	opts.QueueSize = 2
	d, err := New([]config.AlertRule{rule("", "log", 60)}, chans, nil, nil, nil, opts)
	require.NoError(t, err)
	// Run is not started yet: nothing drains the queue, and Dispatch must still not block.
	t0 := time.Now()
	require.NoError(t, d.Dispatch(context.Background(), anomalies("a", "b", "c", "d", "e", "f", "g", "h", "i", "j")))
	require.Less(t, time.Since(t0), 500*time.Millisecond)
	require.Equal(t, 8.0, count(d.m.dropped, "log"))
	stop := start(t, d)
	stop()
	require.Equal(t, []string{"|a", "|b"}, fk["log"].got())
	require.Equal(t, 2.0, count(d.m.sent, "log"))
}

func TestNewErrors(t *testing.T) {
	smtp, err := NewSMTP(&config.Config{AlertSMTPAddr: "127.0.0.1:25", AlertSMTPFrom: "k@example.com",
		AlertSMTPTLS: "none", AlertSMTPTo: []string{"skyline=ops@example.com"}})
	require.NoError(t, err)
	for _, tc := range []struct {
		name     string
		rules    []config.AlertRule
		channels map[string]Channel
		want     string
	}{
		{"smtp missing", []config.AlertRule{rule("skyline", "smtp", 1800)}, nil, "rule skyline:smtp:1800 needs --alert-smtp-to"},
		{"webhook missing", []config.AlertRule{rule("a:b", "webhook", 60)}, nil, "rule a:b:webhook:60 needs --alert-webhook-url"},
		{"slack missing", []config.AlertRule{rule("x", "slack", 60)}, nil, "rule x:slack:60 needs --alert-slack-url"},
		{"pagerduty missing", []config.AlertRule{rule("x", "pagerduty", 60)}, nil, "rule x:pagerduty:60 needs --alert-pagerduty-key"},
		{"log missing", []config.AlertRule{rule("x", "log", 60)}, nil, `rule x:log:60 has no "log" channel`},
		{"no recipient for the pattern", []config.AlertRule{rule("horizon", "smtp", 60)}, map[string]Channel{"smtp": smtp},
			`rule horizon:smtp:60 needs --alert-smtp-to: no address for pattern "horizon"`},
		{"zero expiration", []config.AlertRule{{Pattern: "x", Strategy: "log"}}, map[string]Channel{"log": NewLog(&config.Config{}, nil)},
			"expiration must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.rules, tc.channels, nil, nil, nil, Options{})
			require.ErrorContains(t, err, tc.want)
		})
	}
	_, err = New([]config.AlertRule{rule("skyline", "smtp", 60)}, map[string]Channel{"smtp": smtp}, nil, nil, nil, Options{})
	require.NoError(t, err)
}

func TestMetricsRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	_, chans := fakes("log", "smtp")
	rules := []config.AlertRule{rule("", "log", 60), rule("x", "smtp", 60)}
	_, err := New(rules, chans, nil, nil, reg, Options{})
	require.NoError(t, err)
	require.Equal(t, 10, testutil.CollectAndCount(reg), "5 counters × 2 strategies, exported at 0 from the start")
	_, err = New(rules, chans, nil, nil, reg, Options{})
	require.ErrorContains(t, err, "cannot register the alert metrics")
}

func TestRunTwice(t *testing.T) {
	_, chans := fakes("log")
	d, err := New([]config.AlertRule{rule("", "log", 60)}, chans, nil, nil, nil, fastOptions)
	require.NoError(t, err)
	start(t, d)
	require.Eventually(t, d.running.Load, time.Second, time.Millisecond)
	require.ErrorContains(t, d.Run(context.Background()), "already running")
}
