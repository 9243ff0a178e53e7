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
	"github.com/stretchr/testify/require"
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

func (f *fakeChannel) Send(ctx context.Context, rule Rule, a Anomaly) error {
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

// fakeDeduper is an in-memory Deduper with SET NX semantics; its keys never expire.
type fakeDeduper struct {
	mu   sync.Mutex
	keys map[string]bool
}

func (f *fakeDeduper) Claim(_ context.Context, claims []Claim) ([]bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	first := make([]bool, len(claims))
	for i, c := range claims {
		k := "last_alert." + c.Strategy + "." + c.Metric
		first[i] = !f.keys[k]
		f.keys[k] = true
	}
	return first, nil
}

// TestDispatchMatchAndDedupe runs each case's anomalies through Dispatch twice within the
// expiration: the second cycle must send nothing. alertstore runs the same against Redis.
func TestDispatchMatchAndDedupe(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		rules      []Rule
		existing   []string // last_alert keys present before the first cycle (left by Skyline)
		metrics    []string
		want       map[string][]string // strategy → "pattern|metric" sent
		suppressed map[string]float64  // strategy → suppressed count after both cycles
	}{
		{
			name:       "substring match",
			rules:      []Rule{rule("skyline", "smtp", 1800)},
			metrics:    []string{"skyline.horizon.queue_size", "stats.web.errors", "x.skyline"},
			want:       map[string][]string{"smtp": {"skyline|skyline.horizon.queue_size", "skyline|x.skyline"}},
			suppressed: map[string]float64{"smtp": 2},
		},
		{
			name:    "key per strategy and metric, first rule wins",
			rules:   []Rule{rule("skyline", "smtp", 1800), rule("horizon", "smtp", 60)},
			metrics: []string{"skyline.horizon.queue_size", "horizon.only"},
			want:    map[string][]string{"smtp": {"skyline|skyline.horizon.queue_size", "horizon|horizon.only"}},
			// cycle 1: the horizon rule finds the skyline rule's key; cycle 2: all three.
			suppressed: map[string]float64{"smtp": 4},
		},
		{
			name:       "each strategy alerts once",
			rules:      []Rule{rule("skyline", "smtp", 1800), rule("skyline", "log", 60), rule("queue", "log", 60)},
			metrics:    []string{"skyline.horizon.queue_size"},
			want:       map[string][]string{"smtp": {"skyline|skyline.horizon.queue_size"}, "log": {"skyline|skyline.horizon.queue_size"}},
			suppressed: map[string]float64{"smtp": 1, "log": 3},
		},
		{
			name:       "key left by Skyline suppresses",
			rules:      []Rule{rule("skyline", "smtp", 1800)},
			existing:   []string{"last_alert.smtp.skyline.a"},
			metrics:    []string{"skyline.a", "skyline.b"},
			want:       map[string][]string{"smtp": {"skyline|skyline.b"}},
			suppressed: map[string]float64{"smtp": 3},
		},
		{
			name:       "another strategy's key does not suppress",
			rules:      []Rule{rule("skyline", "smtp", 1800)},
			existing:   []string{"last_alert.log.skyline.a"},
			metrics:    []string{"skyline.a"},
			want:       map[string][]string{"smtp": {"skyline|skyline.a"}},
			suppressed: map[string]float64{"smtp": 1},
		},
		{
			name:       "no match",
			rules:      []Rule{rule("skyline", "smtp", 1800)},
			metrics:    []string{"stats.a"},
			want:       map[string][]string{"smtp": nil},
			suppressed: map[string]float64{"smtp": 0},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dedupe := &fakeDeduper{keys: map[string]bool{}}
			for _, k := range tc.existing {
				dedupe.keys[k] = true
			}
			var strategies []string
			for s := range tc.want {
				strategies = append(strategies, s)
			}
			fk, chans := fakes(strategies...)
			d, err := New(tc.rules, chans, dedupe, nil, nil, fastOptions)
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

func TestRetryFlakyWebhook(t *testing.T) {
	srv := newHookServer(t, func(n int) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	c := testConfig()
	c.WebhookURL = srv.URL
	w, err := NewWebhook(c)
	require.NoError(t, err)
	d, err := New([]Rule{rule("skyline", "webhook", 60)}, map[string]Channel{"webhook": w}, nil, nil, nil, fastOptions)
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
			c.WebhookURL = srv.URL
			w, err := NewWebhook(c)
			require.NoError(t, err)
			opts := fastOptions
			opts.MaxAttempts = 3
			d, err := New([]Rule{rule("", "webhook", 60)}, map[string]Channel{"webhook": w}, nil, nil, nil, opts)
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
	d, err := New([]Rule{rule("", "webhook", 60), rule("", "log", 60)}, chans, nil, nil, nil, opts)
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
	d, err := New([]Rule{rule("", "log", 60)}, chans, nil, nil, nil, opts)
	require.NoError(t, err)
	// Run is not started yet: nothing drains the queue, and Dispatch must still not block.
	t0 := time.Now()
	require.NoError(t, d.Dispatch(context.Background(), anomalies("a", "b", "c", "d", "e", "f", "g", "h", "i", "j")))
	require.Less(t, time.Since(t0), 500*time.Millisecond)
	require.Equal(t, 8.0, count(d.m.dropped, "log"))
	stop := start(t, d)
	stop()
	require.ElementsMatch(t, []string{"|a", "|b"}, fk["log"].got(), "the two queued alerts, in any order (a lane has several workers)")
	require.Equal(t, 2.0, count(d.m.sent, "log"))
}

func TestNewErrors(t *testing.T) {
	smtp, err := NewSMTP(&Config{SMTPAddr: "127.0.0.1:25", SMTPFrom: "k@example.com",
		SMTPTLS: "none", SMTPTo: []string{"skyline=ops@example.com"}})
	require.NoError(t, err)
	for _, tc := range []struct {
		name     string
		rules    []Rule
		channels map[string]Channel
		want     string
	}{
		{"smtp missing", []Rule{rule("skyline", "smtp", 1800)}, nil, "rule skyline:smtp:1800 needs --alert-smtp-to"},
		{"webhook missing", []Rule{rule("a:b", "webhook", 60)}, nil, "rule a:b:webhook:60 needs --alert-webhook-url"},
		{"slack missing", []Rule{rule("x", "slack", 60)}, nil, "rule x:slack:60 needs --alert-slack-url"},
		{"pagerduty missing", []Rule{rule("x", "pagerduty", 60)}, nil, "rule x:pagerduty:60 needs --alert-pagerduty-key"},
		{"log missing", []Rule{rule("x", "log", 60)}, nil, `rule x:log:60 has no "log" channel`},
		{"no recipient for the pattern", []Rule{rule("horizon", "smtp", 60)}, map[string]Channel{"smtp": smtp},
			`rule horizon:smtp:60 needs --alert-smtp-to: no address for pattern "horizon"`},
		{"zero expiration", []Rule{{Pattern: "x", Strategy: "log"}}, map[string]Channel{"log": NewLog(&Config{}, nil)},
			"expiration must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.rules, tc.channels, nil, nil, nil, Options{})
			require.ErrorContains(t, err, tc.want)
		})
	}
	_, err = New([]Rule{rule("skyline", "smtp", 60)}, map[string]Channel{"smtp": smtp}, nil, nil, nil, Options{})
	require.NoError(t, err)
}

func TestMetricsRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	_, chans := fakes("log", "smtp")
	rules := []Rule{rule("", "log", 60), rule("x", "smtp", 60)}
	_, err := New(rules, chans, nil, nil, reg, Options{})
	require.NoError(t, err)
	require.Equal(t, 5*len(Strategies), testutil.CollectAndCount(reg), "5 counters × every strategy, exported at 0 from the start")
	mfs, err := reg.Gather()
	require.NoError(t, err)
	require.Len(t, mfs, 5)
	for _, mf := range mfs {
		var got []string
		for _, m := range mf.GetMetric() {
			require.Zero(t, m.GetCounter().GetValue(), mf.GetName())
			got = append(got, m.GetLabel()[0].GetValue())
		}
		require.ElementsMatch(t, Strategies, got, mf.GetName())
	}
	_, err = New(rules, chans, nil, nil, reg, Options{})
	require.ErrorContains(t, err, "cannot register the alert metrics")
}

func TestRunTwice(t *testing.T) {
	_, chans := fakes("log")
	d, err := New([]Rule{rule("", "log", 60)}, chans, nil, nil, nil, fastOptions)
	require.NoError(t, err)
	start(t, d)
	require.Eventually(t, d.running.Load, time.Second, time.Millisecond)
	require.ErrorContains(t, d.Run(context.Background()), "already running")
}
