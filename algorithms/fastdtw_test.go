package algorithms

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// simLCGWalk is an integer random walk driven by a 31-bit LCG: exact doubles that any
// language reproduces, used to pin FastDTW against Oculus' Java code.
func simLCGWalk(seed uint32, n int) []float64 {
	x := seed
	v := 0.0
	out := make([]float64, n)
	for i := range out {
		x = (x*1103515245 + 12345) & 0x7fffffff
		v += float64(int(x>>16)%21 - 10)
		out[i] = v
	}
	return out
}

// simAbsDTW is the exact, unconstrained O(n·m) DTW with FastDTW's conventions (local cost
// |a_i − b_j|, D(0,0) = c(0,0), cumulative first row and column), with the same
// floating-point operations per cell as FastDTW, so FastDTW >= simAbsDTW holds exactly.
func simAbsDTW(a, b []float64) float64 {
	n, m := len(a), len(b)
	D := make([][]float64, n)
	for i := range D {
		D[i] = make([]float64, m)
		for j := range D[i] {
			d := math.Abs(a[i] - b[j])
			switch {
			case i == 0 && j == 0:
				D[i][j] = d
			case i == 0:
				D[i][j] = d + D[i][j-1]
			case j == 0:
				D[i][j] = d + D[i-1][j]
			default:
				D[i][j] = min(D[i-1][j], D[i-1][j-1], D[i][j-1]) + d
			}
		}
	}
	return D[n-1][m-1]
}

func TestFastDTW(t *testing.T) {
	inf := math.Inf(1)
	for _, tc := range []struct {
		name   string
		a, b   []float64
		radius int
		want   float64
	}{
		{"empty", nil, []float64{1}, 1, inf},
		{"single points", []float64{2}, []float64{-1}, 1, 3},
		// Full DTW (3 <= radius+2): D(0,0)=0 D(0,1)=2; D(1,0)=1 D(1,1)=min(0,2,1)+1=1;
		// D(2,0)=3 D(2,1)=min(1,1,3)+0=1.
		{"small is full DTW", []float64{1, 2, 3}, []float64{1, 3}, 1, 1},
		// Not normalised by the path length: 3 + 3 + 3 along the diagonal, and no warp helps.
		{"sum of absolute differences", []float64{0, 0, 0}, []float64{3, 3, 3}, 5, 9},
		// |a−b| local cost: one point off by 4 costs 4, not 16.
		{"absolute, not squared", []float64{0, 4, 0}, []float64{0, 0, 0}, 5, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, FastDTW(tc.a, tc.b, tc.radius))
		})
	}
}

// TestFastDTWJavaReference pins FastDTW and OculusFastDTWScore to results of Oculus' Java
// plugin code (com.dtw.FastDTW with com.etsy.oculus.tsscorers.DTWScript's scaling and
// TimeSeries construction), run on the same simLCGWalk inputs. The exact |a−b| DTW of each
// pair is given too: FastDTW is an approximation, above it by up to ~10 % here.
func TestFastDTWJavaReference(t *testing.T) {
	for _, tc := range []struct {
		oculus         bool
		radius         int
		sa, na, sb, nb int
		java, exact    float64
	}{
		{false, 5, 1, 256, 2, 256, 18988, 18658},
		{false, 1, 3, 100, 4, 150, 1584, 1527},
		{false, 0, 5, 64, 6, 64, 1571, 1389},
		{false, 10, 7, 300, 8, 40, 19141, 19141}, // 40 <= 10+2 is false: one level, exact here
		{true, 5, 9, 360, 10, 360, 2076.0361898258793, math.NaN()},
		{true, 5, 11, 360, 11, 360, 0, math.NaN()}, // a series against itself
		{true, 3, 12, 61, 13, 120, 661.0182370820667, math.NaN()},
	} {
		a, b := simLCGWalk(uint32(tc.sa), tc.na), simLCGWalk(uint32(tc.sb), tc.nb)
		if !tc.oculus {
			require.Equal(t, tc.java, FastDTW(a, b, tc.radius), "FastDTW seeds %d/%d", tc.sa, tc.sb)
			require.Equal(t, tc.exact, simAbsDTW(a, b))
			continue
		}
		require.Equal(t, tc.java, OculusFastDTWScore(a, b, tc.radius), "OculusFastDTWScore seeds %d/%d", tc.sa, tc.sb)
	}
}

func TestFastDTWProperties(t *testing.T) {
	rng := simRNG(9)
	var ws FastDTWWorkspace
	for iter := range 100 {
		n := 1 + rng.IntN(100)
		m := n
		if iter%2 == 0 {
			m = 1 + rng.IntN(100)
		}
		a, b := simSeries(rng, n), simSeries(rng, m)
		exact := simAbsDTW(a, b)
		for _, radius := range []int{-1, 0, 1, 2, 5, 10} {
			got := FastDTW(a, b, radius)
			require.GreaterOrEqual(t, got, exact, "FastDTW is the cost of one path (n=%d m=%d radius=%d)", n, m, radius)
			require.Equal(t, got, ws.FastDTW(a, b, radius), "a reused workspace gives the same result")
		}
		require.Equal(t, exact, FastDTW(a, b, max(n, m)), "radius >= length−2 is full DTW")
	}
}

func TestFastDTWWorkspaceAllocs(t *testing.T) {
	a, b := simLCGWalk(1, 256), simLCGWalk(2, 256)
	var ws FastDTWWorkspace
	ws.FastDTW(a, b, 5)
	require.Equal(t, 0.0, testing.AllocsPerRun(10, func() { ws.FastDTW(a, b, 5) }))
	ws.OculusScore(a, b, 5)
	require.Equal(t, 0.0, testing.AllocsPerRun(10, func() { ws.OculusScore(a, b, 5) }))
}

func TestOculusFastDTWScore(t *testing.T) {
	for _, tc := range []struct {
		name string
		q, c []float64
		want float64
	}{
		// [BUG-COMPAT] Only the first points differ, and they are dropped: q → [25 0 12.5 25],
		// c → [0 0 12.5 25] (the same min and max), both → [0 12.5 25] after the drop.
		{"first point ignored", []float64{2, 0, 1, 2}, []float64{0, 0, 1, 2}, 0},
		// ... but it still takes part in the scaling: q → [0 0 12.5 25] → [0 12.5 25];
		// c = −3 0 1 2 → [0 15 20 25] → [15 20 25]. Full DTW (3 points <= radius+2):
		// 15 + 7.5 + 0 on the diagonal (15 + 2.5 + 5 + 0 via a warp ties).
		{"first point scales", []float64{0, 0, 1, 2}, []float64{-3, 0, 1, 2}, 22.5},
		// A flat query scales to zeros (Oculus: NaN); c → [0 25/3 50/3 25] → the last three
		// must each be matched to a 0: 25/3 + 50/3 + 25 = 50.
		{"flat query", []float64{3, 3, 3, 3}, []float64{0, 1, 2, 3}, 50},
		{"too short", []float64{1}, []float64{1, 2}, math.Inf(1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.InDelta(t, tc.want, OculusFastDTWScore(tc.q, tc.c, 5), 1e-12)
		})
	}
}

func BenchmarkFastDTW(b *testing.B) {
	x, y := simBenchPair(256)
	b.Run("n=256/radius=5", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			FastDTW(x, y, 5)
		}
	})
	b.Run("n=256/radius=5/workspace", func(b *testing.B) {
		var ws FastDTWWorkspace
		b.ReportAllocs()
		for b.Loop() {
			ws.FastDTW(x, y, 5)
		}
	})
}
