package main

import (
	"context"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/kale-project/kale/analyzer/alert"
	"github.com/kale-project/kale/utils/config"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
)

func TestCheckAnalyzerConfig(t *testing.T) {
	c := config.DefaultConfig()
	c.Alerts = []string{"skyline:smtp:1800"}
	require.NoError(t, checkAnalyzerConfig(c))
	c.Alerts = []string{"x:carrier-pigeon:5"}
	require.EqualError(t, checkAnalyzerConfig(c),
		`invalid --alerts: rule "x:carrier-pigeon:5": strategy "carrier-pigeon" is not one of smtp, webhook, slack, pagerduty, log`)
}

// Every field of alert.Config is mapped from the configuration.
func TestAlertConfigMapsEveryField(t *testing.T) {
	c := config.DefaultConfig()
	c.AlertWebhookURL, c.AlertSlackURL, c.AlertSMTPUser, c.AlertSMTPPassword = "w", "s", "u", "p"
	c.AlertSMTPTo, c.AlertPagerDutyKey, c.GraphURL = []string{"a@example.com"}, "k", "g"
	v := reflect.ValueOf(*alertConfig(c))
	for i := range v.NumField() {
		require.False(t, v.Field(i).IsZero(), "alert.Config.%s is not mapped", v.Type().Field(i).Name)
	}
}

// With no alert rules, the alert counters are still exported at 0 for every strategy.
func TestAlertCountersWithoutRules(t *testing.T) {
	srv := redistest.Start(t)
	c := config.DefaultConfig()
	c.Redis, c.Alerts = srv.URL(), nil
	store, err := redisstore.Open(c.Redis, redisstore.Options{})
	require.NoError(t, err)
	defer store.Close()
	reg := prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	g, gctx := errgroup.WithContext(ctx)
	require.NoError(t, startAnalyzer(gctx, g, c, store, reg, slog.New(slog.DiscardHandler)))
	cancel()
	require.NoError(t, g.Wait())
	families, err := reg.Gather()
	require.NoError(t, err)
	found := map[string]int{}
	for _, f := range families {
		if strings.HasPrefix(f.GetName(), "kale_alerts_") {
			found[f.GetName()] = len(f.GetMetric())
		}
	}
	for _, name := range []string{"sent", "failed", "retried", "dropped", "suppressed"} {
		require.Equal(t, len(alert.Strategies), found["kale_alerts_"+name+"_total"], name)
	}
}
