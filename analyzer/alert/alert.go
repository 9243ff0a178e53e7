// Package alert sends analyzer anomalies to people: it matches each cycle's anomalies against
// the Skyline alert rules (pattern:strategy:expiration), de-duplicates them with Skyline's
// last_alert.<strategy>.<metric> keys (kept by alertstore), and delivers them in the background, with
// bounded queues and retries, through channels (SMTP, an Alertmanager-compatible webhook,
// Slack, PagerDuty Events v2, the log). It also sends the analyzer's Graphite self-metrics.
// It replaces Skyline's alerters.py and the alert loop of analyzer.py.
package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"strconv"
	"strings"
)

// Anomaly is one anomalous metric found by the analyzer in one cycle.
type Anomaly struct {
	Metric      string   // base name: the Redis key without the full namespace (Skyline's base_name)
	Value       float64  // the anomalous (last) value of the series
	Timestamp   int64    // Unix seconds of that value
	Triggered   []string // detectors that voted "anomalous"
	Score       float64  // informational score from the analyzer (e.g. the share of votes)
	Explanation string   // optional free text for people
}

// Channel delivers one alert. Send must honour ctx (the Dispatcher bounds every attempt) and
// must not log secrets or put them in its errors. Errors wrapping ErrPermanent are not retried.
type Channel interface {
	Name() string
	Send(ctx context.Context, rule Rule, a Anomaly) error
}

// RuleChecker is implemented by a channel that can serve only some rules: the SMTP channel
// needs a recipient for the rule's pattern. New and kale verify-alerts call it.
type RuleChecker interface {
	CheckRule(rule Rule) error
}

// ErrPermanent marks a delivery failure that retrying cannot fix (an HTTP 4xx answer, an SMTP
// 5xx reply, a rule without recipients); the Dispatcher gives up at once.
var ErrPermanent = errors.New("permanent failure, not retried")

// ErrNotConfigured is returned by NewChannel for a strategy whose required option is empty.
var ErrNotConfigured = errors.New("channel not configured")

// NeededOption names the option a strategy's channel cannot work without ("" for log).
func NeededOption(strategy string) string {
	switch strategy {
	case "smtp":
		return "--alert-smtp-to"
	case "webhook":
		return "--alert-webhook-url"
	case "slack":
		return "--alert-slack-url"
	case "pagerduty":
		return "--alert-pagerduty-key"
	}
	return ""
}

// NewChannel builds the channel of one strategy from the configuration. It returns an error
// wrapping ErrNotConfigured when the strategy's required option (NeededOption) is empty, and
// another error when the options are set but invalid. log receives the log strategy's lines.
func NewChannel(strategy string, cfg *Config, log *slog.Logger) (Channel, error) {
	notConfigured := fmt.Errorf("%w: %s needs %s", ErrNotConfigured, strategy, NeededOption(strategy))
	switch strategy {
	case "smtp":
		if len(cfg.SMTPTo) == 0 {
			return nil, notConfigured
		}
		return NewSMTP(cfg)
	case "webhook":
		if cfg.WebhookURL == "" {
			return nil, notConfigured
		}
		return NewWebhook(cfg)
	case "slack":
		if cfg.SlackURL == "" {
			return nil, notConfigured
		}
		return NewSlack(cfg)
	case "pagerduty":
		if cfg.PagerDutyKey == "" {
			return nil, notConfigured
		}
		return NewPagerDuty(cfg)
	case "log":
		return NewLog(cfg, log), nil
	}
	return nil, fmt.Errorf("cannot build alert channel: unknown strategy %q", strategy)
}

// Channels builds every configured channel, keyed by strategy. Strategies whose required
// option is empty are left out (New reports a rule that needs one); invalid options are
// returned as errors, joined, next to the channels that could be built.
func Channels(cfg *Config, log *slog.Logger) (map[string]Channel, error) {
	out := make(map[string]Channel)
	var errs []error
	for _, s := range Strategies {
		ch, err := NewChannel(s, cfg, log)
		switch {
		case errors.Is(err, ErrNotConfigured):
		case err != nil:
			errs = append(errs, err)
		default:
			out[s] = ch
		}
	}
	return out, errors.Join(errs...)
}

// graphLink fills Skyline's GRAPH_URL: every %s becomes the query-escaped metric name. An
// empty template gives an empty link.
func graphLink(template, metric string) string {
	if template == "" {
		return ""
	}
	return strings.ReplaceAll(template, "%s", url.QueryEscape(metric))
}

// formatValue prints a value for people: no exponent for ordinary magnitudes, no trailing zeros.
func formatValue(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) >= 1e15 || (v != 0 && math.Abs(v) < 1e-6) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// redactURL keeps only the scheme and host of a URL: Slack and other webhook URLs carry their
// secret in the path or the query, so errors and descriptions never show more.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	return u.Scheme + "://" + u.Host
}
