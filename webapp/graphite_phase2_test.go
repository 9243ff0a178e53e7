package webapp

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/analyzer/recordstore"
	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
)

type renderOut []struct {
	Target     string            `json:"target"`
	Tags       map[string]string `json:"tags"`
	Datapoints [][2]*float64     `json:"datapoints"`
}

func renderJSONOf(t *testing.T, e *env, q string) renderOut {
	t.Helper()
	res, body := e.get("/render?" + q)
	require.Equal(t, http.StatusOK, res.StatusCode, "%s: %s", q, body)
	var out renderOut
	require.NoError(t, json.Unmarshal([]byte(body), &out), body)
	return out
}

func TestGraphiteRenderTagged(t *testing.T) {
	e := graphiteEnv(t)
	for _, tc := range []struct {
		target string
		want   []string
	}{
		// carbon registers every series it creates with graphite-web's tag database, so a
		// plain name matches on its name tag too
		{"seriesByTag('name=gr.a.x')", []string{"gr.a.x", "gr.a.x;dc=1"}},
		{"seriesByTag('dc=~[0-9]')", []string{"gr.a.x;dc=1"}},
		{"seriesByTag('name=~gr','dc=1')", []string{"gr.a.x;dc=1"}},
		{"seriesByTag('name=gr.a.x','dc!=1')", []string{"gr.a.x"}},
		{"seriesByTag('name=gr.a.x','dc!=~[0-1]')", []string{"gr.a.x"}},
		{"seriesByTag('name=gr.a.x','dc!=~[2-9]')", []string{"gr.a.x", "gr.a.x;dc=1"}},
		{"seriesByTag('name=gr.a.x','dc=')", []string{"gr.a.x"}},
		{"gr.a.x;dc=1", []string{"gr.a.x;dc=1"}},
		{"sumSeries(seriesByTag('name=gr.a.x','dc=1'))", []string{"sumSeries(seriesByTag('name=gr.a.x','dc=1'))"}},
	} {
		out := renderJSONOf(t, e, renderQuery(tc.target))
		var got []string
		for _, s := range out {
			got = append(got, s.Target)
		}
		require.Equal(t, tc.want, got, tc.target)
	}
	out := renderJSONOf(t, e, renderQuery("seriesByTag('dc=1')"))
	require.Equal(t, map[string]string{"name": "gr.a.x", "dc": "1"}, out[0].Tags)
	require.Equal(t, 900.0, *out[0].Datapoints[9][0])
	out = renderJSONOf(t, e, renderQuery("sumSeries(gr.a.*)"))
	require.Equal(t, map[string]string{"name": "sumSeries(gr.a.*)", "aggregatedBy": "sum"}, out[0].Tags)

	for target, want := range map[string]string{
		"seriesByTag('dc!=x')":      "non-empty value",
		"seriesByTag('dc')":         "invalid tag expression",
		"seriesByTag('dc=~(')":      "bad regular expression",
		"seriesByTag(gr.a.x)":       "is not a string",
		"kale.nope(gr.a.x)":         "unknown function kale.nope",
		"gr.a.x;=1":                 "not a tagged series name",
		"movingAverage(gr.a.x,'x')": "windowSize",
	} {
		res, body := e.get("/render?" + renderQuery(target))
		require.Equal(t, http.StatusBadRequest, res.StatusCode, target)
		require.Contains(t, body, want, target)
	}
}

func TestGraphiteRenderRangesAndConsolidation(t *testing.T) {
	e := graphiteEnv(t)
	// no from: the stored full duration (24 h by default) back from now; until past now ends at now
	now := time.Unix(graphiteT0+9*60+30, 0)
	e.server.now = func() time.Time { return now }
	out := renderJSONOf(t, e, url.Values{"target": {"gr.a.x"}}.Encode())
	require.Len(t, out[0].Datapoints, 24*60)
	require.Equal(t, 9.0, *out[0].Datapoints[len(out[0].Datapoints)-1][0])
	out = renderJSONOf(t, e, url.Values{"target": {"gr.a.x"}, "from": {"-15min"}, "until": {"+1h"}}.Encode())
	require.Len(t, out[0].Datapoints, 15, "until is clipped to now")

	// maxDataPoints=1: the average of the whole series at its start
	out = renderJSONOf(t, e, renderQuery("gr.a.x", "maxDataPoints", "1"))
	require.Len(t, out[0].Datapoints, 1)
	require.Equal(t, 4.5, *out[0].Datapoints[0][0])
	require.Equal(t, float64(graphiteT0), *out[0].Datapoints[0][1])
	// maxDataPoints that is not a number is ignored, as graphite-web does
	require.Len(t, renderJSONOf(t, e, renderQuery("gr.a.x", "maxDataPoints", "-3"))[0].Datapoints, 10)

	// movingAverage over an interval, summarize aligned to from
	out = renderJSONOf(t, e, renderQuery("movingAverage(gr.a.x,'2min')"))
	require.Equal(t, `movingAverage(gr.a.x,"2min")`, out[0].Target)
	require.Nil(t, out[0].Datapoints[0][0])
	require.Equal(t, 0.0, *out[0].Datapoints[1][0]) // (null+0)/1
	require.Equal(t, 0.5, *out[0].Datapoints[2][0]) // (0+1)/2
	require.Equal(t, 7.5, *out[0].Datapoints[9][0])
	out = renderJSONOf(t, e, renderQuery("summarize(gr.a.x,'3min','sum',true)"))
	require.Equal(t, `summarize(gr.a.x, "3min", "sum", true)`, out[0].Target)
	require.Len(t, out[0].Datapoints, 4)
	require.Equal(t, float64(graphiteT0), *out[0].Datapoints[0][1])
	require.Equal(t, 3.0, *out[0].Datapoints[0][0]) // 0+1+2
	require.Equal(t, 9.0, *out[0].Datapoints[3][0])
}

func TestGraphiteMetricsExpandIndex(t *testing.T) {
	e := graphiteEnv(t)
	for q, want := range map[string]string{
		"query=gr.*&query=gr.a.*":               `{"results":["gr.a","gr.a.x","gr.a.y","gr.b"]}`,
		"query=gr.*.*&leavesOnly=1":             `{"results":["gr.a.x","gr.a.y"]}`,
		"query=gr.a.*&query=gr.b&groupByExpr=1": `{"results":{"gr.a.*":["gr.a.x","gr.a.y"],"gr.b":["gr.b"]}}`,
		"query=nothing":                         `{"results":[]}`,
		"":                                      `{"results":[]}`,
	} {
		res, body := e.get("/metrics/expand?" + q)
		require.Equal(t, http.StatusOK, res.StatusCode, q)
		require.JSONEq(t, want, body, q)
	}
	res, body := e.get("/metrics/index.json")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.JSONEq(t, `["gr.a.x","gr.a.x;dc=1","gr.a.y","gr.b.c.d"]`, body)

	// a new metric is found within seconds (the name cache's freshness)
	enc := redisstore.NewEncoder()
	b := enc.AppendPair(nil, metric.Int(graphiteT0), metric.Float(1))
	require.NoError(t, e.store.Append(context.Background(), map[string][]byte{e.store.FullKey("gr.new.one"): b}, nil).Err)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, body = e.get("/metrics/find?query=gr.new.*")
		if strings.Contains(body, `"gr.new.one"`) {
			break
		}
		require.True(t, time.Now().Before(deadline), "gr.new.one not found within 5 s: %s", body)
		time.Sleep(100 * time.Millisecond)
	}
	res, body = e.get("/metrics/find?query=gr.*&wildcards=1")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.True(t, strings.HasPrefix(body, `[{"id":"gr.*","text":"*","leaf":0,"expandable":1,"allowChildren":1}`), body)
}

// TestGraphiteKaleFunctions draws a spike after a calm, noisy level: the band follows the
// level from the first point drawn (the detector and the band learn from the points before
// from), the spike is outside it, and the detector's score marks it.
func TestGraphiteKaleFunctions(t *testing.T) {
	e := newEnv(t, envOptions{metrics: -1, noSearch: true})
	const n, spike = 600, 500
	t0 := int64(1_700_000_100) // a multiple of the 5-minute step
	enc := redisstore.NewEncoder()
	var b []byte
	for i := range n {
		v := 100 + 2*math.Sin(float64(i)/5) + float64(i%3)
		if i == spike {
			v = 400
		}
		b = enc.AppendPair(b, metric.Int(t0+int64(i)*300), metric.Float(v))
	}
	require.NoError(t, e.store.Append(context.Background(), map[string][]byte{e.store.FullKey("k.m"): b}, nil).Err)
	e.server.now = func() time.Time { return time.Unix(t0+n*300, 0) }
	from, until := t0+400*300, t0+(n-1)*300 // 50 h at 5 min: the detector is past its probation (18 h)
	q := func(target string) renderOut {
		return renderJSONOf(t, e, url.Values{"target": {target}, "from": {fmt.Sprint(from)}, "until": {fmt.Sprint(until)}}.Encode())
	}
	raw, exp, up, lo, score := q("k.m"), q("kale.expected(k.m)"), q("kale.upper(k.m)"), q("kale.lower(k.m)"), q("kale.score(k.*)")
	require.Equal(t, "kale.expected(k.m)", exp[0].Target)
	require.Equal(t, "kale.score(k.m)", score[0].Target)
	for _, s := range []renderOut{exp, up, lo, score} {
		require.Len(t, s[0].Datapoints, len(raw[0].Datapoints))
		require.Equal(t, *raw[0].Datapoints[0][1], *s[0].Datapoints[0][1], "same timestamps")
	}
	spikeAt := -1
	maxScore, maxAt := 0.0, -1
	for i, dp := range raw[0].Datapoints {
		ts := int64(*dp[1])
		if ts == t0+spike*300 {
			spikeAt = i
		}
		require.NotNil(t, exp[0].Datapoints[i][0], "the band is drawn from the first point (learnt before from)")
		l, x, u := *lo[0].Datapoints[i][0], *exp[0].Datapoints[i][0], *up[0].Datapoints[i][0]
		require.True(t, l <= x && x <= u, "lower <= expected <= upper at %d: %v %v %v", ts, l, x, u)
		s := *score[0].Datapoints[i][0]
		require.True(t, s >= 0 && s <= 1, "score in [0, 1]: %v", s)
		if s > maxScore {
			maxScore, maxAt = s, i
		}
	}
	require.NotEqual(t, -1, spikeAt)
	require.Greater(t, *raw[0].Datapoints[spikeAt][0], *up[0].Datapoints[spikeAt][0], "the spike is above the band")
	require.Positive(t, maxScore, "the detector scores the spike")
	require.InDelta(t, spikeAt, maxAt, 2, "the top score is at the spike")
}

func TestGraphiteEvents(t *testing.T) {
	e := newEnv(t, envOptions{metrics: 6, analyze: true})
	type ev struct {
		When int64    `json:"when"`
		What string   `json:"what"`
		Tags []string `json:"tags"`
		Data string   `json:"data"`
		ID   int64    `json:"id"`
	}
	get := func(q string) []ev {
		t.Helper()
		res, body := e.get("/events/get_data?" + q)
		require.Equal(t, http.StatusOK, res.StatusCode, body)
		var out []ev
		require.NoError(t, json.Unmarshal([]byte(body), &out), body)
		return out
	}
	all := get("tags=anomaly")
	require.NotEmpty(t, all, "the analyzer's anomalies are events")
	for i, x := range all {
		require.Contains(t, x.Tags, "anomaly")
		require.True(t, strings.HasPrefix(x.What, "Anomaly: "), x.What)
		metricName := strings.TrimPrefix(x.What, "Anomaly: ")
		for _, node := range strings.Split(strings.SplitN(metricName, ";", 2)[0], ".") {
			if !strings.ContainsAny(node, " \t\n") { // graphite-web splits tags on spaces
				require.Contains(t, x.Tags, node, "the metric's nodes are tags")
			}
		}
		require.Contains(t, x.Data, metricName)
		require.Positive(t, x.ID)
		if i > 0 {
			require.LessOrEqual(t, all[i-1].When, x.When, "sorted by time")
		}
	}
	first := all[0]
	// every given tag must match (graphite-web's default set operation)
	withNode := get(url.Values{"tags": {"anomaly " + first.Tags[len(first.Tags)-1]}}.Encode())
	require.NotEmpty(t, withNode)
	// as graphite-web (django-tagging), a tag no event carries is ignored; none known: nothing
	require.Equal(t, all, get("tags=anomaly+no-such-tag"))
	require.Empty(t, get("tags=no-such-tag"))
	require.Empty(t, get("tags=anomaly+no-such-tag&set=intersection"), "intersection needs every tag")
	require.Equal(t, all, get("tags=anomaly+no-such-tag&set=union"))
	// the time range is inclusive at both ends
	at := get(fmt.Sprintf("from=%d&until=%d&tags=anomaly", first.When, first.When))
	require.NotEmpty(t, at)
	for _, x := range at {
		require.Equal(t, first.When, x.When)
	}
	require.Empty(t, get(fmt.Sprintf("from=%d&until=%d", first.When-100, first.When-1)))
	require.Equal(t, get("tags=anomaly"), all, "ids and order are stable")

	// a saved collection is an event too
	_, err := e.oc.SaveCollection(context.Background(), "outage-1", "the db fell over", []string{strings.TrimPrefix(first.What, "Anomaly: ")})
	require.NoError(t, err)
	cols := get("tags=collection")
	require.Len(t, cols, 1)
	require.Equal(t, "Collection: outage-1", cols[0].What)
	require.Contains(t, cols[0].Tags, "outage-1")
	require.Contains(t, cols[0].Data, "the db fell over")
	require.Empty(t, get("tags=anomaly+collection"), "every known tag must match")
	require.Len(t, get("tags=anomaly+collection&set=union"), len(all)+1)

	res, body := e.get("/events/get_data?from=-1x")
	require.Equal(t, http.StatusBadRequest, res.StatusCode, body)
}

func TestAnomalyEventTags(t *testing.T) {
	ev := anomalyEvent(recordstore.Record{Metric: "a.b;dc=x", Value: 900, Timestamp: 60, Score: 0.8,
		Triggered: []string{"kale:context", "grubbs", "bad tag"}, Suppressed: true,
		Explanation: &recordstore.Explanation{Component: "context", Expected: 100, Lower: 80, Upper: 120}})
	require.Equal(t, []string{"anomaly", "kale", "kale:context", "grubbs", "suppressed", "a", "b", "dc=x"}, ev.Tags)
	require.Equal(t, int64(60), ev.When)
	require.Equal(t, "Anomaly: a.b;dc=x", ev.What)
	require.Contains(t, ev.Data, "context expected 100 in [80, 120]")
	require.Equal(t, ev.ID, anomalyEvent(recordstore.Record{Metric: "a.b;dc=x", Timestamp: 60}).ID, "the id is the metric and time")
	require.NotEqual(t, ev.ID, anomalyEvent(recordstore.Record{Metric: "a.b;dc=x", Timestamp: 120}).ID)
	require.True(t, eventHasTags(ev.Tags, []string{"anomaly", "kale"}, false))
	require.False(t, eventHasTags(ev.Tags, []string{"anomaly", "nope"}, false))
	require.True(t, eventHasTags(ev.Tags, []string{"nope", "grubbs"}, true))
	require.False(t, eventHasTags(ev.Tags, []string{"nope"}, true))
	require.True(t, eventHasTags(ev.Tags, nil, false))
}

// TestGraphiteRenderBudget: series that fit one by one but not together are refused, whether
// they come from one glob (read on parallel workers) or from several fetches.
func TestGraphiteRenderBudget(t *testing.T) {
	e := graphiteEnv(t)
	until := int64(graphiteT0 + 9*60)
	from := until - 2_000_000*60 // 2 million slots per series: 3 series are over the 5 million
	for _, target := range []string{"gr.{a.x,a.y,b.c.d}", "group(gr.a.*,gr.b.c.d)"} {
		q := url.Values{"target": {target}, "from": {fmt.Sprint(from)}, "until": {fmt.Sprint(until)}}.Encode()
		res, body := e.get("/render?" + q)
		require.Equal(t, http.StatusBadRequest, res.StatusCode, target)
		require.Contains(t, body, "more than 5000000 points", target)
	}
	q := url.Values{"target": {"gr.a.x"}, "from": {fmt.Sprint(from)}, "until": {fmt.Sprint(until)}, "maxDataPoints": {"100"}}.Encode()
	res, body := e.get("/render?" + q)
	require.Equal(t, http.StatusOK, res.StatusCode, "one series fits")
	require.Contains(t, body, `"gr.a.x"`)
}

// TestGraphiteRenderNewName: an exact name is read even before the cached name list holds it.
func TestGraphiteRenderNewName(t *testing.T) {
	e := graphiteEnv(t)
	require.Empty(t, renderJSONOf(t, e, renderQuery("gr.fresh")), "not stored yet")
	enc := redisstore.NewEncoder()
	b := enc.AppendPair(nil, metric.Int(graphiteT0), metric.Float(7))
	require.NoError(t, e.store.Append(context.Background(), map[string][]byte{e.store.FullKey("gr.fresh"): b}, nil).Err)
	out := renderJSONOf(t, e, renderQuery("gr.fresh"))
	require.Len(t, out, 1, "read at once, though the name list is younger than its freshness")
	require.Equal(t, 7.0, *out[0].Datapoints[0][0])
	require.Empty(t, renderJSONOf(t, e, renderQuery("unique_metrics")), "Kale's own keys are no series")
}
