package analyzer

import (
	"context"

	"github.com/kale-project/kale/algorithms"
)

// TriggerHistory keeps Skyline's second-order history per metric (trigger_history.<full
// key>); *statestore.Store implements it.
type TriggerHistory interface {
	TriggerHistory(ctx context.Context, key string) ([]algorithms.Point, error)
	SetTriggerHistory(ctx context.Context, key string, history []algorithms.Point) error
}

// secondOrder applies Skyline's is_anomalously_anomalous filter to the metric of full key
// key. A history that cannot be read counts the anomaly as anomalous.
func (a *Analyzer) secondOrder(ctx context.Context, key string, now, value float64) (bool, error) {
	history, err := a.triggers.TriggerHistory(ctx, key)
	if err != nil {
		return true, err
	}
	next, store, anomalous := algorithms.IsAnomalouslyAnomalous(history, now, value)
	if store {
		if err := a.triggers.SetTriggerHistory(ctx, key, next); err != nil {
			return anomalous, err
		}
	}
	return anomalous, nil
}
