package webapp

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kale-project/kale/analyzer/recordstore"
	"github.com/stretchr/testify/require"
)

// The pages name the band the charts draw (the moving average ± 3σ) truthfully for the
// configured detector: Skyline's stddev_from_moving_average band, or only a guide beside
// Kale's own expected range.
func TestBandLegendNamesTheDrawnBand(t *testing.T) {
	e := newEnv(t, envOptions{noSearch: true, analyze: true})
	for _, tc := range []struct {
		detector string
		want     []string
		not      []string
	}{
		{"skyline", []string{"expected band: moving average ± 3σ", "stddev_from_moving_average"}, []string{"a guide only"}},
		{"kale", []string{"moving average ± 3σ, a guide only", "Kale&#39;s detector", "its own expected range"}, []string{"expected band", "stddev_from_moving_average, one"}},
		{"", []string{"moving average ± 3σ of the points before"}, []string{"expected band", "Kale"}},
	} {
		t.Run(tc.detector, func(t *testing.T) {
			e.server.cfg.Detector = tc.detector
			for _, path := range []string{"/", "/metric/demo.web.latency_ms"} {
				// Served in this goroutine: the detector is changed between requests.
				rec := httptest.NewRecorder()
				e.server.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
				require.Equal(t, http.StatusOK, rec.Code, path)
				body := rec.Body.String()
				legend := between(t, body, `<span id="band-legend">`, `</span>`)
				for _, w := range tc.want {
					require.Contains(t, legend, w, path)
				}
				for _, w := range tc.not {
					require.NotContains(t, legend, w, path)
				}
				require.Equal(t, bandLegend(tc.detector), html.UnescapeString(legend), path)
			}
		})
	}
}

// between returns the text of s between the first start and the following end.
func between(t *testing.T, s, start, end string) string {
	t.Helper()
	i := strings.Index(s, start)
	require.GreaterOrEqual(t, i, 0, "no %q", start)
	rest := s[i+len(start):]
	j := strings.Index(rest, end)
	require.GreaterOrEqual(t, j, 0, "no %q after %q", end, start)
	return rest[:j]
}

// The metric page explains a kale anomaly: its component, and for a seasonal one the phase
// and what is usual there ("Mondays 03:00 usually 120 to 180, got 410").
func TestMetricPageExplainsPhase(t *testing.T) {
	e := newEnv(t, envOptions{noSearch: true})
	ts := time.Now().Unix() - 60
	for _, tc := range []struct {
		ex   recordstore.Explanation
		want string
	}{
		{recordstore.Explanation{Component: "seasonal", Expected: 150, Lower: 120, Upper: 180, Phase: "Mondays 03:00"},
			"component <strong>seasonal</strong>: Mondays 03:00 usually 120 to 180, got 410 (expected 150)."},
		{recordstore.Explanation{Component: "context", Expected: 100, Lower: 90, Upper: 110},
			"component <strong>context</strong>: expected 100, normal between 90 and 110."},
	} {
		t.Run(tc.ex.Component, func(t *testing.T) {
			ex := tc.ex
			rec := recordstore.Record{Metric: "demo.web.latency_ms", Value: 410, Timestamp: ts, Score: 0.8,
				Triggered: []string{"kale:" + ex.Component}, Explanation: &ex}
			_, err := recordstore.New(e.store.Client()).Save(context.Background(), "test", recordstore.Current{Anomalies: []recordstore.Record{rec}},
				[]string{"test"}, time.Hour)
			require.NoError(t, err)
			res, body := e.get("/metric/demo.web.latency_ms")
			require.Equal(t, http.StatusOK, res.StatusCode)
			require.Contains(t, body, tc.want)
		})
	}
}
