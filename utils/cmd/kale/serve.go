package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/kale-project/kale/horizon"
	"github.com/kale-project/kale/horizon/listener"
	"github.com/kale-project/kale/utils/config"
	"github.com/kale-project/kale/utils/priority"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/webapp"
)

func runHorizon(ctx context.Context, args []string, _, stderr io.Writer) error {
	return serve(ctx, "horizon", args, stderr, nil)
}

func runAnalyzer(ctx context.Context, args []string, _, stderr io.Writer) error {
	return serve(ctx, "analyzer", args, stderr, nil)
}

func runWebapp(ctx context.Context, args []string, _, stderr io.Writer) error {
	return serve(ctx, "webapp", args, stderr, nil)
}

func runAll(ctx context.Context, args []string, _, stderr io.Writer) error {
	d := config.DefaultConfig()
	d.Redis = "embedded"
	return serve(ctx, "all", args, stderr, d)
}

// serve runs the components of a command ("all": every component this build has) until ctx
// ends, then stops them in order.
func serve(ctx context.Context, name string, args []string, stderr io.Writer, defaults *config.Config) error {
	var seedDemo bool
	ownFlags := func(seed *bool) func(fs *flag.FlagSet) {
		return func(fs *flag.FlagSet) {
			if name == "all" {
				fs.BoolVar(seed, "seed", false, "after start-up, load the demo data set (24 h of history plus live points through every listener) and verify it")
			}
		}
	}
	r, _, err := parseConfig(name, args, stderr, defaults, ownFlags(&seedDemo))
	if err != nil {
		return err
	}
	log, level := newLevelLogger(r.Config, stderr)
	for _, w := range r.Warnings {
		log.Warn(w)
	}
	// SIGHUP re-reads the configuration (flags, KALE_* environment, --config file) and applies
	// its --log-level; the other options need a restart.
	reload := func() {
		var ignored bool
		r2, _, err := parseConfig(name, args, io.Discard, defaults, ownFlags(&ignored))
		if err != nil {
			log.Warn("SIGHUP: cannot reload the configuration; the log level is unchanged", "err", err)
			return
		}
		setLevel(level, r2.LogLevel)
		log.Warn("SIGHUP: log level reloaded", "log_level", r2.LogLevel)
	}
	stopHUP := onSIGHUP(ctx, reload)
	defer stopHUP()
	setMemoryLimit(r.MemoryLimitMB, log)
	store, err := redisstore.Open(r.Redis, redisstore.Options{FullNamespace: r.FullNamespace, MiniNamespace: r.MiniNamespace})
	if err != nil {
		return err
	}
	defer store.Close()
	if store.Embedded() {
		log.Warn("USING THE EMBEDDED REDIS: data is kept in this process's memory only and is LOST when kale exits; "+
			"run a redis-server and pass --redis redis://127.0.0.1:6379/0 for real use",
			"addr", store.EmbeddedAddr())
	}
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	if err := store.Ping(pctx); err != nil {
		log.Warn("Redis is not reachable yet; components retry until it is", "err", err)
	}
	cancel()

	fds := planFDs(r.Config, name == "all" || name == "horizon", (name == "all" || name == "webapp") && r.Webapp != "", store.Embedded())
	fds.log(log, r.Config)
	r.WebappMaxConns = fds.WebappMax

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	g, gctx := errgroup.WithContext(ctx)
	// One gate for the process: searches hold it, the analyzer's workers and oculus's
	// indexing wait on it between small batches, so search keeps its latency during cycles.
	gate := &priority.Gate{}
	var hz *horizon.Service
	var afterSeed func(context.Context) // brings the search index up to date once the demo data is in
	if name == "all" || name == "horizon" {
		hz, err = newHorizon(r.Config, r.Explicit, store, reg, log)
		if err != nil {
			return err
		}
		g.Go(func() error { return hz.Run(gctx) })
	}
	if name == "all" || name == "analyzer" {
		if err := startAnalyzer(gctx, g, r.Config, store, reg, log, analyzerGate(gate)); err != nil {
			return err
		}
	}
	if name == "all" || name == "webapp" {
		// The search engine runs beside the UI that serves it.
		if store.Embedded() && !r.Explicit("oculus-index") {
			r.OculusIndex = ""
			log.Info("the shape index is kept in memory, like the embedded Redis (set --oculus-index to keep it on disk)")
		}
		if err := useDataDir(r.Config, log); err != nil {
			return err
		}
		// oculus keeps its index open until the webapp has drained (its searches need it): its
		// context ends when the webapp's Run returns, or with gctx when there is no webapp.
		octx, stopOculus := context.WithCancel(context.Background())
		defer stopOculus()
		if r.Webapp == "" {
			stop := context.AfterFunc(gctx, stopOculus)
			defer stop()
		}
		oc, err := startOculus(octx, g, r.Config, store, reg, log, oculusGate(gate))
		if err != nil {
			return err
		}
		afterSeed = func(ctx context.Context) {
			if _, err := oc.Sync(ctx); err != nil && ctx.Err() == nil {
				log.Warn("cannot index the demo data yet; the next sync will", "err", err)
			}
		}
		var listeners func() []listener.State
		if hz != nil {
			listeners = hz.Listeners
		}
		if err := startWebapp(gctx, g, r.Config, store, reg, log, oc, oc, listeners, stopOculus,
			func(o *webapp.Options) { o.LogLevel = level }); err != nil {
			return err
		}
	}
	if r.MetricsAddr != "" {
		ln, err := net.Listen("tcp", r.MetricsAddr)
		if err != nil {
			return fmt.Errorf("cannot listen on --metrics-addr %s: %w", r.MetricsAddr, err)
		}
		srv := &http.Server{Handler: opsHandlerUntil(gctx, reg, store, hz), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		log.Info("serving /metrics, /healthz and /readyz", "addr", ln.Addr().String())
	}
	if seedDemo && hz != nil {
		g.Go(func() error {
			runSeedInProcess(gctx, store, hz, log, r.Config, afterSeed)
			return nil
		})
	}
	log.Info("kale started", "command", name, "redis", store.String(), "version", version)
	// Drain (SIGTERM, Ctrl-C): every component sees gctx end at once and drains on its own —
	// horizon stops its listeners, then flushes the writer's queue to Redis; the analyzer
	// abandons the cycle in progress, saves the kale detector states, then gives up its lease;
	// the webapp stops accepting and gives in-flight requests 5s; /readyz on --metrics-addr
	// answers 503 from the first moment. Redis (an embedded one too) closes after all of them.
	stopped := context.AfterFunc(gctx, func() { log.Info("stopping: draining every component") })
	defer stopped()
	err = g.Wait()
	log.Info("kale stopped")
	return err
}

// opsHandler serves Prometheus metrics, a health document (liveness: always 200) and the
// readiness probe (/readyz: 200 when Redis answers PING and every configured listener of this
// process is bound, 503 with the reasons otherwise, and from the moment ctx ends: draining)
// for a component without the webapp.
func opsHandler(reg *prometheus.Registry, store *redisstore.Store, svc *horizon.Service) http.Handler {
	return opsHandlerUntil(context.Background(), reg, store, svc)
}

// opsHandlerUntil is opsHandler whose /readyz answers 503 (draining) once ctx ends.
func opsHandlerUntil(ctx context.Context, reg *prometheus.Registry, store *redisstore.Store, svc *horizon.Service) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, req *http.Request) {
		var listeners func() []listener.State
		if svc != nil {
			listeners = svc.Listeners
		}
		r := webapp.CheckReady(req.Context(), store.Ping, listeners)
		if ctx.Err() != nil {
			r = webapp.Readiness{Reason: "draining: the process is stopping", Reasons: []string{"draining: the process is stopping"}}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if !r.Ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(r)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, req *http.Request) {
		type health struct {
			Redis     string `json:"redis"`
			RedisErr  string `json:"redis_error,omitempty"`
			Listeners any    `json:"listeners"`
			Buffered  int    `json:"buffered_datapoints"`
		}
		h := health{Redis: "up", Listeners: []any{}}
		if svc != nil {
			h.Listeners, h.Buffered = svc.Listeners(), svc.Buffered()
		}
		if state, err := webapp.RedisHealth(req.Context(), store.Ping); err != nil {
			h.Redis, h.RedisErr = "down", err.Error()
			if state == "timeout" {
				h.Redis = "timeout"
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(h)
	})
	return mux
}

// setMemoryLimit applies --memory-limit-mb as the Go runtime's soft memory limit, unless the
// GOMEMLIMIT environment variable already set one (it wins) or the option is 0.
func setMemoryLimit(mb int, log *slog.Logger) {
	if os.Getenv("GOMEMLIMIT") != "" {
		log.Info("memory limit from GOMEMLIMIT", "bytes", debug.SetMemoryLimit(-1))
		return
	}
	if mb <= 0 {
		return
	}
	debug.SetMemoryLimit(int64(mb) << 20)
	log.Debug("soft memory limit set", "mib", mb)
}
