package webapp

import (
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"
)

// staticFile serves the embedded assets with a short cache lifetime (the binary is the
// version).
func (s *Server) staticFile(c echo.Context) error {
	name := path.Clean("/" + c.Param("*"))[1:]
	if name == "" || strings.HasSuffix(name, "README") || strings.Contains(name, "..") {
		return echo.NewHTTPError(http.StatusNotFound, "not found")
	}
	b, err := fs.ReadFile(s.static, name)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "not found")
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, ct, b)
}
