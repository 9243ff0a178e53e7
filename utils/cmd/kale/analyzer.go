package main

import (
	"context"
	"log/slog"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/analyzer"
	"github.com/kale-project/kale/analyzer/alert"
	"github.com/kale-project/kale/utils/config"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
)

// startAnalyzer builds the analyzer, its alert dispatcher and Graphite sender, and starts
// them in g.
func startAnalyzer(ctx context.Context, g *errgroup.Group, c *config.Config, store *redisstore.Store, reg *prometheus.Registry, log *slog.Logger) error {
	alog := log.With("component", "analyzer")
	var alerter analyzer.Alerter
	if rules, _ := config.ParseAlertRules(c.Alerts); c.EnableAlerts && len(rules) > 0 {
		chs, err := alert.Channels(c, alog)
		if err != nil {
			return err
		}
		d, err := alert.New(rules, chs, store.Client(), alog, reg, alert.Options{})
		if err != nil {
			return err
		}
		g.Go(func() error { return d.Run(ctx) })
		alerter = d
	}
	var graphite analyzer.SelfMetrics
	if c.GraphiteAddr != "" {
		graphite = &alert.Graphite{Addr: c.GraphiteAddr}
	}
	a, err := analyzer.New(analyzer.Options{
		Config: analyzer.Config{
			Detector: c.Detector, Kale: algorithms.DefaultKaleConfig(), KaleThreshold: c.KaleThreshold,
			Settings: settingsFromConfig(c), Workers: c.Workers(), Interval: c.AnalyzerInterval,
			SecondOrder: c.SecondOrder, AnomalyHistory: c.AnomalyHistory, AnomalyDump: c.AnomalyDump,
			CanaryMetric: c.CanaryMetric, ID: c.AnalyzerID, Lease: c.AnalyzerLease, MaxFuture: c.MaxFuture,
		},
		Store: store, Alerter: alerter, Graphite: graphite, Registry: reg, Log: alog,
	})
	if err != nil {
		return err
	}
	g.Go(func() error { return a.Run(ctx) })
	return nil
}
