package nab

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/algorithms"
)

func TestParseTimestamp(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    float64
		wantErr bool
	}{
		{in: "2014-04-01 00:00:00", want: 1396310400},
		{in: " 2014-04-01 00:05:00 ", want: 1396310700},
		{in: "2014-04-01T00:05:00", want: 1396310700},
		{in: "2014-04-01 00:05:00.5", want: 1396310700.5},
		{in: "2014-04-01T02:05:00+02:00", want: 1396310700},
		{in: "2014-04-01 00:05", want: 1396310700},
		{in: "1396310700", want: 1396310700},
		{in: "1396310700.25", want: 1396310700.25},
		{in: "", wantErr: true},
		{in: "yesterday", wantErr: true},
		{in: "2014-13-01 00:00:00", wantErr: true},
		{in: "NaN", wantErr: true},
		{in: "inf", wantErr: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseTimestamp(tc.in)
			if tc.wantErr {
				require.Error(t, err)
				require.ErrorContains(t, err, strconv.Quote(strings.TrimSpace(tc.in)))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

// recorder is a Scorer that records what it was shown and scores 0.5.
type recorder struct{ seen [][2]float64 }

func (r *recorder) Score(ts, v float64) float64 {
	r.seen = append(r.seen, [2]float64{ts, v})
	return 0.5
}

func TestScoreCSV(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     string       // output
		seen     [][2]float64 // rows passed to the scorer
		wantErr  string
	}{
		{name: "NAB layout",
			in:   "timestamp,value\n2014-04-01 00:00:00,20.5\n2014-04-01 00:05:00,1e3\n",
			want: "timestamp,value,anomaly_score\n2014-04-01 00:00:00,20.5,0.5\n2014-04-01 00:05:00,1e3,0.5\n",
			seen: [][2]float64{{1396310400, 20.5}, {1396310700, 1000}}},
		{name: "CRLF, unix seconds, reordered and extra columns",
			in:   "Value,label,Timestamp\r\n007.50,x,1396310400\r\n-1,y,1396310460\r\n",
			want: "timestamp,value,anomaly_score\n1396310400,007.50,0.5\n1396310460,-1,0.5\n",
			seen: [][2]float64{{1396310400, 7.5}, {1396310460, -1}}},
		{name: "no header",
			in:   "1396310400,1\n1396310460,2\n",
			want: "timestamp,value,anomaly_score\n1396310400,1,0.5\n1396310460,2,0.5\n",
			seen: [][2]float64{{1396310400, 1}, {1396310460, 2}}},
		{name: "missing and non-finite values score 0 and are not shown",
			in:   "timestamp,value\n1,1\n2,\n3,NaN\n4,inf\n5,2\n",
			want: "timestamp,value,anomaly_score\n1,1,0.5\n2,,0\n3,NaN,0\n4,inf,0\n5,2,0.5\n",
			seen: [][2]float64{{1, 1}, {5, 2}}},
		{name: "header only", in: "timestamp,value\n", want: "timestamp,value,anomaly_score\n"},
		{name: "empty file", in: "", wantErr: "the file is empty"},
		{name: "no value column", in: "timestamp,count\n1,2\n", wantErr: `cannot read header on line 1: no "value" column`},
		{name: "not a header", in: "time,v\n1,2\n", wantErr: `cannot read header on line 1: want a header with columns timestamp and value, got "time,v"`},
		{name: "bad timestamp", in: "timestamp,value\n1,1\n2014-04-01 25:00:00,2\n", wantErr: `line 3: cannot parse timestamp "2014-04-01 25:00:00"`},
		{name: "bad value", in: "timestamp,value\n1,1\n2,1\n3,abc\n", wantErr: `line 4: cannot parse value "abc"`},
		{name: "missing field", in: "timestamp,value\n1,1\n2\n", wantErr: "cannot read line 3: 1 fields, want 2"},
		{name: "extra field", in: "timestamp,value\n1,1,1\n", wantErr: "cannot read line 2: 3 fields, want 2"},
		{name: "bad quoting", in: "timestamp,value\n1,\"1\n", wantErr: "cannot read CSV"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			rec := &recorder{}
			rows, err := ScoreCSV(context.Background(), strings.NewReader(tc.in), &out, rec)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, out.String())
			require.Equal(t, strings.Count(tc.want, "\n")-1, rows)
			require.Equal(t, tc.seen, rec.seen)
		})
	}
}

type constScorer float64

func (c constScorer) Score(float64, float64) float64 { return float64(c) }

func TestScoreCSVRejectsBadScores(t *testing.T) {
	for _, s := range []float64{-0.1, 1.5, math.NaN()} {
		_, err := ScoreCSV(context.Background(), strings.NewReader("timestamp,value\n1,1\n"), &bytes.Buffer{}, constScorer(s))
		require.ErrorContains(t, err, "line 2: detector returned score")
	}
}

func TestLookup(t *testing.T) {
	opts := Options{Settings: algorithms.DefaultSettings(), Window: 24 * time.Hour}
	f, err := Lookup("skyline", opts)
	require.NoError(t, err)
	require.NotNil(t, f())

	f, err = Lookup("kale", opts)
	require.NoError(t, err)
	require.NotNil(t, f())

	_, err = Lookup("numenta", opts)
	require.ErrorIs(t, err, ErrUnknownDetector)
	require.ErrorContains(t, err, "kale, skyline")

	_, err = Lookup("skyline", Options{Settings: algorithms.DefaultSettings()})
	require.ErrorContains(t, err, "invalid window")

	bad := algorithms.DefaultSettings()
	bad.Algorithms, bad.Consensus = []string{"nope"}, 1
	_, err = Lookup("skyline", Options{Settings: bad, Window: time.Hour})
	require.ErrorIs(t, err, algorithms.ErrUnknownAlgorithm)
}

func TestSkylineScorer(t *testing.T) {
	f, err := NewSkyline(Options{Settings: algorithms.DefaultSettings(), Window: time.Hour})
	require.NoError(t, err)
	s := f().(*skyline)
	const t0 = 1_400_000_000
	// A periodic series at 1-minute steps for three hours, then a spike.
	highest := 0.0
	for i := range 180 {
		score := s.Score(t0+60*float64(i), 10+float64(i%5))
		if i >= 60 {
			highest = max(highest, score)
		}
		require.True(t, score >= 0 && score <= 1, "score %v", score)
		if i == 0 {
			require.Zero(t, score, "a single point is boring: skipped, scores 0")
		}
		window := s.points[s.head:]
		require.LessOrEqual(t, len(window), 60, "only the last hour is kept")
		require.Greater(t, window[0].Timestamp, t0+60*float64(i)-3600)
	}
	// first_hour_average has no data older than FULL_DURATION-1h in a 1-hour window, and
	// ks_test needs 20 points in the last 10 minutes: the other seven may vote.
	spike := s.Score(t0+60*180, 1000)
	require.GreaterOrEqual(t, spike, 4.0/9, "a spike gets votes")
	require.Greater(t, spike, highest)

	// A flat stretch of 100 equal values is boring under the skip checks: score 0.
	g := f()
	for i := range 150 {
		score := g.Score(t0+60*float64(i), 3)
		require.Zero(t, score)
	}
}

func TestSkylineScorerCountsNoneUnderCompat(t *testing.T) {
	fixed, err := NewSkyline(Options{Settings: algorithms.DefaultSettings(), Window: 24 * time.Hour})
	require.NoError(t, err)
	compat := algorithms.DefaultSettings()
	compat.MADNoneVotes = true
	etsy, err := NewSkyline(Options{Settings: compat, Window: 24 * time.Hour})
	require.NoError(t, err)
	a, b := fixed(), etsy()
	var sa, sb float64
	for i := range 300 {
		v := 10 + math.Sin(float64(i)/10)
		sa, sb = a.Score(float64(300*i), v), b.Score(float64(300*i), v)
	}
	// MAD's None (a deviation that is not extreme) is one more vote under mad-none-votes.
	require.InDelta(t, sa+1.0/9, sb, 1e-12)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

func TestPlan(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "data")
	writeFile(t, filepath.Join(in, "b", "two.csv"), "timestamp,value\n")
	writeFile(t, filepath.Join(in, "a", "one.CSV"), "timestamp,value\n")
	writeFile(t, filepath.Join(in, "README.md"), "not data")
	writeFile(t, filepath.Join(in, "results", "old.csv"), "timestamp,value,anomaly_score\n")
	single := filepath.Join(dir, "single.csv")
	writeFile(t, single, "timestamp,value\n")
	writeFile(t, filepath.Join(dir, "empty", "notes.txt"), "no data here")

	out := filepath.Join(in, "results") // inside the input folder: skipped when walking
	jobs, err := Plan([]string{in, single}, out)
	require.NoError(t, err)
	var names, outputs []string
	for _, j := range jobs {
		names = append(names, j.Name)
		outputs = append(outputs, j.Output)
	}
	require.Equal(t, []string{"a/one.CSV", "b/two.csv", "single.csv"}, names)
	require.Equal(t, []string{filepath.Join(out, "a", "one.CSV"), filepath.Join(out, "b", "two.csv"), filepath.Join(out, "single.csv")}, outputs)

	for _, tc := range []struct {
		name    string
		inputs  []string
		out     string
		wantErr string
	}{
		{name: "no input", out: out, wantErr: "no input"},
		{name: "missing input", inputs: []string{filepath.Join(dir, "nope.csv")}, out: out, wantErr: "cannot read input"},
		{name: "folder without csv", inputs: []string{filepath.Join(dir, "empty")}, out: out, wantErr: `cannot find a .csv file in input folder`},
		{name: "two inputs, one output", inputs: []string{single, single}, out: out, wantErr: "twice"},
		{name: "output is the input", inputs: []string{single}, out: dir, wantErr: "input file itself"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Plan(tc.inputs, tc.out)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestRunWritesEveryFileAndStopsOnError(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	writeFile(t, filepath.Join(in, "x", "good.csv"), "timestamp,value\n1,1\n2,2\n")
	writeFile(t, filepath.Join(in, "y", "good2.csv"), "timestamp,value\n1,1\n")
	out := filepath.Join(dir, "out")
	jobs, err := Plan([]string{in}, out)
	require.NoError(t, err)
	var reports []Result
	require.NoError(t, Run(context.Background(), jobs, func() Scorer { return constScorer(0.25) }, 2, func(r Result) {
		reports = append(reports, r)
	}))
	require.Len(t, reports, 2)
	b, err := os.ReadFile(filepath.Join(out, "x", "good.csv"))
	require.NoError(t, err)
	require.Equal(t, "timestamp,value,anomaly_score\n1,1,0.25\n2,2,0.25\n", string(b))

	writeFile(t, filepath.Join(in, "z", "bad.csv"), "timestamp,value\n1,1\n2,oops\n")
	jobs, err = Plan([]string{in}, out)
	require.NoError(t, err)
	err = Run(context.Background(), jobs, func() Scorer { return constScorer(0) }, 1, nil)
	require.ErrorContains(t, err, `cannot score "`+filepath.Join(in, "z", "bad.csv")+`": line 3: cannot parse value "oops"`)
	_, statErr := os.Stat(filepath.Join(out, "z", "bad.csv"))
	require.True(t, errors.Is(statErr, os.ErrNotExist), "no partial output")
	left, _ := filepath.Glob(filepath.Join(out, "z", ".*.tmp"))
	require.Empty(t, left, "temporary files are removed")
}
