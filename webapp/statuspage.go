package webapp

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

func (s *Server) statusPage(c echo.Context) error {
	return s.render(c, http.StatusOK, "status", page{Title: "Status", Body: s.collectStatus(c.Request().Context(), true, statusBound)})
}
