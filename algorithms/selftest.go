package algorithms

import "fmt"

// selfTestEpoch is the "now" of SelfTest's series. Skyline used the wall clock; any
// realistic epoch exercises the same code paths, and a constant keeps the package free of
// clocks and the test reproducible.
const selfTestEpoch = 1_400_000_000

// SelfTest is the analyzer's start-up check (Skyline's analyzer-agent): it validates cfg
// and runs every configured detector on a flat series of 86,401 points (t, 1) for
// t = now-86400 … now, returning an error that names the first detector that fails or
// panics.
func SelfTest(cfg *Settings) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("cannot self-test algorithms: %w", err)
	}
	const n = 86401
	series := make([]Point, n)
	for i := range series {
		series[i] = Point{Timestamp: selfTestEpoch - 86400 + float64(i), Value: 1}
	}
	registry := Registry()
	for _, name := range cfg.Algorithms {
		v := safeRun(registry[name], series, selfTestEpoch, cfg)
		if v.Err != nil {
			return fmt.Errorf("cannot self-test algorithm %q: %w", name, v.Err)
		}
	}
	return nil
}
