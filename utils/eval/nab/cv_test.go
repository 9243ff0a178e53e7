package nab

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
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

// kaleVariants are the configurations the cross-validation chooses from besides the
// default: one step either side on each of the detector's main knobs (algorithms/README.md).
// KALE_CV_VARIANTS replaces them (comma-separated, each Field=value[+Field=value]).
var kaleVariants = "ContextBaseAlpha=0.002,ContextBaseAlpha=0.008,SeasonZ=6,SeasonZ=8,ContextTableBits=8,ContextTableBits=10,WarmupTime=259200,WarmupTime=432000"

// kaleCandidates are the default configuration and kaleVariants.
func kaleCandidates() map[string]algorithms.KaleConfig {
	out := map[string]algorithms.KaleConfig{"default": algorithms.DefaultKaleConfig()}
	variants := kaleVariants
	if v, ok := os.LookupEnv("KALE_CV_VARIANTS"); ok {
		variants = v
	}
	for _, v := range strings.Split(variants, ",") {
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

// kaleCVFloor is the cross-validated mean standard score of the default candidates (see
// algorithms/README.md) minus half a point.
const kaleCVFloor = 73.1

// TestKaleCrossValidation runs leave-one-category-out cross-validation over kaleCandidates
// (choosing configuration and threshold on five folds, scoring the sixth) and prints the
// cross-validated mean next to each candidate's public score (swept on every file) and its
// per-fold scores at 0.63; it checks the mean against kaleCVFloor.
//
//	go test -run TestKaleCrossValidation -v ./utils/eval/nab/
func TestKaleCrossValidation(t *testing.T) {
	files := labelledCorpus(t)
	var cands []Candidate
	cfgs := kaleCandidates()
	names := make([]string, 0, len(cfgs))
	for name := range cfgs {
		names = append(names, name)
	}
	slices.Sort(names) // ties go to the earlier name: deterministic
	for _, name := range names {
		cfg := cfgs[name]
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
	if _, custom := os.LookupEnv("KALE_CV_VARIANTS"); !custom {
		require.GreaterOrEqual(t, mean, kaleCVFloor)
	}
}
