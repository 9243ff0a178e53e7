package algorithms

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSAXBreakpoints(t *testing.T) {
	// Standard normal quantiles Φ⁻¹(k/a), as tabulated by Lin et al. 2003 (to 2 decimals),
	// here from Python's statistics.NormalDist().inv_cdf (agreeing to ~1e-16).
	for a, want := range map[int][]float64{
		2: {0},
		3: {-0.4307272992954576, 0.4307272992954576},
		4: {-0.6744897501960817, 0, 0.6744897501960817},
		5: {-0.8416212335729143, -0.2533471031357997, 0.2533471031357997, 0.8416212335729143},
		8: {-1.1503493803760079, -0.6744897501960817, -0.3186393639643752, 0,
			0.3186393639643752, 0.6744897501960817, 1.1503493803760079},
	} {
		require.InDeltaSlice(t, want, SAXBreakpoints(a), 1e-12, "alphabet %d", a)
	}
	require.InDelta(t, -1.5341205443525463, SAXBreakpoints(16)[0], 1e-12)
	for a := SAXMinAlphabet; a <= SAXMaxAlphabet; a++ {
		bp := SAXBreakpoints(a)
		require.Len(t, bp, a-1)
		for k := range bp {
			require.InDelta(t, -bp[len(bp)-1-k], bp[k], 1e-12, "symmetric")
			if k > 0 {
				require.Less(t, bp[k-1], bp[k], "increasing")
			}
		}
	}
	bp := SAXBreakpoints(4)
	bp[0] = 99
	require.NotEqual(t, 99.0, SAXBreakpoints(4)[0], "SAXBreakpoints returns a copy")
	for _, a := range []int{-1, 0, 1, 17} {
		require.Panics(t, func() { SAXBreakpoints(a) }, "alphabet %d", a)
		require.Panics(t, func() { SAXWord(nil, []float64{0}, a) }, "alphabet %d", a)
	}
}

func TestSAXWord(t *testing.T) {
	for _, tc := range []struct {
		values   []float64
		alphabet int
		want     string
	}{
		{nil, 4, ""},
		// Breakpoints −0.674 0 0.674: −1 < −0.674 → a; −0.5 → b; 0 sits on a breakpoint and
		// takes the upper symbol → c; 0.7 → d.
		{[]float64{-1, -0.5, 0, 0.7}, 4, "abcd"},
		{[]float64{-0.0001, 0, 5}, 2, "abb"},
		{[]float64{math.Inf(-1), math.Inf(1), math.NaN()}, 3, "aca"},
		// Alphabet 16: 'a'..'p'.
		{[]float64{-3, 3}, 16, "ap"},
	} {
		t.Run(fmt.Sprint(tc.values, tc.alphabet), func(t *testing.T) {
			require.Equal(t, tc.want, string(SAXWord(nil, tc.values, tc.alphabet)))
			require.Equal(t, "w="+tc.want, string(SAXWord([]byte("w="), tc.values, tc.alphabet)))
		})
	}
	buf := make([]byte, 0, 16)
	x := []float64{-1, 0, 1, 2}
	require.Equal(t, 0.0, testing.AllocsPerRun(10, func() { SAXWord(buf[:0], x, 8) }))
}

func TestISAXWords(t *testing.T) {
	// A ramp 0..15: z_i = (i − 7.5)/sqrt(21.25) = (i − 7.5)/4.6098.
	//   4 segments: block means z = ∓1.30, ∓0.43           → a b c d with breakpoints ±0.674, 0
	//   8 segments: z = ∓1.52 ∓1.08 ∓0.65 ∓0.22
	//      alphabet 4: a a b b c c d d (−0.65 >= −0.674)
	//      alphabet 8 (±1.150 ±0.674 ±0.319 0): a b c d e f g h
	//   16 segments, alphabet 8: z = −1.63 −1.41 −1.19 → a a a; −0.98 −0.76 → b b;
	//      −0.54 −0.325 → c c (−0.325 < −0.319); −0.11 → d; 0.11 → e; 0.325 0.54 → f f;
	//      0.76 0.98 → g g; 1.19 1.41 1.63 → h h h.
	ramp := make([]float64, 16)
	for i := range ramp {
		ramp[i] = float64(i)
	}
	got := ISAXWords(ZNormalize(nil, ramp))
	require.Len(t, got, ISAXWordCount)
	require.Equal(t, []string{"s4a4_abcd", "s8a4_aabbccdd", "s8a8_abcdefgh", "s16a8_aaabbccdeffgghhh"}, got[:4])
	require.Equal(t, []string{"p4a4_0_a", "p4a4_1_b", "p4a4_2_c", "p4a4_3_d", "p8a4_0_a", "p8a4_1_a"}, got[4:10])
	require.Equal(t, "p16a8_15_h", got[len(got)-1])

	// Every segment token agrees with its resolution's word.
	words := map[string]string{}
	for _, tok := range got[:4] {
		res, w, _ := strings.Cut(tok, "_")
		words[res[1:]] = w
	}
	for _, tok := range got[4:] {
		parts := strings.Split(tok, "_")
		require.Len(t, parts, 3)
		var i int
		_, err := fmt.Sscan(parts[1], &i)
		require.NoError(t, err)
		require.Equal(t, string(words[parts[0][1:]][i]), parts[2], tok)
	}

	// Short series work through fractional PAA: z = −1.22 0 1.22 → 4 frames of 0.75 points:
	// −1.22, (−1.22·0.25 + 0·0.5)/0.75 = −0.41, 0.41, 1.22 → a b c d.
	short := ISAXWords(ZNormalize(nil, []float64{1, 2, 3}))
	require.Len(t, short, ISAXWordCount)
	require.Equal(t, "s4a4_abcd", short[0])
	// A flat series z-normalises to zeros, which sit on the middle breakpoint: c (a4), e (a8).
	flat := ISAXWords(ZNormalize(nil, []float64{5, 5, 5, 5, 5}))
	require.Equal(t, []string{"s4a4_cccc", "s8a4_cccccccc", "s8a8_eeeeeeee", "s16a8_eeeeeeeeeeeeeeee"}, flat[:4])
	require.Nil(t, ISAXWords(nil))
	require.Equal(t, []string{"x"}, AppendISAXWords([]string{"x"}, nil))

	dst := make([]string, 0, ISAXWordCount)
	z := ZNormalize(nil, simLCGWalk(3, 360))
	require.Equal(t, ISAXWords(z), AppendISAXWords(dst, z))
	require.Equal(t, 1.0, testing.AllocsPerRun(10, func() { AppendISAXWords(dst[:0], z) }), "only the token string")
}

func BenchmarkISAXWords(b *testing.B) {
	z := ZNormalize(nil, simLCGWalk(1, 360))
	b.Run("n=360", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ISAXWords(z)
		}
	})
	b.Run("n=360/append", func(b *testing.B) {
		dst := make([]string, 0, ISAXWordCount)
		b.ReportAllocs()
		for b.Loop() {
			dst = AppendISAXWords(dst[:0], z)
		}
	})
}
