package nab

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Backtest is an operator's view of scored files against labelled anomaly windows at one
// alert threshold: which windows got an alert, how many alerts fell outside every window
// (false alarms, per 1,000 metric-days), and NAB's standard score at that threshold.
type Backtest struct {
	Threshold float64
	Files     []BacktestFile
	Total     BacktestFile // Name "total"
	// NAB is the standard-profile NAB score of the labelled files at Threshold (NAB's
	// probation and window weights; NaN when no file has a window).
	NAB float64
}

// BacktestFile is one file's (or the total's) backtest.
type BacktestFile struct {
	Name          string
	Windows       int     // label windows
	Found         int     // windows with an alert (score >= Threshold) inside
	FalseAlarms   int     // alerts outside every window
	Days          float64 // time the file spans
	FirstDetected []int   // per window, the first alerting row (−1: none)
}

// FalseAlarmsPer1000 is the false alarms per 1,000 metric-days.
func (b BacktestFile) FalseAlarmsPer1000() float64 {
	if b.Days <= 0 {
		return 0
	}
	return 1000 * float64(b.FalseAlarms) / b.Days
}

func (b BacktestFile) String() string {
	return fmt.Sprintf("%s: found %d/%d windows, %d false alarms in %.1f days (%.1f per 1,000 metric-days)",
		b.Name, b.Found, b.Windows, b.FalseAlarms, b.Days, b.FalseAlarmsPer1000())
}

// DefaultLabels returns the NAB-layout labels file next to an input folder
// (INPUT/../labels/combined_windows.json, as in shared/nab: data/ and labels/ side by
// side), or "" when there is none.
func DefaultLabels(inputs []string) string {
	for _, in := range inputs {
		if st, err := os.Stat(in); err != nil || !st.IsDir() {
			continue
		}
		p := filepath.Join(in, "..", "labels", "combined_windows.json")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// labelKey finds the windows of a job: the key equal to its name, or else the one key
// that ends with /name or whose name ends with /key.
func labelKey(windows map[string][][2]string, name string) (string, bool) {
	if _, ok := windows[name]; ok {
		return name, true
	}
	found, n := "", 0
	for k := range windows {
		if strings.HasSuffix(k, "/"+name) || strings.HasSuffix(name, "/"+k) {
			found, n = k, n+1
		}
	}
	return found, n == 1
}

// RunBacktest reads each job's input and scored output and judges the alerts at threshold
// against windows (a combined_windows.json, see ReadWindows). Jobs without an entry in
// windows are left out; it fails when none has one.
func RunBacktest(jobs []Job, windows map[string][][2]string, threshold float64) (*Backtest, error) {
	bt := &Backtest{Threshold: threshold, Total: BacktestFile{Name: "total"}}
	var files []*LabeledFile
	var scores [][]float64
	for _, j := range jobs {
		key, ok := labelKey(windows, j.Name)
		if !ok {
			continue
		}
		lf, err := LoadLabeled(j.Input, key, windows[key])
		if err != nil {
			return nil, fmt.Errorf("cannot backtest: %w", err)
		}
		sc, err := readScores(j.Output)
		if err != nil {
			return nil, fmt.Errorf("cannot backtest %s: %w", j.Name, err)
		}
		if len(sc) != len(lf.TS) {
			return nil, fmt.Errorf("cannot backtest %s: %d scores for %d rows", j.Name, len(sc), len(lf.TS))
		}
		f := BacktestFile{Name: j.Name, Windows: len(lf.Windows), Days: lf.Days()}
		f.FirstDetected = make([]int, len(lf.Windows))
		for k := range f.FirstDetected {
			f.FirstDetected[k] = -1
		}
		for i, s := range sc {
			if s < threshold {
				continue
			}
			inside := false
			for k, w := range lf.Windows {
				if i >= w[0] && i <= w[1] {
					inside = true
					if f.FirstDetected[k] < 0 {
						f.FirstDetected[k] = i
						f.Found++
					}
				}
			}
			if !inside {
				f.FalseAlarms++
			}
		}
		bt.Files = append(bt.Files, f)
		bt.Total.Windows += f.Windows
		bt.Total.Found += f.Found
		bt.Total.FalseAlarms += f.FalseAlarms
		bt.Total.Days += f.Days
		files, scores = append(files, lf), append(scores, sc)
	}
	if len(files) == 0 {
		return nil, errors.New("cannot backtest: no scored file has an entry in the labels")
	}
	j, err := NewJudge(files, scores)
	if err != nil {
		return nil, err
	}
	bt.NAB = j.At(Profiles[0], threshold).Score
	return bt, nil
}

// readScores reads the anomaly_score column of a scored CSV (ScoreCSV's output).
func readScores(path string) ([]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReaderSize(f, 1<<16))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("cannot read header: %w", err)
	}
	col := -1
	for i, h := range head {
		if h == "anomaly_score" {
			col = i
		}
	}
	if col < 0 {
		return nil, errors.New("no anomaly_score column")
	}
	var out []float64
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(rec) <= col {
			return nil, errors.New("short row")
		}
		v, err := strconv.ParseFloat(rec[col], 64)
		if err != nil {
			return nil, fmt.Errorf("bad score %q", rec[col])
		}
		out = append(out, v)
	}
}
