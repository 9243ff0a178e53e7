package webapp

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/kale-project/kale/horizon/listener"
)

type helpData struct {
	Listeners []listener.State
	Webapp    string
	Writes    string
	Rate      float64
	Burst     int
}

func (s *Server) helpPage(c echo.Context) error {
	d := helpData{Webapp: c.Request().Host, Writes: s.authSummary(), Rate: s.cfg.SearchRate, Burst: s.cfg.SearchBurst}
	if s.listeners != nil {
		d.Listeners = s.listeners()
	}
	return s.render(c, http.StatusOK, "help", page{Title: "Help", Body: d})
}
