package nab

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/algorithms"
)

// corpusPath is the public half of the NAB corpus (see ../../../../shared/tools/NABSCORE.md).
const corpusPath = "../../../../shared/nab/data"

func corpus(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(corpusPath); errors.Is(err, os.ErrNotExist) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("NAB corpus %s is missing in CI", corpusPath)
		}
		t.Skipf("NAB corpus %s is absent (the shared folder is not checked out next to the repo); skipping", corpusPath)
	}
	return corpusPath
}

func skylineFactory(t testing.TB) Factory {
	t.Helper()
	f, err := Lookup("skyline", Options{Settings: algorithms.DefaultSettings(), Window: 24 * time.Hour})
	require.NoError(t, err)
	return f
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	// Some NAB files end their lines with CRLF; the output always uses LF.
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	return strings.Split(strings.TrimRight(s, "\n"), "\n")
}

// TestCorpusSkyline scores two NAB files with the skyline detector and checks the output
// layout, the echoed fields, the score range, and causality: scoring the file cut after k
// rows gives the first k scores of the whole file.
func TestCorpusSkyline(t *testing.T) {
	dir := corpus(t)
	names := []string{"realAdExchange/exchange-2_cpc_results.csv", "realTraffic/speed_7578.csv"}
	var inputs []string
	for _, n := range names {
		inputs = append(inputs, filepath.Join(dir, n))
	}
	out := t.TempDir()
	jobs, err := Plan(inputs, out)
	require.NoError(t, err)
	f := skylineFactory(t)
	require.NoError(t, Run(context.Background(), jobs, f, 0, nil))

	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			in := readLines(t, filepath.Join(dir, n))
			got := readLines(t, filepath.Join(out, filepath.Base(n)))
			require.Equal(t, "timestamp,value", in[0])
			require.Equal(t, Header, got[0])
			require.Len(t, got, len(in), "one output row per input row")
			positive := 0
			for i := 1; i < len(in); i++ {
				cut := strings.LastIndexByte(got[i], ',')
				require.Equal(t, in[i], got[i][:cut], "line %d echoes timestamp and value", i+1)
				score, err := strconv.ParseFloat(got[i][cut+1:], 64)
				require.NoError(t, err)
				require.True(t, score >= 0 && score <= 1, "line %d: score %v", i+1, score)
				if score > 0 {
					positive++
				}
			}
			require.Positive(t, positive, "the detector scores some rows above 0")

			rows := len(in) - 1
			for _, k := range []int{1, 2, 3, 100, 289, rows / 2, rows - 1} {
				var buf bytes.Buffer
				prefix := strings.Join(in[:k+1], "\n") + "\n"
				n, err := ScoreCSV(context.Background(), strings.NewReader(prefix), &buf, f())
				require.NoError(t, err)
				require.Equal(t, k, n)
				require.Equal(t, strings.Join(got[:k+1], "\n")+"\n", buf.String(), "the first %d scores do not depend on later rows", k)
			}
		})
	}
}

// TestCorpusLargestFile times the skyline detector on the corpus's largest file.
func TestCorpusLargestFile(t *testing.T) {
	dir := corpus(t)
	if testing.Short() {
		t.Skip("timing run skipped with -short")
	}
	var largest string
	var size int64
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".csv" {
			return err
		}
		info, err := d.Info()
		if err == nil && info.Size() > size {
			largest, size = path, info.Size()
		}
		return err
	}))
	in, err := os.Open(largest)
	require.NoError(t, err)
	defer in.Close()
	start := time.Now()
	rows, err := ScoreCSV(context.Background(), bufio.NewReader(in), io.Discard, skylineFactory(t)())
	elapsed := time.Since(start)
	require.NoError(t, err)
	t.Logf("skyline on %s: %d rows in %.2fs (%.0f µs/row)", largest, rows, elapsed.Seconds(), elapsed.Seconds()/float64(rows)*1e6)
	// Seconds, not minutes: a generous bound that still catches a scan of the whole history.
	require.Less(t, elapsed, 45*time.Second)
}

// BenchmarkSkylineScore measures one row's scoring with a full one-day window: 288 points
// of 5-minute data (NAB's usual step) and 1440 points of 1-minute data.
func BenchmarkSkylineScore(b *testing.B) {
	for _, tc := range []struct {
		name string
		step float64
	}{
		{"5min/288pts", 300},
		{"1min/1440pts", 60},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := skylineFactory(b)()
			rng := rand.New(rand.NewPCG(1, 2))
			ts := 1_400_000_000.0
			next := func() float64 {
				ts += tc.step
				return 100 + 10*math.Sin(ts/86400*2*math.Pi) + rng.NormFloat64()
			}
			points := int(86400 / tc.step)
			for range 2 * points { // fill the window
				v := next()
				s.Score(ts, v)
			}
			b.ReportAllocs()
			b.SetBytes(int64(points) * 16)
			for b.Loop() {
				v := next()
				s.Score(ts, v)
			}
		})
	}
}
