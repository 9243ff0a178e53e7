package seasonal

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Category is the NAB category folder the set is written into.
const Category = "seasonal"

func stamp(ts float64) string {
	return time.Unix(int64(ts), 0).UTC().Format("2006-01-02 15:04:05")
}

// WriteNAB writes the set in NAB's layout under dir: data/seasonal/<name> (timestamp,value)
// and labels/combined_windows.json (NAB's combined_windows format: "seasonal/<name>" → list
// of [start, end] timestamps "YYYY-MM-DD HH:MM:SS.000000"), so that `kale detect --labels`
// and shared/tools/nabscore.py --data dir can both read it.
func WriteNAB(dir string, set []Series) error {
	data := filepath.Join(dir, "data", Category)
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "labels"), 0o755); err != nil {
		return err
	}
	windows := map[string][][2]string{}
	for _, s := range set {
		f, err := os.Create(filepath.Join(data, s.Name))
		if err != nil {
			return err
		}
		w := bufio.NewWriter(f)
		w.WriteString("timestamp,value\n")
		for i, ts := range s.TS {
			w.WriteString(stamp(ts))
			w.WriteByte(',')
			w.WriteString(strconv.FormatFloat(s.Values[i], 'f', -1, 64))
			w.WriteByte('\n')
		}
		if err := w.Flush(); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		ws := [][2]string{}
		for _, win := range s.Windows {
			ws = append(ws, [2]string{stamp(s.TS[win[0]]) + ".000000", stamp(s.TS[win[1]]) + ".000000"})
		}
		windows[Category+"/"+s.Name] = ws
	}
	b, err := json.MarshalIndent(windows, "", "    ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "labels", "combined_windows.json"), append(b, '\n'), 0o644)
}

// Result is a detector's output on a set at one threshold.
type Result struct {
	Threshold  float64
	Anomalies  int            // label windows
	Found      int            // windows with a detection (score >= Threshold) inside
	FP         int            // detections outside every window
	MetricDays float64        // days of data scored
	Missed     []string       // "name (kind)" of the windows without a detection
	FPByKind   map[string]int // false alarms by the series' kind
}

// FPPer1000 is the false alarms per 1,000 metric-days.
func (r Result) FPPer1000() float64 {
	if r.MetricDays == 0 {
		return 0
	}
	return 1000 * float64(r.FP) / r.MetricDays
}

func (r Result) String() string {
	return fmt.Sprintf("found %d/%d, %d false alarms in %.0f metric-days (%.1f per 1,000) at %.2f",
		r.Found, r.Anomalies, r.FP, r.MetricDays, r.FPPer1000(), r.Threshold)
}

// Evaluate scores scores[i] (one per row of set[i]) at threshold.
func Evaluate(set []Series, scores [][]float64, threshold float64) Result {
	r := Result{Threshold: threshold, FPByKind: map[string]int{}}
	for i, s := range set {
		r.Anomalies += len(s.Windows)
		if n := len(s.TS); n > 1 {
			r.MetricDays += (s.TS[n-1] - s.TS[0] + (s.TS[1] - s.TS[0])) / 86400
		}
		hit := make([]bool, len(s.Windows))
		for j, sc := range scores[i] {
			if sc < threshold {
				continue
			}
			inside := false
			for k, w := range s.Windows {
				if j >= w[0] && j <= w[1] {
					hit[k], inside = true, true
				}
			}
			if !inside {
				r.FP++
				r.FPByKind[s.Kind]++
			}
		}
		for _, h := range hit {
			if h {
				r.Found++
			} else {
				r.Missed = append(r.Missed, fmt.Sprintf("%s (%s)", s.Name, s.Kind))
			}
		}
	}
	return r
}
