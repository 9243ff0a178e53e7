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

	"github.com/kale-project/kale/analyzer"
	"github.com/kale-project/kale/analyzer/alert"
	"github.com/kale-project/kale/utils/config"
	"github.com/kale-project/kale/utils/priority"
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

// --kale-cold-rows maps onto the analyzer's ColdRows; its 0 (every stored row) is the
// analyzer's -1, since the analyzer's 0 means its default.
func TestAnalyzerColdRows(t *testing.T) {
	for _, tc := range []struct{ flag, want int }{{0, -1}, {360, 360}, {1440, 1440}} {
		c := config.DefaultConfig()
		c.KaleColdRows = tc.flag
		require.Equal(t, tc.want, analyzerConfig(c).ColdRows, "--kale-cold-rows %d", tc.flag)
	}
	require.Equal(t, analyzer.DefaultColdRows, config.DefaultConfig().KaleColdRows, "the flag's default is the analyzer's")
}

// --kale-cold-budget maps like --kale-cold-rows: its 0 (none) is the analyzer's -1.
func TestAnalyzerColdBudget(t *testing.T) {
	for _, tc := range []struct{ flag, want int }{{0, -1}, {1000, 1000}} {
		c := config.DefaultConfig()
		c.KaleColdBudget = tc.flag
		require.Equal(t, tc.want, analyzerConfig(c).ColdBudget, "--kale-cold-budget %d", tc.flag)
	}
	require.Equal(t, analyzer.DefaultColdBudget, config.DefaultConfig().KaleColdBudget, "the flag's default is the analyzer's")
}

// analyzerGate hands the gate to the analyzer; a nil gate leaves Yield unset.
func TestAnalyzerGate(t *testing.T) {
	var o analyzer.Options
	analyzerGate(nil)(&o)
	require.Nil(t, o.Config.Yield)
	g := &priority.Gate{}
	analyzerGate(g)(&o)
	require.Same(t, g, o.Config.Yield)
}
