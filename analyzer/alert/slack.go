package alert

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// Slack posts to a Slack incoming webhook (--alert-slack-url); it replaces Skyline's HipChat
// alerter. The message names the metric (linked to its graph when --graph-url is set), the
// value, the detectors that triggered and the rule.
type Slack struct {
	url      string
	graphURL string
	client   *http.Client
}

// NewSlack builds the Slack channel from --alert-slack-url and --graph-url.
func NewSlack(cfg *Config) (*Slack, error) {
	if err := checkURL("--alert-slack-url", cfg.SlackURL); err != nil {
		return nil, err
	}
	return &Slack{url: cfg.SlackURL, graphURL: cfg.GraphURL, client: newHTTPClient()}, nil
}

// Name returns "slack".
func (s *Slack) Name() string { return "slack" }

// String describes the destination; the webhook's secret path is not shown.
func (s *Slack) String() string { return "Slack incoming webhook " + redactURL(s.url) }

// slackEscape escapes the three characters Slack's mrkdwn reserves.
var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// Send posts {"text": ...}.
func (s *Slack) Send(ctx context.Context, rule Rule, a Anomaly) error {
	name := slackEscape.Replace(a.Metric)
	if link := graphLink(s.graphURL, a.Metric); link != "" {
		name = "<" + slackEscape.Replace(link) + "|" + name + ">"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Anomalous metric: %s (value: %s)", name, formatValue(a.Value))
	if len(a.Triggered) > 0 {
		fmt.Fprintf(&b, "\nTriggered: %s", slackEscape.Replace(strings.Join(a.Triggered, ", ")))
	}
	if a.Explanation != "" {
		fmt.Fprintf(&b, "\n%s", slackEscape.Replace(a.Explanation))
	}
	fmt.Fprintf(&b, "\nRule: %s (next alert in %d seconds)", slackEscape.Replace(rule.Pattern), int64(rule.Expiration.Seconds()))
	return postJSON(ctx, s.client, s.url, map[string]string{"text": b.String()})
}
