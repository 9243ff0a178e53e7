package webapp

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// LogLeveler reads and changes the process's log level at run time; *slog.LevelVar
// implements it.
type LogLeveler interface {
	Level() slog.Level
	Set(slog.Level)
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
