package webapp

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/kale-project/kale/analyzer/recordstore"
)

type feedbackRequest struct {
	Metric    string   `json:"metric" form:"metric"`
	Timestamp int64    `json:"timestamp" form:"timestamp"`
	Value     *float64 `json:"value" form:"value"`
	Triggered []string `json:"triggered" form:"triggered"`
}

// apiFeedback stores "not anomalous" for one anomaly of a metric (the latest recorded one when
// no timestamp is given) under kale.feedback.<name>.
func (s *Server) apiFeedback(c echo.Context) error {
	var r feedbackRequest
	if err := bindBody(c, &r); err != nil {
		return err
	}
	if r.Metric == "" || len(r.Metric) > maxNameLen {
		return errJSON(http.StatusBadRequest, "give the metric name (\"metric\"), at most %d bytes", maxNameLen)
	}
	ctx := c.Request().Context()
	recs, err := s.records.History(ctx, r.Metric, float64(r.Timestamp), float64(r.Timestamp), 1)
	if r.Timestamp == 0 {
		recs, err = s.records.History(ctx, r.Metric, 0, 0, 1)
	}
	if err != nil {
		return s.unavailable(c, "the anomaly history", err)
	}
	f := Feedback{Timestamp: r.Timestamp, Triggered: splitList(r.Triggered), Created: s.now().Unix()}
	if r.Value != nil {
		f.Value = recordstore.Float(*r.Value)
	}
	if len(recs) > 0 {
		rec := recs[len(recs)-1]
		f.Timestamp = rec.Timestamp
		if r.Value == nil {
			f.Value = rec.Value
		}
		if len(f.Triggered) == 0 {
			f.Triggered = rec.Triggered
		}
	} else {
		exists, err := s.store.Exist(ctx, []string{s.store.FullKey(r.Metric)})
		if err != nil {
			return s.unavailable(c, "the metric", err)
		}
		if !exists[0] || s.store.ReservedName(r.Metric) {
			return errJSON(http.StatusNotFound, "no metric by that name: %q", r.Metric)
		}
		if f.Timestamp == 0 || r.Value == nil {
			return errJSON(http.StatusBadRequest, "no anomaly of %q is recorded at that time: give \"timestamp\" and \"value\"", r.Metric)
		}
	}
	if f.Triggered == nil {
		f.Triggered = []string{}
	}
	if err := s.records.AddFeedback(ctx, r.Metric, f); err != nil {
		s.log.Warn("webapp cannot write to the store", "what", "feedback", "err", err)
		return errJSON(http.StatusServiceUnavailable, "cannot store the feedback: Redis is unavailable or slow (details in the server log)")
	}
	if isForm(c) {
		return c.Redirect(http.StatusSeeOther, metricURL(r.Metric)+"?feedback=saved")
	}
	return c.JSON(http.StatusCreated, map[string]any{"metric": r.Metric, "feedback": f, "key": KeyFeedbackPrefix + r.Metric})
}

func (s *Server) apiFeedbackList(c echo.Context) error {
	name := c.QueryParam("metric")
	if name == "" || len(name) > maxNameLen {
		return errJSON(http.StatusBadRequest, "give ?metric=<name>")
	}
	fb, err := s.records.Feedback(c.Request().Context(), name)
	if err != nil {
		return s.unavailable(c, "the feedback", err)
	}
	return c.JSON(http.StatusOK, map[string]any{"metric": name, "feedback": fb})
}
