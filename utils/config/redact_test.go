package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"value short", "hunter2", "****"},
		{"value long", "R0ut1ngKey0123456789abcd", "****abcd"},
		{"slack", "https://hooks.slack.com/services/T000/B000/XXXXSECRET", "https://hooks.slack.com/****"},
		{"url userinfo", "https://bob:pw@example.com/hook?token=s3cret", "https://****@example.com/****"},
		{"url bare host", "https://example.com", "https://example.com"},
		{"redis pw", "redis://:s3cret@127.0.0.1:6379/0", "redis://:****@127.0.0.1:6379/0"},
		{"redis user pw", "rediss://kale:s3cret@h:6380/1", "rediss://kale:****@h:6380/1"},
		{"redis no pw", "redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		{"cluster", "redis+cluster://kale:s3cret@h1:7001,h2:7002", "redis+cluster://kale:****@h1:7001,h2:7002"},
		{"query password", "redis://h:1/0?password=s3cret&x=1", "redis://h:1/0?password=****&x=1"},
		{"pw with @", "redis://:p@ss@h:1/0", "redis://:****@h:1/0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			switch {
			case strings.HasPrefix(tc.name, "value"):
				got = RedactValue(tc.in)
			case strings.HasPrefix(tc.name, "url"), tc.name == "slack":
				got = RedactURL(tc.in)
			default:
				got = RedactUserinfo(tc.in)
			}
			require.Equal(t, tc.want, got)
		})
	}
}

// Every option that holds a credential is marked secret, and Display never shows it.
func TestDisplayHidesSecrets(t *testing.T) {
	c := DefaultConfig()
	const secret = "Sup3rSecretValue-1234567890"
	c.Redis = "redis://kale:" + secret + "@127.0.0.1:6379/0"
	c.WebappToken, c.WebappPassword = secret, secret
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
	for _, name := range []string{"redis", "webapp-token", "webapp-password", "alert-smtp-password",
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
