package algorithms

import (
	"bufio"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// ucrRoot holds the UCR datasets and golden distances described in
// shared/ucr/REFERENCE.md.
const ucrRoot = "../../shared/ucr"

// ucrAvailable skips the test when the UCR files are missing, except in CI, where
// they must be present.
func ucrAvailable(t *testing.T) {
	t.Helper()
	_, err := os.Stat(filepath.Join(ucrRoot, "golden_distances.tsv"))
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("cannot find the UCR reference data under %s (required in CI): %v", ucrRoot, err)
	}
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("UCR reference data not found under %s (shared/ucr is not checked out here)", ucrRoot)
	}
	t.Fatalf("cannot read the UCR reference data: %v", err)
}

// ucrLoad reads up to maxRows series (all when maxRows < 0) of <dataset>_<split>.tsv: one
// series per line, tab separated, the class label first.
func ucrLoad(t *testing.T, dataset, split string, maxRows int) (labels []string, series [][]float64) {
	t.Helper()
	path := filepath.Join(ucrRoot, dataset, dataset+"_"+split+".tsv")
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() && (maxRows < 0 || len(series) < maxRows) {
		fields := strings.Fields(strings.ReplaceAll(sc.Text(), ",", "\t"))
		if len(fields) == 0 {
			continue
		}
		x := make([]float64, 0, len(fields)-1)
		for _, s := range fields[1:] {
			v, err := strconv.ParseFloat(s, 64)
			require.NoError(t, err, "%s: value %q", path, s)
			x = append(x, v)
		}
		labels = append(labels, fields[0])
		series = append(series, x)
	}
	require.NoError(t, sc.Err())
	return labels, series
}

// TestUCRGoldenDistances checks the kernels against shared/ucr/golden_distances.tsv:
// squared ED, DTW with the learned window (r_cells) and full DTW between z-normalised
// (population std) test and train series, to a relative 1e-9 on every row.
func TestUCRGoldenDistances(t *testing.T) {
	ucrAvailable(t)
	f, err := os.Open(filepath.Join(ucrRoot, "golden_distances.tsv"))
	require.NoError(t, err)
	defer f.Close()

	type split struct{ train, test [][]float64 }
	cache := map[string]split{}
	rows := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "dataset\t") {
			continue
		}
		fields := strings.Split(line, "\t")
		require.Len(t, fields, 8, "golden row %q", line)
		num := func(i int) float64 {
			v, err := strconv.ParseFloat(fields[i], 64)
			require.NoError(t, err, "golden row %q", line)
			return v
		}
		name := fields[0]
		testIdx, trainIdx := int(num(1)), int(num(2))
		edSq, wPercent, rCells, dtwWSq, dtwFullSq := num(3), num(4), int(num(5)), num(6), num(7)

		s, ok := cache[name]
		if !ok {
			// The golden rows use the first three series of each split.
			_, s.train = ucrLoad(t, name, "TRAIN", 3)
			_, s.test = ucrLoad(t, name, "TEST", 3)
			cache[name] = s
		}
		q := ZNormalize(nil, s.test[testIdx])
		c := ZNormalize(nil, s.train[trainIdx])
		l := len(q)
		require.Equal(t, rCells, SakoeChibaCells(wPercent/100, l), "%s: r = ceil(w/100·L)", name)

		what := func(kind string) string { return name + " test " + fields[1] + " train " + fields[2] + ": " + kind }
		ucrRequireRel(t, edSq, SquaredEuclidean(q, c), what("ED²"))
		ucrRequireRel(t, edSq, DTW(q, c, 0), what("DTW r=0"))
		ucrRequireRel(t, dtwWSq, DTW(q, c, rCells), what("DTW learned window"))
		ucrRequireRel(t, dtwWSq, DTWEA(q, c, rCells, math.Inf(1), nil), what("DTWEA learned window"))
		ucrRequireRel(t, dtwFullSq, DTW(q, c, l), what("full DTW"))
		require.LessOrEqual(t, LBKim(q, c, math.Inf(1)), dtwFullSq*(1+1e-9), what("LB_Kim"))
		u, lo := Envelope(q, rCells, nil, nil)
		require.LessOrEqual(t, LBKeogh(c, u, lo, math.Inf(1), nil), dtwWSq*(1+1e-9), what("LB_Keogh"))
		rows++
	}
	require.NoError(t, sc.Err())
	require.Equal(t, 72, rows, "8 datasets × 3 test × 3 train series")
}

func ucrRequireRel(t *testing.T, want, got float64, what string) {
	t.Helper()
	require.LessOrEqual(t, math.Abs(got-want), 1e-9*math.Abs(want)+1e-300, "%s: got %.17g, want %.17g", what, got, want)
}

// TestUCR1NN runs the UCR suite's exact 1-NN search (LB_Kim, then LB_Keogh against the
// query's envelope, then DTW abandoned early with the cumulative LB_Keogh bound; ties go
// to the lowest training index) on the small datasets of shared/ucr and requires the
// published misclassification counts of the UCR archive (REFERENCE.md). The other
// datasets (CBF, FaceFour, GunPoint, SyntheticControl, Trace: seconds of full DTW) are covered by
// TestUCRGoldenDistances only, to keep the package fast.
func TestUCR1NN(t *testing.T) {
	ucrAvailable(t)
	for _, tc := range []struct {
		dataset              string
		w                    float64 // learned window, percent
		ed, dtwLearned, full int     // published error counts
	}{
		{"Chinatown", 0, 16, 16, 15},
		{"ItalyPowerDemand", 0, 46, 46, 51},
		{"ECG200", 0, 12, 12, 23},
	} {
		t.Run(tc.dataset, func(t *testing.T) {
			trainLabels, train := ucrLoad(t, tc.dataset, "TRAIN", -1)
			testLabels, test := ucrLoad(t, tc.dataset, "TEST", -1)
			for _, s := range append(train, test...) {
				ZNormalize(s, s)
			}
			l := len(train[0])
			errs := func(nn func(q []float64) int) int {
				n := 0
				for i, q := range test {
					if trainLabels[nn(q)] != testLabels[i] {
						n++
					}
				}
				return n
			}
			require.Equal(t, tc.ed, errs(func(q []float64) int { return ucrNearestED(train, q) }), "1-NN ED")
			r := SakoeChibaCells(tc.w/100, l)
			require.Equal(t, tc.dtwLearned, errs(func(q []float64) int { return ucrNearestDTW(train, q, r) }), "1-NN DTW r=%d", r)
			require.Equal(t, tc.full, errs(func(q []float64) int { return ucrNearestDTW(train, q, l) }), "1-NN full DTW")
		})
	}
}

func ucrNearestED(train [][]float64, q []float64) int {
	best, bsf := -1, math.Inf(1)
	for i, c := range train {
		if d := SquaredEuclideanEA(q, c, bsf); d < bsf {
			best, bsf = i, d
		}
	}
	return best
}

func ucrNearestDTW(train [][]float64, q []float64, r int) int {
	u, l := Envelope(q, r, nil, nil)
	cb := make([]float64, len(q))
	best, bsf := -1, math.Inf(1)
	for i, c := range train {
		if LBKim(q, c, bsf) > bsf {
			continue
		}
		if LBKeogh(c, u, l, bsf, cb) > bsf {
			continue
		}
		if d := DTWEA(q, c, r, bsf, CumulativeBound(cb)); d < bsf {
			best, bsf = i, d
		}
	}
	return best
}
