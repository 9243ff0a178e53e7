package algorithms

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The vectors are worked out by hand from spec §6.5: q_i = ceil(25/(hi−lo)·(v_i − lo)),
// d_i = q_i − q_{i+1}, d >= 4 sdec, 1..3 dec, −1..0 s (dropped), −4..−2 inc, <= −5 sinc.
func TestOculusFingerprint(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []float64
		want   string
	}{
		// The spec's own example: lo 0, hi 100, factor 0.25 → q = 0 3 (2.5↑) 2 (1.25↑) 2 25
		// 13 (12.5↑); d = −3 inc, 1 dec, 0 s, −23 sinc, 12 sdec.
		{"spec example", []float64{0, 10, 5, 5, 100, 50}, "inc dec sinc sdec"},
		// 1..11: factor 2.5 → q = 0 3 5 8 10 13 15 18 20 23 25; d alternates −3, −2: ten incs.
		{"spec ramp", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, strings.TrimSpace(strings.Repeat("inc ", 10))},
		// Constant: 25/0 = +Inf, Inf·0 = NaN → every q is 0, every d is 0 ("s").
		{"constant", []float64{5, 5, 5, 5}, ""},
		// All zeros: Ruby's explicit v == lo == hi == 0 branch, q = 0.
		{"zeros", []float64{0, 0, 0}, ""},
		{"empty", nil, ""},
		{"single point", []float64{42}, ""},
		// lo 0, hi 25 → factor 1 and q = v. d = −6 −5 −4 −3 −2 −1 0 1 2 3 4 5 6 −25:
		// sinc sinc inc inc inc s s dec dec dec sdec sdec sdec sinc — every range boundary,
		// and the asymmetry: −1 is steady but +1 is "dec".
		{"every boundary", []float64{0, 6, 11, 15, 18, 20, 21, 21, 20, 18, 15, 11, 6, 0, 25},
			"sinc sinc inc inc inc dec dec dec sdec sdec sdec sinc"},
		// ceil lifts anything above lo to >= 1: factor 2.5 → q = 0 1 (0.25↑) 25; d = −1 s,
		// −24 sinc.
		{"ceil lifts small values", []float64{0, 0.1, 10}, "sinc"},
		// Negative values: lo −10, hi 10, factor 1.25 → q = 0 25 → d = −25.
		{"rising negative", []float64{-10, 10}, "sinc"},
		{"falling negative", []float64{10, -10}, "sdec"},
		// Flat stretches vanish, so only the order of moves is kept: q = 0 0 0 25 25 25.
		{"timing discarded", []float64{1, 1, 1, 2, 2, 2}, "sinc"},
		// Doubles, as in Ruby: 25/0.3 = 83.33333333333334, ·0.3 = 25.000000000000004 → q = 26
		// (not 25), and ·0.26 = 21.66666666666667 → 22. d = −26 sinc, then 4 → sdec (exact
		// arithmetic would give 3 → dec).
		{"float rounding as in Ruby", []float64{0, 0.3, 0.26}, "sinc sdec"},
		// 25/(hi−lo) overflows (hi−lo subnormal): Ruby raised FloatDomainError; treated as flat.
		{"overflowing factor", []float64{0, 5e-324, 0}, ""},
		// NaN breaks min/max (Ruby raised ArgumentError): no tokens.
		{"NaN", []float64{0, math.NaN(), 10}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, OculusFingerprint(tc.values))
			require.Equal(t, "x:"+tc.want, string(AppendOculusFingerprint([]byte("x:"), tc.values)))
		})
	}
}

func TestOculusFingerprintProperties(t *testing.T) {
	rng := simRNG(10)
	vocab := map[string]bool{"sdec": true, "dec": true, "inc": true, "sinc": true}
	for range 200 {
		x := simSeries(rng, 2+rng.IntN(400))
		fp := OculusFingerprint(x)
		toks := strings.Fields(fp)
		require.LessOrEqual(t, len(toks), len(x)-1, "at most one token per step")
		require.Equal(t, strings.Join(toks, " "), fp, "single spaces, no padding")
		for _, tok := range toks {
			require.True(t, vocab[tok], "token %q", tok)
		}
		// Min-max scaling makes it invariant to a positive scale factor; with a power of two
		// even the rounding is the same. (An added offset can move a ceil by rounding.)
		y := make([]float64, len(x))
		for i, v := range x {
			y[i] = 4 * v
		}
		require.Equal(t, fp, OculusFingerprint(y))
	}
	long := simLCGWalk(1, 360)
	buf := make([]byte, 0, 4096)
	require.Equal(t, 0.0, testing.AllocsPerRun(10, func() { AppendOculusFingerprint(buf[:0], long) }))
	require.Equal(t, 1.0, testing.AllocsPerRun(10, func() { _ = OculusFingerprint(long) }))
}

func TestOculusScale(t *testing.T) {
	for _, tc := range []struct {
		name string
		x    []float64
		want []float64
	}{
		{"empty", nil, nil},
		// (25/(100−0))·v, no rounding (unlike the fingerprint).
		{"spec example", []float64{0, 10, 5, 5, 100, 50}, []float64{0, 2.5, 1.25, 1.25, 25, 12.5}},
		{"negative", []float64{-2, 0, 2}, []float64{0, 12.5, 25}},
		// Flat: Oculus divided by zero and scored NaN; here zeros.
		{"flat", []float64{7, 7, 7}, []float64{0, 0, 0}},
		{"single point", []float64{7}, []float64{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, OculusScale(nil, tc.x))
		})
	}
	x := []float64{4, 8, 6}
	require.Equal(t, []float64{0, 25, 12.5}, OculusScale(x, x), "in place")
	dst := make([]float64, 3)
	require.Equal(t, 0.0, testing.AllocsPerRun(10, func() { OculusScale(dst, x) }))
}

func BenchmarkOculusFingerprint(b *testing.B) {
	x := simLCGWalk(1, 360) // an hour at 10-second resolution
	b.Run("n=360/string", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = OculusFingerprint(x)
		}
	})
	b.Run("n=360/append", func(b *testing.B) {
		buf := make([]byte, 0, 4096)
		b.ReportAllocs()
		for b.Loop() {
			buf = AppendOculusFingerprint(buf[:0], x)
		}
	})
}
