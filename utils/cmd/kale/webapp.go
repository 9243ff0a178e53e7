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
	srv, err := newWebapp(webapp.Options{
		Config: webappConfig(c), Store: store, Records: recordstore.New(store.Client()), Search: search, Collections: cols, Listeners: listeners,
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
		GraphURL:        c.GraphURL, FullNamespace: c.FullNamespace,
		Detector: c.Detector, Algorithms: c.Algorithms, Consensus: c.Consensus,
		OculusWindow: c.OculusWindow,
	}
}
