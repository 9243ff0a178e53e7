package algorithms

import (
	"fmt"
	"math"
)

// NamedVote is one detector's vote in an ensemble Result.
type NamedVote struct {
	Name string
	Vote
}

// Result is the outcome of running the ensemble on one series.
type Result struct {
	// Anomalous is the ensemble's verdict (before the optional second-order filter, which
	// needs stored history: see IsAnomalouslyAnomalous).
	Anomalous bool
	// Votes holds every configured detector's vote, in Settings.Algorithms order.
	Votes []NamedVote
	// Triggered counts the Yes votes (Skyline's anomaly breakdown credits these).
	Triggered int
	// NotNo counts the votes that are not No (Yes, and MAD's None): the count Etsy's
	// ensemble compares with CONSENSUS.
	NotNo int
	// Errors counts the detectors that failed; each counts as not anomalous.
	Errors int
	// Value is the reported datapoint: the last raw value.
	Value float64
	// TailAvg is tail_avg of the series.
	TailAvg float64
}

// Ensemble is a validated Settings with its detectors resolved, ready to run on many
// series. It is immutable and safe for concurrent use.
type Ensemble struct {
	cfg       Settings
	detectors []Detector
}

// NewEnsemble validates cfg and resolves its detectors. It copies cfg.
func NewEnsemble(cfg *Settings) (*Ensemble, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cannot build ensemble: %w", err)
	}
	e := &Ensemble{cfg: *cfg}
	e.cfg.Algorithms = append([]string(nil), cfg.Algorithms...)
	registry := Registry()
	for _, name := range e.cfg.Algorithms {
		e.detectors = append(e.detectors, registry[name])
	}
	return e, nil
}

// Settings returns a copy of the ensemble's settings.
func (e *Ensemble) Settings() Settings {
	s := e.cfg
	s.Algorithms = append([]string(nil), e.cfg.Algorithms...)
	return s
}

// RunSelected is Skyline's run_selected_algorithm with cfg: it validates cfg, then runs
// (*Ensemble).Run. Build an Ensemble once to analyse many series.
func RunSelected(series []Point, now float64, cfg *Settings) (Result, error) {
	e, err := NewEnsemble(cfg)
	if err != nil {
		return Result{}, err
	}
	return e.Run(series, now)
}

// Run is Skyline's run_selected_algorithm. It first checks the skip reasons in Skyline's
// order, ErrTooShort, ErrStale, ErrBoring (with ErrIncomplete, only under RejectIncomplete,
// between Stale and Boring), returning the sentinel (with Value and TailAvg filled in when the series is not empty);
// then it runs every configured detector and votes:
//
//   - default: anomalous iff the Yes votes number at least Consensus;
//   - MADNoneVotes (Etsy): anomalous iff the votes that are not No (so MAD's None too)
//     number at least Consensus, i.e. ensemble.count(False) <= len - CONSENSUS.
//
// A detector that fails or panics counts as not anomalous; with AlgorithmErrorVetoes
// (Etsy's bare except) any failure makes the whole result not anomalous.
func (e *Ensemble) Run(series []Point, now float64) (Result, error) {
	var r Result
	if err := e.Check(series, now); err != nil {
		if len(series) > 0 {
			r.Value = series[len(series)-1].Value
			r.TailAvg = TailAvg(series, e.cfg.TailAvgIntDiv)
		}
		return r, err
	}
	r.Value = series[len(series)-1].Value
	r.TailAvg = TailAvg(series, e.cfg.TailAvgIntDiv)
	r.Votes = e.Votes(series, now)
	for _, v := range r.Votes {
		switch {
		case v.Err != nil:
			r.Errors++
		case v.Verdict == Yes:
			r.Triggered++
			r.NotNo++
		case v.Verdict == None:
			r.NotNo++
		}
	}
	votes := r.Triggered
	if e.cfg.MADNoneVotes {
		votes = r.NotNo
	}
	r.Anomalous = votes >= e.cfg.Consensus
	if r.Errors > 0 && e.cfg.AlgorithmErrorVetoes {
		r.Anomalous = false
	}
	return r, nil
}

// Check returns the reason Run would skip the series, or nil: ErrTooShort, ErrStale,
// ErrIncomplete (with RejectIncomplete) or ErrBoring, checked in that order.
func (e *Ensemble) Check(series []Point, now float64) error {
	cfg := &e.cfg
	if len(series) == 0 || len(series) < cfg.MinTolerableLength {
		return ErrTooShort
	}
	last := series[len(series)-1]
	if now-last.Timestamp > cfg.StalePeriod.Seconds() {
		return ErrStale
	}
	if cfg.RejectIncomplete && last.Timestamp-series[0].Timestamp < cfg.FullDuration.Seconds() {
		return ErrIncomplete
	}
	tail := series[max(0, len(series)-cfg.MaxTolerableBoredom):]
	distinct := countDistinct(tail, cfg.BoredomSetSize+1)
	if distinct == cfg.BoredomSetSize || (!cfg.BoringEquality && distinct < cfg.BoredomSetSize) {
		return ErrBoring
	}
	return nil
}

// countDistinct counts the distinct values of s as a Python set of floats does (0 and -0
// are one value, every NaN is its own), stopping at limit.
func countDistinct(s []Point, limit int) int {
	var buf [8]float64
	seen := buf[:0]
	for _, p := range s {
		v := p.Value
		dup := false
		if !math.IsNaN(v) {
			for _, u := range seen {
				if u == v {
					dup = true
					break
				}
			}
		}
		if !dup {
			seen = append(seen, v)
			if len(seen) >= limit {
				break
			}
		}
	}
	return len(seen)
}

// Votes runs every configured detector on series, without the skip checks, and returns
// their votes in Settings.Algorithms order. A panicking detector gets an error vote.
func (e *Ensemble) Votes(series []Point, now float64) []NamedVote {
	votes := make([]NamedVote, len(e.detectors))
	for i, d := range e.detectors {
		votes[i] = NamedVote{Name: e.cfg.Algorithms[i], Vote: safeRun(d, series, now, &e.cfg)}
	}
	return votes
}

// safeRun runs one detector, turning a panic into an error vote.
func safeRun(d Detector, series []Point, now float64, cfg *Settings) (v Vote) {
	defer func() {
		if p := recover(); p != nil {
			v = errVote(fmt.Errorf("panic: %v", p))
		}
	}()
	v = d(series, now, cfg)
	if v.Err != nil {
		v.Verdict = No
	}
	return v
}
