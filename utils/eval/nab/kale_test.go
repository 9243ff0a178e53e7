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
// algorithms/README.md: 77.71 / 70.44 / 81.91) minus a margin of half a point.
var kaleNABFloor = map[string]float64{"standard": 77.2, "reward_low_FP_rate": 69.9, "reward_low_FN_rate": 81.4}

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
