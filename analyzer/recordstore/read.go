package recordstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// Current reads the last cycle's anomaly document: with several analyzers sharing cycles,
// the merge of their parts written by the last of them to finish a cycle. A store that has
// never seen a cycle gives an empty document (no anomalies, zero cycle).
func (s *Store) Current(ctx context.Context) (Current, error) {
	var c Current
	b, err := s.rdb.Get(ctx, KeyCurrent).Bytes()
	if errors.Is(err, redis.Nil) {
		return Current{Anomalies: []Record{}}, nil
	}
	if err != nil {
		return c, fmt.Errorf("cannot read %s: %w", KeyCurrent, err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("cannot decode %s: %w", KeyCurrent, err)
	}
	return c, nil
}

// CurrentJSON returns the current document as the analyzer wrote it (the body of
// /api/v1/anomalies), or EmptyCurrent before the first cycle.
func (s *Store) CurrentJSON(ctx context.Context) ([]byte, error) {
	b, err := s.rdb.Get(ctx, KeyCurrent).Bytes()
	if errors.Is(err, redis.Nil) {
		return []byte(EmptyCurrent), nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", KeyCurrent, err)
	}
	return b, nil
}

// AnomalyDump returns Skyline's anomalies.json as the analyzer wrote it last, or
// Dump(nil) ("handle_data([])") before the first cycle.
func (s *Store) AnomalyDump(ctx context.Context) ([]byte, error) {
	b, err := s.rdb.Get(ctx, KeyDump).Bytes()
	if errors.Is(err, redis.Nil) {
		return []byte(Dump(nil)), nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", KeyDump, err)
	}
	return b, nil
}

// LastCycle reads the stats of the last completed cycle (ok false when no cycle has
// completed).
func (s *Store) LastCycle(ctx context.Context) (st CycleStats, ok bool, err error) {
	b, err := s.rdb.Get(ctx, KeyCycle).Bytes()
	if errors.Is(err, redis.Nil) {
		return st, false, nil
	}
	if err != nil {
		return st, false, fmt.Errorf("cannot read %s: %w", KeyCycle, err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, false, fmt.Errorf("cannot decode %s: %w", KeyCycle, err)
	}
	return st, true, nil
}

// History reads the anomaly records of metric name (every metric when name is "") with
// from <= timestamp <= until (0: open), newest last, at most limit of them (the newest; 0:
// all). Records that do not decode are skipped.
func (s *Store) History(ctx context.Context, name string, from, until float64, limit int64) ([]Record, error) {
	key := KeyHistory
	if name != "" {
		key = KeyMetricPrefix + name
	}
	lo, hi := "-inf", "+inf"
	if from != 0 {
		lo = strconv.FormatFloat(from, 'f', -1, 64)
	}
	if until != 0 {
		hi = strconv.FormatFloat(until, 'f', -1, 64)
	}
	raw, err := s.rdb.ZRevRangeByScore(ctx, key, &redis.ZRangeBy{Min: lo, Max: hi, Count: limit}).Result()
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", key, err)
	}
	out := make([]Record, 0, len(raw))
	for i := len(raw) - 1; i >= 0; i-- {
		var r Record
		if json.Unmarshal([]byte(raw[i]), &r) == nil {
			out = append(out, r)
		}
	}
	return out, nil
}
