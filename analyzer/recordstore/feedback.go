package recordstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// AddFeedback records a "not anomalous" verdict for one anomaly of metric name under
// kale.feedback.<name>, keeping the newest MaxFeedback (scored by the anomaly's timestamp).
func (s *Store) AddFeedback(ctx context.Context, name string, f Feedback) error {
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("cannot encode the feedback: %w", err)
	}
	key := KeyFeedbackPrefix + name
	pipe := s.rdb.TxPipeline()
	pipe.ZAdd(ctx, key, redis.Z{Score: float64(f.Timestamp), Member: b})
	pipe.ZRemRangeByRank(ctx, key, 0, -MaxFeedback-1)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("cannot store the feedback of %q: %w", name, err)
	}
	return nil
}

// Feedback reads a metric's feedback, oldest first; entries that do not decode are skipped.
func (s *Store) Feedback(ctx context.Context, name string) ([]Feedback, error) {
	raw, err := s.rdb.ZRange(ctx, KeyFeedbackPrefix+name, 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("cannot read the feedback of %q: %w", name, err)
	}
	return decodeFeedback(raw), nil
}

// FeedbackSince reads, in one pipeline, the feedback of each metric of names given for
// anomalies stamped at from or later: out[i] is names[i]'s.
func (s *Store) FeedbackSince(ctx context.Context, names []string, from int64) ([][]Feedback, error) {
	if len(names) == 0 {
		return nil, nil
	}
	lo := strconv.FormatInt(from, 10)
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringSliceCmd, len(names))
	for i, n := range names {
		cmds[i] = pipe.ZRangeByScore(ctx, KeyFeedbackPrefix+n, &redis.ZRangeBy{Min: lo, Max: "+inf"})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("cannot read the anomaly feedback: %w", err)
	}
	out := make([][]Feedback, len(names))
	for i, c := range cmds {
		raw, _ := c.Result()
		out[i] = decodeFeedback(raw)
	}
	return out, nil
}

func decodeFeedback(raw []string) []Feedback {
	out := make([]Feedback, 0, len(raw))
	for _, r := range raw {
		var f Feedback
		if json.Unmarshal([]byte(r), &f) == nil {
			out = append(out, f)
		}
	}
	return out
}
