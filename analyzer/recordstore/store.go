// Package recordstore owns the analyzer's Redis keys: the anomaly records of each cycle (the
// current document, Skyline's anomalies.json, the global and per-metric histories), the last
// cycle's stats, operator feedback and the leases of the analyzers sharing cycles. The
// analyzer writes them, the webapp reads them and writes feedback. It replaces the raw
// anomaly and membership commands of Skyline's analyzer.py and webapp.py; the Skyline series
// themselves are utils/redisstore's.
package recordstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Kale's analyzer state in Redis (every key is documented in README.md).
const (
	KeyCurrent      = "kale.anomalies.current" // string: the /api/v1/anomalies document of the last cycle
	KeyCycle        = "kale.analyzer.cycle"    // string: JSON CycleStats of the last completed cycle
	KeyDump         = "kale.anomalies.dump"    // string: Skyline's anomalies.json (handle_data(...))
	KeyHistory      = "kale.anomalies.history" // sorted set: every anomaly record, scored by its timestamp
	KeyMetricPrefix = "kale.anomalies.metric." // sorted set per metric: that metric's anomaly records
	// KeyCurrentPrefix prefixes each analyzer's own part of the current document (string, JSON
	// Current of its share); kale.anomalies.current is the merge of the live members' parts.
	KeyCurrentPrefix = KeyCurrent + "."
	// KeyFeedbackPrefix names the sorted set per metric holding "not anomalous" feedback (given
	// in the webapp): members are JSON Feedback, scored by the anomaly's timestamp, at most
	// MaxFeedback per metric (oldest dropped).
	KeyFeedbackPrefix = "kale.feedback."
	// KeyMembers is a sorted set of analyzer ids scored by their lease expiry (unix ms):
	// the index of the lease keys, pruned of expired entries.
	KeyMembers = "kale.analyzer.members"
	// KeyMemberPrefix prefixes each analyzer's lease key (string, JSON MemberInfo, EX lease):
	// a member is live while its lease key exists.
	KeyMemberPrefix = "kale.analyzer.members."
)

// MaxFeedback bounds the feedback kept per metric.
const MaxFeedback = 1000

// EmptyCurrent is the /api/v1/anomalies document before the first cycle.
const EmptyCurrent = `{"anomalies":[],"cycle":null}`

// partTTL bounds how long a crashed analyzer's part of the current document lingers; the
// merge reads only live members' parts, so the TTL only collects garbage.
const partTTL = 24 * time.Hour

// Client is the go-redis client a Store speaks through (utils/redisstore.Store.Client()).
type Client = redis.UniversalClient

// Store reads and writes the analyzer's keys. Every command touches one key (the merged
// document's transaction watches only it), so the layout works unchanged on a Redis Cluster.
type Store struct {
	rdb Client
}

// New returns a Store on rdb.
func New(rdb Client) *Store { return &Store{rdb: rdb} }

// Save writes one analyzer's cycle: its part of the current document (doc, under its id) and
// doc's records in the global and per-metric histories, keeping keep of them, in one
// pipeline; then the merge of every live member's part as the current document, the
// Skyline dump and the cycle stats. It returns the merged document.
func (s *Store) Save(ctx context.Context, id string, doc Current, members []string, keep time.Duration) (Current, error) {
	part, err := json.Marshal(doc)
	if err != nil {
		return Current{}, fmt.Errorf("cannot encode the anomaly document: %w", err)
	}
	horizon := strconv.FormatInt(doc.Cycle.Started.Add(-keep).Unix(), 10)
	pipe := s.rdb.Pipeline()
	pipe.Set(ctx, KeyCurrentPrefix+id, part, partTTL)
	for _, r := range doc.Anomalies {
		member, err := json.Marshal(r)
		if err != nil {
			return Current{}, fmt.Errorf("cannot encode the anomaly of %q: %w", r.Metric, err)
		}
		z := redis.Z{Score: float64(r.Timestamp), Member: member}
		pipe.ZAdd(ctx, KeyHistory, z)
		mk := KeyMetricPrefix + r.Metric
		pipe.ZAdd(ctx, mk, z)
		pipe.ZRemRangeByScore(ctx, mk, "-inf", "("+horizon)
		pipe.Expire(ctx, mk, keep)
	}
	pipe.ZRemRangeByScore(ctx, KeyHistory, "-inf", "("+horizon)
	if _, err := pipe.Exec(ctx); err != nil {
		return Current{}, fmt.Errorf("cannot store the anomaly records: %w", err)
	}
	// Analyzers sharing cycles finish at about the same time: the merged document is written
	// in a transaction watching it, so a merge made from stale parts never overwrites a newer
	// one (the loser re-reads the parts and merges again). KeyCycle and KeyDump follow the
	// merge that won; they are derived views, repaired by the next cycle if two writers race.
	var merged Current
	for attempt := 0; ; attempt++ {
		err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			var err error
			if merged, err = s.merge(ctx, id, doc, members); err != nil {
				return err
			}
			cur, err := json.Marshal(merged)
			if err != nil {
				return fmt.Errorf("cannot encode the anomaly document: %w", err)
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, KeyCurrent, cur, 0)
				return nil
			})
			return err
		}, KeyCurrent)
		if err == nil {
			break
		}
		if !errors.Is(err, redis.TxFailedErr) || attempt == 9 {
			return Current{}, fmt.Errorf("cannot store the merged anomaly document: %w", err)
		}
	}
	cyc, err := json.Marshal(merged.Cycle)
	if err != nil {
		return Current{}, fmt.Errorf("cannot encode the cycle stats: %w", err)
	}
	pipe = s.rdb.Pipeline()
	pipe.Set(ctx, KeyCycle, cyc, 0)
	pipe.Set(ctx, KeyDump, Dump(merged.Anomalies), 0)
	if _, err := pipe.Exec(ctx); err != nil {
		return Current{}, fmt.Errorf("cannot store the merged anomaly document: %w", err)
	}
	return merged, nil
}

// merge combines own (analyzer id's part, just written) with the latest parts of the other
// live members. Each analyzer merges after its own cycle, so the document is at most one
// cycle behind for each member's share; a part that is missing (a member that has not
// finished a cycle yet) or unreadable is left out until the next merge.
func (s *Store) merge(ctx context.Context, id string, own Current, members []string) (Current, error) {
	parts := []Current{own}
	var others []string
	for _, m := range members {
		if m != id {
			others = append(others, m)
		}
	}
	if len(others) > 0 {
		pipe := s.rdb.Pipeline()
		gets := make([]*redis.StringCmd, len(others))
		for i, m := range others {
			gets[i] = pipe.Get(ctx, KeyCurrentPrefix+m)
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return Current{}, fmt.Errorf("cannot read the other analyzers' anomaly documents: %w", err)
		}
		for _, g := range gets {
			var c Current
			if b, err := g.Bytes(); err == nil && json.Unmarshal(b, &c) == nil {
				parts = append(parts, c)
			}
		}
	}
	return MergeCurrent(parts), nil
}
