package webapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// errNoSearch explains a search route without oculus in this process.
const errNoSearch = "oculus (the similarity search) is not running in this process: start it with 'kale all' or 'kale oculus' next to 'kale webapp'"

// errShuttingDown answers a search that arrives while the server or its index shuts down.
const errShuttingDown = "the search is shutting down with this process: retry in a moment (or on another instance)"

// searchGrace is how long past --search-timeout a search is waited for: the searcher applies
// --search-timeout itself (oculus does), so one that honours it has returned by then; one
// that does not is left behind and the client gets 503 anyway.
const searchGrace = 500 * time.Millisecond

// apiSearch runs a similarity search; the body is an oculus query, validated by the searcher.
func (s *Server) apiSearch(c echo.Context) error {
	if s.search == nil {
		return errJSON(http.StatusServiceUnavailable, "%s", errNoSearch)
	}
	q, err := decodeQuery(c)
	if err != nil {
		return err
	}
	res, err := s.runSearch(c.Request().Context(), q)
	if err != nil {
		return err
	}
	if res.Results == nil {
		res.Results = []Hit{}
	}
	if res.Collections == nil {
		res.Collections = []CollectionMatch{}
	}
	return c.JSON(http.StatusOK, res)
}

// runSearch runs q and maps the searcher's errors to HTTP errors: 400 for a refused query
// (ErrBadQuery), 404 for an unknown metric, 503 for a timeout or a shutdown, a generic 500
// (the cause logged) otherwise. The searcher validates q and applies --search-timeout;
// runSearch only stops waiting by --search-timeout + searchGrace whatever the searcher does,
// and cancels the search when it returns.
func (s *Server) runSearch(reqCtx context.Context, q Query) (Result, error) {
	if s.draining.Load() {
		s.m.searchFailed.WithLabelValues("shutting_down").Inc()
		return Result{}, errJSON(http.StatusServiceUnavailable, "%s", errShuttingDown)
	}
	base := s.searchContext()
	ctx, cancel := context.WithCancel(reqCtx)
	defer cancel()
	defer context.AfterFunc(base, cancel)()
	type answer struct {
		res Result
		err error
	}
	done := make(chan answer, 1) // buffered: a searcher left behind does not block
	go func() {
		defer func() {
			if r := recover(); r != nil { // not under echo's recover: this is another goroutine
				s.log.Error("webapp search panicked", "panic", fmt.Sprint(r))
				s.m.panics.Inc()
				done <- answer{err: fmt.Errorf("search panicked: %v", r)}
			}
		}()
		res, err := s.search.Search(ctx, q)
		done <- answer{res, err}
	}()
	backstop := time.NewTimer(s.cfg.SearchTimeout + searchGrace)
	defer backstop.Stop()
	var a answer
	select {
	case a = <-done:
	case <-backstop.C:
		a.err = fmt.Errorf("the searcher did not return within --search-timeout: %w", context.DeadlineExceeded)
	case <-ctx.Done(): // the client went away or the server drains
		t := time.NewTimer(searchGrace)
		select {
		case a = <-done:
		case <-t.C:
			a.err = fmt.Errorf("the searcher did not return: %w", ctx.Err())
		}
		t.Stop()
	}
	err := a.err
	switch {
	case err == nil:
		return a.res, nil
	case errors.Is(err, ErrBadQuery):
		return Result{}, errJSON(http.StatusBadRequest, "%v", err)
	case errors.Is(err, ErrNotFound):
		return Result{}, errJSON(http.StatusNotFound, "%v", err)
	case s.draining.Load() || base.Err() != nil || errors.Is(err, ErrClosed):
		s.m.searchFailed.WithLabelValues("shutting_down").Inc()
		return Result{}, errJSON(http.StatusServiceUnavailable, "%s", errShuttingDown)
	case errors.Is(err, context.DeadlineExceeded):
		s.m.searchFailed.WithLabelValues("timeout").Inc()
		return Result{}, errJSON(http.StatusServiceUnavailable, "the search took longer than --search-timeout (%v) and was stopped: narrow it with a name prefix, exclusion filters, a smaller DTW window or FastDTW radius", s.cfg.SearchTimeout)
	case reqCtx.Err() != nil:
		s.m.searchFailed.WithLabelValues("cancelled").Inc()
		return Result{}, errJSON(http.StatusServiceUnavailable, "the search was cancelled: the client went away")
	}
	s.m.searchFailed.WithLabelValues("error").Inc()
	s.log.Warn("webapp search failed", "err", err)
	return Result{}, errJSON(http.StatusInternalServerError, "the search failed (details in the server log)")
}

// validateQuery checks q with oculus's own rules (Query.Validate), for the search page,
// which refuses a bad query before it counts against the rate limit.
func validateQuery(q *Query) error { return q.Validate() }

// decodeQuery reads a search body strictly: decodeJSON's rules, and no null among the values
// (encoding/json would silently read null as 0).
func decodeQuery(c echo.Context) (Query, error) {
	var q Query
	body, err := io.ReadAll(c.Request().Body) // bounded by the route's body limit
	if err != nil {
		return q, bodyError(err)
	}
	if err := decodeStrict(bytes.NewReader(body), &q); err != nil {
		return q, err
	}
	var nulls struct {
		Values []*float64 `json:"values"`
	}
	if err := json.Unmarshal(body, &nulls); err == nil {
		for i, v := range nulls.Values {
			if v == nil {
				return q, errJSON(http.StatusBadRequest, "values[%d] is null: every value must be a number", i)
			}
		}
	}
	return q, nil
}

// decodeJSON reads a JSON body strictly: unknown fields are errors (a typo must not be
// silently ignored), and so is anything after the one JSON value.
func decodeJSON(c echo.Context, v any) error { return decodeStrict(c.Request().Body, v) }

func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errJSON(http.StatusBadRequest, "empty body: send a JSON object")
		}
		return bodyError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if he := (*echo.HTTPError)(nil); errors.As(err, &he) {
			return he
		}
		return errJSON(http.StatusBadRequest, "unexpected data after the JSON value: send exactly one JSON object")
	}
	return nil
}

// bodyError maps a failed body read or decode to a 400 (or the body limit's 413).
func bodyError(err error) error {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return he
	}
	return errJSON(http.StatusBadRequest, "cannot decode the JSON body: %v", err)
}

// searchCharts returns the charts of a search page: each hit's window and the query metric's
// (under the name it was asked by), as oculus searched them, at most searchChartPoints each.
// The query must have asked for them (Query.Windows).
func searchCharts(q Query, res Result) map[string]points {
	out := make(map[string]points, len(res.Results)+1)
	if q.Metric != "" && res.QueryWindow != nil {
		out[q.Metric] = points(downsample(res.QueryWindow, searchChartPoints))
	}
	for _, h := range res.Results {
		if h.Window != nil {
			out[h.Metric] = points(downsample(h.Window, searchChartPoints))
		}
	}
	return out
}
