package webapp

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/horizon/listener"
)

func TestReadyz(t *testing.T) {
	states := []listener.State{
		{Protocol: "pickle-tcp", Addr: "127.0.0.1:2024", Up: true},
		{Protocol: "plaintext-tcp", Addr: "127.0.0.1:2003", Up: true},
	}
	e := newEnv(t, envOptions{metrics: 3, noSearch: true, listeners: func() []listener.State { return states }})
	res, body := e.get("/readyz")
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	require.True(t, decode[Readiness](t, body).Ready)

	// A configured listener that is not bound: not ready, the reason names the flag.
	states[0] = listener.State{Protocol: "pickle-tcp", Addr: "127.0.0.1:2024", Error: "address already in use"}
	res, body = e.get("/readyz")
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	r := decode[Readiness](t, body)
	require.False(t, r.Ready)
	require.Contains(t, r.Reason, "--pickle-tcp")
	require.Contains(t, r.Reason, "address already in use")

	// Redis down: not ready, while liveness stays 200.
	states[0].Up, states[0].Error = true, ""
	e.redis.Stop()
	res, body = e.get("/readyz")
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	require.Contains(t, decode[Readiness](t, body).Reason, "redis")
	res, _ = e.get("/healthz")
	require.Equal(t, http.StatusOK, res.StatusCode)
}

func TestLogLevelAtRunTime(t *testing.T) {
	level := new(slog.LevelVar)
	e := newEnv(t, envOptions{metrics: 3, noSearch: true, token: "tok3n", logLevel: level})
	res, body := e.get("/api/v1/admin/log-level")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.JSONEq(t, `{"level":"info"}`, body)

	res, _ = e.do(http.MethodPost, "/api/v1/admin/log-level", `{"level":"debug"}`)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode, "a write needs credentials")
	require.Equal(t, slog.LevelInfo, level.Level())

	res, body = e.do(http.MethodPost, "/api/v1/admin/log-level", `{"level":"debug"}`, "Authorization", "Bearer tok3n")
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	require.JSONEq(t, `{"level":"debug"}`, body)
	require.Equal(t, slog.LevelDebug, level.Level())

	res, body = e.do(http.MethodPost, "/api/v1/admin/log-level", `{"level":"loud"}`, "Authorization", "Bearer tok3n")
	require.Equal(t, http.StatusBadRequest, res.StatusCode)
	require.Contains(t, decode[apiError](t, body).Error, "loud")
	require.Equal(t, slog.LevelDebug, level.Level())
}
