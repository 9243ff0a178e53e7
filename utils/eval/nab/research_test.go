package nab

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/algorithms/research"
)

// The research detectors (package algorithms/research: shipped by no binary) scored on NAB,
// so their published scores in algorithms/README.md stay checked.

// streamUpdater is a streaming detector of package algorithms/research: Update scores a row
// from the rows so far, in [0, 1], then learns it.
type streamUpdater interface {
	Update(ts, x float64) float64
}

type streamScorer struct{ u streamUpdater }

func (s streamScorer) Score(ts, value float64) float64 { return s.u.Update(ts, value) }

// newStream builds the Factory of a standalone streaming detector with its default
// configuration (one configuration for every file, a NAB rule) for TestStreamDetectorsNAB.
// Options are not used: each detector keeps its own bounded windows.
func newStream[C interface{ Validate() error }](defaults func() C, build func(C) streamUpdater) func(Options) (Factory, error) {
	return func(Options) (Factory, error) {
		cfg := defaults()
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		return func() Scorer { return streamScorer{build(cfg)} }, nil
	}
}

var (
	newLevelShift = newStream(research.DefaultLevelShiftConfig,
		func(c research.LevelShiftConfig) streamUpdater { return research.NewLevelShift(c) })
	newRelativeEntropy = newStream(research.DefaultRelativeEntropyConfig,
		func(c research.RelativeEntropyConfig) streamUpdater { return research.NewRelativeEntropy(c) })
	newDiscord = newStream(research.DefaultDiscordConfig,
		func(c research.DiscordConfig) streamUpdater { return research.NewDiscord(c) })
	newSeasonality = newStream(research.DefaultSeasonalityConfig,
		func(c research.SeasonalityConfig) streamUpdater { return research.NewSeasonality(c) })
)

// streamNABFloor holds the standard-profile public-half scores of the research streaming
// detectors (algorithms/README.md: 35.02, 12.05, 17.85, 7.00; no peak suppression, each as
// it is) minus half a point.
var streamNABFloor = map[string]struct {
	new   func(Options) (Factory, error)
	floor float64
}{
	"levelshift":  {newLevelShift, 34.5},
	"relentropy":  {newRelativeEntropy, 11.5},
	"discord":     {newDiscord, 17.3},
	"seasonality": {newSeasonality, 6.5},
}

// TestStreamDetectorsNAB scores each research streaming detector on the public half of
// NAB (about 3 s in all) against streamNABFloor.
func TestStreamDetectorsNAB(t *testing.T) {
	for name, d := range streamNABFloor {
		t.Run(name, func(t *testing.T) {
			f, err := d.new(Options{})
			require.NoError(t, err)
			got := scoreNAB(t, f)
			t.Logf("%s: standard %.2f, low FP %.2f, low FN %.2f", name, got["standard"], got["reward_low_FP_rate"], got["reward_low_FN_rate"])
			require.GreaterOrEqual(t, got["standard"], d.floor)
		})
	}
}
