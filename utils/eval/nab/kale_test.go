package nab

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// kaleNABFloor holds the public-half scores of the default kale configuration (see
// algorithms/README.md: 72.93 / 66.58 / 77.12) minus a margin of half a point.
var kaleNABFloor = map[string]float64{"standard": 72.4, "reward_low_FP_rate": 66.0, "reward_low_FN_rate": 76.6}

// TestKaleNAB scores the public half of NAB with the kale detector (about a second) and
// checks the three profile scores with shared/tools/nabscore.py against kaleNABFloor.
func TestKaleNAB(t *testing.T) {
	f, err := Lookup("kale", Options{})
	require.NoError(t, err)
	got := scoreNAB(t, f)
	for profile, floor := range kaleNABFloor {
		t.Logf("%s %.2f", profile, got[profile])
		require.GreaterOrEqual(t, got[profile], floor, profile)
	}
}

// streamNABFloor holds the standard-profile public-half scores of the standalone streaming
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

// TestStreamDetectorsNAB scores each standalone streaming detector on the public half of
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

// scoreNAB runs f over the public half of NAB and returns the profile scores of
// shared/tools/nabscore.py (default sweep). It skips outside CI when the data or python3 is
// missing.
func scoreNAB(t *testing.T, f Factory) map[string]float64 {
	t.Helper()
	dir := corpus(t)
	scorer := filepath.Join(dir, "..", "..", "tools", "nabscore.py")
	python, err := exec.LookPath("python3")
	if err != nil || fileMissing(scorer) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3 or %s is missing in CI", scorer)
		}
		t.Skip("python3 or the NAB scorer is absent; skipping")
	}
	out := filepath.Join(t.TempDir(), "det")
	jobs, err := Plan([]string{dir}, out)
	require.NoError(t, err)
	require.Len(t, jobs, 31)
	require.NoError(t, Run(context.Background(), jobs, f, 0, nil))
	b, err := exec.Command(python, scorer, "--json", "--detector", "det", out).Output()
	require.NoError(t, err)
	var res struct {
		Profiles map[string]struct{ Score float64 } `json:"profiles"`
	}
	require.NoError(t, json.Unmarshal(b, &res))
	got := map[string]float64{}
	for p, r := range res.Profiles {
		got[p] = r.Score
	}
	return got
}

func fileMissing(path string) bool {
	_, err := os.Stat(path)
	return err != nil
}

// TestKaleDefault: kale is registered, built and the default detector.
func TestKaleDefault(t *testing.T) {
	require.Equal(t, "kale", DefaultDetector)
	f, err := Lookup(DefaultDetector, Options{})
	require.NoError(t, err)
	s := f()
	for i := range 200 {
		v := s.Score(1.4e9+300*float64(i), float64(i%7))
		require.True(t, v >= 0 && v <= 1)
	}
}
