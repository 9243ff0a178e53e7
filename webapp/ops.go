package webapp

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/kale-project/kale/horizon/listener"
)

// LogLeveler reads and changes the process's log level at run time; *slog.LevelVar
// implements it.
type LogLeveler interface {
	Level() slog.Level
	Set(slog.Level)
}

// Readiness is the /readyz document: Ready only when Redis answers PING and every listener
// this process was configured with is bound. Reason joins Reasons for a one-line probe log.
type Readiness struct {
	Ready   bool     `json:"ready"`
	Reason  string   `json:"reason,omitempty"`
	Reasons []string `json:"reasons,omitempty"`
}

// CheckReady evaluates readiness; listeners may be nil (no horizon in this process).
// The --metrics-addr handler of components without the webapp uses it too.
func CheckReady(ctx context.Context, ping func(context.Context) error, listeners func() []listener.State) Readiness {
	var reasons []string
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := ping(pctx); err != nil {
		reasons = append(reasons, fmt.Sprintf("redis does not answer PING: %v", err))
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
	return Readiness{Ready: len(reasons) == 0, Reason: strings.Join(reasons, "; "), Reasons: reasons}
}

// readyz is the readiness probe: 200 when ready, 503 with the reasons otherwise. /healthz
// stays the liveness probe (200 while the process serves).
func (s *Server) readyz(c echo.Context) error {
	r := CheckReady(c.Request().Context(), s.store.Ping, s.listeners)
	c.Response().Header().Set("Cache-Control", "no-store")
	if !r.Ready {
		return c.JSON(http.StatusServiceUnavailable, r)
	}
	return c.JSON(http.StatusOK, r)
}

// LogLevelRequest is the body of POST /api/v1/admin/log-level.
type LogLevelRequest struct {
	Level string `json:"level"`
}

// apiLogLevel reports the process's log level (GET) or changes it (POST {"level":"debug"},
// a guarded write).
func (s *Server) apiLogLevel(c echo.Context) error {
	if s.logLevel == nil {
		return errJSON(http.StatusServiceUnavailable, "the log level cannot be changed in this process")
	}
	if c.Request().Method == http.MethodPost {
		var req LogLevelRequest
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		var lvl slog.Level
		switch strings.ToLower(strings.TrimSpace(req.Level)) {
		case "debug", "info", "warn", "error":
			_ = lvl.UnmarshalText([]byte(req.Level))
		default:
			return errJSON(http.StatusBadRequest, "level %q is not one of debug, info, warn, error", req.Level)
		}
		old := s.logLevel.Level()
		s.logLevel.Set(lvl)
		s.log.Warn("log level changed at run time", "from", old.String(), "to", lvl.String(), "client", c.RealIP())
	}
	return c.JSON(http.StatusOK, map[string]string{"level": strings.ToLower(s.logLevel.Level().String())})
}
