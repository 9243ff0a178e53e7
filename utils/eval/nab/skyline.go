package nab

import (
	"errors"
	"fmt"

	"github.com/kale-project/kale/algorithms"
)

// NewSkyline returns the Factory of the skyline detector: row i scores the fraction of the
// configured algorithms that vote anomalous on the rows with ts > ts_i − opts.Window, run
// at now = ts_i. A vote counts when it is Yes, or MAD's None under Settings.MADNoneVotes
// (the count Etsy's ensemble compared with CONSENSUS). A row the ensemble would skip
// (algorithms.Ensemble.Check) scores 0, and so does every row under
// Settings.AlgorithmErrorVetoes when an algorithm fails. Consensus is not used: the score
// is the vote fraction, and NAB's threshold sweep plays the role of CONSENSUS.
func NewSkyline(opts Options) (Factory, error) {
	if opts.Window <= 0 {
		return nil, fmt.Errorf("invalid window %v: must be positive", opts.Window)
	}
	e, err := algorithms.NewEnsemble(&opts.Settings)
	if err != nil {
		return nil, err
	}
	cfg := e.Settings()
	if len(cfg.Algorithms) == 0 {
		return nil, errors.New("no algorithms configured")
	}
	return func() Scorer {
		return &skyline{
			ensemble:  e,
			window:    opts.Window.Seconds(),
			countNone: cfg.MADNoneVotes,
			vetoes:    cfg.AlgorithmErrorVetoes,
			n:         float64(len(cfg.Algorithms)),
		}
	}, nil
}

// skyline keeps the rows of the current window; points[head:] is the window.
type skyline struct {
	ensemble  *algorithms.Ensemble
	window    float64
	countNone bool
	vetoes    bool
	n         float64
	points    []algorithms.Point
	head      int
}

func (s *skyline) Score(ts, value float64) float64 {
	s.points = append(s.points, algorithms.Point{Timestamp: ts, Value: value})
	// Rows leave the window from the front, so out-of-order timestamps (which NAB files do
	// not have) leave it in arrival order. The current row always stays.
	cut := ts - s.window
	for s.head < len(s.points)-1 && s.points[s.head].Timestamp <= cut {
		s.head++
	}
	if s.head >= 1024 && 2*s.head >= len(s.points) {
		n := copy(s.points, s.points[s.head:])
		s.points, s.head = s.points[:n], 0
	}
	window := s.points[s.head:]
	if s.ensemble.Check(window, ts) != nil {
		return 0
	}
	votes := 0
	for _, v := range s.ensemble.Votes(window, ts) {
		switch {
		case v.Err != nil:
			if s.vetoes {
				return 0
			}
		case v.Verdict == algorithms.Yes, v.Verdict == algorithms.None && s.countNone:
			votes++
		}
	}
	return float64(votes) / s.n
}
