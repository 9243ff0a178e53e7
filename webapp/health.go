package webapp

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/kale-project/kale/horizon/listener"
)

// Bounds of the health checks: a probe gets its answer within them even when Redis hangs (a
// stopped Redis accepts connections and never answers, and the client's own read timeout is
// longer).
const (
	healthBound = 2 * time.Second // /healthz, /readyz and CheckReady
	statusBound = 3 * time.Second // /status and /api/v1/status
)

// within runs f under a context bounded by d and returns its result, or ok false once d has
// passed without one: f then runs on in the background until it notices its context, and its
// result is dropped. It is how a check keeps its bound even when f ignores its context.
func within[T any](ctx context.Context, d time.Duration, f func(context.Context) T) (v T, ok bool) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	done := make(chan T, 1) // buffered: f never blocks on a caller that left
	go func() { done <- f(ctx) }()
	select {
	case v = <-done:
		return v, true
	case <-ctx.Done():
		select {
		case v = <-done:
			return v, true
		default:
			return v, false
		}
	}
}

// Readiness is the /readyz document: Ready only when Redis answers PING and every listener
// this process was configured with is bound. Reason joins Reasons for a one-line probe log.
type Readiness struct {
	Ready   bool     `json:"ready"`
	Reason  string   `json:"reason,omitempty"`
	Reasons []string `json:"reasons,omitempty"`
}

// CheckReady evaluates readiness; listeners may be nil (no horizon in this process). It
// returns within 2 seconds even when ping ignores its context. Failures are described in
// stable words ("timeout", "connection refused"), never with Redis's own error text.
// The --metrics-addr handler of components without the webapp uses it too.
func CheckReady(ctx context.Context, ping func(context.Context) error, listeners func() []listener.State) Readiness {
	r, _ := checkReady(ctx, ping, listeners)
	return r
}

// checkReady is CheckReady plus the ping's own error, for the log.
func checkReady(ctx context.Context, ping func(context.Context) error, listeners func() []listener.State) (Readiness, error) {
	var reasons []string
	state, err := RedisHealth(ctx, ping)
	if err != nil {
		reasons = append(reasons, "redis does not answer PING: "+state)
	}
	if listeners != nil {
		for _, l := range listeners() {
			if !l.Up {
				why := l.Error
				if why == "" {
					why = "stopped"
				}
				reasons = append(reasons, fmt.Sprintf("listener --%s %s is not bound: %s", l.Protocol, l.Addr, why))
			}
		}
	}
	return Readiness{Ready: len(reasons) == 0, Reason: strings.Join(reasons, "; "), Reasons: reasons}, err
}

// RedisHealth pings Redis and answers within 2 seconds even when ping ignores its context (a
// stopped Redis accepts connections and never answers). The state is "up", or the failure in
// stable words ("timeout", "connection refused", "cancelled", "error"); err is the ping's own
// error, for the log. The --metrics-addr handler of components without the webapp uses it too.
func RedisHealth(ctx context.Context, ping func(context.Context) error) (state string, err error) {
	err, answered := within(ctx, healthBound, ping)
	if !answered {
		err = fmt.Errorf("no answer within %v: %w", healthBound, context.DeadlineExceeded)
	}
	if err == nil {
		return "up", nil
	}
	return redisFailure(err), err
}

// redisFailure names a failed Redis call in stable words for probes and clients.
func redisFailure(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	}
	return "error"
}

// readyz is the readiness probe: 200 when ready, 503 with the reasons otherwise (also while
// the server shuts down). /healthz stays the liveness probe (200 while the process serves).
func (s *Server) readyz(c echo.Context) error {
	r, err := checkReady(c.Request().Context(), s.store.Ping, s.listeners)
	if err != nil {
		s.log.Debug("webapp readiness: redis does not answer", "err", err)
	}
	if s.draining.Load() {
		r.Reasons = append(r.Reasons, "shutting down")
		r.Ready, r.Reason = false, strings.Join(r.Reasons, "; ")
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	if !r.Ready {
		return c.JSON(http.StatusServiceUnavailable, r)
	}
	return c.JSON(http.StatusOK, r)
}

// healthz is the liveness document: 200 whenever the process serves, with each component's
// state so a probe or a person sees what is degraded. It answers within healthBound.
func (s *Server) healthz(c echo.Context) error {
	st := s.collectStatus(c.Request().Context(), false, healthBound)
	type redisHealth struct {
		Up        bool    `json:"up"`
		LatencyMS float64 `json:"latency_ms"`
		Error     string  `json:"error,omitempty"`
	}
	out := map[string]any{
		"status":    "ok",
		"version":   s.version,
		"uptime_s":  math.Round(s.now().Sub(s.started).Seconds()),
		"redis":     redisHealth{Up: st.Redis.Up, LatencyMS: st.Redis.LatencyMS, Error: st.Redis.Error},
		"listeners": st.Listeners,
		"analyzer":  st.Analyzer,
		"oculus":    st.Index,
		"charts":    s.charts,
	}
	if !st.Redis.Up {
		out["status"] = "degraded"
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, out)
}

func (s *Server) apiStatus(c echo.Context) error {
	return c.JSON(http.StatusOK, s.collectStatus(c.Request().Context(), true, statusBound))
}
