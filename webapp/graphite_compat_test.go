package webapp

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/analyzer/recordstore"
	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
)

// TestGraphiteCompatRecorded replays the differential test's recording (make compat; see
// utils/integration/graphite_compat_test.go): the datapoints fed to graphite-web 1.1.8 and
// Kale, and graphite-web's answer to every render, find and expand case. Kale must answer
// each the same (series names and tags, order, timestamps; values within 1e-9 relative), without graphite-web.
func TestGraphiteCompatRecorded(t *testing.T) {
	b, err := os.ReadFile("testdata/graphite_compat/cases.json")
	require.NoError(t, err)
	var rec struct {
		GraphiteWeb string `json:"graphite_web"`
		Now         int64  `json:"now"`
		Series      []struct {
			Name   string       `json:"name"`
			Points [][2]float64 `json:"points"`
		} `json:"series"`
		Cases      []struct{ Path, Query, Body string } `json:"cases"`
		Anomalies  []recordstore.Record                 `json:"anomalies"`
		EventCases []struct{ Path, Query, Body string } `json:"event_cases"`
	}
	require.NoError(t, json.Unmarshal(b, &rec))
	require.NotEmpty(t, rec.Cases)

	e := newEnv(t, envOptions{metrics: -1, noSearch: true})
	e.server.now = func() time.Time { return time.Unix(rec.Now, 0) }
	enc := redisstore.NewEncoder()
	data := map[string][]byte{}
	for _, s := range rec.Series {
		var buf []byte
		for _, p := range s.Points {
			v := metric.Float(p[1])
			if p[1] == math.Trunc(p[1]) && math.Abs(p[1]) < 1e15 {
				v = metric.Int(int64(p[1])) // as horizon stores a plaintext integer
			}
			buf = enc.AppendPair(buf, metric.Int(int64(p[0])), v)
		}
		data[e.store.FullKey(s.Name)] = buf
	}
	require.NoError(t, e.store.Append(context.Background(), data, nil).Err)

	for _, c := range rec.Cases {
		res, body := e.get(c.Path + "?" + c.Query)
		require.Equal(t, http.StatusOK, res.StatusCode, "%s?%s: %s", c.Path, c.Query, body)
		if strings.Contains(c.Query, "format=csv") {
			require.NoError(t, sameCSV(c.Body, body), "%s?%s", c.Path, c.Query)
			continue
		}
		if strings.Contains(c.Query, "format=raw") {
			require.NoError(t, sameRaw(c.Body, body), "%s?%s", c.Path, c.Query)
			continue
		}
		var want, got any
		require.NoError(t, json.Unmarshal([]byte(c.Body), &want))
		require.NoError(t, json.Unmarshal([]byte(body), &got), body)
		require.NoError(t, sameJSON("", want, got), "%s?%s\n graphite-web %s: %.1000s\n kale: %.1000s", c.Path, c.Query, rec.GraphiteWeb, c.Body, body)
	}

	// events: the same anomalies recorded in Kale as graphite-web listed them (ids aside)
	require.NotEmpty(t, rec.EventCases)
	_, err = recordstore.New(e.store.Client()).Save(context.Background(), "compat", recordstore.Current{Anomalies: rec.Anomalies},
		[]string{"compat"}, 24*time.Hour)
	require.NoError(t, err)
	for _, c := range rec.EventCases {
		res, body := e.get(c.Path + "?" + c.Query)
		require.Equal(t, http.StatusOK, res.StatusCode, "%s?%s: %s", c.Path, c.Query, body)
		var want, got []map[string]any
		require.NoError(t, json.Unmarshal([]byte(c.Body), &want))
		require.NoError(t, json.Unmarshal([]byte(body), &got), body)
		for _, l := range [][]map[string]any{want, got} {
			for _, ev := range l {
				delete(ev, "id") // graphite-web numbers its rows
			}
		}
		require.Equal(t, want, got, "%s?%s", c.Path, c.Query)
	}
	t.Logf("%d render/find cases and %d event cases of graphite-web %s equal", len(rec.Cases), len(rec.EventCases), rec.GraphiteWeb)
}

func closeTo(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}

func sameJSON(path string, w, g any) error {
	switch wv := w.(type) {
	case float64:
		if gv, ok := g.(float64); ok && closeTo(wv, gv) {
			return nil
		}
	case []any:
		gv, ok := g.([]any)
		if !ok || len(gv) != len(wv) {
			return fmt.Errorf("%s: graphite-web has %d items, kale %v", path, len(wv), g)
		}
		for i := range wv {
			if err := sameJSON(fmt.Sprintf("%s[%d]", path, i), wv[i], gv[i]); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		gv, ok := g.(map[string]any)
		if ok && len(gv) == len(wv) {
			for k := range wv {
				if err := sameJSON(path+"."+k, wv[k], gv[k]); err != nil {
					return err
				}
			}
			return nil
		}
	default:
		if fmt.Sprint(w) == fmt.Sprint(g) {
			return nil
		}
	}
	return fmt.Errorf("%s: graphite-web %v, kale %v", path, w, g)
}

func sameCSV(want, got string) error {
	wl, gl := strings.Split(strings.TrimSpace(want), "\n"), strings.Split(strings.TrimSpace(got), "\n")
	if len(wl) != len(gl) {
		return fmt.Errorf("graphite-web has %d lines, kale %d", len(wl), len(gl))
	}
	for i := range wl {
		w, g := strings.TrimRight(wl[i], "\r"), strings.TrimRight(gl[i], "\r")
		if w == g {
			continue
		}
		wi, gi := strings.LastIndexByte(w, ','), strings.LastIndexByte(g, ',')
		if wi < 0 || gi < 0 || w[:wi] != g[:gi] {
			return fmt.Errorf("line %d: graphite-web %q, kale %q", i+1, w, g)
		}
		wv, e1 := strconv.ParseFloat(w[wi+1:], 64)
		gv, e2 := strconv.ParseFloat(g[gi+1:], 64)
		if e1 != nil || e2 != nil || !closeTo(wv, gv) {
			return fmt.Errorf("line %d: graphite-web %q, kale %q", i+1, w, g)
		}
	}
	return nil
}

func sameRaw(want, got string) error {
	wl, gl := strings.Split(strings.TrimSpace(want), "\n"), strings.Split(strings.TrimSpace(got), "\n")
	if len(wl) != len(gl) {
		return fmt.Errorf("graphite-web has %d lines, kale %d", len(wl), len(gl))
	}
	for i := range wl {
		wh, wv, _ := strings.Cut(wl[i], "|")
		gh, gv, _ := strings.Cut(gl[i], "|")
		ws, gs := strings.Split(wv, ","), strings.Split(gv, ",")
		if wh != gh || len(ws) != len(gs) {
			return fmt.Errorf("line %d: graphite-web %.300q, kale %.300q", i+1, wl[i], gl[i])
		}
		for j := range ws {
			if ws[j] == gs[j] {
				continue
			}
			a, e1 := strconv.ParseFloat(ws[j], 64)
			b, e2 := strconv.ParseFloat(gs[j], 64)
			if e1 != nil || e2 != nil || !closeTo(a, b) {
				return fmt.Errorf("line %d value %d: graphite-web %q, kale %q", i+1, j, ws[j], gs[j])
			}
		}
	}
	return nil
}
