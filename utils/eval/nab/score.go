package nab

import (
	"bufio"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The NAB scorer in Go: the rules of shared/tools/nabscore.py (NAB v1.1, see
// shared/tools/NABSCORE.md), ported so that many configurations can be scored in-process
// (the cross-validation of cv.go) and so that `kale detect --labels` can print a backtest.
// TestScorerMatchesPython checks it against the python scorer on real detector output.
//
// Per file: the first min(floor(0.15·N), 750) rows are ignored; a detection inside window
// [a, b] (width w) at row i is worth tp·sig(−(b−i+1)/w)/sig(−1) with sig(y) = 2/(1+e^{5y})−1,
// only the best (earliest) detection of a window counts, a window without one costs −fn; a
// detection outside every window costs fp·v with v = −1 before the first window, else
// sig((i − b_prev)/(w_prev − 1)) (−1 once that is beyond 3). Normalised score:
// 100·(raw − null)/(perfect − null), null = −fn·(scorable windows), perfect = tp·(windows).

// Profile is one NAB cost matrix.
type Profile struct {
	Name                     string
	TPWeight, FNWeight, FPWe float64
}

// Profiles are NAB's three profiles, in NAB's order.
var Profiles = []Profile{
	{"standard", 1, 1, 0.11},
	{"reward_low_FP_rate", 1, 1, 0.22},
	{"reward_low_FN_rate", 1, 2, 0.11},
}

// LabeledFile is one data file with its anomaly windows, as row indices.
type LabeledFile struct {
	Name      string // category/file.csv, the key of the windows JSON
	Category  string
	TS        []float64 // unix seconds per row
	Values    []float64 // NaN for a missing value
	Windows   [][2]int  // [first row, last row], sorted, disjoint
	Probation int
}

// Days is the time the file spans, in days.
func (f *LabeledFile) Days() float64 {
	if len(f.TS) < 2 {
		return 0
	}
	return (f.TS[len(f.TS)-1] - f.TS[0]) / 86400
}

func scaledSigmoid(y float64) float64 {
	if y > 3 {
		return -1
	}
	return 2/(1+math.Exp(5*y)) - 1
}

// ReadWindows reads a NAB combined_windows.json: file name → list of [start, end]
// timestamps.
func ReadWindows(path string) (map[string][][2]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read labels: %w", err)
	}
	var w map[string][][2]string
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("cannot read labels %s: %w", path, err)
	}
	return w, nil
}

// LoadLabeled reads the CSV file path (name is its key in windows) and places its windows
// on its rows. A window whose ends are not timestamps of the file is an error.
func LoadLabeled(path, name string, windows [][2]string) (*LabeledFile, error) {
	ts, vals, err := ReadSeries(path)
	if err != nil {
		return nil, err
	}
	f := &LabeledFile{Name: name, Category: strings.SplitN(name, "/", 2)[0], TS: ts, Values: vals,
		Probation: min(int(math.Floor(0.15*float64(len(ts)))), 750)}
	index := make(map[float64]int, len(ts))
	for i, t := range ts {
		index[t] = i
	}
	for _, w := range windows {
		a, errA := ParseTimestamp(w[0])
		b, errB := ParseTimestamp(w[1])
		ia, okA := index[a]
		ib, okB := index[b]
		if errA != nil || errB != nil || !okA || !okB || ib < ia {
			return nil, fmt.Errorf("%s: window %s..%s is not on the file's timestamps", name, w[0], w[1])
		}
		f.Windows = append(f.Windows, [2]int{ia, ib})
	}
	slices.SortFunc(f.Windows, func(x, y [2]int) int { return cmp.Compare(x[0], y[0]) })
	for i := 1; i < len(f.Windows); i++ {
		if f.Windows[i][0] <= f.Windows[i-1][1] {
			return nil, fmt.Errorf("%s: overlapping windows", name)
		}
	}
	return f, nil
}

// LoadCorpus reads every file of windows that exists under dataDir (dataDir/<name>), sorted
// by name.
func LoadCorpus(dataDir string, windows map[string][][2]string) ([]*LabeledFile, error) {
	var files []*LabeledFile
	names := make([]string, 0, len(windows))
	for n := range windows {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		p := filepath.Join(dataDir, filepath.FromSlash(n))
		if _, err := os.Stat(p); err != nil {
			continue
		}
		f, err := LoadLabeled(p, n, windows[n])
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no labelled file found under %s", dataDir)
	}
	return files, nil
}

// ReadSeries reads the timestamps and values of a NAB-layout CSV (a missing, NaN or
// infinite value as NaN), one entry per data row.
func ReadSeries(path string) (ts, vals []float64, err error) {
	in, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer in.Close()
	cr := csv.NewReader(bufio.NewReaderSize(in, 1<<16))
	cr.FieldsPerRecord = -1
	tsCol, valCol := 0, 1
	for first := true; ; first = false {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("cannot read %s: %w", path, err)
		}
		if first {
			isHeader, err := findColumns(rec, &tsCol, &valCol)
			if err != nil {
				return nil, nil, fmt.Errorf("cannot read %s: %w", path, err)
			}
			if isHeader {
				continue
			}
		}
		if len(rec) <= max(tsCol, valCol) {
			line, _ := cr.FieldPos(0)
			return nil, nil, fmt.Errorf("cannot read %s line %d: too few fields", path, line)
		}
		t, err := ParseTimestamp(rec[tsCol])
		if err != nil {
			return nil, nil, fmt.Errorf("cannot read %s: %w", path, err)
		}
		v, err := parseValue(rec[valCol])
		if err != nil {
			return nil, nil, fmt.Errorf("cannot read %s: %w", path, err)
		}
		if math.IsInf(v, 0) {
			v = math.NaN()
		}
		ts, vals = append(ts, t), append(vals, v)
	}
	return ts, vals, nil
}

// scoredRow is one scorable row's geometry: its window (−1 outside) and unweighted value.
type scoredRow struct {
	score  float64
	file   int
	window int // index into the corpus-wide window list, −1 outside
	v      float64
}

// Outcome is a scored corpus at one threshold and profile.
type Outcome struct {
	Profile   string
	Threshold float64
	Score     float64 // normalised: null 0, perfect 100
	Raw       float64
	TP, FN    int // windows with / without a detection
	FP        int // detections outside every window
}

// Judge scores detector output against a labelled corpus (see the file's doc).
type Judge struct {
	rows              []scoredRow // sorted by score, highest first
	windows, scorable int
	windowFile        []int
}

// NewScorer prepares the scoring of files with scores[i] the per-row scores of files[i]
// (len(scores[i]) == len(files[i].TS)).
func NewJudge(files []*LabeledFile, scores [][]float64) (*Judge, error) {
	s := &Judge{}
	for fi, f := range files {
		if len(scores[fi]) != len(f.TS) {
			return nil, fmt.Errorf("%s: %d scores for %d rows", f.Name, len(scores[fi]), len(f.TS))
		}
		base := s.windows
		s.windows += len(f.Windows)
		for _, w := range f.Windows {
			s.windowFile = append(s.windowFile, fi)
			if w[1] >= f.Probation {
				s.scorable++
			}
		}
		wi, prevEnd, prevWidth := 0, -1, 0
		for i := range f.TS {
			for wi < len(f.Windows) && f.Windows[wi][1] < i {
				prevEnd, prevWidth = f.Windows[wi][1], f.Windows[wi][1]-f.Windows[wi][0]+1
				wi++
			}
			if i < f.Probation {
				continue
			}
			r := scoredRow{score: scores[fi][i], file: fi, window: -1}
			switch {
			case wi < len(f.Windows) && f.Windows[wi][0] <= i:
				a, b := f.Windows[wi][0], f.Windows[wi][1]
				r.window = base + wi
				r.v = scaledSigmoid(-float64(b-i+1) / float64(b-a+1))
			case prevEnd < 0:
				r.v = -1
			case prevWidth <= 1:
				r.v = 0
				if i-prevEnd > 0 {
					r.v = -1
				}
			default:
				r.v = scaledSigmoid(float64(i-prevEnd) / float64(prevWidth-1))
			}
			s.rows = append(s.rows, r)
		}
	}
	slices.SortStableFunc(s.rows, func(a, b scoredRow) int { return cmp.Compare(b.score, a.score) })
	return s, nil
}

var maxTP = scaledSigmoid(-1)

func (s *Judge) weighted(r *scoredRow, p Profile) float64 {
	if r.window < 0 {
		return r.v * p.FPWe
	}
	return r.v * p.TPWeight / maxTP
}

// At scores at a fixed threshold (a detection is score >= threshold).
func (s *Judge) At(p Profile, threshold float64) Outcome {
	best := map[int]float64{}
	o := Outcome{Profile: p.Name, Threshold: threshold}
	for i := range s.rows {
		r := &s.rows[i]
		if r.score < threshold {
			break
		}
		w := s.weighted(r, p)
		if r.window < 0 {
			o.Raw += w
			o.FP++
		} else if old, ok := best[r.window]; !ok || w > old {
			best[r.window] = w
		}
	}
	for _, w := range best {
		o.Raw += w
	}
	o.TP = len(best)
	o.FN = s.scorable - o.TP
	o.Raw -= p.FNWeight * float64(o.FN)
	null, perfect := -p.FNWeight*float64(s.scorable), p.TPWeight*float64(s.windows)
	if perfect != null {
		o.Score = 100 * (o.Raw - null) / (perfect - null)
	} else {
		o.Score = math.NaN()
	}
	return o
}

// Sweep finds the threshold that maximises the raw score (ties: the highest threshold) and
// scores there, as nabscore.py does without --threshold.
func (s *Judge) Sweep(p Profile) Outcome {
	total := -p.FNWeight * float64(s.scorable)
	bestScore := total
	bestThr := 1.1
	if len(s.rows) > 0 {
		bestThr = max(1.1, math.Nextafter(s.rows[0].score, math.Inf(1)))
	}
	got := map[int]float64{}
	for i := 0; i < len(s.rows); {
		thr := s.rows[i].score
		for ; i < len(s.rows) && s.rows[i].score == thr; i++ {
			r := &s.rows[i]
			w := s.weighted(r, p)
			if r.window < 0 {
				total += w
				continue
			}
			old, ok := got[r.window]
			if !ok {
				old = -p.FNWeight
			}
			if w > old {
				got[r.window] = w
				total += w - old
			}
		}
		if total > bestScore+1e-12 {
			bestScore, bestThr = total, thr
		}
	}
	return s.At(p, bestThr)
}
