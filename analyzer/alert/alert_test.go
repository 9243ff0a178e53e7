package alert

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func rule(pattern, strategy string, secs int) Rule {
	return Rule{Pattern: pattern, Strategy: strategy, Expiration: time.Duration(secs) * time.Second}
}

func TestMatch(t *testing.T) {
	rules := []Rule{rule("skyline", "smtp", 1800), rule("horizon", "webhook", 60), rule("", "log", 60),
		rule("stats.", "slack", 60), rule("a:b", "log", 1)}
	for _, tc := range []struct {
		metric string
		want   []string // patterns, in rule order
	}{
		{"skyline.horizon.queue_size", []string{"skyline", "horizon", ""}},
		{"skyline.analyzer.run_time", []string{"skyline", ""}},
		{"stats.gauges.web", []string{"", "stats."}},
		{"statsd.numStats", []string{""}}, // "stats." is a substring test, not a prefix test
		{"x.a:b.y", []string{"", "a:b"}},
		{"SKYLINE.x", []string{""}}, // case-sensitive, as Python's "in"
	} {
		t.Run(tc.metric, func(t *testing.T) {
			var got []string
			for _, r := range Match(rules, tc.metric) {
				got = append(got, r.Pattern)
			}
			require.Equal(t, tc.want, got)
		})
	}
	require.Empty(t, Match(nil, "anything"))
}

func TestGraphLinkAndFormat(t *testing.T) {
	require.Equal(t, "", graphLink("", "a.b"))
	require.Equal(t, "http://g/render/?width=1400&from=-1hour&target=a.b",
		graphLink("http://g/render/?width=1400&from=-1hour&target=%s", "a.b"))
	require.Equal(t, "http://g/?target=a%26b%3Dc+d", graphLink("http://g/?target=%s", "a&b=c d"))
	for v, want := range map[float64]string{0: "0", 12.5: "12.5", 1000: "1000", -3.25: "-3.25", 1234567: "1234567", 1e20: "1e+20"} {
		require.Equal(t, want, formatValue(v))
	}
	require.Equal(t, "https://hooks.slack.com", redactURL("https://hooks.slack.com/services/T0/B0/SECRET?token=x"))
	require.Equal(t, "https://h:8443", redactURL("https://user:pw@h:8443/x"))
}

func TestNewChannel(t *testing.T) {
	for _, tc := range []struct {
		strategy string
		set      func(c *Config)
		wantErr  string // "" = built; "not configured" = ErrNotConfigured
	}{
		{"log", nil, ""},
		{"smtp", nil, "not configured"},
		{"smtp", func(c *Config) { c.SMTPTo = []string{"skyline=ops@example.com"} }, ""},
		{"smtp", func(c *Config) { c.SMTPTo = []string{"not an address"} }, `cannot parse --alert-smtp-to entry "not an address"`},
		{"smtp", func(c *Config) {
			c.SMTPTo, c.SMTPUser, c.SMTPPassword, c.SMTPTLS = []string{"a@example.com"}, "u", "hunter2", "none"
		}, "cannot authenticate to the SMTP server without TLS"},
		{"webhook", nil, "not configured"},
		{"webhook", func(c *Config) { c.WebhookURL = "http://127.0.0.1:9093/api/v2/alerts" }, ""},
		{"webhook", func(c *Config) { c.WebhookURL = "ftp://x/secret" }, "want an http:// or https:// URL"},
		{"slack", nil, "not configured"},
		{"slack", func(c *Config) { c.SlackURL = "https://hooks.slack.com/services/T/B/X" }, ""},
		{"pagerduty", nil, "not configured"},
		{"pagerduty", func(c *Config) { c.PagerDutyKey = "k" }, ""},
		{"hipchat", nil, `unknown strategy "hipchat"`},
	} {
		t.Run(tc.strategy+"/"+tc.wantErr, func(t *testing.T) {
			c := DefaultConfig()
			if tc.set != nil {
				tc.set(c)
			}
			ch, err := NewChannel(tc.strategy, c, nil)
			switch tc.wantErr {
			case "":
				require.NoError(t, err)
				require.Equal(t, tc.strategy, ch.Name())
			case "not configured":
				require.ErrorIs(t, err, ErrNotConfigured)
				require.ErrorContains(t, err, NeededOption(tc.strategy))
			default:
				require.ErrorContains(t, err, tc.wantErr)
				require.NotErrorIs(t, err, ErrNotConfigured)
				require.NotContains(t, err.Error(), "hunter2")
				require.NotContains(t, err.Error(), "secret")
			}
		})
	}
}

func TestChannels(t *testing.T) {
	c := DefaultConfig()
	c.WebhookURL = "http://127.0.0.1:1/hook"
	chs, err := Channels(c, nil)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"log", "webhook"}, keys(chs))

	c.SlackURL = "not a url"
	chs, err = Channels(c, nil)
	require.ErrorContains(t, err, "--alert-slack-url")
	require.ElementsMatch(t, []string{"log", "webhook"}, keys(chs))
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestParseRules(t *testing.T) {
	rules, err := ParseRules([]string{"skyline:smtp:1800", "a:b:c:log:5"})
	require.NoError(t, err)
	require.Equal(t, []Rule{{"skyline", "smtp", 1800 * time.Second}, {"a:b:c", "log", 5 * time.Second}}, rules)
	require.Equal(t, "a:b:c:log:5", rules[1].String())
	for _, bad := range []string{"skyline", "skyline:smtp", "x:carrier-pigeon:5", "x:smtp:0", "x:smtp:soon"} {
		_, err := ParseRules([]string{bad})
		require.Error(t, err, bad)
	}
}
