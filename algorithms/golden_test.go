package algorithms

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// goldenPath is the public half of the golden verdicts produced by running Etsy's
// algorithms.py (see ../../shared/golden/README.md).
const goldenPath = "../../shared/golden/skyline_public.jsonl"

// goldenNumber is a JSON number, or one of the strings "NaN", "Infinity", "-Infinity";
// null decodes as NaN with valid false.
type goldenNumber struct {
	v     float64
	valid bool
}

func (g *goldenNumber) UnmarshalJSON(b []byte) error {
	switch s := string(b); s {
	case "null":
		*g = goldenNumber{v: math.NaN()}
		return nil
	case `"NaN"`:
		*g = goldenNumber{v: math.NaN(), valid: true}
		return nil
	case `"Infinity"`:
		*g = goldenNumber{v: math.Inf(1), valid: true}
		return nil
	case `"-Infinity"`:
		*g = goldenNumber{v: math.Inf(-1), valid: true}
		return nil
	}
	g.valid = true
	return json.Unmarshal(b, &g.v)
}

type goldenSettings struct {
	FullDuration        float64 `json:"FULL_DURATION"`
	StalePeriod         float64 `json:"STALE_PERIOD"`
	MinTolerableLength  int     `json:"MIN_TOLERABLE_LENGTH"`
	MaxTolerableBoredom int     `json:"MAX_TOLERABLE_BOREDOM"`
	BoredomSetSize      int     `json:"BOREDOM_SET_SIZE"`
	Consensus           int     `json:"CONSENSUS"`
}

type goldenCase struct {
	ID                   string                                `json:"id"`
	Family               string                                `json:"family"`
	Now                  float64                               `json:"now"`
	Settings             *goldenSettings                       `json:"settings"`
	Series               [][2]float64                          `json:"series"`
	Verdicts             map[string]bool                       `json:"verdicts"`
	Triggered            int                                   `json:"triggered"`
	Anomalous            bool                                  `json:"anomalous"`
	Exception            *string                               `json:"exception"`
	Ensemble             []*bool                               `json:"ensemble"`
	NotFalse             *int                                  `json:"not_false"`
	TailAvg              goldenNumber                          `json:"tail_avg"`
	Borderline           bool                                  `json:"borderline"`
	BorderlineAlgorithms []string                              `json:"borderline_algorithms"`
	EnsembleBorderline   bool                                  `json:"ensemble_borderline"`
	Errors               map[string]string                     `json:"errors"`
	Stats                map[string]map[string]json.RawMessage `json:"stats"`
}

func (c *goldenCase) points() []Point {
	s := make([]Point, len(c.Series))
	for i, p := range c.Series {
		s[i] = Point{Timestamp: p[0], Value: p[1]}
	}
	return s
}

// settings returns the settings Etsy's code ran the case with: Skyline's defaults in compat
// mode (the golden verdicts are Etsy's behaviour, bugs included), with the case's own
// numeric settings when it has them.
func (c *goldenCase) settings() Settings {
	cfg := SkylineCompatSettings()
	if s := c.Settings; s != nil {
		cfg.FullDuration = time.Duration(s.FullDuration) * time.Second
		cfg.StalePeriod = time.Duration(s.StalePeriod) * time.Second
		cfg.MinTolerableLength = s.MinTolerableLength
		cfg.MaxTolerableBoredom = s.MaxTolerableBoredom
		cfg.BoredomSetSize = s.BoredomSetSize
		cfg.Consensus = s.Consensus
	}
	return cfg
}

func (c *goldenCase) borderline(alg string) bool {
	for _, a := range c.BorderlineAlgorithms {
		if a == alg {
			return true
		}
	}
	return false
}

func (c *goldenCase) stat(alg, key string) goldenNumber {
	var g goldenNumber
	raw, ok := c.Stats[alg][key]
	if !ok {
		return g
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		panic(fmt.Sprintf("case %s: stats.%s.%s: %v", c.ID, alg, key, err))
	}
	return g
}

func loadGolden(t testing.TB) []goldenCase {
	t.Helper()
	f, err := os.Open(goldenPath)
	if errors.Is(err, os.ErrNotExist) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("golden file %s is missing in CI", goldenPath)
		}
		t.Skipf("golden file %s is absent (the shared folder is not checked out next to the repo); skipping", goldenPath)
	}
	require.NoError(t, err)
	defer f.Close()
	var cases []goldenCase
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var c goldenCase
		require.NoError(t, json.Unmarshal(sc.Bytes(), &c))
		cases = append(cases, c)
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, cases)
	return cases
}

func exceptionName(err error) *string {
	var name string
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrTooShort):
		name = "TooShort"
	case errors.Is(err, ErrStale):
		name = "Stale"
	case errors.Is(err, ErrBoring):
		name = "Boring"
	case errors.Is(err, ErrIncomplete):
		name = "Incomplete"
	default:
		name = "AlgorithmError"
	}
	return &name
}

func strOrNull(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

// TestGolden checks every detector, the skip checks and the ensemble against the verdicts
// Etsy's Python produced, in compat mode (SkylineCompatSettings: Etsy's code is what
// produced the file). Algorithms a case lists as borderline (decided by rounding noise) are
// not compared for that case, nor the ensemble of an ensemble_borderline case.
func TestGolden(t *testing.T) {
	cases := loadGolden(t)
	var (
		checked, borderlineSkips, ensembleSkips, ensembleChecked int
		agree                                                    = map[string]int{}
		compared                                                 = map[string]int{}
	)
	for i := range cases {
		c := &cases[i]
		t.Run(c.ID, func(t *testing.T) {
			cfg := c.settings()
			e, err := NewEnsemble(&cfg)
			require.NoError(t, err)
			series := c.points()

			// Verdicts: every algorithm called directly, whatever the skip checks say.
			votes := e.Votes(series, c.Now)
			triggered := 0
			for _, v := range votes {
				if v.Verdict == Yes {
					triggered++
				}
				if _, raised := c.Errors[v.Name]; raised {
					require.Error(t, v.Err, "%s should fail as Python raised %s", v.Name, c.Errors[v.Name])
					continue
				}
				want, ok := c.Verdicts[v.Name]
				require.True(t, ok, "golden case has no verdict for %s", v.Name)
				if c.borderline(v.Name) {
					borderlineSkips++
					continue
				}
				compared[v.Name]++
				require.NoError(t, v.Err, v.Name)
				require.Equal(t, want, v.Verdict == Yes, "%s: score %v threshold %v", v.Name, v.Score, v.Threshold)
				agree[v.Name]++
			}
			if !c.Borderline {
				require.Equal(t, c.Triggered, triggered, "triggered")
			}

			res, err := e.Run(series, c.Now)
			require.Equal(t, strOrNull(c.Exception), strOrNull(exceptionName(err)), "exception")
			if c.TailAvg.valid {
				require.Equal(t, c.TailAvg.v, res.TailAvg, "tail_avg")
			}
			if err == nil {
				require.Len(t, c.Ensemble, len(res.Votes))
				for j, v := range res.Votes {
					if c.borderline(v.Name) {
						continue
					}
					want := None
					if g := c.Ensemble[j]; g != nil {
						want = boolVote(*g, 0, 0).Verdict
					}
					require.Equal(t, want, v.Verdict, "ensemble entry %s", v.Name)
				}
				if c.EnsembleBorderline {
					ensembleSkips++
				} else {
					ensembleChecked++
					require.Equal(t, c.Anomalous, res.Anomalous, "anomalous (not_false %v, consensus %d)", *c.NotFalse, cfg.Consensus)
					if !c.Borderline {
						require.Equal(t, *c.NotFalse, res.NotNo, "not_false")
					}
				}
				require.Equal(t, series[len(series)-1].Value, res.Value)
			} else {
				require.False(t, c.Anomalous)
			}
			checkGoldenStats(t, c, series, &cfg)
			checked++
		})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "golden: %d cases checked, %d algorithm verdicts skipped as borderline, %d ensembles skipped as ensemble_borderline, %d ensembles compared\n",
		checked, borderlineSkips, ensembleSkips, ensembleChecked)
	for _, name := range SkylineAlgorithms() {
		fmt.Fprintf(&b, "  %-28s %d/%d agree\n", name, agree[name], compared[name])
	}
	t.Log(b.String())
}

// requireSame requires got to equal the golden number bit for bit (NaN equal to NaN).
func requireSame(t *testing.T, want goldenNumber, got float64, what string) {
	t.Helper()
	if !want.valid {
		return
	}
	if math.IsNaN(want.v) && math.IsNaN(got) {
		return
	}
	require.Equal(t, want.v, got, what)
}

// requireClose requires got within rel (relative) or abs of the golden number.
func requireClose(t *testing.T, want goldenNumber, got, rel, abs float64, what string) {
	t.Helper()
	if !want.valid || (math.IsNaN(want.v) && math.IsNaN(got)) {
		return
	}
	require.InDelta(t, want.v, got, math.Max(abs, rel*math.Abs(want.v)), what)
}

// checkGoldenStats compares the intermediate numbers. The pandas/numpy reductions are
// reproduced bit for bit, so their numbers must be identical; least_squares is compared
// with the exact rational fit (numpy's SVD carries noise), t.isf with scipy's cdflib.
func checkGoldenStats(t *testing.T, c *goldenCase, series []Point, cfg *Settings) {
	t.Helper()
	if len(series) == 0 {
		return
	}
	for _, alg := range []string{"first_hour_average", "mean_subtraction_cumulation", "stddev_from_average"} {
		var st meanStdStats
		switch alg {
		case "first_hour_average":
			_, st = firstHourAverage(series, c.Now, cfg)
			require.Equal(t, int(c.stat(alg, "n").v), st.n, alg+" n")
		case "mean_subtraction_cumulation":
			_, st = meanSubtractionCumulation(series, c.Now, cfg)
		default:
			_, st = stddevFromAverage(series, c.Now, cfg)
		}
		requireSame(t, c.stat(alg, "mean"), st.mean, alg+" mean")
		requireSame(t, c.stat(alg, "std"), st.std, alg+" std")
		requireSame(t, c.stat(alg, "lhs"), st.lhs, alg+" lhs")
		requireSame(t, c.stat(alg, "rhs"), st.rhs, alg+" rhs")
	}

	_, ew := stddevFromMovingAverage(series, c.Now, cfg)
	requireSame(t, c.stat("stddev_from_moving_average", "ewma"), ew.ewma, "ewma")
	requireSame(t, c.stat("stddev_from_moving_average", "ewmstd"), ew.ewmstd, "ewmstd")

	_, gr := grubbs(series, c.Now, cfg)
	requireSame(t, c.stat("grubbs", "mean"), gr.mean, "grubbs mean")
	requireSame(t, c.stat("grubbs", "std"), gr.std, "grubbs std")
	requireSame(t, c.stat("grubbs", "z"), gr.z, "grubbs z")
	requireClose(t, c.stat("grubbs", "t_isf"), gr.tISF, 1e-9, 0, "grubbs t_isf")
	requireClose(t, c.stat("grubbs", "grubbs_score"), gr.score, 1e-9, 0, "grubbs score")

	if !c.borderline("least_squares") {
		_, ls := leastSquares(series, c.Now, cfg)
		noise := 4*c.stat("least_squares", "fit_noise").v + 1e-9
		requireClose(t, c.stat("least_squares", "exact_std"), ls.std, 1e-9, noise, "least_squares std")
		requireClose(t, c.stat("least_squares", "exact_t"), ls.t, 1e-9, noise, "least_squares t")
	}

	_, h := histogramBins(series, c.Now, cfg)
	var edges []float64
	var counts []int
	require.NoError(t, json.Unmarshal(c.Stats["histogram_bins"]["edges"], &edges))
	require.NoError(t, json.Unmarshal(c.Stats["histogram_bins"]["counts"], &counts))
	require.Equal(t, edges, h.edges[:], "histogram edges")
	require.Equal(t, counts, h.counts[:], "histogram counts")
	requireSame(t, c.stat("histogram_bins", "t_bin"), float64(h.tBin), "histogram t_bin")

	_, mad := medianAbsoluteDeviation(series, c.Now, cfg)
	requireSame(t, c.stat("median_absolute_deviation", "median"), mad.median, "MAD median")
	requireSame(t, c.stat("median_absolute_deviation", "mad"), mad.mad, "MAD mad")
	requireSame(t, c.stat("median_absolute_deviation", "stat"), mad.stat, "MAD stat")
}
