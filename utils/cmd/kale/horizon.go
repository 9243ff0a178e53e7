package main

import (
	"log/slog"

	"github.com/kale-project/kale/horizon"
	"github.com/kale-project/kale/horizon/protocol"
	"github.com/kale-project/kale/utils/config"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/prometheus/client_golang/prometheus"
)

// newHorizon builds the ingestion service from the configuration: its listeners are bound
// here, so a busy port is reported before anything runs.
func newHorizon(c *config.Config, explicit func(string) bool, store *redisstore.Store, reg prometheus.Registerer, log *slog.Logger) (*horizon.Service, error) {
	return horizon.New(horizon.Options{Config: horizonConfig(c, explicit), Store: store, Registry: reg, Log: log.With("component", "horizon")})
}

// horizonConfig maps the configuration onto horizon's own; explicit reports whether the user
// set an option (nil: none was), which makes a listener that cannot bind fatal.
func horizonConfig(c *config.Config, explicit func(string) bool) horizon.Config {
	// c.Listeners() is the Graphite family, which kale seed sends through; horizon binds the
	// HTTP ingest and StatsD listeners after it.
	all := append(c.Listeners(), config.Listener{Option: protocol.IngestHTTP, Addr: c.IngestHTTP},
		config.Listener{Option: protocol.StatsdUDP, Addr: c.StatsdUDP})
	var ls []horizon.Listener
	for _, l := range all {
		ls = append(ls, horizon.Listener{Protocol: l.Option, Addr: l.Addr,
			Explicit: explicit != nil && explicit(l.Option), Env: config.EnvName(l.Option)})
	}
	return horizon.Config{
		Listeners:   ls,
		IngestToken: c.IngestToken, StatsdFlush: c.StatsdFlush,
		FullNamespace: c.FullNamespace, MiniNamespace: c.MiniNamespace,
		FullDuration: c.FullDuration, MiniDuration: c.MiniDuration, Mini: c.Mini,
		MaxNameLength: c.MaxNameLength, MaxFrame: c.MaxFrame, MaxItems: c.MaxItems, MaxConns: c.MaxConns,
		TCPIdleTimeout: c.TCPIdleTimeout, MaxInflightBytes: c.MaxInflightBytes, UDPReadBuffer: c.UDPReadBuffer,
		QueueSize: c.QueueSize, FlushInterval: c.FlushInterval, FlushPoints: c.FlushPoints,
		MaxResolution: c.MaxResolution, MaxFuture: c.MaxFuture, SkipList: c.SkipList,
		MaxMetrics: c.MaxMetrics, MaxNewMetricsPerMinute: c.MaxNewMetricsPerMinute, ShutdownTimeout: c.ShutdownTimeout,
		Roomba: c.Roomba, RoombaInterval: c.RoombaInterval, RoombaGraceTime: c.RoombaGraceTime,
	}
}
