package analyzer

import (
	"context"
	"math"
	"slices"
)

// feedbackTolerance is how close (relative) a value must be to one marked not anomalous for
// the same pattern to be suppressed.
const feedbackTolerance = 0.1

// matches reports whether an anomaly repeats the pattern an operator marked not anomalous:
// the same detectors fired and the value is within feedbackTolerance of the marked value.
func matches(f Feedback, r Record) bool {
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
	names := make([]string, len(recs))
	for i, r := range recs {
		names[i] = r.Metric
	}
	fbs, err := a.records.FeedbackSince(ctx, names, now-int64(a.cfg.AnomalyHistory.Seconds()))
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range recs {
		for _, f := range fbs[i] {
			if matches(f, recs[i]) {
				recs[i].Suppressed = true
				n++
				break
			}
		}
	}
	return n, nil
}
