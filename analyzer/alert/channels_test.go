package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// hookServer records the requests it receives and answers with status(n) for the n-th (from 1).
type hookServer struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	ctypes []string
	paths  []string
}

func newHookServer(t *testing.T, status func(n int) int) *hookServer {
	t.Helper()
	h := &hookServer{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies = append(h.bodies, b)
		h.ctypes = append(h.ctypes, r.Header.Get("Content-Type"))
		h.paths = append(h.paths, r.Method+" "+r.URL.Path)
		n := len(h.bodies)
		h.mu.Unlock()
		code := http.StatusOK
		if status != nil {
			code = status(n)
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, "reply body")
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.bodies)
}

func (h *hookServer) body(t *testing.T, i int, v any) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	require.Greater(t, len(h.bodies), i)
	require.Equal(t, "application/json", h.ctypes[i])
	require.NoError(t, json.Unmarshal(h.bodies[i], v), string(h.bodies[i]))
}

var testAnomaly = Anomaly{
	Metric: "skyline.horizon.queue_size", Value: 12.5, Timestamp: 1700000000,
	Triggered: []string{"grubbs", "ks_test"}, Score: 0.75, Explanation: "7 of 9 detectors",
}

func testConfig() *Config {
	c := DefaultConfig()
	c.GraphURL = "http://graphite.example/render/?width=1400&from=-1hour&target=%s"
	return c
}

func TestWebhookPayload(t *testing.T) {
	srv := newHookServer(t, nil)
	c := testConfig()
	c.WebhookURL = srv.URL + "/api/v2/alerts"
	w, err := NewWebhook(c)
	require.NoError(t, err)
	require.NoError(t, w.Send(context.Background(), rule("skyline", "webhook", 1800), testAnomaly))

	var got []map[string]any
	srv.body(t, 0, &got)
	require.Equal(t, "POST /api/v2/alerts", srv.paths[0])
	link := "http://graphite.example/render/?width=1400&from=-1hour&target=skyline.horizon.queue_size"
	require.Equal(t, []map[string]any{{
		"labels": map[string]any{"alertname": "KaleAnomaly", "metric": "skyline.horizon.queue_size",
			"pattern": "skyline", "severity": "warning"},
		"annotations": map[string]any{
			"summary":     "Anomalous metric: skyline.horizon.queue_size (value: 12.5)",
			"value":       "12.5",
			"triggered":   "grubbs,ks_test",
			"graph_url":   link,
			"explanation": "7 of 9 detectors",
		},
		"startsAt":     "2023-11-14T22:13:20Z",
		"generatorURL": link,
	}}, got)

	// Without --graph-url there is no generatorURL and no graph_url annotation.
	c.GraphURL = ""
	w, err = NewWebhook(c)
	require.NoError(t, err)
	require.NoError(t, w.Send(context.Background(), rule("skyline", "webhook", 1800), Anomaly{Metric: "m", Value: 1, Timestamp: 1}))
	got = nil
	srv.body(t, 1, &got)
	require.NotContains(t, got[0], "generatorURL")
	require.NotContains(t, got[0]["annotations"], "graph_url")
}

func TestSlackPayload(t *testing.T) {
	srv := newHookServer(t, nil)
	c := testConfig()
	c.SlackURL = srv.URL + "/services/T000/B000/XXXX"
	s, err := NewSlack(c)
	require.NoError(t, err)
	a := testAnomaly
	a.Metric = "web.<script>&co"
	require.NoError(t, s.Send(context.Background(), rule("web", "slack", 600), a))

	var got map[string]string
	srv.body(t, 0, &got)
	require.Len(t, got, 1)
	require.Equal(t, "Anomalous metric: <http://graphite.example/render/?width=1400&amp;from=-1hour&amp;target=web.%3Cscript%3E%26co|web.&lt;script&gt;&amp;co> (value: 12.5)\n"+
		"Triggered: grubbs, ks_test\n7 of 9 detectors\nRule: web (next alert in 600 seconds)", got["text"])
}

func TestPagerDutyPayload(t *testing.T) {
	srv := newHookServer(t, func(int) int { return http.StatusAccepted })
	c := testConfig()
	c.PagerDutyURL = srv.URL + "/v2/enqueue"
	c.PagerDutyKey = "R0UTINGKEY"
	p, err := NewPagerDuty(c)
	require.NoError(t, err)
	require.NotContains(t, p.String(), "R0UTINGKEY")
	require.NoError(t, p.Send(context.Background(), rule("skyline", "pagerduty", 1800), testAnomaly))

	var got map[string]any
	srv.body(t, 0, &got)
	link := "http://graphite.example/render/?width=1400&from=-1hour&target=skyline.horizon.queue_size"
	require.Equal(t, map[string]any{
		"routing_key":  "R0UTINGKEY",
		"event_action": "trigger",
		"dedup_key":    "skyline.horizon.queue_size",
		"client":       "kale",
		"payload": map[string]any{
			"summary":   "Anomalous metric: skyline.horizon.queue_size (value: 12.5)",
			"source":    "kale",
			"severity":  "warning",
			"timestamp": "2023-11-14T22:13:20Z",
			"custom_details": map[string]any{
				"metric": "skyline.horizon.queue_size", "value": 12.5, "triggered": []any{"grubbs", "ks_test"},
				"pattern": "skyline", "expiration_seconds": 1800.0, "score": 0.75,
				"explanation": "7 of 9 detectors", "graph_url": link,
			},
		},
		"links": []any{map[string]any{"href": link, "text": "graph of skyline.horizon.queue_size"}},
	}, got)
}

func TestLogChannel(t *testing.T) {
	var buf bytes.Buffer
	l := NewLog(testConfig(), slog.New(slog.NewJSONHandler(&buf, nil)))
	require.NoError(t, l.Send(context.Background(), rule("skyline", "log", 60), testAnomaly))
	var got map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &got))
	require.Equal(t, "WARN", got["level"])
	require.Equal(t, "anomalous metric", got["msg"])
	require.Equal(t, "skyline.horizon.queue_size", got["metric"])
	require.Equal(t, 12.5, got["value"])
	require.Equal(t, []any{"grubbs", "ks_test"}, got["triggered"])
	require.Equal(t, "skyline", got["pattern"])
}

// TestHTTPErrors checks status handling and that no error shows a URL's secret path or a key.
func TestHTTPErrors(t *testing.T) {
	for _, tc := range []struct {
		status    int
		permanent bool
	}{
		{http.StatusInternalServerError, false},
		{http.StatusServiceUnavailable, false},
		{http.StatusTooManyRequests, false},
		{http.StatusRequestTimeout, false},
		{http.StatusBadRequest, true},
		{http.StatusNotFound, true},
		{http.StatusFound, true}, // redirects are not followed
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			srv := newHookServer(t, func(int) int { return tc.status })
			c := testConfig()
			c.SlackURL = srv.URL + "/services/T000/B000/SECRETPATH"
			s, err := NewSlack(c)
			require.NoError(t, err)
			err = s.Send(context.Background(), rule("x", "slack", 60), testAnomaly)
			require.Error(t, err)
			require.Equal(t, tc.permanent, errorIsPermanent(err), err.Error())
			require.Contains(t, err.Error(), "reply body")
			require.NotContains(t, err.Error(), "SECRETPATH")
		})
	}

	srv := newHookServer(t, nil)
	srv.Close()
	c := testConfig()
	c.PagerDutyURL = srv.URL + "/v2/enqueue?token=SECRETQUERY"
	c.PagerDutyKey = "SECRETKEY"
	p, err := NewPagerDuty(c)
	require.NoError(t, err)
	err = p.Send(context.Background(), rule("x", "pagerduty", 60), testAnomaly)
	require.Error(t, err)
	require.False(t, errorIsPermanent(err))
	require.NotContains(t, err.Error(), "SECRET")
}

func errorIsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }
