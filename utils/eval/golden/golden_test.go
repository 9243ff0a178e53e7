package golden

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/algorithms"
)

func TestParseCase(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		check      func(t *testing.T, c *Case)
		wantErr    string
	}{
		{name: "int now", line: `{"id":"a","now":1400000000,"series":[[1399999940,1.5],[1400000000,2]]}`,
			check: func(t *testing.T, c *Case) {
				require.Equal(t, "a", c.ID)
				require.Equal(t, 1400000000.0, c.Now)
				require.Nil(t, c.Settings)
				require.Equal(t, []algorithms.Point{{Timestamp: 1399999940, Value: 1.5}, {Timestamp: 1400000000, Value: 2}}, c.Series)
			}},
		{name: "float now and extra fields", line: `{"id":"b","now":1408229419.999,"family":"edge","verdicts":{"grubbs":true},"series":[]}`,
			check: func(t *testing.T, c *Case) {
				require.Equal(t, 1408229419.999, c.Now)
				require.Empty(t, c.Series)
			}},
		{name: "settings", line: `{"id":"c","now":1,"settings":{"FULL_DURATION":86400,"STALE_PERIOD":500.5,"MIN_TOLERABLE_LENGTH":1440,"MAX_TOLERABLE_BOREDOM":100,"BOREDOM_SET_SIZE":3,"CONSENSUS":5,"ENABLE_SECOND_ORDER":false},"series":[[0,1]]}`,
			check: func(t *testing.T, c *Case) {
				require.NotNil(t, c.Settings)
				s := c.Settings.Apply(algorithms.SkylineCompatSettings())
				require.Equal(t, 86400*time.Second, s.FullDuration)
				require.Equal(t, 500500*time.Millisecond, s.StalePeriod)
				require.Equal(t, 1440, s.MinTolerableLength)
				require.Equal(t, 3, s.BoredomSetSize)
				require.Equal(t, 5, s.Consensus)
				require.True(t, s.MADNoneVotes, "switches are kept")
				require.Equal(t, algorithms.SkylineAlgorithms(), s.Algorithms)
			}},
		{name: "non-finite values as strings", line: `{"id":"d","now":1,"series":[[0,"NaN"],[1,"Infinity"],[2,"-Infinity"],[3,4]]}`,
			check: func(t *testing.T, c *Case) {
				require.True(t, math.IsNaN(c.Series[0].Value))
				require.Equal(t, math.Inf(1), c.Series[1].Value)
				require.Equal(t, math.Inf(-1), c.Series[2].Value)
				require.Equal(t, 4.0, c.Series[3].Value)
			}},
		{name: "not JSON", line: `{"id":"x",`, wantErr: "cannot decode"},
		{name: "not an object", line: `[1,2]`, wantErr: "cannot decode"},
		{name: "missing id", line: `{"now":1,"series":[]}`, wantErr: `missing "id"`},
		{name: "missing now", line: `{"id":"x","series":[]}`, wantErr: `case "x": missing "now"`},
		{name: "now not a number", line: `{"id":"x","now":"soon","series":[]}`, wantErr: "cannot decode"},
		{name: "missing series", line: `{"id":"x","now":1}`, wantErr: `case "x": missing "series"`},
		{name: "point too short", line: `{"id":"x","now":1,"series":[[1,2],[3]]}`, wantErr: "point 1 has 1 elements"},
		{name: "point too long", line: `{"id":"x","now":1,"series":[[1,2,3]]}`, wantErr: "point 0 has 3 elements"},
		{name: "bad value", line: `{"id":"x","now":1,"series":[[1,2],[2,"abc"]]}`, wantErr: `point 1: cannot parse value "\"abc\""`},
		{name: "series not a list", line: `{"id":"x","now":1,"series":{"a":1}}`, wantErr: "cannot parse series"},
		{name: "unknown setting", line: `{"id":"x","now":1,"settings":{"CONSENSUSS":5},"series":[]}`, wantErr: `unknown field "CONSENSUSS"`},
		{name: "second order", line: `{"id":"x","now":1,"settings":{"ENABLE_SECOND_ORDER":true},"series":[]}`, wantErr: "ENABLE_SECOND_ORDER = true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseCase([]byte(tc.line))
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
}

func TestReaderNamesTheLine(t *testing.T) {
	in := `{"id":"a","now":1,"series":[]}` + "\n\n   \n" +
		`{"id":"b","now":2,"series":[[1,1]]}` + "\r\n" +
		`{"id":"c","now":3,"series":[[1,1]]` + "\n" +
		`{"id":"d","now":4,"series":[]}`
	rd := NewReader(strings.NewReader(in))
	c, err := rd.Next()
	require.NoError(t, err)
	require.Equal(t, "a", c.ID)
	require.Equal(t, 1, c.Line)
	c, err = rd.Next()
	require.NoError(t, err)
	require.Equal(t, "b", c.ID)
	require.Equal(t, 4, c.Line, "blank lines count")
	_, err = rd.Next()
	require.ErrorContains(t, err, "cannot parse case on line 5:")
}

func TestReaderLastLineWithoutNewline(t *testing.T) {
	rd := NewReader(strings.NewReader(`{"id":"a","now":1,"series":[]}` + "\n" + `{"id":"b","now":1,"series":[]}`))
	var ids []string
	for {
		c, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		ids = append(ids, c.ID)
	}
	require.Equal(t, []string{"a", "b"}, ids)
}

// minutely returns a day of minutely points ending at now, values from f.
func minutely(now float64, f func(i int) float64) []algorithms.Point {
	s := make([]algorithms.Point, 1440)
	for i := range s {
		s[i] = algorithms.Point{Timestamp: now - float64(60*(1439-i)), Value: f(i)}
	}
	return s
}

func TestEvaluate(t *testing.T) {
	const now = 1_400_000_000
	ev, err := NewEvaluator(algorithms.SkylineCompatSettings())
	require.NoError(t, err)
	bored := 3
	for _, tc := range []struct {
		name          string
		c             Case
		exception     string
		anomalous     bool
		algorithms    []string // the algorithms with a verdict, in order
		minTriggered  int
		wantTriggered int // exact when >= 0
	}{
		{name: "empty series: TooShort, only least_squares and ks_test answer",
			c:          Case{ID: "empty", Now: now},
			exception:  "TooShort",
			algorithms: []string{"least_squares", "ks_test"}, wantTriggered: 0},
		{name: "stale",
			c: Case{ID: "stale", Now: now + 501, Series: minutely(now, func(i int) float64 {
				return float64(i % 7)
			})},
			exception: "Stale", algorithms: algorithms.SkylineAlgorithms(), wantTriggered: -1},
		{name: "boring",
			c:         Case{ID: "boring", Now: now, Series: minutely(now, func(int) float64 { return 5 })},
			exception: "Boring", algorithms: algorithms.SkylineAlgorithms(), wantTriggered: -1},
		{name: "boredom set size 3 is an equality test: 2 values are not boring",
			c: Case{ID: "set3", Now: now, Settings: &Settings{BoredomSetSize: &bored},
				Series: minutely(now, func(i int) float64 { return float64(i % 2) })},
			algorithms: algorithms.SkylineAlgorithms(), wantTriggered: -1},
		{name: "spike",
			c: Case{ID: "spike", Now: now, Series: minutely(now, func(i int) float64 {
				if i == 1439 {
					return 100
				}
				return float64(10 + i%3)
			})},
			anomalous: true, algorithms: algorithms.SkylineAlgorithms(), minTriggered: 6, wantTriggered: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := ev.Evaluate(&tc.c)
			require.NoError(t, err)
			require.Equal(t, tc.c.ID, out.ID)
			require.Equal(t, tc.exception, out.Exception)
			require.Equal(t, tc.anomalous, out.Anomalous)
			var names []string
			triggered := 0
			for _, v := range out.Verdicts {
				names = append(names, v.Algorithm)
				if v.Anomalous {
					triggered++
				}
			}
			require.Equal(t, tc.algorithms, names)
			require.Equal(t, triggered, out.Triggered)
			require.GreaterOrEqual(t, out.Triggered, tc.minTriggered)
			if tc.wantTriggered >= 0 {
				require.Equal(t, tc.wantTriggered, out.Triggered)
			}
		})
	}
}

func TestEvaluateBadSettings(t *testing.T) {
	ev, err := NewEvaluator(algorithms.SkylineCompatSettings())
	require.NoError(t, err)
	zero := 0
	_, err = ev.Evaluate(&Case{ID: "x", Now: 1, Settings: &Settings{Consensus: &zero}})
	require.ErrorContains(t, err, `cannot apply the settings of case "x"`)
	require.ErrorContains(t, err, "Consensus")
}

func TestOutputJSON(t *testing.T) {
	out := Output{ID: `a"b`, Verdicts: []Verdict{{"zeta", true}, {"alpha", false}}, Triggered: 1, Anomalous: true}
	b, err := json.Marshal(out)
	require.NoError(t, err)
	require.Equal(t, `{"id":"a\"b","verdicts":{"zeta":true,"alpha":false},"triggered":1,"anomalous":true,"exception":null}`, string(b))
	out = Output{ID: "e", Exception: "TooShort"}
	require.Equal(t, `{"id":"e","verdicts":{},"triggered":0,"anomalous":false,"exception":"TooShort"}`, string(out.AppendJSON(nil)))
}

func TestExceptionName(t *testing.T) {
	for err, want := range map[error]string{
		nil:                      "",
		algorithms.ErrTooShort:   "TooShort",
		algorithms.ErrStale:      "Stale",
		algorithms.ErrBoring:     "Boring",
		algorithms.ErrIncomplete: "Incomplete",
		fmt.Errorf("wrapped: %w", algorithms.ErrBoring): "Boring",
		errors.New("other"):                             "AlgorithmError",
	} {
		require.Equal(t, want, ExceptionName(err), "%v", err)
	}
}
