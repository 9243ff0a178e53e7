package webapp

import (
	"context"
	"net"
	"net/http"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/utils/redistest"
)

func TestCheckReadyKeepsItsBound(t *testing.T) {
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	for _, tc := range []struct {
		name   string
		ping   func(context.Context) error
		ready  bool
		reason string
	}{
		{"answers", func(context.Context) error { return nil }, true, ""},
		{"ignores its context", func(context.Context) error { <-hang; return nil }, false, "redis does not answer PING: timeout"},
		{"honours its context", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, false, "redis does not answer PING: timeout"},
		{"refused", func(context.Context) error {
			return &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
		}, false, "redis does not answer PING: connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t0 := time.Now()
			r := CheckReady(context.Background(), tc.ping, nil)
			require.Less(t, time.Since(t0), healthBound+500*time.Millisecond)
			require.Equal(t, tc.ready, r.Ready)
			require.Equal(t, tc.reason, r.Reason)
		})
	}
}

// stoppableRedis starts a redis-server of the test's own, so that it can be paused with
// SIGSTOP (redistest does not expose its process).
func stoppableRedis(t *testing.T) (url string, stop, cont func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed")
	}
	addr := redistest.FreePort(t, "tcp")
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", t.TempDir(), "--loglevel", "warning")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	require.Eventually(t, func() bool { return c.Ping(context.Background()).Err() == nil }, 10*time.Second, 20*time.Millisecond)
	return "redis://" + addr + "/0",
		func() { require.NoError(t, cmd.Process.Signal(syscall.SIGSTOP)) },
		func() { require.NoError(t, cmd.Process.Signal(syscall.SIGCONT)) }
}

func TestHealthWithHungRedis(t *testing.T) {
	url, stop, cont := stoppableRedis(t)
	_, base := newBareOn(t, url, nil, nil)
	res, body := get(t, base, "/readyz")
	require.Equal(t, http.StatusOK, res.StatusCode, body)

	stop()
	for _, tc := range []struct {
		path  string
		code  int
		check func(t *testing.T, body string)
	}{
		{"/healthz", http.StatusOK, func(t *testing.T, body string) {
			h := decode[struct {
				Status string
				Redis  struct {
					Up    bool
					Error string
				}
			}](t, body)
			require.Equal(t, "degraded", h.Status)
			require.False(t, h.Redis.Up)
			require.Equal(t, "timeout", h.Redis.Error)
		}},
		{"/readyz", http.StatusServiceUnavailable, func(t *testing.T, body string) {
			r := decode[Readiness](t, body)
			require.False(t, r.Ready)
			require.Equal(t, "redis does not answer PING: timeout", r.Reason)
		}},
		{"/api/v1/status", http.StatusOK, func(t *testing.T, body string) {
			st := decode[Status](t, body)
			require.Equal(t, "timeout", st.Redis.Error)
		}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			bound := healthBound
			if tc.path == "/api/v1/status" {
				bound = statusBound
			}
			t0 := time.Now()
			res, body := get(t, base, tc.path)
			require.Less(t, time.Since(t0), bound+500*time.Millisecond, "answered within its bound")
			require.Equal(t, tc.code, res.StatusCode, body)
			tc.check(t, body)
		})
	}

	cont()
	require.Eventually(t, func() bool {
		res, _ := get(t, base, "/readyz")
		return res.StatusCode == http.StatusOK
	}, 10*time.Second, 100*time.Millisecond, "ready again once Redis answers")
}
