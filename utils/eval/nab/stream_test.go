package nab

import "github.com/kale-project/kale/algorithms"

// streamUpdater is a streaming detector of package algorithms: Update scores a row from the
// rows so far, in [0, 1], then learns it.
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
	newLevelShift = newStream(algorithms.DefaultLevelShiftConfig,
		func(c algorithms.LevelShiftConfig) streamUpdater { return algorithms.NewLevelShift(c) })
	newRelativeEntropy = newStream(algorithms.DefaultRelativeEntropyConfig,
		func(c algorithms.RelativeEntropyConfig) streamUpdater { return algorithms.NewRelativeEntropy(c) })
	newDiscord = newStream(algorithms.DefaultDiscordConfig,
		func(c algorithms.DiscordConfig) streamUpdater { return algorithms.NewDiscord(c) })
	newSeasonality = newStream(algorithms.DefaultSeasonalityConfig,
		func(c algorithms.SeasonalityConfig) streamUpdater { return algorithms.NewSeasonality(c) })
)
