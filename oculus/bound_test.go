package oculus

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/algorithms"
)

// boundPairs yields z-normalised pairs of several kinds and lengths (some not multiples of
// segWidth).
func boundPairs(rng *rand.Rand, n int, yield func(q, c []float64)) {
	for range n {
		length := []int{2, 7, 8, 24, 61, 128, 256}[rng.IntN(7)]
		gen := func() []float64 {
			switch rng.IntN(3) {
			case 0:
				return randomWalk(rng, length)
			case 1:
				x := make([]float64, length)
				for i := range x {
					x[i] = rng.NormFloat64()
				}
				return x
			default:
				x := make([]float64, length)
				p := 2 + rng.Float64()*20
				for i := range x {
					x[i] = math.Sin(float64(i)/p) + rng.NormFloat64()*0.1
				}
				return x
			}
		}
		yield(algorithms.ZNormalize(nil, gen()), algorithms.ZNormalize(nil, gen()))
	}
}

// TestLowerBoundsBelowDistances checks every bound of phase 2 against the kernels, on the
// stored form of the candidate (z32, its rounded segment means and envelope), as the search
// runs them.
func TestLowerBoundsBelowDistances(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	inf := math.Inf(1)
	boundPairs(rng, 3000, func(q, c64 []float64) {
		n, nseg := len(q), segmentsOf(len(q))
		r := rng.IntN(len(q) + 1)
		rStored := r + rng.IntN(4)
		z32, bounds := compactSeries(c64, rStored)
		c := widen(nil, z32)
		means, env := bounds[:nseg], bounds[nseg:3*nseg]
		mu := paaSlack(n)

		ed := algorithms.SquaredEuclidean(q, c)
		pbED := newPAABound(q, nil, nil, mu)
		require.LessOrEqual(t, lbPAA(pbED, means, inf), slack(ed), "LB_PAA <= ED²")

		dtw := algorithms.DTW(q, c, r)
		u, l := algorithms.Envelope(q, r, nil, nil)
		pb := newPAABound(q, u, l, mu)
		require.LessOrEqual(t, lbPAA(pb, means, inf), slack(dtw), "LB_PAA (EQ) <= DTW, r=%d", r)
		require.LessOrEqual(t, lbPAAEC(pb, env, inf), slack(dtw), "LB_PAA (EC) <= DTW, r=%d", r)
		cb2 := make([]float64, len(q))
		require.LessOrEqual(t, lbSegEC(q, env, inf, cb2), slack(dtw), "LB_SegEC <= DTW, r=%d", r)

		e := &engine{q: q, r: r, u: u, l: l}
		w := e.newWorker()
		lb := algorithms.LBKeogh(c, u, l, inf, w.cb1)
		imp := e.lbImprovedRest(w, c, lb, inf)
		require.GreaterOrEqual(t, imp, lb)
		require.LessOrEqual(t, imp, slack(dtw), "LB_Improved <= DTW, r=%d", r)

		// The pruned kernel with both passes' terms as score runs it never loses a DTW
		// whose threshold is its own value, and the combined cumulative bound never
		// abandons one.
		rows, cols := algorithms.CumulativeBound(slices.Clone(w.cb2)), algorithms.CumulativeBound(slices.Clone(w.cb1))
		pruned, err := w.dtw.DTW(context.Background(), q, c, r, slack(dtw), rows, cols)
		require.NoError(t, err)
		require.Equal(t, dtw, pruned, "pruned DTW with the LB_Improved per-cell bound, r=%d", r)
		if dtw > 0 {
			pruned, err = w.dtw.DTW(context.Background(), q, c, r, dtw*0.99, rows, cols)
			require.NoError(t, err)
			require.Equal(t, inf, pruned, "pruned DTW above bsf, r=%d", r)
		}
		for k, v := range w.cb2 {
			w.cb1[k] += v
		}
		got := algorithms.DTWEA(q, c, r, slack(dtw), algorithms.CumulativeBound(w.cb1))
		require.Equal(t, dtw, got, "DTWEA with the LB_Improved cumulative bound, r=%d", r)

		// The float32 copy is within half the tolerance of the exact values (exactness.go).
		tol := zTolerance(n) / 2
		require.LessOrEqual(t, math.Abs(math.Sqrt(dtw)-math.Sqrt(algorithms.DTW(q, c64, r))), tol, "DTW on z32 vs z64, n=%d", n)
		require.LessOrEqual(t, math.Abs(math.Sqrt(ed)-math.Sqrt(algorithms.SquaredEuclidean(q, c64))), tol, "ED on z32 vs z64, n=%d", n)
	})
}

// TestFingerprintPacking round-trips fingerprints of every length through the 2-bit packing.
func TestFingerprintPacking(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := 1; n < 40; n++ {
		fp := make([]byte, n)
		for i := range fp {
			fp[i] = fpSdec + byte(rng.IntN(4))
		}
		packed := packFingerprint(fp)
		require.LessOrEqual(t, len(packed), n/4+2, "n=%d", n)
		require.Equal(t, fp, unpackFingerprint(nil, packed), "n=%d", n)
	}
	require.Nil(t, packFingerprint(nil))
	require.Empty(t, unpackFingerprint(nil, nil))
	require.Empty(t, unpackFingerprint(nil, []byte{0xff}))
}

func TestPhraseMatcher(t *testing.T) {
	enc := func(s string) []byte { return encodeFingerprint(s) }
	for _, tc := range []struct {
		doc, q string
		slop   int
		want   bool
	}{
		{"inc dec inc", "inc dec inc", 0, true},
		{"inc dec sinc inc", "inc dec inc", 0, false},
		{"inc dec sinc inc", "inc dec inc", 1, true},
		{"dec inc", "inc dec", 1, false}, // a swap of neighbours costs 2
		{"dec inc", "inc dec", 2, true},
		{"inc inc", "inc inc inc", 5, false}, // repeated tokens need distinct positions
		{"sdec sdec inc dec", "inc dec", 0, true},
		{"inc", "", 3, false}, // an empty (flat) query matches nothing
		{"", "inc", 3, false},
	} {
		m := newPhraseMatcher(enc(tc.q), tc.slop)
		require.Equal(t, tc.want, m.match(enc(tc.doc)), "%q in %q slop %d", tc.q, tc.doc, tc.slop)
	}
}

func TestHasSegment(t *testing.T) {
	require.True(t, hasSegment("a.b.c", "b"))
	require.True(t, hasSegment("a.b.c", "a"))
	require.True(t, hasSegment("a.b.c", "c"))
	require.False(t, hasSegment("a.bb.c", "b"))
	require.False(t, hasSegment("abc", "b"))
	require.Equal(t, []string{"a", "b"}, segments("a.b..a"))
}

// FuzzFingerprintPacking: any bytes unpack without panicking, and valid token sequences
// round-trip through the packing.
func FuzzFingerprintPacking(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 4, 1})
	f.Add([]byte{})
	f.Add([]byte{0xff, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = unpackFingerprint(nil, b)
		fp := make([]byte, len(b))
		for i, v := range b {
			fp[i] = fpSdec + v%4
		}
		got := unpackFingerprint(nil, packFingerprint(fp))
		require.Equal(t, len(fp), len(got))
		if len(fp) > 0 {
			require.Equal(t, fp, got)
		}
	})
}
