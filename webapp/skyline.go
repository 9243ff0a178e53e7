package webapp

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/kale-project/kale/utils/redisstore"
)

// skylineAPI is Skyline's GET /api?metric=<full key>: {"results": [[ts, v], …]} in stored
// order, 404 {"results": "Error: No metric by that name"}. Only keys of the full and mini
// namespaces are served.
func (s *Server) skylineAPI(c echo.Context) error {
	key := c.QueryParam("metric")
	o := s.store.Options()
	notFound := func() error {
		return c.JSON(http.StatusNotFound, map[string]string{"results": "Error: No metric by that name"})
	}
	name, full := strings.CutPrefix(key, o.FullNamespace)
	if !full {
		var mini bool
		if name, mini = strings.CutPrefix(key, o.MiniNamespace); !mini {
			return notFound()
		}
	}
	if len(key) > 2*maxNameLen || name == "" || s.store.ReservedName(name) {
		return notFound()
	}
	raw, err := s.store.Raw(c.Request().Context(), []string{key})
	if err != nil {
		s.log.Warn("webapp cannot read from the store", "what", "the series", "path", c.Request().URL.Path, "err", err)
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"results": "Error: " + unavailableMessage("the series")})
	}
	b := raw[0]
	if len(b) == 0 {
		return notFound()
	}
	pts, _ := redisstore.Series(b)
	return c.JSON(http.StatusOK, struct {
		Results points `json:"results"`
	}{points(pts)})
}

// appSettings is Skyline's GET /app_settings. OCULUS_HOST points at this server when the
// search runs in this process, so Skyline's front end links its search icon here.
func (s *Server) appSettings(c echo.Context) error {
	oculusHost := ""
	if s.search != nil {
		oculusHost = c.Scheme() + "://" + c.Request().Host
	}
	return c.JSON(http.StatusOK, map[string]string{
		"GRAPH_URL": s.cfg.GraphURL, "OCULUS_HOST": oculusHost, "FULL_NAMESPACE": s.cfg.FullNamespace,
	})
}

// anomalyDump is Skyline's JSONP anomalies.json, as the analyzer wrote it last
// (handle_data([]) before the first cycle).
func (s *Server) anomalyDump(c echo.Context) error {
	b, err := s.records.AnomalyDump(c.Request().Context())
	if err != nil {
		return s.unavailable(c, "the anomaly dump", err)
	}
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.Blob(http.StatusOK, "application/javascript; charset=utf-8", b)
}
