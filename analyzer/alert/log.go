package alert

import (
	"context"
	"log/slog"
)

// Log writes one warning line per alert to the process log. It needs no configuration and is
// the channel to start with, or to keep next to the others for an audit trail.
type Log struct {
	log      *slog.Logger
	graphURL string
}

// NewLog builds the log channel; a nil logger discards.
func NewLog(cfg *Config, log *slog.Logger) *Log {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Log{log: log, graphURL: cfg.GraphURL}
}

// Name returns "log".
func (l *Log) Name() string { return "log" }

// String describes the destination.
func (l *Log) String() string { return "the kale log (stderr)" }

// Send logs "anomalous metric" with the keys metric, value, timestamp, triggered, pattern,
// expiration and, when set, score, explanation and graph_url. It never fails.
func (l *Log) Send(ctx context.Context, rule Rule, a Anomaly) error {
	attrs := []slog.Attr{
		slog.String("metric", a.Metric),
		slog.Float64("value", a.Value),
		slog.Int64("timestamp", a.Timestamp),
		slog.Any("triggered", a.Triggered),
		slog.String("pattern", rule.Pattern),
		slog.Duration("expiration", rule.Expiration),
	}
	if a.Score != 0 {
		attrs = append(attrs, slog.Float64("score", a.Score))
	}
	if a.Explanation != "" {
		attrs = append(attrs, slog.String("explanation", a.Explanation))
	}
	if link := graphLink(l.graphURL, a.Metric); link != "" {
		attrs = append(attrs, slog.String("graph_url", link))
	}
	l.log.LogAttrs(ctx, slog.LevelWarn, "anomalous metric", attrs...)
	return nil
}
