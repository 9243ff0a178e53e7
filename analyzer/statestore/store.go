// Package statestore owns the analyzer detectors' state in Redis: the saved kale detector of
// each metric (kale.state.<name>, checkpointed while the analyzer runs and written on
// shutdown, so a restart, even after a crash, resumes) and Skyline's
// second-order trigger history (trigger_history.<full key>, shared with Skyline's
// is_anomalously_anomalous). It replaces the raw state commands of Skyline's algorithms.py;
// the series themselves are utils/redisstore's.
package statestore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/utils/redisstore"
)

// KeyStatePrefix prefixes the saved kale detector state of each metric: an opaque blob (the
// analyzer's envelope around algorithms.Kale's MarshalBinary; see analyzer/kalestate.go).
const KeyStatePrefix = "kale.state."

// KeyTriggerHistoryPrefix prefixes Skyline's second-order history of a metric's full key: a
// msgpack list of [time, value] pairs.
const KeyTriggerHistoryPrefix = "trigger_history."

// Store reads and writes detector state. It reads through utils/redisstore's Raw, which
// splits multi-key reads by cluster slot.
type Store struct {
	series *redisstore.Store
	rdb    redis.UniversalClient
}

// New returns a Store on the Redis of s.
func New(s *redisstore.Store) *Store { return &Store{series: s, rdb: s.Client()} }

// LoadStates reads the saved states of names: out[name] for each that has one.
func (s *Store) LoadStates(ctx context.Context, names []string) (map[string][]byte, error) {
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = KeyStatePrefix + n
	}
	raws, err := s.series.Raw(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("cannot read the kale detector states: %w", err)
	}
	out := make(map[string][]byte, len(names))
	for i, r := range raws {
		if r != nil {
			out[names[i]] = r
		}
	}
	return out, nil
}

// SaveStates writes states (by metric name) in one pipeline; each expires after ttl.
func (s *Store) SaveStates(ctx context.Context, states map[string][]byte, ttl time.Duration) error {
	if len(states) == 0 {
		return nil
	}
	pipe := s.rdb.Pipeline()
	for name, b := range states {
		pipe.Set(ctx, KeyStatePrefix+name, b, ttl)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("cannot save the kale detector states: %w", err)
	}
	return nil
}

// TriggerHistory reads the second-order history of a metric's full key (nil when none).
// Entries that are not [time, value] pairs are skipped.
func (s *Store) TriggerHistory(ctx context.Context, key string) ([]algorithms.Point, error) {
	hk := KeyTriggerHistoryPrefix + key
	b, err := s.rdb.Get(ctx, hk).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("cannot read %s: %w", hk, err)
	}
	var raw [][]float64
	if err := msgpack.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("cannot decode %s: %w", hk, err)
	}
	var history []algorithms.Point
	for _, p := range raw {
		if len(p) == 2 {
			history = append(history, algorithms.Point{Timestamp: p[0], Value: p[1]})
		}
	}
	return history, nil
}

// SetTriggerHistory replaces the second-order history of a metric's full key, times as
// integers as Skyline writes them.
func (s *Store) SetTriggerHistory(ctx context.Context, key string, history []algorithms.Point) error {
	hk := KeyTriggerHistoryPrefix + key
	enc := make([][2]any, len(history))
	for i, p := range history {
		enc[i] = [2]any{int64(p.Timestamp), p.Value}
	}
	b, err := msgpack.Marshal(enc)
	if err != nil {
		return fmt.Errorf("cannot encode %s: %w", hk, err)
	}
	if err := s.rdb.Set(ctx, hk, b, 0).Err(); err != nil {
		return fmt.Errorf("cannot write %s: %w", hk, err)
	}
	return nil
}
