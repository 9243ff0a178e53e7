package nab

import "github.com/kale-project/kale/algorithms"

// NewKale returns the Factory of the kale detector: each file gets a fresh algorithms.Kale
// with algorithms.DefaultKaleConfig() (one configuration for every file, a NAB rule), and a
// row's score is KaleScore.Score. Options are not used: the detector keeps its own bounded
// state instead of a --window of rows.
func NewKale(Options) (Factory, error) {
	cfg := algorithms.DefaultKaleConfig()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return func() Scorer { return kaleScorer{algorithms.NewKale(cfg)} }, nil
}

type kaleScorer struct{ k *algorithms.Kale }

func (s kaleScorer) Score(ts, value float64) float64 { return s.k.Update(ts, value).Score }
