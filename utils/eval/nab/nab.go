// Package nab is Kale's runner for the Numenta Anomaly Benchmark (NAB) behind `kale detect
// --out DIR INPUT…`: it sits outside the ingest → analyze pipeline and replaces nothing of
// Skyline. It feeds each NAB-layout CSV file (`timestamp,value` with a header, timestamps
// `YYYY-MM-DD HH:MM:SS` in UTC or unix seconds) row by row to a streaming detector and writes
// `timestamp,value,anomaly_score` with one row per input row, the timestamp and value text
// echoed as read, which is what shared/tools/nabscore.py scores.
//
// Detectors are causal by construction: a Scorer receives the rows of one file in order and
// must return each row's score before it sees the next one, so the score of row i depends on
// rows 0..i only. Each file gets a fresh Scorer (NAB rule: files are independent), and files
// are scored concurrently.
//
// The skyline detector (NewSkyline) scores row i with the fraction of the configured Skyline
// algorithms (nine by default) that vote anomalous on the window of rows with
// ts > ts_i − Window, with now = ts_i (data time, not the wall clock). The window keeps each
// row's work bounded, so NAB's 22,000-row files take seconds, not minutes. NAB's own Skyline
// detector scores every row on all the rows before it; DefaultWindow (30 days) reproduces its
// published scores on the public half within a point (37.4/25.5/45.9 against 36.5/26.2/46.4),
// whereas the 24 h that Skyline's analyzer kept in Redis (FULL_DURATION) scores 20.5/0/28.7,
// because most NAB anomalies only stand out against more than a day of history. A row the ensemble
// would skip (TooShort, Stale, Incomplete, Boring, e.g. the first row, or a flat stretch of
// MAX_TOLERABLE_BOREDOM equal values) scores 0, as Skyline never reported a skipped series.
//
// A row whose value is empty, NaN or infinite scores 0 and is not shown to the detector; the
// next rows are scored as if it were absent. A row that cannot be parsed (wrong number of
// fields, bad timestamp, bad number) stops that file with an error naming the file and line.
package nab

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kale-project/kale/algorithms"
)

// DefaultWindow is the history the skyline detector sees by default; see the package doc.
const DefaultWindow = 30 * 24 * time.Hour

// Scorer is one detector's state on one series. Score is called once per row, in file
// order, with the row's unix timestamp and finite value, and returns the row's anomaly
// score in [0, 1] (higher is more anomalous) from the rows seen so far.
type Scorer interface {
	Score(ts, value float64) float64
}

// Factory starts a fresh Scorer for one file. It is called concurrently, once per file.
type Factory func() Scorer

// Options configure a detector; every file gets the same options (a NAB rule).
type Options struct {
	// Settings are the Skyline ensemble's settings: algorithms, consensus, skip checks and
	// compat switches, mapped from the configuration.
	Settings algorithms.Settings
	// Window bounds the history a scorer looks at: row i is scored on the rows with
	// timestamp > ts_i − Window. It must be positive.
	Window time.Duration
}

// Detector is one --detector choice.
type Detector struct {
	Name    string
	Summary string
	// New builds the detector's per-file Factory; nil means it is not built yet.
	New func(Options) (Factory, error)
}

// DefaultDetector is the detector used when none is named: "kale" (DESIGN.md), which beats
// "skyline" on NAB (algorithms/README.md).
const DefaultDetector = "kale"

// Detectors lists the detectors by name. This is the one place a detector is registered.
func Detectors() []Detector {
	return []Detector{
		// The project's own detector (algorithms.Kale, see NewKale).
		{Name: "kale", Summary: "Kale's own streaming detector: context novelty on a window-sized grid, daily and weekly seasonal profiles in UTC time buckets with per-phase scales, level re-baselining and record-long flat runs, each new peak reported once (algorithms/README.md)", New: NewKale},
		{Name: "skyline", Summary: "Etsy Skyline's ensemble: the fraction of the configured algorithms voting anomalous on the last --window of data", New: NewSkyline},
	}
}

// ErrUnknownDetector is returned by Lookup for a name no detector has.
var ErrUnknownDetector = errors.New("unknown detector")

// Lookup returns the Factory of the detector called name.
func Lookup(name string, opts Options) (Factory, error) {
	var names []string
	for _, d := range Detectors() {
		names = append(names, d.Name)
		if d.Name != name {
			continue
		}
		f, err := d.New(opts)
		if err != nil {
			return nil, fmt.Errorf("cannot build detector %s: %w", name, err)
		}
		return f, nil
	}
	return nil, fmt.Errorf("cannot use detector %q: %w (choose one of %s)", name, ErrUnknownDetector, strings.Join(names, ", "))
}
