package main

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/kale-project/kale/analyzer/recordstore"
	"github.com/kale-project/kale/horizon/listener"
	"github.com/kale-project/kale/utils/config"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/webapp"
)

// startWebapp builds the web UI and HTTP API and runs it in g until ctx ends. search and cols
// may be nil (oculus not in this process: the search and collection routes answer 503 saying
// so), and so may listeners (horizon not in this process). stopped, if not nil, is called
// once the webapp has drained (or could not start), so that what its requests use, the
// search index, is closed only after them. An empty --webapp disables it.
func startWebapp(ctx context.Context, g *errgroup.Group, c *config.Config, store *redisstore.Store, reg *prometheus.Registry,
	log *slog.Logger, search webapp.Searcher, cols webapp.CollectionStore, listeners func() []listener.State,
	stopped func(), with ...func(*webapp.Options)) error {
	if stopped == nil {
		stopped = func() {}
	}
	if c.Webapp == "" {
		log.Info("webapp disabled (--webapp is empty)")
		stopped()
		return nil
	}
	var traffic func() (received, rejected map[string]float64)
	if listeners != nil {
		traffic = horizonTraffic(reg)
	}
	srv, err := newWebapp(webapp.Options{
		Config: webappConfig(c), Store: store, Records: recordstore.New(store.Client()), Search: search, Collections: cols, Listeners: listeners, Traffic: traffic,
		Registry: reg, Log: log.With("component", "webapp"), Version: version,
	}, with...)
	if err != nil {
		stopped()
		return err
	}
	g.Go(func() error {
		defer stopped()
		return srv.Run(ctx)
	})
	return nil
}

// newWebapp applies the optional settings (e.g. the run-time log level) and builds the server.
func newWebapp(o webapp.Options, with ...func(*webapp.Options)) (*webapp.Server, error) {
	for _, f := range with {
		f(&o)
	}
	return webapp.New(o)
}

// webappConfig maps the process's configuration onto the webapp's own.
func webappConfig(c *config.Config) webapp.Config {
	return webapp.Config{
		Addr: c.Webapp, MaxConns: c.WebappMaxConns, AllowedHosts: c.WebappAllowedHosts,
		Token: c.WebappToken, User: c.WebappUser, Password: c.WebappPassword,
		SearchRate: c.SearchRate, SearchBurst: c.SearchBurst, SearchTimeout: c.SearchTimeout,
		ShutdownTimeout: c.ShutdownTimeout,
		GraphURL:        c.GraphURL, FullNamespace: c.FullNamespace, FullDuration: c.FullDuration,
		Detector: c.Detector, Algorithms: c.Algorithms, Consensus: c.Consensus,
	}
}

// horizonTraffic reports what each horizon listener received and rejected, by protocol, from
// horizon's counters (kale_horizon_received_total and kale_horizon_rejected_total) in the
// process's registry. Horizon keeps these counters to itself today; once it reports them
// beside its listeners' states, the webapp's Traffic should take that instead.
func horizonTraffic(g prometheus.Gatherer) func() (received, rejected map[string]float64) {
	return func() (received, rejected map[string]float64) {
		received, rejected = map[string]float64{}, map[string]float64{}
		mfs, err := g.Gather()
		if err != nil {
			return received, rejected
		}
		for _, mf := range mfs {
			var dst map[string]float64
			switch mf.GetName() {
			case "kale_horizon_received_total":
				dst = received
			case "kale_horizon_rejected_total":
				dst = rejected
			default:
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "protocol" {
						dst[l.GetValue()] += m.GetCounter().GetValue()
					}
				}
			}
		}
		return received, rejected
	}
}
