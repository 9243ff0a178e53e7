package alert

import (
	"context"
	"net/http"
	"strings"
	"time"
)

// Webhook POSTs an Alertmanager-compatible JSON array (the body of Alertmanager's
// POST /api/v2/alerts) to --alert-webhook-url, so it can point at an Alertmanager or at any
// receiver of that format. Alertmanager resolves the alert itself after its resolve_timeout.
type Webhook struct {
	url      string
	graphURL string
	client   *http.Client
}

// webhookAlert is one element of the Alertmanager v2 postable alerts array.
type webhookAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// NewWebhook builds the webhook channel from --alert-webhook-url and --graph-url.
func NewWebhook(cfg *Config) (*Webhook, error) {
	if err := checkURL("--alert-webhook-url", cfg.WebhookURL); err != nil {
		return nil, err
	}
	return &Webhook{url: cfg.WebhookURL, graphURL: cfg.GraphURL, client: newHTTPClient()}, nil
}

// Name returns "webhook".
func (w *Webhook) Name() string { return "webhook" }

// String describes the destination without its path or query, which may hold a secret.
func (w *Webhook) String() string { return "POST " + redactURL(w.url) }

// Send posts one alert with labels alertname="KaleAnomaly", metric, pattern (the rule's) and
// severity="warning", and annotations summary, value, triggered, graph_url (when --graph-url
// is set) and explanation (when the analyzer gave one).
func (w *Webhook) Send(ctx context.Context, rule Rule, a Anomaly) error {
	link := graphLink(w.graphURL, a.Metric)
	ann := map[string]string{
		"summary":   "Anomalous metric: " + a.Metric + " (value: " + formatValue(a.Value) + ")",
		"value":     formatValue(a.Value),
		"triggered": strings.Join(a.Triggered, ","),
	}
	if link != "" {
		ann["graph_url"] = link
	}
	if a.Explanation != "" {
		ann["explanation"] = a.Explanation
	}
	body := []webhookAlert{{
		Labels: map[string]string{
			"alertname": "KaleAnomaly",
			"metric":    a.Metric,
			"pattern":   rule.Pattern,
			"severity":  "warning",
		},
		Annotations:  ann,
		StartsAt:     time.Unix(a.Timestamp, 0).UTC().Format(time.RFC3339),
		GeneratorURL: link,
	}}
	return postJSON(ctx, w.client, w.url, body)
}
