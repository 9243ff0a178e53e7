package analyzer

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/kale-project/kale/algorithms"
)

// secondOrder applies Skyline's is_anomalously_anomalous filter with its Redis key
// trigger_history.<full key>: a msgpack list of [time, value] pairs.
func (a *Analyzer) secondOrder(ctx context.Context, key string, now, value float64) (bool, error) {
	hk := "trigger_history." + key
	var history []algorithms.Point
	b, err := a.rdb.Get(ctx, hk).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
	case err != nil:
		return true, fmt.Errorf("cannot read %s: %w", hk, err)
	default:
		var raw [][]float64
		if err := msgpack.Unmarshal(b, &raw); err != nil {
			return true, fmt.Errorf("cannot decode %s: %w", hk, err)
		}
		for _, p := range raw {
			if len(p) == 2 {
				history = append(history, algorithms.Point{Timestamp: p[0], Value: p[1]})
			}
		}
	}
	next, store, anomalous := algorithms.IsAnomalouslyAnomalous(history, now, value)
	if store {
		enc := make([][2]any, len(next))
		for i, p := range next {
			enc[i] = [2]any{int64(p.Timestamp), p.Value}
		}
		b, err := msgpack.Marshal(enc)
		if err != nil {
			return anomalous, fmt.Errorf("cannot encode %s: %w", hk, err)
		}
		if err := a.rdb.Set(ctx, hk, b, 0).Err(); err != nil {
			return anomalous, fmt.Errorf("cannot write %s: %w", hk, err)
		}
	}
	return anomalous, nil
}
