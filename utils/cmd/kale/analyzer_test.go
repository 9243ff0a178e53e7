package main

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/utils/config"
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
