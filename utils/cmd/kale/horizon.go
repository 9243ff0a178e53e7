package main

import (
	"log/slog"

	"github.com/kale-project/kale/horizon"
	"github.com/kale-project/kale/utils/config"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/prometheus/client_golang/prometheus"
)

// newHorizon builds the ingestion service from the configuration: its listeners are bound
// here, so a busy port is reported before anything runs.
func newHorizon(c *config.Config, explicit func(string) bool, store *redisstore.Store, reg prometheus.Registerer, log *slog.Logger) (*horizon.Service, error) {
	return horizon.New(horizon.Options{Config: c, Explicit: explicit, Store: store, Registry: reg, Log: log.With("component", "horizon")})
}
