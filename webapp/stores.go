package webapp

import (
	"context"

	"github.com/kale-project/kale/analyzer/recordstore"
)

// The anomaly records, cycle stats and feedback are the analyzer's, stored and encoded by its
// record store (analyzer/recordstore); the webapp reads them and writes feedback through the
// interfaces below.

// KeyFeedbackPrefix names the sorted set per metric holding "not anomalous" feedback given in
// the UI or API, at most recordstore.MaxFeedback per metric (oldest dropped); the analyzer
// reads it to suppress re-alerts on the same pattern.
const KeyFeedbackPrefix = recordstore.KeyFeedbackPrefix

// Feedback marks one anomaly of a metric as not anomalous.
type Feedback = recordstore.Feedback

// AnomalyReader reads what the analyzer's last cycle found; *recordstore.Store implements it.
type AnomalyReader interface {
	// Current is the last cycle's anomaly document (empty before the first cycle).
	Current(ctx context.Context) (recordstore.Current, error)
	// CurrentJSON is the same document as the analyzer encoded it (/api/v1/anomalies).
	CurrentJSON(ctx context.Context) ([]byte, error)
	// AnomalyDump is Skyline's anomalies.json as the analyzer wrote it last.
	AnomalyDump(ctx context.Context) ([]byte, error)
}

// HistoryReader reads past anomaly records and the last cycle's stats;
// *recordstore.Store implements it.
type HistoryReader interface {
	// History is the anomaly records of a metric (every metric for "") with
	// from <= timestamp <= until (0: open), newest last, at most limit (the newest).
	History(ctx context.Context, name string, from, until float64, limit int64) ([]recordstore.Record, error)
	// LastCycle is the last completed cycle's stats (ok false before the first).
	LastCycle(ctx context.Context) (st recordstore.CycleStats, ok bool, err error)
}

// FeedbackStore records and reads operator feedback; *recordstore.Store implements it.
type FeedbackStore interface {
	// AddFeedback records "not anomalous" for one anomaly of a metric.
	AddFeedback(ctx context.Context, name string, f Feedback) error
	// Feedback is a metric's feedback, oldest first.
	Feedback(ctx context.Context, name string) ([]Feedback, error)
}

// Records is everything the webapp reads of the analyzer's records, and the feedback it
// writes; *recordstore.Store implements it.
type Records interface {
	AnomalyReader
	HistoryReader
	FeedbackStore
}

// RedisStats measures the Redis behind the series for the dashboard, /status and /healthz.
// Until utils/redisstore offers these reads, redisStats (store_redis.go) implements it on the
// store's client.
type RedisStats interface {
	// Ping checks that Redis answers (one PING, its error as the client reports it).
	Ping(ctx context.Context) error
	// MetricCount is the size of the full namespace's unique set.
	MetricCount(ctx context.Context) (int64, error)
	// ServerInfo reads INFO's memory and server sections and the key count in one round trip.
	ServerInfo(ctx context.Context) (ServerInfo, error)
}

// ServerInfo is what RedisStats.ServerInfo reads: INFO's text and DBSIZE.
type ServerInfo struct {
	Info string
	Keys int64
}
