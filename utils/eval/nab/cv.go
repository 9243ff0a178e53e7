package nab

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
)

// ScoreFiles runs a fresh Scorer from f over each file, in-process and causally, and
// returns the per-row scores (a missing value scores 0 and is not shown to the scorer, as
// in ScoreCSV). Files are scored on up to GOMAXPROCS goroutines.
func ScoreFiles(files []*LabeledFile, f Factory) [][]float64 {
	out := make([][]float64, len(files))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, lf := range files {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			s := f()
			sc := make([]float64, len(lf.TS))
			for j, v := range lf.Values {
				if !math.IsNaN(v) {
					sc[j] = s.Score(lf.TS[j], v)
				}
			}
			out[i] = sc
		}()
	}
	wg.Wait()
	return out
}

// Fold is the cross-validation group of a NAB category: artificialNoAnomaly has no
// windows, so its normalised score is undefined on its own (null = perfect = 0); it is
// held out together with artificialWithAnomaly as the fold "artificial", where its false
// positives still cost.
func Fold(category string) string {
	if category == "artificialNoAnomaly" || category == "artificialWithAnomaly" {
		return "artificial"
	}
	return category
}

// Candidate is one configuration to cross-validate, with its scores on every file.
type Candidate struct {
	Name   string
	Scores [][]float64 // per file of the corpus, as ScoreFiles returns
}

// FoldResult is one held-out fold: the candidate and threshold chosen on the other folds
// (standard profile sweep) and the held-out fold's standard score at them.
type FoldResult struct {
	Fold      string
	Chosen    string
	Threshold float64
	Train     float64 // the chosen candidate's swept standard score on the other folds
	Held      Outcome // the held-out fold at Chosen and Threshold
}

// CrossValidate runs leave-one-fold-out cross-validation (folds: Fold of each file's
// category): for each fold, every candidate is swept on the other folds (standard
// profile), the best candidate and its threshold are kept (ties: the earlier candidate),
// and the held-out fold is scored at them. It returns the folds in name order and the mean
// held-out standard score.
func CrossValidate(files []*LabeledFile, cands []Candidate) ([]FoldResult, float64, error) {
	var folds []string
	for _, f := range files {
		if g := Fold(f.Category); !slices.Contains(folds, g) {
			folds = append(folds, g)
		}
	}
	slices.Sort(folds)
	std := Profiles[0]
	var res []FoldResult
	sum := 0.0
	for _, g := range folds {
		var trainF, heldF []*LabeledFile
		var trainI, heldI []int
		for i, f := range files {
			if Fold(f.Category) == g {
				heldF, heldI = append(heldF, f), append(heldI, i)
			} else {
				trainF, trainI = append(trainF, f), append(trainI, i)
			}
		}
		fr := FoldResult{Fold: g, Train: math.Inf(-1)}
		for _, c := range cands {
			j, err := NewJudge(trainF, pick(c.Scores, trainI))
			if err != nil {
				return nil, 0, err
			}
			if o := j.Sweep(std); o.Score > fr.Train {
				fr.Train, fr.Chosen, fr.Threshold = o.Score, c.Name, o.Threshold
			}
		}
		ci := slices.IndexFunc(cands, func(c Candidate) bool { return c.Name == fr.Chosen })
		if ci < 0 {
			return nil, 0, fmt.Errorf("no candidate")
		}
		j, err := NewJudge(heldF, pick(cands[ci].Scores, heldI))
		if err != nil {
			return nil, 0, err
		}
		fr.Held = j.At(std, fr.Threshold)
		sum += fr.Held.Score
		res = append(res, fr)
	}
	return res, sum / float64(len(res)), nil
}

func pick(scores [][]float64, idx []int) [][]float64 {
	out := make([][]float64, len(idx))
	for i, j := range idx {
		out[i] = scores[j]
	}
	return out
}
