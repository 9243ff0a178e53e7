package webapp

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/kale-project/kale/utils/redisstore"
)

type collectionsData struct {
	Collections []CollectionSummary
	Available   bool
	Error       string
}

func (s *Server) collectionsPage(c echo.Context) error {
	d := collectionsData{Available: s.cols != nil}
	if s.cols != nil {
		cols, err := s.cols.Collections(c.Request().Context())
		if err != nil {
			s.log.Warn("webapp cannot read the collections", "err", err)
			d.Error = "cannot read the collections (details in the server log)"
		}
		for _, col := range cols {
			d.Collections = append(d.Collections, summarize(col))
		}
	}
	return s.render(c, http.StatusOK, "collections", page{Title: "Collections", Scripts: []string{"collections.js"}, Body: d})
}

type collectionData struct {
	Collection Collection
	Data       map[string]points
	Order      []string
}

func (s *Server) collectionPage(c echo.Context) error {
	if s.cols == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, errNoSearch)
	}
	name, err := pathParam(c, "*")
	if err != nil {
		return err
	}
	col, err := s.cols.Collection(c.Request().Context(), name)
	if errors.Is(err, ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, fmt.Sprintf("No collection named %q.", name))
	}
	if err != nil {
		return s.collectionError(c, err)
	}
	d := collectionData{Collection: col, Data: map[string]points{}, Order: []string{}}
	for _, m := range col.Members {
		pts := make([]redisstore.Pair, len(m.Points))
		for i, p := range m.Points {
			pts[i] = redisstore.Pair{Timestamp: p[0], Value: p[1]}
		}
		d.Data[m.Metric] = points(downsample(pts, 600))
		d.Order = append(d.Order, m.Metric)
	}
	return s.render(c, http.StatusOK, "collection", page{Title: col.Name, Nav: "collections", Scripts: []string{"collections.js"}, Body: d})
}
