package webapp

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/kale-project/kale/analyzer/recordstore"
)

// embedded holds the templates and static assets. static/vendor is filled by `make assets`
// (uPlot from the npm registry, git-ignored); its committed README keeps the folder, and the
// build, in existence when the assets were not built.
//
//go:embed templates static
var embedded embed.FS

// chartsBuilt reports whether uPlot was built into static/vendor.
func chartsBuilt(static fs.FS) bool {
	for _, f := range []string{"vendor/uPlot.iife.min.js", "vendor/uPlot.min.css"} {
		if st, err := fs.Stat(static, f); err != nil || st.Size() == 0 {
			return false
		}
	}
	return true
}

var funcs = template.FuncMap{
	"metricURL":     metricURL,
	"collectionURL": collectionURL,
	"collectionAPI": func(name string) string { return "/api/v1/collections/" + url.PathEscape(name) },
	"searchURL":     searchURL,
	"ago":           ago,
	"iso":           iso,
	"clock":         clock,
	"fnum":          fnum,
	"pct":           func(f recordstore.Float) string { return fmt.Sprintf("%.0f%%", 100*float64(f)) },
	"bytes":         humanBytes,
	"join":          strings.Join,
	"triggered":     triggeredSummary,
	"plain":         plainText,
	"counts":        counts,
	"short":         short,
	"bandlegend":    bandLegend,
	"add":           func(a, b int) int { return a + b },
	"seconds":       func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) + " s" },
	"isotime":       func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"timeago": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return ago(t.Unix())
	},
}

// parseTemplates parses every page with the layout.
func parseTemplates() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	files, err := fs.Glob(embedded, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("cannot list the templates: %w", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(embedded, "templates/layout.html", f)
		if err != nil {
			return nil, fmt.Errorf("cannot parse the template %s: %w", f, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// page is what the layout needs around each page's body.
type page struct {
	Title   string
	Nav     string
	CSRF    string
	Charts  bool
	Search  bool
	Version string
	Scripts []string
	Query   string // the navbar's search box
	Body    any
}

// render executes a page template into a buffer first, so a template error is a clean 500
// rather than half a page.
func (s *Server) render(c echo.Context, code int, name string, body any) error {
	t, ok := s.pages[name]
	if !ok {
		return fmt.Errorf("cannot render the page %q: no such template", name)
	}
	p, ok := body.(page)
	if !ok {
		p = page{Body: body}
	}
	if p.Nav == "" {
		p.Nav = name
	}
	p.CSRF, _ = c.Get(ctxCSRF).(string)
	p.Charts, p.Search, p.Version = s.charts, s.search != nil, s.version
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		s.log.Error("cannot render a page", "page", name, "err", err)
		return echo.NewHTTPError(http.StatusInternalServerError, "cannot render the page (logged)")
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.HTMLBlob(code, buf.Bytes())
}

type errorPage struct {
	Code    int
	Status  string
	Message string
}
