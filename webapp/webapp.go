// Package webapp is Kale's web face, the last stage of the pipeline (senders → horizon → Redis
// → analyzer and oculus → webapp): an echo server with the anomaly dashboard, metric pages,
// the similar-series search UI, collections, a status page and the JSON API, every asset
// embedded in the binary. It replaces Skyline's Flask webapp (/, /api, /app_settings and the
// anomalies.json dump, kept compatible) and Oculus's Sinatra app (/search with its parameters,
// collections, status and help). It reads the series through utils/redisstore and talks to
// the analyzer's record store and to oculus through the small interfaces it declares
// (stores.go, webapp.go).
package webapp

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/net/netutil"

	"github.com/kale-project/kale/horizon/listener"
	"github.com/kale-project/kale/utils/redisstore"
)

// Searcher runs similarity searches; *oculus.Service implements it.
type Searcher interface {
	Search(ctx context.Context, q Query) (Result, error)
}

// CollectionReader lists and reads saved collections; *oculus.Service implements it.
type CollectionReader interface {
	Collections(ctx context.Context) ([]Collection, error)
	Collection(ctx context.Context, name string) (Collection, error)
}

// CollectionWriter saves, edits and deletes collections; *oculus.Service implements it.
type CollectionWriter interface {
	SaveCollection(ctx context.Context, name, description string, metrics []string) (Collection, error)
	UpdateCollection(ctx context.Context, name, newName, description string) (Collection, error)
	DeleteCollection(ctx context.Context, name string) error
}

// CollectionStore is what the collection pages and API need; *oculus.Service implements it.
type CollectionStore interface {
	CollectionReader
	CollectionWriter
}

// IndexStatuser reports the search index's state for /status and /healthz;
// *oculus.Service implements it.
type IndexStatuser interface {
	Status(ctx context.Context) IndexStatus
}

// Options wire a Server. Store and Records are required; the others may be nil: without
// Search the search routes answer 503 saying oculus does not run in this process, without
// Collections the collection routes do the same, without Listeners the status page shows
// none, without Registry /metrics serves an empty registry.
type Options struct {
	Config      Config
	Store       *redisstore.Store // the series (Skyline's layout)
	Records     Records           // the analyzer's anomaly records, cycle stats and feedback
	Search      Searcher
	Collections CollectionStore
	Index       IndexStatuser // nil: taken from Search or Collections when they implement it
	Listeners   func() []listener.State
	// Traffic reports the datapoints each listener received and rejected, by protocol
	// (horizon's counters); nil: the status page shows none.
	Traffic  func() (received, rejected map[string]float64)
	Registry *prometheus.Registry // the whole process's collectors, served on /metrics
	Log      *slog.Logger
	// LogLevel, when set, lets /api/v1/admin/log-level read and change the level at run time.
	LogLevel LogLeveler
	// Version is shown in the footer and /healthz.
	Version string
	// Now is the clock (tests); nil: time.Now.
	Now func() time.Time
}

// Server is the web UI and HTTP API.
type Server struct {
	cfg       Config
	store     *redisstore.Store
	records   Records
	stats     RedisStats
	search    Searcher
	cols      CollectionStore
	index     IndexStatuser
	listeners func() []listener.State
	traffic   func() (received, rejected map[string]float64)
	reg       *prometheus.Registry
	log       *slog.Logger
	logLevel  LogLeveler
	version   string
	now       func() time.Time
	started   time.Time

	e           *echo.Echo
	pages       map[string]*template.Template
	static      fs.FS
	charts      bool // the uPlot assets were built into static/vendor
	searchLimit *middleware.RateLimiterMemoryStore
	authFails   *failureLimiter
	hosts       *allowedHosts // nil: any Host
	names       *nameCache
	rates       *rateSampler
	m           *metrics

	draining atomic.Bool // Serve is shutting down: searches answer 503

	mu           sync.Mutex
	addr         string          // bound address once Run listens
	searchBase   context.Context // searches stop when it ends (Serve's drain deadline)
	stopSearches context.CancelFunc
}

// Limits of request sizes and result sets.
const (
	maxBody        = 2 << 20 // bytes of a request body other than a search
	maxSearchBody  = 4 << 20 // bytes of a search body (100,000 values at full float64 precision fit)
	maxNameLen     = 1024    // bytes of a metric or collection name in a request
	maxDrawValues  = 100_000 // values of a query by shape
	pageSize       = 20      // search results per page, as Oculus
	maxAnomalies   = 5000    // anomalies the dashboard lists
	serverRows     = 100     // of which rendered as HTML (the script renders the rest: parsing 1,000 rows costs the browser far more than building them)
	maxSparklines  = 100     // metrics of one /api/v1/sparklines request
	sparkBuckets   = 60      // points of a sparkline
	maxSeriesPts   = 20_000  // points of one series answer unless ?maxpoints= asks for fewer
	metricsDefault = 100     // names returned by /api/v1/metrics by default
	metricsMax     = 10_000  // names returned by /api/v1/metrics at most
)

// New builds the server and its routes. It does not listen; call Run (or use Handler).
func New(o Options) (*Server, error) {
	if o.Store == nil {
		return nil, errors.New("cannot create the webapp: no store")
	}
	if isNil(o.Records) {
		return nil, errors.New("cannot create the webapp: no record store")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	// A nil *oculus.Service stored in an interface is not a nil interface: treat it as absent.
	if isNil(o.Search) {
		o.Search = nil
	}
	if isNil(o.Collections) {
		o.Collections = nil
	}
	if isNil(o.Index) {
		o.Index = nil
	}
	s := &Server{
		cfg: o.Config, store: o.Store, records: o.Records, stats: redisStats{o.Store}, search: o.Search, cols: o.Collections,
		index: o.Index, listeners: o.Listeners, traffic: o.Traffic, reg: o.Registry, log: o.Log, logLevel: o.LogLevel, version: o.Version,
		now: o.Now, started: o.Now(),
		searchLimit: newSearchLimiter(o.Config.SearchRate, o.Config.SearchBurst),
		authFails:   newFailureLimiter(authFailRate, authFailBurst, authFailClients),
		hosts:       newAllowedHosts(o.Config.AllowedHosts),
		rates:       &rateSampler{},
	}
	s.searchBase, s.stopSearches = context.WithCancel(context.Background())
	if s.index == nil {
		if is, ok := o.Search.(IndexStatuser); ok {
			s.index = is
		} else if is, ok := o.Collections.(IndexStatuser); ok {
			s.index = is
		}
	}
	s.names = &nameCache{list: s.metricNames, count: s.stats.MetricCount, fresh: namesFresh, ttl: namesTTL, now: time.Now}
	var err error
	if s.static, err = fs.Sub(embedded, "static"); err != nil {
		return nil, fmt.Errorf("cannot open the embedded assets: %w", err)
	}
	s.charts = chartsBuilt(s.static)
	if s.pages, err = parseTemplates(); err != nil {
		return nil, err
	}
	s.m, err = newMetrics(o.Registry)
	if err != nil {
		return nil, err
	}
	s.e = s.routes()
	return s, nil
}

func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

// Handler is the server's HTTP handler (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.e }

// Addr is the address Run listens on ("" before it does).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// ChartsBuilt reports whether the chart library was built into the binary (make assets).
func (s *Server) ChartsBuilt() bool { return s.charts }

// Timeouts of the HTTP server. Searches answer within --search-timeout plus searchGrace, so
// the write timeout leaves them writeMargin on top for rendering and a slow reader.
const (
	readHeaderTimeout = 10 * time.Second // slow-header (slowloris) clients are dropped
	readTimeout       = 30 * time.Second // headers plus a body of up to maxSearchBody
	idleTimeout       = 2 * time.Minute  // keep-alive connections between requests
	writeMargin       = 30 * time.Second
	maxHeaderBytes    = 64 << 10
)

// Run listens on the configured --webapp address and serves until ctx ends, then shuts down
// gracefully (in-flight requests get --shutdown-timeout).
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("cannot listen on --webapp %s: %w", s.cfg.Addr, err)
	}
	return s.Serve(ctx, ln)
}

// httpServer is the http.Server Serve runs, with its timeouts.
func (s *Server) httpServer() *http.Server {
	return &http.Server{
		Handler:           s.e,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      s.cfg.SearchTimeout + searchGrace + writeMargin,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// Serve serves on ln until ctx ends, then shuts down gracefully: new searches answer 503,
// in-flight requests get --shutdown-timeout, then searches still running are cancelled and
// the remaining connections closed. At most --webapp-max-conns connections are served at
// once (0: no cap); further ones wait in the kernel's backlog. Failed accepts such as EMFILE
// are retried by net/http with a back-off; only a listener that cannot accept at all ends
// Serve with an error.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.cfg.MaxConns > 0 {
		ln = netutil.LimitListener(ln, s.cfg.MaxConns)
	}
	s.mu.Lock()
	s.addr = ln.Addr().String()
	s.searchBase, s.stopSearches = context.WithCancel(context.Background())
	stopSearches := s.stopSearches
	s.mu.Unlock()
	defer stopSearches()
	s.draining.Store(false)
	srv := s.httpServer()
	if !s.charts {
		s.log.Warn("the chart assets were not built: pages show tables without charts; run 'make assets' (needs npm)")
	}
	s.log.Info("webapp listening", "addr", "http://"+s.addr, "writes", s.authSummary(), "max_conns", s.cfg.MaxConns)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	sampled := make(chan struct{})
	sctx, stopSampling := context.WithCancel(ctx)
	defer func() { stopSampling(); <-sampled }()
	go func() { // listener rates for the status page
		defer close(sampled)
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			s.listenerStatus(s.now())
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("cannot serve the webapp: %w", err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	shctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shctx); err != nil {
		// Searches still running are cancelled; they answer 503 within searchGrace, then
		// whatever still holds a connection is cut.
		s.log.Warn("webapp requests still running at --shutdown-timeout: cancelling searches, then closing connections", "timeout", s.cfg.ShutdownTimeout)
		stopSearches()
		last, cancelLast := context.WithTimeout(context.Background(), 2*searchGrace)
		if err := srv.Shutdown(last); err != nil {
			_ = srv.Close()
		}
		cancelLast()
	}
	<-errc
	return nil
}

// searchContext is the base of a search's context: it ends when Serve gives up draining.
func (s *Server) searchContext() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.searchBase
}

// routes builds the echo instance: middleware, then every page, API route and asset.
func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = echo.ExtractIPDirect() // rate limits key on the peer address; forwarded headers are client-controlled
	e.HTTPErrorHandler = s.errorHandler
	e.Use(s.recoverer())
	e.Use(s.securityHeaders)
	e.Use(s.checkHost)
	e.Use(middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{
		Skipper: func(c echo.Context) bool { return c.Request().URL.Path == searchPath },
		Limit:   strconv.Itoa(maxBody),
	}))
	e.Use(s.csrfCookie)
	e.Use(s.observe)

	// Pages (read-only, open).
	e.GET("/", s.dashboardPage)
	e.GET("/metric/*", s.metricPage)
	e.GET("/metric", s.metricPage) // ?name=
	e.GET("/search", s.searchPage)
	e.GET("/collections", s.collectionsPage)
	e.GET("/collection/*", s.collectionPage)
	e.GET("/status", s.statusPage)
	e.GET("/help", s.helpPage)

	// Skyline compatibility.
	e.GET("/api", s.skylineAPI)
	e.GET("/app_settings", s.appSettings)
	e.GET("/static/dump/anomalies.json", s.anomalyDump)

	// JSON API: reads.
	e.GET("/api/v1/anomalies", s.apiAnomalies)
	e.GET("/api/v1/anomalies/history", s.apiAnomalyHistory)
	e.GET("/api/v1/metrics", s.apiMetrics)
	e.GET("/api/v1/series", s.apiSeries)
	e.GET("/api/v1/sparklines", s.apiSparklines)
	e.GET("/api/v1/feedback", s.apiFeedbackList)
	e.GET("/api/v1/collections", s.apiCollections)
	e.GET("/api/v1/collections/:name", s.apiCollection)
	e.GET("/api/v1/status", s.apiStatus)
	e.POST(searchPath, s.apiSearch, s.rateLimited(), middleware.BodyLimit(strconv.Itoa(maxSearchBody)))
	s.tagRoutes(e)      // graphite-web's /tags API (tags.go)
	s.graphiteRoutes(e) // graphite-web's /render, /metrics/find, /functions, /version (graphite.go)
	s.eventRoutes(e)    // graphite-web's /events/get_data (events.go)

	// JSON API: writes (credentials, then CSRF for browser requests). Per-route middleware,
	// not a group: an echo group's middleware would also guard every unmatched path.
	guard := []echo.MiddlewareFunc{s.requireAuth, s.checkCSRF}
	e.POST("/api/v1/collections", s.apiCreateCollection, guard...)
	e.POST("/api/v1/collections/:name", s.apiUpdateCollection, guard...)
	e.POST("/api/v1/collections/:name/delete", s.apiDeleteCollection, guard...)
	e.POST("/api/v1/feedback", s.apiFeedback, guard...)
	e.GET("/api/v1/admin/log-level", s.apiLogLevel)
	e.POST("/api/v1/admin/log-level", s.apiLogLevel, guard...)

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})))
	e.GET("/static/*", s.staticFile)
	e.GET("/favicon.ico", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, "/static/favicon.svg") })
	return e
}

// searchPath is the search API's route (its body limit is maxSearchBody).
const searchPath = "/api/v1/search"

// bodyLimit is the body size limit of a path.
func bodyLimit(path string) int {
	if path == searchPath {
		return maxSearchBody
	}
	return maxBody
}

// authSummary says how writes are authorised, for the start-up log line (no secrets).
func (s *Server) authSummary() string {
	var ways []string
	if s.cfg.Token != "" {
		ways = append(ways, "bearer token")
	}
	if s.cfg.User != "" && s.cfg.Password != "" {
		ways = append(ways, "basic auth")
	}
	if len(ways) == 0 {
		return "refused (set --webapp-token or --webapp-user/--webapp-password)"
	}
	return strings.Join(ways, " or ")
}
