package webapp

// Graphite-web's events API, read-only: GET /events/get_data?from=&until=&tags= lists Kale's
// anomalies and saved collections as graphite-web's events, so Grafana's Graphite annotation
// query ("tags: anomaly") marks them on every dashboard.

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/kale-project/kale/analyzer/recordstore"
)

// maxEvents caps the events of one answer (the newest are kept).
const maxEvents = 10_000

// Event is one item of /events/get_data, as graphite-web 1.1 encodes it.
type Event struct {
	When int64    `json:"when"` // unix seconds
	What string   `json:"what"`
	Tags []string `json:"tags"`
	Data string   `json:"data"`
	ID   int64    `json:"id"` // stable: a hash of what the event is about
}

// eventRoutes registers the events API on e.
func (s *Server) eventRoutes(e *echo.Echo) {
	e.GET("/events/get_data", s.graphiteEvents, tagsJSONErrors)
	e.GET("/events/get_data/", s.graphiteEvents, tagsJSONErrors)
}

// graphiteEvents answers /events/get_data with graphite-web 1.1.8's semantics: from (default
// the epoch) and until (default now) in the render API's forms, inclusive; tags= a
// space-separated list every one of which an event must carry (set=union: any of them), where
// tags that no event carries at all are ignored, as django-tagging does (none known: no
// events); set=intersection needs every tag, known or not.
// Each recorded anomaly is an event at its point's time tagged "anomaly", the detectors that
// fired (a component such as "kale:context" also as "kale"), and the nodes of its metric's name ("suppressed" when feedback silenced it); each
// saved collection is an event at its creation tagged "collection", its name and its
// metrics' nodes. Sorted by time.
func (s *Server) graphiteEvents(c echo.Context) error {
	f, err := formValues(c)
	if err != nil {
		return err
	}
	now := s.now()
	from, until := int64(0), now.Unix()
	if v := first(f, "from"); v != "" {
		if from, err = parseGraphiteTime(v, now, time.UTC); err != nil {
			return errJSON(http.StatusBadRequest, "from: %v", err)
		}
	}
	if v := first(f, "until"); v != "" {
		if until, err = parseGraphiteTime(v, now, time.UTC); err != nil {
			return errJSON(http.StatusBadRequest, "until: %v", err)
		}
	}
	tags := strings.Fields(first(f, "tags"))
	if len(tags) > tagsMaxExprs {
		return errJSON(http.StatusBadRequest, "more than %d tags", tagsMaxExprs)
	}
	set := first(f, "set")
	ctx := c.Request().Context()
	recs, err := s.records.History(ctx, "", float64(from), float64(until), maxEvents)
	if err != nil {
		return s.unavailable(c, "the anomaly history", err)
	}
	var all []Event // the events in range, before the tag filter
	for _, r := range recs {
		all = append(all, anomalyEvent(r))
	}
	var colEvents []Event // every collection, whatever its time: they count for the known tags
	if s.cols != nil {
		cols, err := s.cols.Collections(ctx)
		if err != nil {
			return s.unavailable(c, "the collections", err)
		}
		for _, col := range cols {
			ev := collectionEvent(col)
			colEvents = append(colEvents, ev)
			if ev.When >= from && ev.When <= until {
				all = append(all, ev)
			}
		}
	}
	want := tags
	if set != "intersection" && len(tags) > 0 {
		// graphite-web (django-tagging) ignores the given tags no event carries at all, at any
		// time; none of them known: no events
		if want, err = s.knownTags(ctx, tags, all, colEvents); err != nil {
			return s.unavailable(c, "the anomaly history", err)
		}
		if len(want) == 0 {
			return c.JSON(http.StatusOK, []Event{})
		}
	}
	out := make([]Event, 0, len(all))
	for _, ev := range all {
		if eventHasTags(ev.Tags, want, set == "union") {
			out = append(out, ev)
		}
	}
	slices.SortStableFunc(out, func(a, b Event) int {
		switch {
		case a.When < b.When:
			return -1
		case a.When > b.When:
			return 1
		}
		return 0
	})
	if len(out) > maxEvents {
		out = out[len(out)-maxEvents:]
	}
	return c.JSON(http.StatusOK, out)
}

// knownTags returns the tags of want that some event carries: one among those in range
// (have) or the collections, else one in the whole anomaly history (read only then).
func (s *Server) knownTags(ctx context.Context, want []string, have, cols []Event) ([]string, error) {
	seen := map[string]bool{}
	for _, l := range [][]Event{have, cols} {
		for _, ev := range l {
			for _, t := range ev.Tags {
				seen[t] = true
			}
		}
	}
	if !slices.ContainsFunc(want, func(t string) bool { return !seen[t] }) {
		return want, nil
	}
	recs, err := s.records.History(ctx, "", 0, 0, maxEvents)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		for _, t := range anomalyEvent(r).Tags {
			seen[t] = true
		}
	}
	known := make([]string, 0, len(want))
	for _, t := range want {
		if seen[t] {
			known = append(known, t)
		}
	}
	return known, nil
}

// eventHasTags says the event carries every wanted tag (any one with union); no tags: all.
func eventHasTags(have, want []string, union bool) bool {
	if len(want) == 0 {
		return true
	}
	for _, w := range want {
		if slices.Contains(have, w) == union {
			return union
		}
	}
	return !union
}

// nameNodes are the nodes of a metric's name (a tagged name's base name, then its tags as
// tag=value), each once, for event tags (which graphite splits on spaces).
func nameNodes(name string) []string {
	base, rest, tagged := strings.Cut(name, ";")
	var out []string
	add := func(s string) {
		if s != "" && !strings.ContainsAny(s, " \t\n") && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, n := range strings.Split(base, ".") {
		add(n)
	}
	for tagged {
		var seg string
		seg, rest, tagged = strings.Cut(rest, ";")
		add(seg)
	}
	return out
}

func anomalyEvent(r recordstore.Record) Event {
	tags := []string{"anomaly"}
	for _, d := range r.Triggered {
		// "kale:context" is tagged "kale" and "kale:context"
		for _, tag := range []string{strings.SplitN(d, ":", 2)[0], d} {
			if tag != "" && !strings.ContainsAny(tag, " \t\n") && !slices.Contains(tags, tag) {
				tags = append(tags, tag)
			}
		}
	}
	if r.Suppressed {
		tags = append(tags, "suppressed")
	}
	for _, n := range nameNodes(r.Metric) {
		if !slices.Contains(tags, n) {
			tags = append(tags, n)
		}
	}
	var data strings.Builder
	fmt.Fprintf(&data, "%s = %s", r.Metric, fmtNum(float64(r.Value)))
	if !math.IsNaN(float64(r.Score)) {
		fmt.Fprintf(&data, ", score %s", strconv.FormatFloat(float64(r.Score), 'f', 3, 64))
	}
	if x := r.Explanation; x != nil {
		fmt.Fprintf(&data, "; %s expected %s in [%s, %s]", x.Component, fmtNum(float64(x.Expected)), fmtNum(float64(x.Lower)), fmtNum(float64(x.Upper)))
	}
	if len(r.Triggered) > 0 {
		fmt.Fprintf(&data, "; detectors: %s", strings.Join(r.Triggered, ", "))
	}
	if r.Suppressed {
		data.WriteString("; suppressed by feedback (marked not anomalous)")
	}
	return Event{When: r.Timestamp, What: "Anomaly: " + r.Metric, Tags: tags, Data: data.String(),
		ID: eventID("anomaly", r.Metric, r.Timestamp)}
}

func collectionEvent(col Collection) Event {
	tags := []string{"collection"}
	if !strings.ContainsAny(col.Name, " \t\n") {
		tags = append(tags, col.Name)
	}
	metrics := make([]string, 0, len(col.Members))
	for _, m := range col.Members {
		metrics = append(metrics, m.Metric)
		for _, n := range nameNodes(m.Metric) {
			if !slices.Contains(tags, n) {
				tags = append(tags, n)
			}
		}
	}
	data := fmt.Sprintf("%s: %s", strings.Join(metrics, ", "), col.Description)
	return Event{When: col.Created.Unix(), What: "Collection: " + col.Name, Tags: tags, Data: data,
		ID: eventID("collection", col.Name, 0)}
}

// eventID is a stable positive id (53 bits, exact in JavaScript) for what an event is about.
func eventID(kind, name string, ts int64) int64 {
	h := fnv.New64a()
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(name))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(ts))
	h.Write(b[:])
	return int64(h.Sum64() & (1<<53 - 1))
}

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
