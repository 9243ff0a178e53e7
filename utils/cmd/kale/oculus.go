package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/kale-project/kale/oculus"
	"github.com/kale-project/kale/oculus/collectionstore"
	"github.com/kale-project/kale/oculus/indexstore"
	"github.com/kale-project/kale/utils/config"
	"github.com/kale-project/kale/utils/priority"
	"github.com/kale-project/kale/utils/redisstore"
)

// runOculus is `kale oculus`: it keeps the shape index up to date with Redis (every
// --oculus-interval, only changed metrics re-indexed); --rebuild first drops the index and
// builds it again from Redis.
func runOculus(ctx context.Context, args []string, _, stderr io.Writer) error {
	var rebuild bool
	r, _, err := parseConfig("oculus", args, stderr, nil, func(fs *flag.FlagSet) {
		fs.BoolVar(&rebuild, "rebuild", false, "drop the index and rebuild it from Redis before keeping it up to date")
	})
	if err != nil {
		return err
	}
	if r.Redis == "embedded" {
		return fmt.Errorf("%w: kale oculus indexes the metrics of a running Redis, and --redis embedded would start a new, empty one; "+
			"pass the Redis of horizon, or use 'kale all'", errUsage)
	}
	log := newLogger(r.Config, stderr)
	for _, w := range r.Warnings {
		log.Warn(w)
	}
	if err := useDataDir(r.Config, log); err != nil {
		return err
	}
	store, err := redisstore.Open(r.Redis, redisstore.Options{FullNamespace: r.FullNamespace, MiniNamespace: r.MiniNamespace})
	if err != nil {
		return err
	}
	defer store.Close()
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	if err := store.Ping(pctx); err != nil {
		log.Warn("Redis is not reachable yet; the index is synced once it is", "err", err)
	}
	cancel()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	olog := log.With("component", "oculus")
	svc, err := newOculus(r.Config, store, reg, olog)
	if err != nil {
		return err
	}
	if r.MetricsAddr != "" {
		ln, err := net.Listen("tcp", r.MetricsAddr)
		if err != nil {
			_ = svc.Close()
			return fmt.Errorf("cannot listen on --metrics-addr %s: %w", r.MetricsAddr, err)
		}
		srv := &http.Server{Handler: opsHandler(reg, store, nil), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		log.Info("serving /metrics and /healthz", "addr", ln.Addr().String())
	}
	if rebuild {
		olog.Info("rebuilding the shape index from Redis", "index", indexName(r.OculusIndex))
		start := time.Now()
		if err := svc.Rebuild(ctx); err != nil {
			_ = svc.Close()
			return err
		}
		st := svc.Status(ctx)
		olog.Info("shape index rebuilt", "documents", st.Documents, "seconds", time.Since(start).Seconds(),
			"size_bytes", st.SizeBytes)
	}
	log.Info("kale started", "command", "oculus", "redis", store.String(), "index", indexName(r.OculusIndex),
		"source", r.OculusSource, "window", r.OculusWindow, "interval", r.OculusInterval, "version", version)
	err = svc.Run(ctx)
	log.Info("kale stopped")
	return err
}

// startOculus builds the shape-search service and starts its index maintenance in g. It is
// what 'kale all' (and a webapp wanting the service in-process) calls; the caller passes the
// returned service to the webapp. opts adjust the service's options, e.g. oculusGate.
func startOculus(ctx context.Context, g *errgroup.Group, c *config.Config, store *redisstore.Store, reg prometheus.Registerer, log *slog.Logger, opts ...func(*oculus.Options)) (*oculus.Service, error) {
	svc, err := newOculus(c, store, reg, log.With("component", "oculus"), opts...)
	if err != nil {
		return nil, err
	}
	g.Go(func() error { return svc.Run(ctx) })
	return svc, nil
}

// newOculus builds the shape-search service on its stores: the Skyline layout, the
// collections and the index state, all in the Redis of store.
func newOculus(c *config.Config, store *redisstore.Store, reg prometheus.Registerer, log *slog.Logger, opts ...func(*oculus.Options)) (*oculus.Service, error) {
	o := oculus.Options{
		Config:      oculusConfig(c),
		Series:      store,
		Collections: collectionstore.New(store.Client(), log),
		State:       indexstore.New(store.Client()),
		Registry:    reg,
		Log:         log,
	}
	for _, opt := range opts {
		opt(&o)
	}
	return oculus.New(o)
}

// oculusGate makes the service share gate with the other background work of the process:
// each search holds it while it runs; the sync and catch-up passes wait on it between
// batches, as the analyzer's workers do. 'kale all' passes one Gate to both.
func oculusGate(gate *priority.Gate) func(*oculus.Options) {
	return func(o *oculus.Options) { o.Gate = gate }
}

// oculusConfig maps the flags onto oculus's own configuration.
func oculusConfig(c *config.Config) oculus.Config {
	return oculus.Config{
		IndexPath:     c.OculusIndex,
		Source:        c.OculusSource,
		Window:        c.OculusWindow,
		Interval:      c.OculusInterval,
		SearchLength:  c.SearchLength,
		SearchTimeout: c.SearchTimeout,
		SearchMaxWork: c.SearchMaxWork,
		FullNamespace: c.FullNamespace,
		MiniNamespace: c.MiniNamespace,
	}
}

func indexName(path string) string {
	if path == "" {
		return "(in memory)"
	}
	return path
}

// useDataDir resolves the file options under --data-dir, creates the directory when something
// is kept on disk, and says where at start-up.
func useDataDir(c *config.Config, log *slog.Logger) error {
	c.OculusIndex = c.DataPath(c.OculusIndex)
	if c.OculusIndex == "" {
		return nil
	}
	if err := os.MkdirAll(c.DataDir, 0o750); err != nil {
		return fmt.Errorf("cannot create --data-dir %q: %w", c.DataDir, err)
	}
	log.Info("data directory", "data_dir", c.DataDir, "oculus_index", c.OculusIndex)
	return nil
}
