package alert

import (
	"context"
	"math"
	"net/http"
	"time"
)

// PagerDuty triggers a PagerDuty Events API v2 event per alert (--alert-pagerduty-key, the
// integration's routing key, and --alert-pagerduty-url). It replaces Skyline's pygerduty
// trigger_incident with the same summary, "Anomalous metric: <name> (value: <value>)"; the
// metric name is the dedup_key, so PagerDuty folds repeated alerts into one incident.
type PagerDuty struct {
	url      string
	key      string // secret: never logged, never in errors
	graphURL string
	client   *http.Client
}

type pagerDutyEvent struct {
	RoutingKey  string           `json:"routing_key"`
	EventAction string           `json:"event_action"`
	DedupKey    string           `json:"dedup_key"`
	Payload     pagerDutyPayload `json:"payload"`
	Client      string           `json:"client"`
	Links       []pagerDutyLink  `json:"links,omitempty"`
}

type pagerDutyPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp"`
	CustomDetails map[string]any `json:"custom_details"`
}

type pagerDutyLink struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// NewPagerDuty builds the PagerDuty channel from --alert-pagerduty-key, --alert-pagerduty-url
// and --graph-url.
func NewPagerDuty(cfg *Config) (*PagerDuty, error) {
	if err := checkURL("--alert-pagerduty-url", cfg.PagerDutyURL); err != nil {
		return nil, err
	}
	return &PagerDuty{url: cfg.PagerDutyURL, key: cfg.PagerDutyKey, graphURL: cfg.GraphURL, client: newHTTPClient()}, nil
}

// Name returns "pagerduty".
func (p *PagerDuty) Name() string { return "pagerduty" }

// String describes the destination without the routing key.
func (p *PagerDuty) String() string { return "PagerDuty Events v2 " + redactURL(p.url) }

// Send posts a trigger event with source "kale", severity "warning" and the anomaly's details.
func (p *PagerDuty) Send(ctx context.Context, rule Rule, a Anomaly) error {
	link := graphLink(p.graphURL, a.Metric)
	details := map[string]any{
		"metric":             a.Metric,
		"value":              jsonNumber(a.Value),
		"triggered":          a.Triggered,
		"pattern":            rule.Pattern,
		"expiration_seconds": int64(rule.Expiration.Seconds()),
	}
	if a.Score != 0 {
		details["score"] = jsonNumber(a.Score)
	}
	if a.Explanation != "" {
		details["explanation"] = a.Explanation
	}
	if link != "" {
		details["graph_url"] = link
	}
	ev := pagerDutyEvent{
		RoutingKey:  p.key,
		EventAction: "trigger",
		DedupKey:    a.Metric,
		Client:      "kale",
		Payload: pagerDutyPayload{
			Summary:       "Anomalous metric: " + a.Metric + " (value: " + formatValue(a.Value) + ")",
			Source:        "kale",
			Severity:      "warning",
			Timestamp:     time.Unix(a.Timestamp, 0).UTC().Format(time.RFC3339),
			CustomDetails: details,
		},
	}
	if link != "" {
		ev.Links = []pagerDutyLink{{Href: link, Text: "graph of " + a.Metric}}
	}
	return postJSON(ctx, p.client, p.url, ev)
}

// jsonNumber keeps a finite value a JSON number and turns NaN and ±Inf, which JSON cannot
// hold, into strings.
func jsonNumber(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return formatValue(v)
	}
	return v
}
