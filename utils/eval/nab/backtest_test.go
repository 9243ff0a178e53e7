package nab

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLabelKey(t *testing.T) {
	w := map[string][][2]string{"a/x.csv": nil, "b/y.csv": nil, "c/y.csv": nil}
	for _, tc := range []struct {
		name, want string
		ok         bool
	}{
		{"a/x.csv", "a/x.csv", true},
		{"x.csv", "a/x.csv", true},
		{"data/a/x.csv", "a/x.csv", true},
		{"y.csv", "", false}, // two candidates
		{"z.csv", "", false},
	} {
		got, ok := labelKey(w, tc.name)
		require.Equal(t, tc.ok, ok, tc.name)
		if ok {
			require.Equal(t, tc.want, got, tc.name)
		}
	}
}

// TestRunBacktest: alerts inside a window find it once, alerts outside are false alarms,
// days come from the timestamps, and a file without labels is left out.
func TestRunBacktest(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "f.csv")
	out := filepath.Join(dir, "f.out.csv")
	other := filepath.Join(dir, "g.csv")
	data := "timestamp,value\n"
	scored := Header + "\n"
	scores := []string{"0", "0.9", "0", "0.7", "0.8", "0.1", "0.64", "0", "0", "0"}
	for i, s := range scores {
		ts := 1_400_000_000 + 86400*i
		data += strconv.Itoa(ts) + ",1\n"
		scored += strconv.Itoa(ts) + ",1," + s + "\n"
	}
	require.NoError(t, os.WriteFile(in, []byte(data), 0o644))
	require.NoError(t, os.WriteFile(other, []byte(data), 0o644))
	require.NoError(t, os.WriteFile(out, []byte(scored), 0o644))
	w := map[string][][2]string{"c/f.csv": {{"1400259200", "1400345600"}, {"1400691200", "1400777600"}}}
	bt, err := RunBacktest([]Job{{Input: in, Output: out, Name: "c/f.csv"}, {Input: other, Output: out, Name: "c/g.csv"}}, w, 0.63)
	require.NoError(t, err)
	require.Len(t, bt.Files, 1)
	f := bt.Files[0]
	require.Equal(t, 2, f.Windows)
	require.Equal(t, 1, f.Found)       // rows 3-4; rows 8-9 have no alert
	require.Equal(t, 2, f.FalseAlarms) // rows 1 and 6
	require.Equal(t, []int{3, -1}, f.FirstDetected)
	require.InDelta(t, 9.0, f.Days, 1e-9)
	require.InDelta(t, 222.2, f.FalseAlarmsPer1000(), 0.1)
	require.Equal(t, f.Found, bt.Total.Found)
	_, err = RunBacktest([]Job{{Input: other, Output: out, Name: "c/g.csv"}}, w, 0.63)
	require.Error(t, err)
}
