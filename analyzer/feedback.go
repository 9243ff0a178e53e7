package analyzer

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// KeyFeedbackPrefix names the sorted set per metric holding "not anomalous" feedback (given
// in the webapp): members are JSON Feedback, scored by the anomaly's timestamp.
const KeyFeedbackPrefix = "kale.feedback."

// Feedback marks one anomaly of a metric as not anomalous.
type Feedback struct {
	Timestamp int64    `json:"timestamp"`
	Value     Float    `json:"value"`
	Triggered []string `json:"triggered"`
	Created   int64    `json:"created"`
}

// feedbackTolerance is how close (relative) a value must be to one marked not anomalous for
// the same pattern to be suppressed.
const feedbackTolerance = 0.1

// matches reports whether an anomaly repeats the pattern an operator marked not anomalous:
// the same detectors fired and the value is within feedbackTolerance of the marked value.
func (f Feedback) matches(r Record) bool {
	a, b := slices.Clone(f.Triggered), slices.Clone(r.Triggered)
	slices.Sort(a)
	slices.Sort(b)
	if !slices.Equal(a, b) {
		return false
	}
	fv, rv := float64(f.Value), float64(r.Value)
	if math.IsNaN(fv) || math.IsNaN(rv) {
		return false
	}
	return math.Abs(rv-fv) <= feedbackTolerance*math.Max(math.Abs(fv), 1e-9)
}

// applyFeedback marks the records that repeat a pattern marked not anomalous within the
// anomaly history; suppressed records are kept (the UI shows them) but not alerted.
func (a *Analyzer) applyFeedback(ctx context.Context, recs []Record, now int64) (int, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	from := strconv.FormatInt(now-int64(a.cfg.AnomalyHistory.Seconds()), 10)
	pipe := a.rdb.Pipeline()
	cmds := make([]*redis.StringSliceCmd, len(recs))
	for i, r := range recs {
		cmds[i] = pipe.ZRangeByScore(ctx, KeyFeedbackPrefix+r.Metric, &redis.ZRangeBy{Min: from, Max: "+inf"})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fmt.Errorf("cannot read the anomaly feedback: %w", err)
	}
	n := 0
	for i := range recs {
		members, _ := cmds[i].Result()
		for _, m := range members {
			var f Feedback
			if json.Unmarshal([]byte(m), &f) == nil && f.matches(recs[i]) {
				recs[i].Suppressed = true
				n++
				break
			}
		}
	}
	return n, nil
}
