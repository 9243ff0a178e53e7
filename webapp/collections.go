package webapp

import (
	"errors"
	"html"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/kale-project/kale/oculus"
)

// CollectionSummary is a collection without its frozen series.
type CollectionSummary struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Created     time.Time `json:"created"`
	Metrics     []string  `json:"metrics"`
}

func summarize(col Collection) CollectionSummary {
	names := make([]string, len(col.Members))
	for i, m := range col.Members {
		names[i] = m.Metric
	}
	return CollectionSummary{Name: col.Name, Description: col.Description, Created: col.Created, Metrics: names}
}

var (
	blockTags = regexp.MustCompile(`(?i)<(br\s*/?|/p|/div|/li|/h[1-6]|/tr)\s*>`)
	tags      = regexp.MustCompile(`<[^>]*>`)
)

// plainText turns a collection description (HTML sanitised by oculus) into the text the
// pages show; templates escape it again, so nothing in it is ever interpreted as markup.
func plainText(h string) string {
	h = blockTags.ReplaceAllString(h, "\n")
	return strings.TrimSpace(html.UnescapeString(tags.ReplaceAllString(h, "")))
}

func (s *Server) apiCollections(c echo.Context) error {
	if s.cols == nil {
		return errJSON(http.StatusServiceUnavailable, "%s", errNoSearch)
	}
	cols, err := s.cols.Collections(c.Request().Context())
	if err != nil {
		return s.collectionError(c, err)
	}
	out := make([]CollectionSummary, len(cols))
	for i, col := range cols {
		out[i] = summarize(col)
	}
	return c.JSON(http.StatusOK, map[string]any{"collections": out})
}

func (s *Server) apiCollection(c echo.Context) error {
	if s.cols == nil {
		return errJSON(http.StatusServiceUnavailable, "%s", errNoSearch)
	}
	name, err := pathParam(c, "name")
	if err != nil {
		return err
	}
	col, err := s.cols.Collection(c.Request().Context(), name)
	if err != nil {
		return s.collectionError(c, err)
	}
	return c.JSON(http.StatusOK, col)
}

// collectionRequest is the body of collection writes (JSON or form).
type collectionRequest struct {
	Name        string   `json:"name" form:"name"`
	Description string   `json:"description" form:"description"`
	Metrics     []string `json:"metrics" form:"metrics"`
}

func (s *Server) apiCreateCollection(c echo.Context) error {
	if s.cols == nil {
		return errJSON(http.StatusServiceUnavailable, "%s", errNoSearch)
	}
	var r collectionRequest
	if err := bindBody(c, &r); err != nil {
		return err
	}
	r.Metrics = splitList(r.Metrics)
	if err := checkCollectionRequest(r.Name, r.Description); err != nil {
		return err
	}
	if len(r.Metrics) == 0 || len(r.Metrics) > oculus.MaxCollectionMembers {
		return errJSON(http.StatusBadRequest, "a collection needs between 1 and %d metrics", oculus.MaxCollectionMembers)
	}
	col, err := s.cols.SaveCollection(c.Request().Context(), r.Name, r.Description, r.Metrics)
	if err != nil {
		return s.collectionError(c, err)
	}
	if isForm(c) {
		return c.Redirect(http.StatusSeeOther, collectionURL(col.Name))
	}
	return c.JSON(http.StatusCreated, summarize(col))
}

func (s *Server) apiUpdateCollection(c echo.Context) error {
	if s.cols == nil {
		return errJSON(http.StatusServiceUnavailable, "%s", errNoSearch)
	}
	name, err := pathParam(c, "name")
	if err != nil {
		return err
	}
	var r collectionRequest
	if err := bindBody(c, &r); err != nil {
		return err
	}
	if r.Name == "" {
		r.Name = name
	}
	if err := checkCollectionRequest(r.Name, r.Description); err != nil {
		return err
	}
	col, err := s.cols.UpdateCollection(c.Request().Context(), name, r.Name, r.Description)
	if err != nil {
		return s.collectionError(c, err)
	}
	if isForm(c) {
		return c.Redirect(http.StatusSeeOther, collectionURL(col.Name))
	}
	return c.JSON(http.StatusOK, summarize(col))
}

func (s *Server) apiDeleteCollection(c echo.Context) error {
	if s.cols == nil {
		return errJSON(http.StatusServiceUnavailable, "%s", errNoSearch)
	}
	name, err := pathParam(c, "name")
	if err != nil {
		return err
	}
	if err := s.cols.DeleteCollection(c.Request().Context(), name); err != nil {
		return s.collectionError(c, err)
	}
	if isForm(c) {
		return c.Redirect(http.StatusSeeOther, "/collections")
	}
	return c.JSON(http.StatusOK, map[string]string{"deleted": name})
}

func checkCollectionRequest(name, description string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return errJSON(http.StatusBadRequest, "a collection needs a name")
	case len(name) > oculus.MaxCollectionName:
		return errJSON(http.StatusBadRequest, "collection name longer than %d bytes", oculus.MaxCollectionName)
	case len(description) > oculus.MaxDescription:
		return errJSON(http.StatusBadRequest, "description longer than %d bytes", oculus.MaxDescription)
	}
	return nil
}

// collectionError maps a collection store's error: its own 404, 409 and 400 messages are
// the client's; anything else is logged and answered generically (503 while the index closes).
func (s *Server) collectionError(c echo.Context, err error) error {
	switch {
	case errors.Is(err, ErrNotFound):
		return errJSON(http.StatusNotFound, "%v", err)
	case errors.Is(err, ErrConflict):
		return errJSON(http.StatusConflict, "%v", err)
	case errors.Is(err, ErrBadQuery):
		return errJSON(http.StatusBadRequest, "%v", err)
	}
	s.log.Warn("webapp collection request failed", "path", c.Request().URL.Path, "err", err)
	if s.draining.Load() || errors.Is(err, ErrClosed) {
		return errJSON(http.StatusServiceUnavailable, "%s", errShuttingDown)
	}
	return errJSON(http.StatusInternalServerError, "the collection request failed (details in the server log)")
}
