package redisstore

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Tail is the length of a stored value and its last bytes (Len 0: no such key).
type Tail struct {
	Len   int
	Bytes []byte
}

// Tails returns, for each key, its length and its last n bytes with one pipelined STRLEN and
// GETRANGE -n -1 per key, without reading the values: oculus's cheap probe for series that
// changed since they were indexed.
func (s *Store) Tails(ctx context.Context, keys []string, n int) ([]Tail, error) {
	out := make([]Tail, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	pipe := s.rdb.Pipeline()
	lens := make([]*redis.IntCmd, len(keys))
	tails := make([]*redis.StringCmd, len(keys))
	for i, k := range keys {
		lens[i] = pipe.StrLen(ctx, k)
		tails[i] = pipe.GetRange(ctx, k, int64(-n), -1)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("cannot probe %d series for changes: %w", len(keys), err)
	}
	for i := range keys {
		if l := int(lens[i].Val()); l > 0 {
			out[i] = Tail{Len: l, Bytes: []byte(tails[i].Val())}
		}
	}
	return out, nil
}

// MemberCount returns the size of a namespace's unique set (SCARD <ns>unique_metrics), e.g.
// MemberCount(ctx, "metrics."): oculus's cheap poll for new (or removed) metrics, O(1)
// whatever the number of metrics.
func (s *Store) MemberCount(ctx context.Context, namespace string) (int64, error) {
	n, err := s.rdb.SCard(ctx, namespace+UniqueSuffix).Result()
	if err != nil {
		return 0, fmt.Errorf("cannot count %s%s: %w", namespace, UniqueSuffix, err)
	}
	return n, nil
}
