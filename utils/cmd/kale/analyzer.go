package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/analyzer"
	"github.com/kale-project/kale/analyzer/alert"
	"github.com/kale-project/kale/analyzer/alert/alertstore"
	"github.com/kale-project/kale/analyzer/recordstore"
	"github.com/kale-project/kale/analyzer/statestore"
	"github.com/kale-project/kale/utils/config"
	"github.com/kale-project/kale/utils/priority"
	"github.com/kale-project/kale/utils/redisstore"
)

// checkAnalyzerConfig validates the options the analyzer's packages own, which the config
// binder does not know: the --alerts rules. Every command runs it after parseConfig.
func checkAnalyzerConfig(c *config.Config) error {
	_, err := alertRules(c)
	return err
}

// alertRules parses --alerts.
func alertRules(c *config.Config) ([]alert.Rule, error) {
	rules, err := alert.ParseRules(c.Alerts)
	if err != nil {
		return nil, fmt.Errorf("invalid --alerts: %w", err)
	}
	return rules, nil
}

// alertConfig maps the --alert-* options and --graph-url onto the alert channels' Config.
func alertConfig(c *config.Config) *alert.Config {
	return &alert.Config{
		WebhookURL: c.AlertWebhookURL, SlackURL: c.AlertSlackURL,
		SMTPAddr: c.AlertSMTPAddr, SMTPFrom: c.AlertSMTPFrom, SMTPTo: c.AlertSMTPTo, SMTPUser: c.AlertSMTPUser,
		SMTPPassword: c.AlertSMTPPassword, SMTPTLS: c.AlertSMTPTLS,
		PagerDutyKey: c.AlertPagerDutyKey, PagerDutyURL: c.AlertPagerDutyURL, GraphURL: c.GraphURL,
	}
}

// analyzerConfig maps the configuration onto the analyzer's Config.
func analyzerConfig(c *config.Config) analyzer.Config {
	coldRows := c.KaleColdRows
	if coldRows == 0 {
		coldRows = -1 // every stored row (the analyzer's 0 is its default)
	}
	coldBudget := c.KaleColdBudget
	if coldBudget == 0 {
		coldBudget = -1 // none (the analyzer's 0 is its default)
	}
	return analyzer.Config{
		Detector: c.Detector, Kale: algorithms.DefaultKaleConfig(), KaleThreshold: c.KaleThreshold,
		Settings: settingsFromConfig(c), Workers: c.Workers(), Interval: c.AnalyzerInterval,
		SecondOrder: c.SecondOrder, AnomalyHistory: c.AnomalyHistory, AnomalyDump: c.AnomalyDump,
		CanaryMetric: c.CanaryMetric, ID: c.AnalyzerID, Lease: c.AnalyzerLease, MaxFuture: c.MaxFuture,
		ColdRows: coldRows, ColdBudget: coldBudget,
	}
}

// analyzerGate makes the analyzer yield to the interactive work holding gate (searches): its
// workers and its background refinement wait on it between small batches of metrics. 'kale
// all' passes the Gate it gives oculus (oculusGate).
func analyzerGate(gate *priority.Gate) func(*analyzer.Options) {
	return func(o *analyzer.Options) {
		if gate != nil {
			o.Config.Yield = gate
		}
	}
}

// startAnalyzer builds the analyzer, its stores, alert dispatcher and Graphite sender, and
// starts them in g. opts adjust the analyzer's options, e.g. analyzerGate.
func startAnalyzer(ctx context.Context, g *errgroup.Group, c *config.Config, store *redisstore.Store, reg *prometheus.Registry, log *slog.Logger, opts ...func(*analyzer.Options)) error {
	rules, err := alertRules(c)
	if err != nil {
		return err
	}
	alog := log.With("component", "analyzer")
	var alerter analyzer.Alerter
	if c.EnableAlerts && len(rules) > 0 {
		chs, err := alert.Channels(alertConfig(c), alog)
		if err != nil {
			return err
		}
		d, err := alert.New(rules, chs, alertstore.New(store.Client()), alog, reg, alert.Options{})
		if err != nil {
			return err
		}
		g.Go(func() error { return d.Run(ctx) })
		alerter = d
	} else if _, err := alert.New(nil, nil, nil, alog, reg, alert.Options{}); err != nil {
		// No alerts to send: the kale_alerts_*_total counters are still exported, at 0, so
		// dashboards and absent() alerts see the same series whatever the configuration.
		return err
	}
	var graphite analyzer.SelfMetrics
	if c.GraphiteAddr != "" {
		graphite = &alert.Graphite{Addr: c.GraphiteAddr}
	}
	records, states := recordstore.New(store.Client()), statestore.New(store)
	o := analyzer.Options{
		Config: analyzerConfig(c), Store: store,
		Records: records, Leases: records, States: states, Triggers: states,
		Alerter: alerter, Graphite: graphite, Registry: reg, Log: alog,
	}
	for _, opt := range opts {
		opt(&o)
	}
	a, err := analyzer.New(o)
	if err != nil {
		return err
	}
	g.Go(func() error { return a.Run(ctx) })
	return nil
}
