package importer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type point struct {
	metric string
	ts, v  metric.Number
}

func parseCSV(t *testing.T, in string) ([]point, error) {
	t.Helper()
	var out []point
	err := ParseCSV(strings.NewReader(in), "f.csv", func(ts, v metric.Number) error {
		out = append(out, point{"", ts, v})
		return nil
	})
	return out, err
}

func TestParseCSV(t *testing.T) {
	i, f := metric.Int, metric.Float
	for _, tc := range []struct {
		name, in string
		want     []point
		err      string
	}{
		{"header and unix seconds", "timestamp,value\n100,1\n160,2.5\n", []point{{"", i(100), i(1)}, {"", i(160), f(2.5)}}, ""},
		{"no header", "100,1\n101,-2\n", []point{{"", i(100), i(1)}, {"", i(101), i(-2)}}, ""},
		{"NAB dates", "timestamp,value\n2014-04-01 00:00:00,20.5\n2014-04-01 00:05:00,21\n",
			[]point{{"", i(1396310400), f(20.5)}, {"", i(1396310700), i(21)}}, ""},
		{"ISO dates and decimal seconds", "2014-04-01T00:00:00Z,1\n1396310400.5,2\n", []point{{"", i(1396310400), i(1)}, {"", f(1396310400.5), i(2)}}, ""},
		{"blank lines, spaces and comments", "\n# comment\n 100, 1\n\n", []point{{"", i(100), i(1)}}, ""},
		{"NaN", "100,NaN\n", nil, "f.csv:1: value \"NaN\" is not finite"},
		{"infinite", "ts,v\n100,1\n101,+Inf\n", nil, "f.csv:3: value \"+Inf\" is not finite"},
		{"bad value", "100,abc\n", nil, "f.csv:1: value \"abc\" is not a number"},
		{"empty value", "100,\n", nil, "f.csv:1: value \"\" is not a number"},
		{"bad timestamp after a header", "timestamp,value\nyesterday,1\n", nil, "f.csv:2: timestamp \"yesterday\""},
		{"negative timestamp", "-5,1\n", nil, "f.csv:1: timestamp \"-5\" is negative"},
		{"three fields", "1,2,3\n", nil, "f.csv:1: want 2 fields"},
		{"bad quoting", "1,\"2\n", nil, "cannot parse f.csv"},
	} {
		got, err := parseCSV(t, tc.in)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.name)
			continue
		}
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.want, got, tc.name)
	}
}

func TestParseJSONL(t *testing.T) {
	i, f := metric.Int, metric.Float
	now := time.Unix(1_000_000, 0)
	parse := func(in string, o JSONLOptions) ([]point, error) {
		o.Now = now
		var out []point
		err := ParseJSONL(strings.NewReader(in), "f.jsonl", o, func(m string, ts, v metric.Number) error {
			out = append(out, point{m, ts, v})
			return nil
		})
		return out, err
	}
	got, err := parse(`{"metric":"a.b","points":[[100,1],[160.5,2.25]]}

{"metric":"c","values":[1,2,3]}
{"values":[7]}`, JSONLOptions{Metric: "dflt"})
	require.NoError(t, err)
	require.Equal(t, []point{
		{"a.b", i(100), i(1)}, {"a.b", f(160.5), f(2.25)},
		{"c", i(1_000_000 - 120), i(1)}, {"c", i(1_000_000 - 60), i(2)}, {"c", i(1_000_000), i(3)},
		{"dflt", i(1_000_000), i(7)},
	}, got)

	got, err = parse(`{"metric":"s","values":[1,2]}`, JSONLOptions{Step: 1500 * time.Millisecond})
	require.NoError(t, err)
	require.Equal(t, []point{{"s", f(1_000_000 - 1.5), i(1)}, {"s", f(1_000_000), i(2)}}, got)

	for _, tc := range []struct{ in, err string }{
		{`{"values":[1]}`, `f.jsonl:1: no "metric"`},
		{`{"metric":"a","points":[[1,2]],"values":[1]}`, "exclusive"},
		{`{"metric":"a"}`, `want "points"`},
		{`{"metric":"a","points":[[1,2,3]]}`, "points[0] has 3 elements"},
		{`{"metric":"a","points":[[1,"x"]]}`, "f.jsonl:1: not a JSON object"},
		{`{"metric":"a","values":[1,1e999]}`, `values[1]: value "1e999" is out of range`},
		{"\n\n{\"metric\":\"bad name\",\"values\":[1]}", "f.jsonl:3: metric name \"bad name\" has a byte outside"},
		{`{"metric":"a","value":[1]}`, `unknown field "value"`},
		{`{"metric":"a","values":[1]} {"x":1}`, "more than one JSON value"},
		{`[1,2]`, "not a JSON object"},
		{`{"metric":"a","points":[[-1,2]]}`, "points[0]: timestamp \"-1\" is negative"},
	} {
		_, err := parse(tc.in, JSONLOptions{})
		require.ErrorContains(t, err, tc.err, tc.in)
	}
}

func TestFormatOf(t *testing.T) {
	for path, want := range map[string]string{"a.csv": CSV, "b.CSV": CSV, "c.jsonl": JSONL, "d.json": JSONL, "e.ndjson": JSONL} {
		got, err := FormatOf(path)
		require.NoError(t, err)
		require.Equal(t, want, got, path)
	}
	_, err := FormatOf("x.parquet")
	require.ErrorContains(t, err, "pass --format")
}

func TestRunIntoRedis(t *testing.T) {
	srv := redistest.Start(t)
	store, err := redisstore.Open(srv.URL(), redisstore.Options{})
	require.NoError(t, err)
	defer store.Close()
	ctx := context.Background()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	csvFile := write("web.requests.csv", "timestamp,value\n100,1\n160,2.5\n220,3\n")
	jsonFile := write("more.jsonl", `{"metric":"db.load","points":[[100,0.5],[160,0.75]]}`+"\n"+`{"metric":"db.qps","values":[10,20]}`+"\n")
	now := time.Unix(2_000_000, 0)
	var progress bytes.Buffer
	sum, err := Run(ctx, []string{csvFile, jsonFile}, Options{Store: store, Now: func() time.Time { return now },
		BatchPoints: 2, Mini: true, MiniDuration: time.Hour, Progress: &progress})
	require.NoError(t, err)
	require.Equal(t, 2, sum.Files)
	require.Equal(t, 3, sum.Metrics)
	require.Equal(t, 7, sum.Points)
	require.Contains(t, sum.String(), "imported 7 points into 3 metrics from 2 files")
	require.Contains(t, progress.String(), "web.requests.csv: 3 points, 1 new metrics")

	series := func(key string) []redisstore.Pair {
		b, err := store.Client().Get(ctx, key).Bytes()
		require.NoError(t, err, key)
		pairs, st := redisstore.Series(b)
		require.Zero(t, st.BadBytes)
		return pairs
	}
	require.Equal(t, []redisstore.Pair{{Timestamp: 100, Value: 1}, {Timestamp: 160, Value: 2.5}, {Timestamp: 220, Value: 3}}, series("metrics.web.requests"))
	require.Equal(t, []redisstore.Pair{{Timestamp: 100, Value: 0.5}, {Timestamp: 160, Value: 0.75}}, series("metrics.db.load"))
	require.Equal(t, []redisstore.Pair{{Timestamp: 1_999_940, Value: 10}, {Timestamp: 2_000_000, Value: 20}}, series("metrics.db.qps"))
	// Integers stay msgpack integers, as Python writes them.
	raw, err := store.Client().Get(ctx, "metrics.web.requests").Bytes()
	require.NoError(t, err)
	require.Equal(t, []byte{0x92, 100, 1}, raw[:3])
	members, err := store.Members(ctx, "metrics.")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"metrics.web.requests", "metrics.db.load", "metrics.db.qps"}, members)
	// Only points of the last --mini-duration go to the mini namespace.
	require.Equal(t, []redisstore.Pair{{Timestamp: 1_999_940, Value: 10}, {Timestamp: 2_000_000, Value: 20}}, series("mini.db.qps"))
	n, err := store.Client().Exists(ctx, "mini.web.requests").Result()
	require.NoError(t, err)
	require.Zero(t, n)

	// --metric names every CSV file's series; a bad line stops the import with file:line.
	bad := write("bad.csv", "100,1\n101,x\n")
	sum, err = Run(ctx, []string{csvFile, bad}, Options{Store: store, Metric: "one.metric", BatchPoints: 1})
	require.ErrorContains(t, err, "bad.csv:2: value \"x\" is not a number")
	require.Equal(t, 4, sum.Points, "the points before the bad line are stored")
	require.Len(t, series("metrics.one.metric"), 4)

	_, err = Run(ctx, []string{filepath.Join(dir, "missing.csv")}, Options{Store: store})
	require.ErrorContains(t, err, "cannot open input")
	_, err = Run(ctx, []string{write("x.parquet", "")}, Options{Store: store})
	require.ErrorContains(t, err, "pass --format")
	_, err = Run(ctx, []string{write("bad name.csv", "1,1\n")}, Options{Store: store})
	require.ErrorContains(t, err, "pass --metric")
	_, err = Run(ctx, []string{csvFile}, Options{Store: store, Format: "xml"})
	require.ErrorContains(t, err, "format \"xml\"")
	_, err = Run(ctx, []string{"-"}, Options{Store: store})
	require.ErrorContains(t, err, "pass --format")

	// A store that is down fails with the store's error.
	srv.Stop()
	_, err = Run(ctx, []string{csvFile}, Options{Store: store})
	require.ErrorContains(t, err, "cannot store")
}
