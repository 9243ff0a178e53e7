package oculus

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/utils/tools/importer"
)

// ucrDir is the UCR archive subset with its published 1-NN error rates
// (../shared/ucr/REFERENCE.md); KALE_UCR_DIR overrides it.
func ucrDir(t *testing.T) string {
	dir := os.Getenv("KALE_UCR_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "ucr")
	}
	if _, err := os.Stat(filepath.Join(dir, "REFERENCE.md")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the UCR data is missing at %s (CI=true): %v", dir, err)
		}
		t.Skipf("the UCR data is not at %s (set KALE_UCR_DIR); skipping", dir)
	}
	return dir
}

// ucrPublished are the misclassified test series of 1-NN Euclidean, 1-NN DTW with the
// learned window (w % of the length) and full DTW, from the archive's DataSummary.csv
// (REFERENCE.md).
var ucrPublished = []struct {
	name                  string
	ed, dtw, w, dtwFull   int
	nTrain, nTest, length int
}{
	{"CBF", 133, 4, 11, 3, 30, 900, 128},
	{"Chinatown", 16, 16, 0, 15, 20, 343, 24},
	{"ECG200", 12, 12, 0, 23, 100, 100, 96},
	{"FaceFour", 19, 10, 2, 15, 24, 88, 350},
	{"GunPoint", 13, 13, 0, 14, 50, 150, 150},
	{"ItalyPowerDemand", 46, 46, 0, 51, 67, 1029, 24},
	{"SyntheticControl", 36, 5, 6, 2, 300, 300, 60},
	{"Trace", 24, 1, 3, 0, 100, 100, 275},
}

type ucrSeries struct {
	label  string
	values []float64
}

func readUCR(t *testing.T, path string) []ucrSeries {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []ucrSeries
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		s := ucrSeries{label: fields[0]}
		for _, v := range fields[1:] {
			x, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err, path)
			s.values = append(s.values, x)
		}
		out = append(out, s)
	}
	require.NoError(t, sc.Err())
	return out
}

// TestUCR1NN imports each dataset's TRAIN series into Redis with the importer, indexes them,
// and classifies every TEST series by the label of its nearest neighbour from Search (by
// values, native length, z-normalised, k=1, restricted to the dataset by prefix). The error
// counts must equal the published 1-NN Euclidean, DTW (learned window) and full-DTW numbers.
func TestUCR1NN(t *testing.T) {
	dir := ucrDir(t)
	e := newEnv(t)
	ctx := context.Background()
	train := map[string][]ucrSeries{}
	var jsonl strings.Builder
	for _, d := range ucrPublished {
		train[d.name] = readUCR(t, filepath.Join(dir, d.name, d.name+"_TRAIN.tsv"))
		require.Len(t, train[d.name], d.nTrain, d.name)
		for i, s := range train[d.name] {
			fmt.Fprintf(&jsonl, `{"metric":"ucr.%s.train.%04d","values":[`, d.name, i)
			for j, v := range s.values {
				if j > 0 {
					jsonl.WriteByte(',')
				}
				jsonl.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
			}
			jsonl.WriteString("]}\n")
		}
	}
	file := filepath.Join(t.TempDir(), "ucr-train.jsonl")
	require.NoError(t, os.WriteFile(file, []byte(jsonl.String()), 0o600))
	sum, err := importer.Run(ctx, []string{file}, importer.Options{Store: e.store})
	require.NoError(t, err)
	require.Equal(t, 691, sum.Metrics)
	s := e.synced()

	for _, d := range ucrPublished {
		t.Run(d.name, func(t *testing.T) {
			test := readUCR(t, filepath.Join(dir, d.name, d.name+"_TEST.tsv"))
			require.Len(t, test, d.nTest)
			for _, m := range []struct {
				method string
				window float64
				want   int
			}{
				{MethodEuclidean, 0, d.ed},
				{MethodDTW, float64(d.w) / 100, d.dtw},
				{MethodDTW, 1, d.dtwFull},
			} {
				errs := 0
				for _, ts := range test {
					res, err := s.Search(ctx, Query{Values: ts.values, Method: m.method, Window: ptr(m.window),
						K: 1, Length: ptr(0), Normalize: "z", Prefix: "ucr." + d.name + ".train."})
					require.NoError(t, err)
					require.Len(t, res.Results, 1)
					require.Equal(t, d.nTrain, res.Total)
					require.Zero(t, res.Skipped)
					i, err := strconv.Atoi(res.Results[0].Metric[strings.LastIndexByte(res.Results[0].Metric, '.')+1:])
					require.NoError(t, err)
					if train[d.name][i].label != ts.label {
						errs++
					}
				}
				t.Logf("%s %s window %.2f: %d/%d errors = %.4f (published %d = %.4f)", d.name, m.method, m.window,
					errs, d.nTest, float64(errs)/float64(d.nTest), m.want, float64(m.want)/float64(d.nTest))
				require.Equal(t, m.want, errs, "%s %s window %v", d.name, m.method, m.window)
			}
		})
	}
}
