package webapp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
)

// graphiteT0 is the first timestamp of graphiteEnv's series (a multiple of 60).
const graphiteT0 = 1_700_000_040

// graphiteEnv is a webapp on a real redis-server holding gr.a.x (0…9 each minute), gr.a.y
// (0, 10, 20, gap, 40, …, 90), gr.b.c.d and a tagged gr.a.x;dc=1.
func graphiteEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, envOptions{metrics: -1, noSearch: true})
	enc := redisstore.NewEncoder()
	data := map[string][]byte{}
	add := func(name string, skip int, scale float64) {
		var b []byte
		for i := 0; i < 10; i++ {
			if i == skip {
				continue
			}
			b = enc.AppendPair(b, metric.Int(int64(graphiteT0+60*i)), metric.Float(float64(i)*scale))
		}
		data[e.store.FullKey(name)] = b
	}
	add("gr.a.x", -1, 1)
	add("gr.a.y", 3, 10)
	add("gr.b.c.d", -1, 2)
	add("gr.a.x;dc=1", -1, 100)
	require.NoError(t, e.store.Append(context.Background(), data, nil).Err)
	return e
}

func renderQuery(target string, extra ...string) string {
	q := url.Values{"target": {target}, "from": {fmt.Sprint(graphiteT0 - 60)}, "until": {fmt.Sprint(graphiteT0 + 9*60)}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return q.Encode()
}

func TestGraphiteRenderJSON(t *testing.T) {
	e := graphiteEnv(t)
	res, body := e.get("/render?" + renderQuery("gr.a.*"))
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	var got []struct {
		Target     string        `json:"target"`
		Datapoints [][2]*float64 `json:"datapoints"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &got))
	require.Len(t, got, 2, "the tagged name is left out of globs: %s", body)
	require.Equal(t, "gr.a.x", got[0].Target)
	require.Equal(t, "gr.a.y", got[1].Target)
	require.Len(t, got[0].Datapoints, 10)
	for i, dp := range got[0].Datapoints {
		require.Equal(t, float64(graphiteT0+60*i), *dp[1])
		require.Equal(t, float64(i), *dp[0])
	}
	require.Nil(t, got[1].Datapoints[3][0], "the gap is null")
	require.Contains(t, body, `[null,`)

	// sumSeries, POST form-encoded as Grafana sends it, two targets
	form := renderQuery("sumSeries(gr.a.*)") + "&target=" + url.QueryEscape("alias(scale(gr.b.c.d,0.5),'half')") + "&format=json"
	res, body = e.do(http.MethodPost, "/render", form, "Content-Type", "application/x-www-form-urlencoded")
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	require.NoError(t, json.Unmarshal([]byte(body), &got))
	require.Len(t, got, 2)
	require.Equal(t, "sumSeries(gr.a.*)", got[0].Target)
	require.Equal(t, 3.0, *got[0].Datapoints[3][0]) // 3 + null
	require.Equal(t, 22.0, *got[0].Datapoints[2][0])
	require.Equal(t, 99.0, *got[0].Datapoints[9][0])
	require.Equal(t, "half", got[1].Target)
	require.Equal(t, 9.0, *got[1].Datapoints[9][0])

	// maxDataPoints: 10 points into 5, averaged in pairs after graphite-web's nudge
	res, body = e.get("/render?" + renderQuery("gr.a.x", "maxDataPoints", "5"))
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	require.NoError(t, json.Unmarshal([]byte(body), &got))
	require.LessOrEqual(t, len(got[0].Datapoints), 5)
	// graphiteT0 is a multiple of 120: nudged by 120 s, the first value dropped, then (1,2), (3,4), …
	require.Equal(t, float64(graphiteT0+120), *got[0].Datapoints[0][1])
	require.Equal(t, 1.5, *got[0].Datapoints[0][0])

	// errors: 400 naming the problem, as JSON
	for q, want := range map[string]string{
		renderQuery("nope(gr.a.x)"):                    "unknown function nope",
		renderQuery("sumSeries(gr.a.x"):                "unclosed call",
		renderQuery("gr.a.x", "from", "-1x"):           "from:",
		renderQuery("gr.a.x", "format", "png"):         "unsupported format",
		renderQuery("gr.a.x", "until", "1000"):         "from must be before until",
		renderQuery("divideSeries(gr.a.*,gr.a.*)"):     "exactly one series",
		renderQuery("summarize(gr.a.x,'1h','median')"): "unsupported func",
	} {
		res, body := e.get("/render?" + q)
		require.Equal(t, http.StatusBadRequest, res.StatusCode, q)
		require.Contains(t, body, want, q)
		require.Contains(t, res.Header.Get("Content-Type"), "application/json", q)
	}
	// a path matching nothing is an empty list
	res, body = e.get("/render?" + renderQuery("no.such.*"))
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.JSONEq(t, `[]`, body)
}

func TestGraphiteRenderCSVAndRaw(t *testing.T) {
	e := graphiteEnv(t)
	res, body := e.get("/render?" + renderQuery("gr.a.y", "format", "csv"))
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	require.Contains(t, res.Header.Get("Content-Type"), "text/csv")
	lines := strings.Split(strings.TrimSpace(body), "\n")
	require.Len(t, lines, 10)
	require.Equal(t, "gr.a.y,2023-11-14 22:14:00,0.0", lines[0])
	require.Equal(t, "gr.a.y,2023-11-14 22:17:00,", lines[3])
	require.Equal(t, "gr.a.y,2023-11-14 22:23:00,90.0", lines[9])

	res, body = e.get("/render?" + renderQuery("gr.a.y", "format", "raw"))
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	require.Equal(t, fmt.Sprintf("gr.a.y,%d,%d,60|0.0,10.0,20.0,None,40.0,50.0,60.0,70.0,80.0,90.0\n", graphiteT0, graphiteT0+600), body)
}

func TestGraphiteFindVersionFunctions(t *testing.T) {
	e := graphiteEnv(t)
	for _, tc := range []struct{ q, want string }{
		{"query=*", `[{"id":"gr","text":"gr","leaf":0,"expandable":1,"allowChildren":1}]`},
		{"query=gr.*", `[{"id":"gr.a","text":"a","leaf":0,"expandable":1,"allowChildren":1},
			{"id":"gr.b","text":"b","leaf":0,"expandable":1,"allowChildren":1}]`},
		{"query=gr.a.*&format=treejson", `[{"id":"gr.a.x","text":"x","leaf":1,"expandable":0,"allowChildren":0},
			{"id":"gr.a.y","text":"y","leaf":1,"expandable":0,"allowChildren":0}]`},
		{"query=gr.a.[x]", `[{"id":"gr.a.x","text":"x","leaf":1,"expandable":0,"allowChildren":0}]`},
		{"query=gr.{b,z}.?", `[{"id":"gr.{b,z}.c","text":"c","leaf":0,"expandable":1,"allowChildren":1}]`},
		{"query=nothing.*", `[]`},
		{"query=gr.a.&format=completer", `{"metrics":[{"path":"gr.a.x","name":"x","is_leaf":"1"},{"path":"gr.a.y","name":"y","is_leaf":"1"}]}`},
		{"query=gr&format=completer", `{"metrics":[{"path":"gr.","name":"gr","is_leaf":"0"}]}`},
	} {
		res, body := e.get("/metrics/find?" + strings.ReplaceAll(strings.ReplaceAll(tc.q, "{", "%7B"), "}", "%7D"))
		require.Equal(t, http.StatusOK, res.StatusCode, tc.q+": "+body)
		require.JSONEq(t, tc.want, body, tc.q)
	}
	res, body := e.do(http.MethodPost, "/metrics/find", "query=gr.b.*", "Content-Type", "application/x-www-form-urlencoded")
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	require.JSONEq(t, `[{"id":"gr.b.c","text":"c","leaf":0,"expandable":1,"allowChildren":1}]`, body)
	for _, q := range []string{"", "query=a.%7Bb", "query=a&format=pickle"} {
		res, _ := e.get("/metrics/find?" + q)
		require.Equal(t, http.StatusBadRequest, res.StatusCode, q)
	}

	res, body = e.get("/version")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "1.1.10", body)

	res, body = e.get("/functions")
	require.Equal(t, http.StatusOK, res.StatusCode)
	var fns map[string]struct {
		Name   string `json:"name"`
		Group  string `json:"group"`
		Params []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"params"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &fns))
	for _, f := range []string{"sumSeries", "averageSeries", "maxSeries", "minSeries", "scale", "offset", "absolute", "alias", "aliasByNode",
		"aliasSub", "derivative", "nonNegativeDerivative", "perSecond", "integral", "movingAverage", "keepLastValue", "transformNull",
		"timeShift", "highestCurrent", "highestMax", "lowestCurrent", "limit", "sortByMaxima", "asPercent", "divideSeries", "group", "summarize",
		"seriesByTag", "kale.expected", "kale.upper", "kale.lower", "kale.score"} {
		require.Equal(t, f, fns[f].Name, f)
		require.NotEmpty(t, fns[f].Group, f)
		require.NotEmpty(t, fns[f].Params, f)
	}
	require.Len(t, fns, 32)
}
