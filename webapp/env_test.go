package webapp

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/analyzer"
	"github.com/kale-project/kale/analyzer/recordstore"
	"github.com/kale-project/kale/horizon/listener"
	"github.com/kale-project/kale/oculus"
	"github.com/kale-project/kale/oculus/collectionstore"
	"github.com/kale-project/kale/oculus/indexstore"
	"github.com/kale-project/kale/utils/config"
	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
	"github.com/kale-project/kale/utils/tools/seed"
)

// hostile is a metric name built to break out of every context it is shown in: HTML text,
// attributes, URLs, JavaScript strings and JSON.
const hostile = `evil"'><img src=x onerror=alert(1)>.<script>window.__xss=1</script>&amp;/x`

// env is a webapp on a real redis-server with the demo data set, one analyzer cycle, and the
// real oculus search.
type env struct {
	t      testing.TB
	redis  *redistest.Server
	store  *redisstore.Store
	cfg    *config.Config
	server *Server
	oc     *oculus.Service
	http   *httptest.Server
	now    time.Time
	reg    *prometheus.Registry
}

type envOptions struct {
	metrics   int  // demo metrics (default 36)
	noSearch  bool // no oculus
	analyze   bool // run one analyzer cycle
	token     string
	user      string
	password  string
	burst     int
	listeners func() []listener.State
	traffic   func() (received, rejected map[string]float64)
	logLevel  LogLeveler
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	srv := redistest.Start(t)
	cfg := config.DefaultConfig()
	cfg.Redis = srv.URL()
	cfg.Webapp = "127.0.0.1:0"
	cfg.OculusIndex = "" // in memory
	cfg.WebappToken, cfg.WebappUser, cfg.WebappPassword = o.token, o.user, o.password
	cfg.SearchRate = 1000
	cfg.SearchBurst = 1000
	if o.burst > 0 {
		cfg.SearchRate, cfg.SearchBurst = 0.001, o.burst
	}
	cfg.Detector = "skyline"
	store, err := redisstore.Open(cfg.Redis, redisstore.Options{FullNamespace: cfg.FullNamespace, MiniNamespace: cfg.MiniNamespace})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	e := &env{t: t, redis: srv, store: store, cfg: cfg, now: time.Now(), reg: prometheus.NewRegistry()}
	if o.metrics >= 0 {
		e.seed(o.metrics)
	}
	if o.analyze {
		e.analyze()
	}
	opts := Options{Config: configOf(cfg), Store: store, Records: recordstore.New(store.Client()), Registry: e.reg, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Listeners: o.listeners, Traffic: o.traffic, LogLevel: o.logLevel, Version: "test"}
	if !o.noSearch {
		oc := newOculus(t, cfg, store)
		t.Cleanup(func() { _ = oc.Close() })
		_, err = oc.Sync(context.Background())
		require.NoError(t, err)
		e.oc = oc
		opts.Search, opts.Collections = oc, oc
	}
	e.server, err = New(opts)
	require.NoError(t, err)
	e.http = httptest.NewServer(e.server.Handler())
	t.Cleanup(e.http.Close)
	return e
}

// configOf maps Kale's configuration onto the webapp's, as utils/cmd/kale's webappConfig
// does (its test checks that every field is mapped), so the tests start from Kale's defaults.
func configOf(c *config.Config) Config {
	return Config{
		Addr: c.Webapp, MaxConns: c.WebappMaxConns, AllowedHosts: c.WebappAllowedHosts,
		Token: c.WebappToken, User: c.WebappUser, Password: c.WebappPassword,
		SearchRate: c.SearchRate, SearchBurst: c.SearchBurst, SearchTimeout: c.SearchTimeout,
		ShutdownTimeout: c.ShutdownTimeout,
		GraphURL:        c.GraphURL, FullNamespace: c.FullNamespace,
		Detector: c.Detector, Algorithms: c.Algorithms, Consensus: c.Consensus,
	}
}

// newOculus builds the real search service on store's Redis, configured as kale does from cfg.
func newOculus(t testing.TB, cfg *config.Config, store *redisstore.Store) *oculus.Service {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	oc, err := oculus.New(oculus.Options{
		Config: oculus.Config{
			IndexPath: cfg.OculusIndex, Source: cfg.OculusSource, Window: cfg.OculusWindow, Interval: cfg.OculusInterval,
			SearchLength: cfg.SearchLength, SearchTimeout: cfg.SearchTimeout, SearchMaxWork: cfg.SearchMaxWork,
			FullNamespace: cfg.FullNamespace, MiniNamespace: cfg.MiniNamespace,
		},
		Series:      store,
		Collections: collectionstore.New(store.Client(), log),
		State:       indexstore.New(store.Client()),
		Log:         log,
	})
	require.NoError(t, err)
	return oc
}

// seed writes n demo metrics (24 h of history, anomalies injected at the end) plus the
// hostile name (a copy of the spiking latency metric).
func (e *env) seed(n int) {
	e.t.Helper()
	if n == 0 {
		n = seed.DefaultMetrics
	}
	series := seed.Generate(seed.Options{Now: e.now, Metrics: n})
	data := map[string][]byte{}
	enc := redisstore.NewEncoder()
	for _, s := range series {
		var b []byte
		for _, p := range s.Points {
			b = enc.AppendPair(b, metric.Int(p.Timestamp), p.Value)
		}
		data[e.store.FullKey(s.Name)] = b
		if s.Name == "demo.web.latency_ms" {
			data[e.store.FullKey(hostile)] = b
		}
	}
	res := e.store.Append(context.Background(), data, nil)
	require.NoError(e.t, res.Err)
}

// analyze runs one cycle of Skyline's ensemble so the store holds real anomaly records.
func (e *env) analyze() analyzer.CycleStats {
	e.t.Helper()
	a, err := analyzer.New(analyzer.Options{
		Config: analyzer.Config{Detector: analyzer.DetectorSkyline, Settings: algorithms.DefaultSettings(), Workers: 2,
			AnomalyHistory: 24 * time.Hour, Now: func() time.Time { return e.now }},
		Store: e.store, Registry: prometheus.NewRegistry(), Log: slog.New(slog.DiscardHandler),
	})
	require.NoError(e.t, err)
	st, err := a.Cycle(context.Background())
	require.NoError(e.t, err)
	require.Positive(e.t, st.Anomalies, "the demo data set must produce anomalies")
	return st
}

// do sends a request to the test server.
func (e *env) do(method, path string, body string, header ...string) (*http.Response, string) {
	e.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.http.URL+path, r)
	require.NoError(e.t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	return res, string(b)
}

func (e *env) get(path string) (*http.Response, string) { return e.do(http.MethodGet, path, "") }
