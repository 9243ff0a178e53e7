package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// alertSink is an httptest webhook receiver answering status and keeping the bodies.
func alertSink(t *testing.T, status int) (*httptest.Server, func() [][]map[string]any) {
	t.Helper()
	var mu sync.Mutex
	var got [][]map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var v []map[string]any
		_ = json.Unmarshal(b, &v)
		mu.Lock()
		got = append(got, v)
		mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv, func() [][]map[string]any {
		mu.Lock()
		defer mu.Unlock()
		return append([][]map[string]any(nil), got...)
	}
}

func verifyAlerts(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := runVerifyAlerts(context.Background(), args, &stdout, &stderr)
	return stdout.String(), err
}

func TestVerifyAlertsUsage(t *testing.T) {
	_, err := verifyAlerts(t, "--alerts", "skyline:log:60")
	require.ErrorIs(t, err, errUsage)
	require.ErrorContains(t, err, "--metric is required")
}

func TestVerifyAlertsList(t *testing.T) {
	srv, got := alertSink(t, http.StatusOK)
	out, err := verifyAlerts(t, "--metric", "skyline.horizon.queue_size",
		"--alerts", "skyline:webhook:1800,horizon:log:60,stats:webhook:60",
		"--alert-webhook-url", srv.URL+"/api/v2/alerts?token=SECRET")
	require.NoError(t, err)
	require.Contains(t, out, `metric "skyline.horizon.queue_size" matches 2 of 3 alert rules`)
	require.Contains(t, out, "rule skyline:webhook:1800: channel webhook configured: POST http://127.0.0.1:")
	require.Contains(t, out, "rule horizon:log:60: channel log configured")
	require.NotContains(t, out, "stats:webhook")
	require.NotContains(t, out, "SECRET")
	require.Empty(t, got(), "nothing is sent without --trigger")

	out, err = verifyAlerts(t, "--metric", "skyline.horizon.queue_size", "--alerts", "skyline:slack:60,skyline:smtp:60")
	require.ErrorContains(t, err, "cannot alert through 2 of 2 matching rules")
	require.Contains(t, out, "rule skyline:slack:60: channel slack NOT configured")
	require.Contains(t, out, "--alert-slack-url")
	require.Contains(t, out, "--alert-smtp-to")

	out, err = verifyAlerts(t, "--metric", "skyline.horizon.queue_size", "--alerts", "skyline:smtp:60,horizon:smtp:60",
		"--alert-smtp-to", "horizon=ops@example.com,dev@example.com")
	require.NoError(t, err)
	require.Contains(t, out, "rule skyline:smtp:60: channel smtp configured: SMTP 127.0.0.1:25 (starttls) to dev@example.com\n")
	require.Contains(t, out, "rule horizon:smtp:60: channel smtp configured: SMTP 127.0.0.1:25 (starttls) to ops@example.com, dev@example.com\n")

	out, err = verifyAlerts(t, "--metric", "skyline.horizon.queue_size", "--alerts", "skyline:smtp:60",
		"--alert-smtp-to", "horizon=ops@example.com")
	require.ErrorContains(t, err, "cannot alert through 1 of 1 matching rules")
	require.Contains(t, out, `rule skyline:smtp:60: channel smtp NOT configured: no address for pattern "skyline"`)

	out, err = verifyAlerts(t, "--metric", "other.metric", "--alerts", "skyline:webhook:60")
	require.NoError(t, err)
	require.Contains(t, out, "matches 0 of 1 alert rules")
}

func TestVerifyAlertsTrigger(t *testing.T) {
	srv, got := alertSink(t, http.StatusOK)
	out, err := verifyAlerts(t, "--metric", "skyline.horizon.queue_size", "--trigger",
		"--alerts", "skyline:webhook:1800,horizon:log:60", "--alert-webhook-url", srv.URL)
	require.NoError(t, err, out)
	require.Equal(t, 2, bytes.Count([]byte(out), []byte("test alert sent")))
	sent := got()
	require.Len(t, sent, 1)
	require.Len(t, sent[0], 1)
	require.Equal(t, "skyline.horizon.queue_size", sent[0][0]["labels"].(map[string]any)["metric"])
	require.Equal(t, "0", sent[0][0]["annotations"].(map[string]any)["value"])

	// Triggering bypasses de-duplication: a second run sends again.
	_, err = verifyAlerts(t, "--metric", "skyline.horizon.queue_size", "--trigger",
		"--alerts", "skyline:webhook:1800", "--alert-webhook-url", srv.URL)
	require.NoError(t, err)
	require.Len(t, got(), 2)

	failing, _ := alertSink(t, http.StatusInternalServerError)
	out, err = verifyAlerts(t, "--metric", "skyline.horizon.queue_size", "--trigger",
		"--alerts", "skyline:webhook:1800,skyline:log:60", "--alert-webhook-url", failing.URL)
	require.ErrorContains(t, err, "cannot send 1 of 2 test alerts")
	require.False(t, errors.Is(err, errUsage))
	require.Contains(t, out, "test alert FAILED: cannot post the alert to http://127.0.0.1:")
	require.Contains(t, out, "HTTP 500")
}
