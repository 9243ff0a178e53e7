// Package alertstore keeps the alert dispatcher's de-duplication keys in Redis, in Skyline's
// layout: last_alert.<strategy>.<metric>, set while an alert of that strategy for that metric
// must not repeat. Skyline and Kale can share the keys. It replaces the last_alert commands
// of Skyline's analyzer.py.
package alertstore

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/kale-project/kale/analyzer/alert"
)

// LastAlertKey is Skyline's de-duplication key: while it exists, strategy sends no alert for
// metric. Its value is the msgpack-encoded anomalous value and its TTL the rule's expiration.
func LastAlertKey(strategy, metric string) string {
	return "last_alert." + strategy + "." + metric
}

// Store implements alert.Deduper on Redis.
type Store struct {
	rdb redis.UniversalClient
}

// New returns a Store on rdb.
func New(rdb redis.UniversalClient) *Store { return &Store{rdb: rdb} }

// Claim sets each claim's key to its value, msgpack-encoded as Python's msgpack.packb(float),
// with the claim's expiration, if the key does not exist (SET NX EX, one pipelined round trip
// for all claims). first[i] reports whether claim i set its key; when the pipeline fails,
// claims whose answer is unknown count as first.
func (s *Store) Claim(ctx context.Context, claims []alert.Claim) ([]bool, error) {
	cmds := make([]*redis.BoolCmd, len(claims))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range claims {
			v, err := msgpack.Marshal(c.Value)
			if err != nil {
				return fmt.Errorf("cannot encode the value of %q: %w", c.Metric, err)
			}
			cmds[i] = p.SetNX(ctx, LastAlertKey(c.Strategy, c.Metric), v, c.Expiration)
		}
		return nil
	})
	first := make([]bool, len(claims))
	for i, c := range cmds {
		first[i] = true
		if c == nil {
			continue
		}
		if isNew, err := c.Result(); err == nil && !isNew {
			first[i] = false
		}
	}
	return first, err
}
