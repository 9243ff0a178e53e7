package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Every option that holds a credential is marked secret, and Display never shows it.
func TestDisplayHidesSecrets(t *testing.T) {
	c := DefaultConfig()
	const secret = "Sup3rSecretValue-1234567890"
	c.Redis = "redis://kale:" + secret + "@127.0.0.1:6379/0"
	c.WebappToken, c.WebappPassword, c.IngestToken = secret, secret, secret
	c.AlertSMTPPassword, c.AlertPagerDutyKey = secret, secret
	c.AlertSlackURL = "https://hooks.slack.com/services/" + secret
	c.AlertWebhookURL = "https://user:" + secret + "@alerts.example.com/hook"
	marked := map[string]bool{}
	for _, o := range Options() {
		require.NotContains(t, o.Display(c), secret, o.Name)
		if o.Secret() {
			marked[o.Name] = true
		}
	}
	for _, name := range []string{"redis", "webapp-token", "ingest-token", "webapp-password", "alert-smtp-password",
		"alert-pagerduty-key", "alert-slack-url", "alert-webhook-url"} {
		require.True(t, marked[name], name)
	}
	err := ValidateRedisURL("redis://:" + secret + "@h:port/0")
	require.Error(t, err)
	require.NotContains(t, err.Error(), secret)
	err = ValidateRedisURL("http://:" + secret + "@h:1/0")
	require.Error(t, err)
	require.NotContains(t, err.Error(), secret)
}
