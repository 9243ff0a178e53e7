package nab

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/algorithms"
)

// labelledCorpus loads the public half of NAB with its windows (skips like corpus).
func labelledCorpus(t testing.TB) []*LabeledFile {
	t.Helper()
	dir := corpus(t)
	w, err := ReadWindows(filepath.Join(dir, "..", "labels", "combined_windows.json"))
	require.NoError(t, err)
	files, err := LoadCorpus(dir, w)
	require.NoError(t, err)
	require.Len(t, files, 31)
	return files
}

func kaleFactory(cfg algorithms.KaleConfig) Factory {
	return func() Scorer { return kaleScorer{algorithms.NewKale(cfg)} }
}

// TestJudgeMatchesPython: the Go scorer gives shared/tools/nabscore.py's three swept
// profile scores on the default kale output of the public half.
func TestJudgeMatchesPython(t *testing.T) {
	files := labelledCorpus(t)
	f, err := Lookup("kale", Options{})
	require.NoError(t, err)
	j, err := NewJudge(files, ScoreFiles(files, f))
	require.NoError(t, err)
	want := scoreNAB(t, f)
	for _, p := range Profiles {
		o := j.Sweep(p)
		t.Logf("%s %.4f thr %.4f TP %d FN %d FP %d", p.Name, o.Score, o.Threshold, o.TP, o.FN, o.FP)
		require.InDelta(t, want[p.Name], o.Score, 1e-6, p.Name)
	}
}

// kaleCandidates are the configurations the cross-validation chooses from: the default and
// one step either side on each of the detector's main knobs (algorithms/README.md).
func kaleCandidates() map[string]algorithms.KaleConfig {
	out := map[string]algorithms.KaleConfig{"default": algorithms.DefaultKaleConfig()}
	for _, v := range strings.Split(os.Getenv("KALE_CV_VARIANTS"), ",") {
		if v == "" {
			continue
		}
		cfg := algorithms.DefaultKaleConfig()
		for _, kv := range strings.Split(v, "+") {
			name, val, _ := strings.Cut(kv, "=")
			fv := reflect.ValueOf(&cfg).Elem().FieldByName(name)
			switch fv.Kind() {
			case reflect.Int:
				n, _ := strconv.Atoi(val)
				fv.SetInt(int64(n))
			case reflect.Float64:
				x, _ := strconv.ParseFloat(val, 64)
				fv.SetFloat(x)
			case reflect.Bool:
				fv.SetBool(val == "true")
			default:
				panic("cannot set " + kv)
			}
		}
		out[v] = cfg
	}
	return out
}

// TestKaleCrossValidation prints the leave-one-category-out cross-validated standard score
// next to the public (all-folds swept) score, and checks the public-half floor.
func TestKaleCrossValidation(t *testing.T) {
	files := labelledCorpus(t)
	var cands []Candidate
	for name, cfg := range kaleCandidates() {
		sc := ScoreFiles(files, kaleFactory(cfg))
		j, err := NewJudge(files, sc)
		require.NoError(t, err)
		var line []string
		for _, p := range Profiles {
			o := j.Sweep(p)
			line = append(line, fmt.Sprintf("%.2f (thr %.3f TP %d FP %d)", o.Score, o.Threshold, o.TP, o.FP))
		}
		t.Logf("%-30s public %s", name, strings.Join(line, " / "))
		for _, g := range []string{"artificial", "realAWSCloudwatch", "realAdExchange", "realKnownCause", "realTraffic", "realTweets"} {
			var fs []*LabeledFile
			var ss [][]float64
			for i, f := range files {
				if Fold(f.Category) == g {
					fs, ss = append(fs, f), append(ss, sc[i])
				}
			}
			jj, _ := NewJudge(fs, ss)
			o := jj.At(Profiles[0], 0.63)
			t.Logf("   %-20s @0.63 %.2f TP %d FN %d FP %d", g, o.Score, o.TP, o.FN, o.FP)
		}
		cands = append(cands, Candidate{Name: name, Scores: sc})
	}
	folds, mean, err := CrossValidate(files, cands)
	require.NoError(t, err)
	for _, f := range folds {
		t.Logf("held out %-20s chosen %-20s thr %.3f train %.2f held %.2f (TP %d FN %d FP %d)",
			f.Fold, f.Chosen, f.Threshold, f.Train, f.Held.Score, f.Held.TP, f.Held.FN, f.Held.FP)
	}
	t.Logf("cross-validated mean standard score %.2f", mean)
}
