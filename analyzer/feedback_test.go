package analyzer

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func TestFeedbackMatches(t *testing.T) {
	f := Feedback{Value: 100, Triggered: []string{"grubbs", "ks_test"}}
	for _, tc := range []struct {
		r    Record
		want bool
	}{
		{Record{Value: 105, Triggered: []string{"ks_test", "grubbs"}}, true},
		{Record{Value: 111, Triggered: []string{"grubbs", "ks_test"}}, false},
		{Record{Value: 100, Triggered: []string{"grubbs"}}, false},
		{Record{Value: 100, Triggered: []string{"grubbs", "ks_test", "least_squares"}}, false},
	} {
		require.Equal(t, tc.want, matches(f, tc.r), "%+v", tc.r)
	}
}

// An anomaly marked not anomalous is recorded again but not re-alerted.
func TestFeedbackSuppressesAlerts(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	rec := &recorder{}
	a, _ := newAnalyzer(t, store, nil)
	a.alerter = rec
	spike := noisy(2)
	require.NoError(t, store.Append(ctx, map[string][]byte{
		"metrics.spike": series(1440, 60, func(i int) float64 {
			v := spike(i)
			if i >= 1437 {
				v += 500
			}
			return v
		}),
	}, nil).Err)
	st, err := a.Cycle(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, st.Anomalies)
	require.Len(t, rec.got, 1)
	cur, err := LoadCurrent(ctx, store.Client())
	require.NoError(t, err)
	r := cur.Anomalies[0]

	fb, err := json.Marshal(Feedback{Timestamp: r.Timestamp, Value: r.Value, Triggered: r.Triggered, Created: now.Unix()})
	require.NoError(t, err)
	require.NoError(t, store.Client().ZAdd(ctx, KeyFeedbackPrefix+"spike", redis.Z{Score: float64(r.Timestamp), Member: fb}).Err())

	st, err = a.Cycle(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, st.Anomalies)
	require.Equal(t, 1, st.Suppressed)
	require.Len(t, rec.got, 1, "no new alert for the pattern marked not anomalous")
	cur, err = LoadCurrent(ctx, store.Client())
	require.NoError(t, err)
	require.True(t, cur.Anomalies[0].Suppressed)
}
