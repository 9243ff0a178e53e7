package redisstore

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// bySet groups keys by the unique set of their namespace, in the order sets first appear.
func (s *Store) bySet(keys []string) (sets []string, members map[string][]any) {
	members = map[string][]any{}
	for _, k := range keys {
		set := s.UniqueSet(k)
		if _, ok := members[set]; !ok {
			sets = append(sets, set)
		}
		members[set] = append(members[set], k)
	}
	return sets, members
}

// RemoveMembers takes full keys out of their namespaces' unique sets (one SREM per set; every
// command is single-key, so it works on a Redis Cluster too). It stops at the first set that
// fails: members of the sets before it are removed.
func (s *Store) RemoveMembers(ctx context.Context, keys []string) error {
	sets, members := s.bySet(keys)
	for _, set := range sets {
		if err := s.rdb.SRem(ctx, set, members[set]...).Err(); err != nil {
			return fmt.Errorf("cannot remove %d members from %s: %w", len(members[set]), set, err)
		}
	}
	return nil
}

// AddMembers puts full keys into their namespaces' unique sets (one SADD per set). It tries
// every set and returns the keys it could not add, with the first error.
func (s *Store) AddMembers(ctx context.Context, keys []string) (failed []string, err error) {
	sets, members := s.bySet(keys)
	for _, set := range sets {
		if serr := s.rdb.SAdd(ctx, set, members[set]...).Err(); serr != nil {
			for _, k := range members[set] {
				failed = append(failed, k.(string))
			}
			if err == nil {
				err = fmt.Errorf("cannot add %d members to %s: %w", len(members[set]), set, serr)
			}
		}
	}
	return failed, err
}

// Exist reports for each key whether it is stored (one pipelined EXISTS per key).
func (s *Store) Exist(ctx context.Context, keys []string) ([]bool, error) {
	out := make([]bool, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.Exists(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("cannot check whether %d keys exist: %w", len(keys), err)
	}
	for i, c := range cmds {
		out[i] = c.Val() > 0
	}
	return out, nil
}

// Sizes returns the stored length in bytes of each key (0 for a missing key; one pipelined
// STRLEN per key): a cheap way to watch series grow without reading them.
func (s *Store) Sizes(ctx context.Context, keys []string) ([]int64, error) {
	out := make([]int64, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.StrLen(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("cannot read the size of %d series: %w", len(keys), err)
	}
	for i, c := range cmds {
		out[i] = c.Val()
	}
	return out, nil
}
