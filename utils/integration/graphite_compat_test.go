//go:build compat

package integration

// The differential test of Kale's graphite-web render API (#16), run by `make compat`: Debian's
// graphite-web (with carbon-cache writing whisper files) and Kale (horizon and the webapp on a
// real redis-server) are fed the same datapoints over the plaintext protocol, then every case
// of graphiteCases is asked of both and the answers compared: the same series names in the
// same order, the same tags, the same timestamps, values equal but for float noise (1e-9
// relative). With KALE_COMPAT_RECORD=1 graphite-web's answers are written to
// webapp/testdata/graphite_compat/cases.json, which webapp's TestGraphiteCompatRecorded
// replays against Kale alone in make test.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/analyzer/recordstore"
	"github.com/kale-project/kale/horizon"
	"github.com/kale-project/kale/horizon/protocol"
	"github.com/kale-project/kale/utils/redistest"
	"github.com/kale-project/kale/webapp"
)

// compatRecording is webapp/testdata/graphite_compat/cases.json.
type compatRecording struct {
	GraphiteWeb string         `json:"graphite_web"` // the version compared against
	Now         int64          `json:"now"`          // when graphite-web answered
	Series      []compatSeries `json:"series"`
	Cases       []compatCase   `json:"cases"`
	// Anomalies are recorded in Kale and posted to graphite-web as events; EventCases are
	// graphite-web's /events/get_data answers (ids aside).
	Anomalies  []recordstore.Record `json:"anomalies"`
	EventCases []compatCase         `json:"event_cases"`
}

type compatSeries struct {
	Name   string       `json:"name"`
	Points [][2]float64 `json:"points"` // [timestamp, value]
}

type compatCase struct {
	Path  string `json:"path"`  // /render, /metrics/find or /metrics/expand
	Query string `json:"query"` // the URL's query
	Body  string `json:"body"`  // graphite-web's answer (status 200)
}

// compatData is the series both sides get: 120 minutes from t0 with gaps, negative and
// fractional values, counters with a reset, glob-friendly names and tagged series.
func compatData(t0 int64) []compatSeries {
	var out []compatSeries
	add := func(name string, f func(i int) (float64, bool)) {
		s := compatSeries{Name: name}
		for i := 0; i < 120; i++ {
			if v, ok := f(i); ok {
				s.Points = append(s.Points, [2]float64{float64(t0 + int64(i)*60), v})
			}
		}
		out = append(out, s)
	}
	round := func(v float64) float64 { return math.Round(v*1000) / 1000 }
	add("web.host1.cpu", func(i int) (float64, bool) { return round(50 + 30*math.Sin(float64(i)/7)), true })
	add("web.host2.cpu", func(i int) (float64, bool) { return round(40 + 0.25*float64(i)), i%17 != 5 && (i < 80 || i > 84) })
	add("web.host3.cpu", func(i int) (float64, bool) { return round(10*math.Cos(float64(i)/5) - 2), i%23 != 0 })
	add("db.host1.cpu", func(i int) (float64, bool) { return float64(20 + i%9), true })
	add("web.host1.requests", func(i int) (float64, bool) {
		if i < 60 {
			return float64(100 + 7*i), true
		}
		return float64(3 * (i - 60)), true // a counter reset
	})
	add("web.host2.requests", func(i int) (float64, bool) { return float64(1000 + 13*i), i%11 != 3 })
	add("app.x1.latency", func(i int) (float64, bool) { return 0.1 * float64(i%10), true })
	add("app.y2.latency", func(i int) (float64, bool) { return 1e6 + 0.5*float64(i), true })
	add("app.z.latency", func(i int) (float64, bool) { return -float64(i), true })
	add("disk.used;dc=east;host=a", func(i int) (float64, bool) { return float64(500 + i), true })
	add("disk.used;dc=west;host=b", func(i int) (float64, bool) { return float64(800 - 2*i), true })
	add("disk.free;dc=east;host=a", func(i int) (float64, bool) { return float64(100 + i%4), true })
	return out
}

// graphiteCases are the targets (json unless the case says csv) over ranges of the data.
func graphiteCases(t0 int64) []compatCase {
	var out []compatCase
	full := [2]int64{t0 - 60, t0 + 119*60}
	render := func(target string, rng [2]int64, extra ...string) {
		q := url.Values{"target": {target}, "from": {fmt.Sprint(rng[0])}, "until": {fmt.Sprint(rng[1])}, "format": {"json"}}
		for i := 0; i+1 < len(extra); i += 2 {
			q.Set(extra[i], extra[i+1])
		}
		out = append(out, compatCase{Path: "/render", Query: q.Encode()})
	}
	for _, target := range []string{
		"web.host1.cpu", "web.*.cpu", "web.host?.cpu", "web.host[12].cpu", "{web,db}.host1.cpu", "app.*.latency",
		"sumSeries(web.*.cpu)", "averageSeries(web.*.cpu)", "maxSeries(web.*.cpu)", "minSeries(web.*.cpu)",
		"sumSeries(web.host1.cpu,db.host1.cpu)",
		"scale(web.host1.cpu,2.5)", "offset(web.host2.cpu,-10)", "absolute(web.host3.cpu)",
		"alias(web.host1.cpu,'one')", "aliasByNode(web.*.cpu,1)", "aliasByNode(web.*.cpu,1,-1)",
		`aliasSub(web.*.cpu,'web\.(\w+)\.cpu','\1')`,
		"derivative(web.host1.requests)", "nonNegativeDerivative(web.*.requests)",
		"nonNegativeDerivative(web.host1.requests,1000)", "perSecond(web.*.requests)", "integral(web.host2.cpu)",
		"movingAverage(web.host1.cpu,5)", "movingAverage(web.host2.cpu,'10min')", "movingAverage(web.host3.cpu,'150s')",
		"summarize(web.host1.cpu,'10min')", "summarize(web.host1.cpu,'15min','avg')",
		"summarize(web.host2.cpu,'7min','max',true)", "summarize(web.host1.requests,'1h','last')",
		"summarize(web.host2.cpu,'5min','min')",
		"timeShift(web.host1.cpu,'10min')", "timeShift(web.host2.cpu,'-5min')",
		"keepLastValue(web.host2.cpu)", "keepLastValue(web.host2.cpu,1)", "transformNull(web.host2.cpu,-1)",
		"transformNull(web.host3.cpu)",
		"highestCurrent(web.*.cpu,2)", "highestMax(web.*.cpu,1)", "lowestCurrent(web.*.cpu,2)",
		"limit(web.*.cpu,2)", "sortByMaxima(web.*.cpu)",
		"asPercent(web.*.cpu)", "asPercent(web.host1.cpu,200)", "asPercent(web.*.cpu,sumSeries(web.*.cpu))",
		"divideSeries(web.*.cpu,db.host1.cpu)", "group(web.host1.cpu,db.host1.cpu)",
		"seriesByTag('name=disk.used')", "seriesByTag('name=~disk','dc=east')", "seriesByTag('name=disk.used','host!=a')",
		"sumSeries(seriesByTag('name=disk.used'))", "scale(seriesByTag('dc=~we'),2)",
		"seriesByTag('name=web.host1.cpu')", "seriesByTag('name=~app','name!=app.z.latency')",
		"derivative(web.host2.requests)", "nonNegativeDerivative(web.host1.requests,None,50)",
		"movingAverage(web.host2.cpu,5,0.5)", "movingAverage(web.host2.cpu,'1h')", "timeShift(web.host1.cpu,'1h',false)",
		"aliasByNode(web.*.cpu,-2)", "limit(web.*.cpu,0)", "transformNull(web.host2.cpu)",
		"asPercent(web.host1.cpu,web.host2.cpu)", "divideSeries(web.*.cpu,web.host2.cpu)",
		"group(seriesByTag('name=disk.free'),web.host1.cpu)", "summarize(web.host2.cpu,'10min','avg')",
		"lowestCurrent(web.*.requests,1)", "highestCurrent(app.*.latency,1)",
	} {
		render(target, full)
	}
	// other ranges: inside the data, reaching before it, not on a step boundary
	render("web.*.cpu", [2]int64{t0 + 600, t0 + 1800})
	render("sumSeries(web.*.cpu)", [2]int64{t0 - 1800, t0 + 1200})
	render("web.host2.cpu", [2]int64{t0 + 617, t0 + 2433})
	render("movingAverage(web.host1.cpu,10)", [2]int64{t0 + 1800, t0 + 3600})
	// from/until in graphite's absolute forms, also in another time zone (tz= also sets the csv's clock)
	hm := func(ts int64, loc *time.Location) string { return time.Unix(ts, 0).In(loc).Format("15:04_20060102") }
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	forms := func(target, from, until string, extra ...string) {
		q := url.Values{"target": {target}, "from": {from}, "until": {until}, "format": {"json"}}
		for i := 0; i+1 < len(extra); i += 2 {
			q.Set(extra[i], extra[i+1])
		}
		out = append(out, compatCase{Path: "/render", Query: q.Encode()})
	}
	forms("web.host1.cpu", hm(t0+600, time.UTC), hm(t0+2400, time.UTC))
	forms("sumSeries(web.*.cpu)", time.Unix(t0, 0).UTC().Format("20060102"), hm(t0+3600, time.UTC))
	forms("web.host2.cpu", hm(t0+1200, berlin), hm(t0+2400, berlin), "tz", "Europe/Berlin", "format", "csv")
	// maxDataPoints
	render("web.host1.cpu", full, "maxDataPoints", "10")
	render("web.host2.cpu", full, "maxDataPoints", "7")
	render("web.*.cpu", [2]int64{t0 + 617, t0 + 5433}, "maxDataPoints", "13")
	render("sumSeries(web.*.cpu)", full, "maxDataPoints", "1")
	render("web.host1.cpu", full, "maxDataPoints", "500")
	// csv
	render("web.*.cpu", full, "format", "csv")
	render("sumSeries(web.host2.cpu,web.host3.cpu)", full, "format", "csv")
	// raw
	render("web.*.cpu", [2]int64{t0 + 617, t0 + 2433}, "format", "raw")
	render("summarize(web.host2.cpu,'10min','avg')", full, "format", "raw")
	// the finder
	for _, q := range []string{"web.*", "web.host1.*", "web.host?.cpu", "app.*", "*.host1", "{web,db}.*", "web.*.cp*"} {
		out = append(out, compatCase{Path: "/metrics/find", Query: url.Values{"query": {q}}.Encode()})
	}
	out = append(out,
		compatCase{Path: "/metrics/find", Query: url.Values{"query": {"web.host1.*"}, "format": {"completer"}}.Encode()},
		compatCase{Path: "/metrics/find", Query: url.Values{"query": {"web.*"}, "wildcards": {"1"}}.Encode()},
		compatCase{Path: "/metrics/expand", Query: url.Values{"query": {"web.*.cpu", "app.*"}}.Encode()},
		compatCase{Path: "/metrics/expand", Query: url.Values{"query": {"web.*"}, "leavesOnly": {"1"}}.Encode()},
	)
	return out
}

func TestGraphiteCompat(t *testing.T) {
	for _, bin := range []string{"carbon-cache", "graphite-manage"} {
		lookPath(t, bin, "graphite-web graphite-carbon")
	}
	now := time.Now().Unix()
	t0 := now - now%3600 - 3*3600
	data := compatData(t0)
	gw := startGraphiteWeb(t)
	k := startKaleWebapp(t)
	t.Logf("graphite-web %s, kale %s", gw.url, k.url)

	for _, addr := range []string{gw.line, k.line} {
		sendPlaintext(t, addr, data)
	}
	// both hold every point once the last one of each series (and the tag index) answers
	last := url.Values{"target": {"group(web.*.*,db.*.*,app.*.*)"}, "from": {fmt.Sprint(t0 - 60)}, "until": {fmt.Sprint(t0 + 119*60)}, "format": {"json"}}.Encode()
	tagged := url.Values{"target": {"seriesByTag('name=~disk')"}, "from": {fmt.Sprint(t0 - 60)}, "until": {fmt.Sprint(t0 + 119*60)}, "format": {"json"}}.Encode()
	for _, base := range []string{gw.url, k.url} {
		waitFor(t, base+"/render?"+last, 60*time.Second, func(b string) bool { return countNonNull(b) == pointsIn(data, "disk.") })
		waitFor(t, base+"/render?"+tagged, 60*time.Second, func(b string) bool { return strings.Count(b, `"target"`) == 3 })
	}

	anomalies, eventCases := compareEvents(t, gw, k, t0)

	rec := compatRecording{GraphiteWeb: gw.version, Now: time.Now().Unix(), Series: data, Anomalies: anomalies, EventCases: eventCases}
	pass := 0
	for _, c := range graphiteCases(t0) {
		want := httpGet(t, gw.url+c.Path+"?"+c.Query)
		got := httpGet(t, k.url+c.Path+"?"+c.Query)
		if err := CompareGraphite(c.Query, want, got); err != nil {
			t.Errorf("%s?%s:\n%v", c.Path, c.Query, err)
			continue
		}
		pass++
		c.Body = want
		rec.Cases = append(rec.Cases, c)
	}
	t.Logf("graphite-web %s: %d of %d cases equal", gw.version, pass, len(graphiteCases(t0)))
	if os.Getenv("KALE_COMPAT_RECORD") == "1" && !t.Failed() {
		b, err := json.MarshalIndent(rec, "", " ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile("../../webapp/testdata/graphite_compat/cases.json", append(b, '\n'), 0o644))
	}
}

// CompareGraphite compares graphite-web's answer want with Kale's got (json and csv renders,
// find and expand): equal but for float noise of 1e-9 relative.
func CompareGraphite(query, want, got string) error {
	if strings.Contains(query, "format=csv") {
		return compareCSV(want, got)
	}
	if strings.Contains(query, "format=raw") {
		return compareRaw(want, got)
	}
	var w, g any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		return fmt.Errorf("graphite-web's answer is not JSON: %v: %.300s", err, want)
	}
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		return fmt.Errorf("Kale's answer is not JSON: %v: %.300s", err, got)
	}
	if err := compareJSON("", w, g); err != nil {
		return fmt.Errorf("%v\n graphite-web: %.1500s\n kale:         %.1500s", err, want, got)
	}
	return nil
}

func compareJSON(path string, w, g any) error {
	switch wv := w.(type) {
	case float64:
		gv, ok := g.(float64)
		if !ok || !closeEnough(wv, gv) {
			return fmt.Errorf("%s: graphite-web %v, kale %v", path, w, g)
		}
		return nil
	case []any:
		gv, ok := g.([]any)
		if !ok || len(gv) != len(wv) {
			return fmt.Errorf("%s: graphite-web has %d items, kale %v", path, len(wv), lenOf(g))
		}
		for i := range wv {
			if err := compareJSON(fmt.Sprintf("%s[%d]", path, i), wv[i], gv[i]); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		gv, ok := g.(map[string]any)
		if !ok || len(gv) != len(wv) {
			return fmt.Errorf("%s: graphite-web %v, kale %v", path, keysOf(w), keysOf(g))
		}
		for k := range wv {
			if err := compareJSON(path+"."+k, wv[k], gv[k]); err != nil {
				return err
			}
		}
		return nil
	}
	if fmt.Sprint(w) != fmt.Sprint(g) {
		return fmt.Errorf("%s: graphite-web %v, kale %v", path, w, g)
	}
	return nil
}

func closeEnough(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}

func lenOf(v any) any {
	if l, ok := v.([]any); ok {
		return len(l)
	}
	return v
}

func keysOf(v any) []string {
	m, _ := v.(map[string]any)
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func compareCSV(want, got string) error {
	wl, gl := strings.Split(strings.TrimSpace(want), "\n"), strings.Split(strings.TrimSpace(got), "\n")
	if len(wl) != len(gl) {
		return fmt.Errorf("graphite-web has %d lines, kale %d:\n%.800s\n---\n%.800s", len(wl), len(gl), want, got)
	}
	for i := range wl {
		w, g := strings.TrimRight(wl[i], "\r"), strings.TrimRight(gl[i], "\r")
		if w == g {
			continue
		}
		wi, gi := strings.LastIndexByte(w, ','), strings.LastIndexByte(g, ',')
		var wv, gv float64
		_, e1 := fmt.Sscan(w[wi+1:], &wv)
		_, e2 := fmt.Sscan(g[gi+1:], &gv)
		if wi < 0 || gi < 0 || w[:wi] != g[:gi] || e1 != nil || e2 != nil || !closeEnough(wv, gv) {
			return fmt.Errorf("line %d: graphite-web %q, kale %q", i+1, w, g)
		}
	}
	return nil
}

// compareRaw compares format=raw answers: "name,start,end,step|v,v,…" lines, values as
// Python's repr (None for null).
func compareRaw(want, got string) error {
	wl, gl := strings.Split(strings.TrimSpace(want), "\n"), strings.Split(strings.TrimSpace(got), "\n")
	if len(wl) != len(gl) {
		return fmt.Errorf("graphite-web has %d lines, kale %d:\n%.800s\n---\n%.800s", len(wl), len(gl), want, got)
	}
	for i := range wl {
		wh, wv, _ := strings.Cut(wl[i], "|")
		gh, gv, _ := strings.Cut(gl[i], "|")
		ws, gs := strings.Split(wv, ","), strings.Split(gv, ",")
		if wh != gh || len(ws) != len(gs) {
			return fmt.Errorf("line %d: graphite-web %.300q, kale %.300q", i+1, wl[i], gl[i])
		}
		for j := range ws {
			var a, b float64
			_, e1 := fmt.Sscan(ws[j], &a)
			_, e2 := fmt.Sscan(gs[j], &b)
			if ws[j] != gs[j] && (e1 != nil || e2 != nil || !closeEnough(a, b)) {
				return fmt.Errorf("line %d value %d: graphite-web %q, kale %q", i+1, j, ws[j], gs[j])
			}
		}
	}
	return nil
}

type endpoint struct {
	url, line, version string
	records            *recordstore.Store // Kale's anomaly records (nil for graphite-web)
}

// compareEvents records two anomalies in Kale, posts Kale's events for them to graphite-web's
// /events/ as they are, and compares /events/get_data of both for several tag filters:
// the same events in the same order, the same JSON shape and values (ids aside: graphite-web
// numbers its rows).
func compareEvents(t *testing.T, gw, k endpoint, t0 int64) ([]recordstore.Record, []compatCase) {
	t.Helper()
	var cases []compatCase
	ctx := context.Background()
	doc := recordstore.Current{Anomalies: []recordstore.Record{
		{Metric: "web.host1.cpu", Value: 99.5, Timestamp: t0 + 600, Triggered: []string{"kale:context"}, Score: 0.91,
			Explanation: &recordstore.Explanation{Component: "context", Expected: 50, Lower: 20, Upper: 80}},
		{Metric: "db.host1.cpu", Value: 3, Timestamp: t0 + 1800, Triggered: []string{"grubbs", "ks_test"}, Score: 1},
	}}
	_, err := k.records.Save(ctx, "compat", doc, []string{"compat"}, 24*time.Hour)
	require.NoError(t, err)
	rng := fmt.Sprintf("from=%d&until=%d", t0, t0+3600)
	var kale []map[string]any
	require.NoError(t, json.Unmarshal([]byte(httpGet(t, k.url+"/events/get_data?"+rng+"&tags=anomaly")), &kale))
	require.Len(t, kale, 2)
	for _, ev := range kale {
		b, err := json.Marshal(map[string]any{"what": ev["what"], "tags": ev["tags"], "when": ev["when"], "data": ev["data"]})
		require.NoError(t, err)
		res, err := http.Post(gw.url+"/events/", "application/json", strings.NewReader(string(b)))
		require.NoError(t, err)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode, "graphite-web /events/: %s", body)
	}
	for _, q := range []string{"tags=anomaly", "tags=anomaly+web", "tags=kale+cpu", "tags=anomaly+nosuch", "tags=nosuch",
		"tags=nosuch+grubbs&set=union", "tags=anomaly+nosuch&set=intersection", "tags=anomaly+web&set=intersection", "tags=web+grubbs", ""} {
		var want, got []map[string]any
		body := httpGet(t, gw.url+"/events/get_data?"+rng+"&"+q)
		cases = append(cases, compatCase{Path: "/events/get_data", Query: rng + "&" + q, Body: body})
		require.NoError(t, json.Unmarshal([]byte(body), &want))
		require.NoError(t, json.Unmarshal([]byte(httpGet(t, k.url+"/events/get_data?"+rng+"&"+q)), &got))
		for _, l := range [][]map[string]any{want, got} {
			for _, ev := range l {
				_, ok := ev["id"].(float64)
				require.True(t, ok, "%s: id %v is a number", q, ev["id"])
				delete(ev, "id")
			}
		}
		require.Equal(t, want, got, "/events/get_data?%s", q)
	}
	t.Logf("/events/get_data: graphite-web and Kale list the same events for %d tag filters", len(cases))
	return doc.Anomalies, cases
}

// startGraphiteWeb runs carbon-cache and graphite-web's Django server on free loopback
// ports with their storage in a temporary directory; both stop when the test ends.
func startGraphiteWeb(t *testing.T) endpoint {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"storage/whisper", "log", "conf"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	line, pickle, query := redistest.FreePort(t, "tcp"), redistest.FreePort(t, "tcp"), redistest.FreePort(t, "tcp")
	web := redistest.FreePort(t, "tcp")
	port := func(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }
	write := func(name, text string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	write("conf/carbon.conf", fmt.Sprintf(`[cache]
STORAGE_DIR = %[1]s/storage/
LOCAL_DATA_DIR = %[1]s/storage/whisper/
CONF_DIR = %[1]s/conf/
LOG_DIR = %[1]s/log/
PID_DIR = %[1]s/
DATABASE = whisper
ENABLE_LOGROTATION = False
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = 100000
MAX_CREATES_PER_MINUTE = inf
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = %[2]s
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = %[3]s
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = %[4]s
ENABLE_TAGS = True
GRAPHITE_URL = http://%[5]s
TAG_UPDATE_INTERVAL = 1
`, dir, port(line), port(pickle), port(query), web))
	write("conf/storage-schemas.conf", "[default]\npattern = .*\nretentions = 60s:7d\n")
	write("conf/storage-aggregation.conf", "[default]\npattern = .*\nxFilesFactor = 0\naggregationMethod = average\n")
	write("kale_compat_settings.py", fmt.Sprintf(`SECRET_KEY = 'kale-compat'
STORAGE_DIR = '%[1]s/storage'
WHISPER_DIR = '%[1]s/storage/whisper'
LOG_DIR = '%[1]s/log'
INDEX_FILE = '%[1]s/storage/index'
CONF_DIR = '%[1]s/conf'
CARBONLINK_HOSTS = ['%[2]s']
DEFAULT_XFILES_FACTOR = 0
DATABASES = {'default': {'NAME': '%[1]s/storage/graphite.db', 'ENGINE': 'django.db.backends.sqlite3'}}
GRAPHITE_ROOT = '/usr/share/graphite-web'
STATIC_ROOT = '/usr/share/graphite-web/static'
ALLOWED_HOSTS = ['*']
TIME_ZONE = 'UTC'
`, dir, query))
	env := append(os.Environ(), "PYTHONPATH="+dir, "GRAPHITE_SETTINGS_MODULE=kale_compat_settings", "DJANGO_SETTINGS_MODULE=graphite.settings")
	run := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(name, args...)
		cmd.Env = env
		cmd.Dir = dir
		logf, err := os.Create(filepath.Join(dir, "log", filepath.Base(name)+".out"))
		require.NoError(t, err)
		cmd.Stdout, cmd.Stderr = logf, logf
		t.Cleanup(func() { _ = logf.Close() })
		return cmd
	}
	if out, err := exec.Command("sh", "-c", "cd "+dir+" && PYTHONPATH="+dir+" GRAPHITE_SETTINGS_MODULE=kale_compat_settings DJANGO_SETTINGS_MODULE=graphite.settings graphite-manage migrate --run-syncdb").CombinedOutput(); err != nil {
		t.Fatalf("graphite-manage migrate: %v\n%s", err, out)
	}
	for _, cmd := range []*exec.Cmd{
		run("carbon-cache", "--config="+filepath.Join(dir, "conf/carbon.conf"), "--nodaemon", "--pidfile="+filepath.Join(dir, "carbon.pid"), "start"),
		run("graphite-manage", "runserver", web, "--noreload"),
	} {
		require.NoError(t, cmd.Start())
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, f := range []string{"log/carbon-cache.out", "log/graphite-manage.out", "log/console.log", "log/tagdb.log"} {
				b, _ := os.ReadFile(filepath.Join(dir, f))
				t.Logf("%s:\n%.3000s", f, b)
			}
		}
	})
	base := "http://" + web
	waitFor(t, base+"/version", 60*time.Second, func(b string) bool { return b != "" })
	waitDial(t, line, 60*time.Second)
	return endpoint{url: base, line: line, version: strings.TrimSpace(httpGet(t, base+"/version"))}
}

// startKaleWebapp runs horizon's plaintext listener and the webapp on one redis-server.
func startKaleWebapp(t *testing.T) endpoint {
	t.Helper()
	// horizon keeps only points newer than MaxResolution (Skyline's MAX_RESOLUTION); the data is hours old
	k := startKale(t, func(c *horizon.Config) { c.MaxResolution = 7 * 24 * time.Hour }, protocol.PlaintextTCP)
	records := recordstore.New(k.store.Client())
	srv, err := webapp.New(webapp.Options{Config: webapp.Config{FullNamespace: k.store.Options().FullNamespace, FullDuration: 7 * 24 * time.Hour},
		Store: k.store, Records: records, Log: slog.New(slog.DiscardHandler), Version: "compat"})
	require.NoError(t, err)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return endpoint{url: hs.URL, line: k.svc.Addr(protocol.PlaintextTCP), records: records}
}

func sendPlaintext(t *testing.T, addr string, data []compatSeries) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	w := bufio.NewWriter(conn)
	for _, s := range data {
		for _, p := range s.Points {
			fmt.Fprintf(w, "%s %s %d\n", s.Name, strconv(p[1]), int64(p[0]))
		}
	}
	require.NoError(t, w.Flush())
	require.NoError(t, conn.Close())
}

func strconv(v float64) string { return fmt.Sprintf("%.17g", v) }

func httpGet(t *testing.T, u string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err, u)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode, "%s: %s", u, b)
	return string(b)
}

func waitFor(t *testing.T, u string, timeout time.Duration, ok func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		res, err := http.Get(u)
		if err == nil {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			last = string(b)
			if res.StatusCode == http.StatusOK && ok(last) {
				return
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s not ready within %v; last answer %.500s", u, timeout, last)
}

func waitDial(t *testing.T, addr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s does not accept connections within %v", addr, timeout)
}

// countNonNull counts the non-null datapoints of a json render answer.
func countNonNull(body string) int {
	var got []struct {
		Datapoints [][2]*float64 `json:"datapoints"`
	}
	if json.Unmarshal([]byte(body), &got) != nil {
		return -1
	}
	n := 0
	for _, s := range got {
		for _, dp := range s.Datapoints {
			if dp[0] != nil {
				n++
			}
		}
	}
	return n
}

// pointsIn counts the points of the series whose names do not start with skip.
func pointsIn(data []compatSeries, skip string) int {
	n := 0
	for _, s := range data {
		if !strings.HasPrefix(s.Name, skip) {
			n += len(s.Points)
		}
	}
	return n
}
