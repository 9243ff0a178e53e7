package recordstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Several analyzers share one cycle: each heartbeats a lease, reads the live members at the
// start of every cycle and analyses only the metrics it owns. Every command touches one key.

// Join renews the lease of analyzer info.ID for lease (SET EX on its lease key, ZADD to the
// member index scored by info.Expires).
func (s *Store) Join(ctx context.Context, info MemberInfo, lease time.Duration) error {
	b, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("cannot encode the analyzer lease: %w", err)
	}
	pipe := s.rdb.Pipeline()
	pipe.Set(ctx, KeyMemberPrefix+info.ID, b, lease)
	pipe.ZAdd(ctx, KeyMembers, redis.Z{Score: float64(info.Expires.UnixMilli()), Member: info.ID})
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("cannot renew the analyzer lease %s: %w", KeyMemberPrefix+info.ID, err)
	}
	return nil
}

// Leave gives up analyzer id's lease and its part of the current document.
func (s *Store) Leave(ctx context.Context, id string) error {
	pipe := s.rdb.Pipeline()
	pipe.Del(ctx, KeyMemberPrefix+id)
	pipe.ZRem(ctx, KeyMembers, id)
	pipe.Del(ctx, KeyCurrentPrefix+id)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("cannot give up the analyzer lease: %w", err)
	}
	return nil
}

// Members returns the ids of the live analyzers, sorted: those in the member index whose
// lease key still exists (the key's TTL is kept by Redis, so hosts' clocks do not matter).
// Index entries whose lease expired more than lease ago are pruned.
func (s *Store) Members(ctx context.Context, lease time.Duration) ([]string, error) {
	prune := time.Now().Add(-lease).UnixMilli()
	if err := s.rdb.ZRemRangeByScore(ctx, KeyMembers, "-inf", "("+strconv.FormatInt(prune, 10)).Err(); err != nil {
		return nil, fmt.Errorf("cannot prune %s: %w", KeyMembers, err)
	}
	ids, err := s.rdb.ZRange(ctx, KeyMembers, 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", KeyMembers, err)
	}
	pipe := s.rdb.Pipeline()
	exists := make([]*redis.IntCmd, len(ids))
	for i, id := range ids {
		exists[i] = pipe.Exists(ctx, KeyMemberPrefix+id)
	}
	if len(ids) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("cannot read the analyzer leases: %w", err)
		}
	}
	live := make([]string, 0, len(ids))
	for i, id := range ids {
		if exists[i].Val() == 1 {
			live = append(live, id)
		}
	}
	slices.Sort(live)
	return live, nil
}

// MemberInfos reads the lease of each live analyzer (for status pages), in Members' order;
// a lease that expired or does not decode between the two reads is left out.
func (s *Store) MemberInfos(ctx context.Context, lease time.Duration) ([]MemberInfo, error) {
	ids, err := s.Members(ctx, lease)
	if err != nil || len(ids) == 0 {
		return []MemberInfo{}, err
	}
	pipe := s.rdb.Pipeline()
	gets := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		gets[i] = pipe.Get(ctx, KeyMemberPrefix+id)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("cannot read the analyzer leases: %w", err)
	}
	out := make([]MemberInfo, 0, len(ids))
	for _, g := range gets {
		var m MemberInfo
		if b, err := g.Bytes(); err == nil && json.Unmarshal(b, &m) == nil {
			out = append(out, m)
		}
	}
	return out, nil
}
