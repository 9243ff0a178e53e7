package algorithms

import (
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// kaleSeries is a noisy daily sine at 5-minute steps (288 rows a day) with optional edits.
func kaleSeries(n int, seed uint64) (ts, xs []float64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := range n {
		ts = append(ts, 1.4e9+300*float64(i))
		xs = append(xs, 50+20*math.Sin(2*math.Pi*float64(i)/288)+rng.NormFloat64())
	}
	return ts, xs
}

func kaleRun(k *Kale, ts, xs []float64) []KaleScore {
	out := make([]KaleScore, len(xs))
	for i := range xs {
		out[i] = k.Update(ts[i], xs[i])
	}
	return out
}

func kaleArgmax(s []KaleScore, from int) int {
	best := from
	for i := from; i < len(s); i++ {
		if s[i].Score > s[best].Score {
			best = i
		}
	}
	return best
}

func TestKaleConfigValidate(t *testing.T) {
	require.NoError(t, DefaultKaleConfig().Validate())
	for name, edit := range map[string]func(*KaleConfig){
		"Rest":             func(c *KaleConfig) { c.Rest = 0 },
		"ContextOrder":     func(c *KaleConfig) { c.ContextOrder = -1 },
		"ContextLevels":    func(c *KaleConfig) { c.ContextLevels = nil },
		"ContextTableBits": func(c *KaleConfig) { c.ContextTableBits = 40 },
		"SeasonZ":          func(c *KaleConfig) { c.SeasonZ = math.NaN() },
		"WarmupTime":       func(c *KaleConfig) { c.WarmupTime = -1 },
		"ProbationTime":    func(c *KaleConfig) { c.ProbationTime = math.NaN() },
		"RestTime":         func(c *KaleConfig) { c.RestTime = math.Inf(1) },
		"FlatMinTime":      func(c *KaleConfig) { c.FlatMinTime = math.NaN() },
		"FlatMinRun":       func(c *KaleConfig) { c.FlatMinRun = -1 },
	} {
		c := DefaultKaleConfig()
		edit(&c)
		require.ErrorContains(t, c.Validate(), name)
	}
}

// TestKaleSpike: a planted spike is the highest score after probation, reported at the
// next row (which confirms the peak) and naming the spike's row; the rows after it are
// suppressed.
func TestKaleSpike(t *testing.T) {
	ts, xs := kaleSeries(3000, 1)
	xs[2000] += 60
	s := kaleRun(NewKale(DefaultKaleConfig()), ts, xs)
	require.Equal(t, 2001, kaleArgmax(s, 150))
	require.Greater(t, s[2001].Score, 0.5)
	require.Equal(t, ts[2000], s[2001].Timestamp)
	require.Equal(t, xs[2000], s[2001].Value)
	require.Equal(t, ts[2000], s[2000].Timestamp, "an unreported row names itself")
	for i := 2002; i < 2000+DefaultKaleConfig().Rest; i++ {
		require.Zero(t, s[i].Score, "row %d", i)
	}
}

// TestKalePeakReportedOnce: two rising novel rows (a spike that takes two rows to peak)
// are reported once, at the top, not twice; a peak that keeps rising is reported when it
// stops.
func TestKalePeakReportedOnce(t *testing.T) {
	ts, xs := kaleSeries(3000, 12)
	xs[2000] += 30
	xs[2001] += 70
	s := kaleRun(NewKale(DefaultKaleConfig()), ts, xs)
	fired := []int{}
	for i := 1990; i < 2100; i++ {
		if s[i].Score > 0 {
			fired = append(fired, i)
		}
	}
	require.Len(t, fired, 1)
	require.Contains(t, []float64{ts[2000], ts[2001]}, s[fired[0]].Timestamp)
	// Raw scores rising for three rows and then falling: one report, at the fall.
	p := kalePeaks{raws: kaleRecentMax{w: 3}}
	var got, at []float64
	for i, raw := range []float64{0.2, 0.5, 0.7, 0.9, 0.4, 0.3, 0.8, 0.85, 0.1, 0.1, 0.1, 0.1, 0.3, 0.2} {
		out := p.push(KaleScore{Score: raw, Timestamp: float64(i)}, true)
		got, at = append(got, out.Score), append(at, out.Timestamp)
	}
	// 0.9 is reported at the fall; 0.8 is beaten by 0.9 within 3 rows; 0.85 is a new peak
	// (0.9 is 4 rows back), reported at the next row; 0.3 is one once the window forgot.
	require.Equal(t, []float64{0, 0, 0, 0, 0.9, 0, 0, 0, 0.85, 0, 0, 0, 0, 0.3}, got)
	require.Equal(t, 3.0, at[4])
	require.Equal(t, 7.0, at[8])
	require.Equal(t, 12.0, at[13])
	// A sustained anomaly whose score creeps up: within the horizon of the last report a new
	// peak must beat it by kaleReportMargin (0.03), so 0.71 and 0.72 are not reports, 0.75 is.
	p = kalePeaks{raws: kaleRecentMax{w: 10}}
	got = got[:0]
	for _, raw := range []float64{0.1, 0.7, 0.6, 0.71, 0.6, 0.72, 0.6, 0.75, 0.6} {
		got = append(got, p.push(KaleScore{Score: raw}, true).Score)
	}
	require.Equal(t, []float64{0, 0, 0.7, 0, 0, 0, 0, 0, 0.75}, got)
}

// TestKaleFlat: a run of equal values longer than every earlier run fires at the row that
// breaks the record, scored m/(m+1) for m earlier long runs; the first long run, runs no
// longer than the record, and streams that never repeat a value do not fire.
func TestKaleFlat(t *testing.T) {
	f := kaleFlat{minRun: 12}
	feed := func(x float64, n int) (fired []int, score float64) {
		for i := range n {
			if s := f.update(x); s > 0 {
				fired, score = append(fired, i), s
			}
		}
		return fired, score
	}
	fired, _ := feed(5, 11) // a run shorter than MinRun
	require.Empty(t, fired)
	for i := range 3 { // three long runs of zeros, 20 rows each
		fired, _ := feed(0, 20)
		require.Empty(t, fired, "run %d", i) // the first: m = 0; the others tie the record
		feed(1, 1)
		feed(2, 1)
	}
	require.Equal(t, int32(3), f.long)
	require.Equal(t, int32(20), f.record)
	fired, score := feed(0, 50) // a 50-row run breaks the 20-row record at its 21st row
	require.Equal(t, []int{20}, fired)
	require.InDelta(t, 3.0/4, score, 1e-12)

	// Through Kale: a stuck value in a noisy stream that had short flat stretches before.
	rng := rand.New(rand.NewPCG(13, 13))
	k := NewKale(DefaultKaleConfig())
	var out []KaleScore
	for i := range 3000 {
		x := math.Round(10 + rng.NormFloat64())
		if i%300 < 20 { // a 20-row outage every 300 rows
			x = 0
		}
		if i >= 2500 && i < 2600 {
			x = 0
		}
		out = append(out, k.Update(1.4e9+300*float64(i), x))
	}
	top := kaleArgmax(out, 2000)
	require.Equal(t, "flat", out[top].Component)
	require.Equal(t, 2500+20+1, top, "the record row (run of 21) is confirmed one row later")
	require.Greater(t, out[top].Score, 0.8)

	// Values that never repeat never fire.
	g := kaleFlat{minRun: 12}
	for range 5000 {
		require.Zero(t, g.update(rng.NormFloat64()))
	}
}

// TestKaleLevelShift: a planted level shift fires once, near its start, and the detector
// re-baselines: after the shift the scores fall back.
func TestKaleLevelShift(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	var ts, xs []float64
	for i := range 3000 {
		v := 10 + rng.NormFloat64()
		if i >= 2000 {
			v += 40
		}
		ts, xs = append(ts, 1.4e9+300*float64(i)), append(xs, v)
	}
	cfg := DefaultKaleConfig()
	s := kaleRun(NewKale(cfg), ts, xs)
	top := kaleArgmax(s, int(cfg.WarmupTime/300))
	require.GreaterOrEqual(t, top, 2000)
	require.Less(t, top, 2010)
	fires := 0
	for i := 2300; i < 3000; i++ {
		if s[i].Score >= s[top].Score*0.9 {
			fires++
		}
	}
	require.Zero(t, fires, "no alert long after the shift")
}

// TestKaleContextNovelty: a repeated pattern becomes old news, an odd subsequence (a
// discord) made of values already seen is new.
func TestKaleContextNovelty(t *testing.T) {
	c := newKaleContext(4, 8, 14, 2, 0)
	r := NewBlockRange(100, 48)
	update := func(x float64) float64 {
		lo, hi, ok := r.Get()
		r.Push(x)
		return kaleContextRow(&c, x, lo, hi, ok)
	}
	pattern := []float64{0, 1, 2, 3, 4, 5, 6, 7}
	for range 50 {
		for _, v := range pattern {
			update(v)
		}
	}
	for _, v := range pattern {
		require.Zero(t, update(v))
	}
	odd := []float64{0, 7, 0, 7}
	total := 0.0
	for _, v := range odd {
		total += update(v)
	}
	require.Greater(t, total, 1.0)
}

// kaleContextRow feeds one row (its own range) to c: the window's range before it is
// [lo, hi] (have false on the first row).
func kaleContextRow(c *kaleContext, x, lo, hi float64, have bool) float64 {
	wlo, whi := x, x
	if have {
		wlo, whi = min(lo, x), max(hi, x)
	}
	return c.update(x, lo, hi, wlo, whi, have, false)
}

// TestKaleContextGrid: the grid grows at once with the range, is refined only when the
// window's range fits a grid 2^shrink times finer, and every change clears the memory.
func TestKaleContextGrid(t *testing.T) {
	c := newKaleContext(2, 8, 10, 2, 0)
	kaleContextRow(&c, 0, 0, 0, false)
	kaleContextRow(&c, 8, 0, 0, true) // range 8 over 8 levels: step 1
	require.Equal(t, 1.0, c.step)
	kaleContextRow(&c, 9, 0, 8, true) // 9/8 → step 2
	require.Equal(t, 2.0, c.step)
	kaleContextRow(&c, 1, 0, 9, true)
	require.True(t, slices.ContainsFunc(c.seen, func(w uint64) bool { return w != 0 }), "learned")
	kaleContextRow(&c, 1, 0.5, 7, true) // range 6.5 wants 1: only 2× finer, kept
	require.Equal(t, 2.0, c.step)
	kaleContextRow(&c, 1, 0.9, 1.8, true) // range 0.9 wants 0.125: 16× finer, refined
	require.Equal(t, 0.125, c.step)
	for _, w := range c.seen {
		require.Zero(t, w, "cleared")
	}
	// Without shrinking the grid never gets finer.
	g := newKaleContext(2, 8, 10, 0, 0)
	kaleContextRow(&g, 0, 0, 0, false)
	kaleContextRow(&g, 64, 0, 0, true)
	kaleContextRow(&g, 1, 0.9, 1.1, true)
	require.Equal(t, 8.0, g.step)
}

// TestKaleBlockRange: the window range is the exact range of the last blocks·block to
// (blocks+1)·block − 1 rows.
func TestKaleBlockRange(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 21))
	r := NewBlockRange(10, 4)
	_, _, ok := r.Get()
	require.False(t, ok)
	var xs []float64
	for i := range 500 {
		x := rng.NormFloat64() * float64(1+i%37)
		xs = append(xs, x)
		r.Push(x)
		lo, hi, ok := r.Get()
		require.True(t, ok)
		kept := r.full*10 + r.cur
		require.GreaterOrEqual(t, kept, min(len(xs), 40))
		require.Less(t, kept, 50)
		win := xs[len(xs)-kept:]
		require.Equal(t, slices.Min(win), lo, "row %d", i)
		require.Equal(t, slices.Max(win), hi, "row %d", i)
	}
}

// TestKaleFamiliarity: the novelty base rate b is high while the context memory is young
// and falls on a familiar stream, so the same novelty weighs less early than late; with
// ContextBaseAlpha = 0 the weighting is off.
func TestKaleFamiliarity(t *testing.T) {
	ts, xs := kaleSeries(3000, 9)
	k := NewKale(DefaultKaleConfig())
	kaleRun(k, ts[:300], xs[:300])
	young := k.base
	kaleRun(k, ts[300:], xs[300:])
	require.Greater(t, young, 0.1)
	require.Less(t, k.base, young/2)
	// A spike late in a familiar stream still scores high.
	xs[2500] += 60
	s := kaleRun(NewKale(DefaultKaleConfig()), ts, xs)
	require.Equal(t, 2501, kaleArgmax(s, 150))
	require.Greater(t, s[2501].Score, 0.5)
	off := DefaultKaleConfig()
	off.ContextBaseAlpha = 0
	k0 := NewKale(off)
	kaleRun(k0, ts, xs)
	require.Zero(t, k0.base)
	bad := DefaultKaleConfig()
	bad.ContextBaseAlpha = -1
	require.ErrorContains(t, bad.Validate(), "ContextBaseAlpha")
}

// TestKaleCausal: the scores of the first k rows do not depend on the rows after them.
func TestKaleCausal(t *testing.T) {
	ts, xs := kaleSeries(2500, 5)
	xs[1800] += 30
	full := kaleRun(NewKale(DefaultKaleConfig()), ts, xs)
	for _, k := range []int{1, 300, 1799, 1801} {
		cut := kaleRun(NewKale(DefaultKaleConfig()), ts[:k], xs[:k])
		require.Equal(t, full[:k], cut, "k=%d", k)
	}
}

// kaleRoundTrips checks that saving and restoring the detector at each cut changes neither
// the scores nor the final state, and returns the scores.
func kaleRoundTrips(t *testing.T, ts, xs []float64, cuts []int) []KaleScore {
	t.Helper()
	cfg := DefaultKaleConfig()
	ref := NewKale(cfg)
	want := kaleRun(ref, ts, xs)
	wantBlob, err := ref.MarshalBinary()
	require.NoError(t, err)
	for _, cut := range cuts {
		a := NewKale(cfg)
		got := kaleRun(a, ts[:cut], xs[:cut])
		blob, err := a.MarshalBinary()
		require.NoError(t, err)
		b := NewKale(cfg)
		require.NoError(t, b.UnmarshalBinary(blob))
		got = append(got, kaleRun(b, ts[cut:], xs[cut:])...)
		require.Equal(t, want, got, "cut=%d", cut)
		end, err := b.MarshalBinary()
		require.NoError(t, err)
		require.Equal(t, wantBlob, end, "cut=%d", cut)
	}
	return want
}

// TestKaleMarshalRoundTrip: scoring with a state saved and restored at any row gives the
// same scores and final state as scoring straight through; bad blobs are rejected.
func TestKaleMarshalRoundTrip(t *testing.T) {
	ts, xs := kaleSeries(2000, 6)
	xs[1500] -= 40
	for i := 1700; i < 1800; i++ {
		xs[i] = 0 // a flat run: the flat detector's state is saved too
	}
	want := kaleRoundTrips(t, ts, xs, []int{0, 1, 100, 700, 1499, 1501, 1750})
	require.Positive(t, want[1501].Score)
	cfg := DefaultKaleConfig()
	k := NewKale(cfg)
	kaleRun(k, ts, xs)
	blob, err := k.MarshalBinary()
	require.NoError(t, err)
	t.Logf("state after %d rows: %d bytes", len(ts), len(blob))
	for i := 0; i < len(blob); i += 7 {
		require.ErrorIs(t, NewKale(cfg).UnmarshalBinary(blob[:i]), ErrKaleState, "truncated at %d", i)
	}
	other := cfg
	other.Rest = 7
	require.ErrorIs(t, NewKale(other).UnmarshalBinary(blob), ErrKaleState)
}

// TestKaleStateOldVersion: a version-3 state (an earlier release, seasonal history ring)
// does not load: the error wraps ErrKaleStateVersion and ErrKaleState, so the analyzer
// re-learns from the stored series; the detector is left unchanged.
func TestKaleStateOldVersion(t *testing.T) {
	blob, err := os.ReadFile("testdata/kale_state_v3.bin")
	require.NoError(t, err)
	require.Equal(t, byte(3), blob[4])
	k := NewKale(DefaultKaleConfig())
	err = k.UnmarshalBinary(blob)
	require.ErrorIs(t, err, ErrKaleStateVersion)
	require.ErrorIs(t, err, ErrKaleState)
	require.Zero(t, k.n)
	cur, err := NewKale(DefaultKaleConfig()).MarshalBinary()
	require.NoError(t, err)
	require.Equal(t, byte(kaleStateVersion), cur[4])
	require.NotErrorIs(t, NewKale(DefaultKaleConfig()).UnmarshalBinary(cur[:len(cur)-1]), ErrKaleStateVersion)
}

func BenchmarkKaleUpdate(b *testing.B) {
	ts, xs := kaleSeries(4096, 7)
	k := NewKale(DefaultKaleConfig())
	kaleRun(k, ts, xs) // warm: the rings are full
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i & 4095
		k.Update(ts[j]+float64(i/4096+1)*4096*300, xs[j])
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/row")
}

func BenchmarkKaleMarshal(b *testing.B) {
	ts, xs := kaleSeries(4096, 8)
	k := NewKale(DefaultKaleConfig())
	kaleRun(k, ts, xs)
	b.ReportAllocs()
	for b.Loop() {
		blob, _ := k.MarshalBinary()
		_ = NewKale(DefaultKaleConfig()).UnmarshalBinary(blob)
	}
}

// TestKaleStateSize: the encoded state stays under 4 KB at any sampling interval, a week
// and a day into the data (every profile bucket filled).
func TestKaleStateSize(t *testing.T) {
	for _, dt := range []float64{10, 60, 300} {
		rng := rand.New(rand.NewPCG(1, 2))
		k := NewKale(DefaultKaleConfig())
		for i := range int(8 * 86400 / dt) {
			x := 50 + 20*math.Sin(2*math.Pi*float64(i)*dt/86400) + rng.NormFloat64()
			k.Update(1.4e9+dt*float64(i), math.Round(100*x)/100)
		}
		blob, err := k.MarshalBinary()
		require.NoError(t, err)
		t.Logf("dt=%v: %d bytes", dt, len(blob))
		require.LessOrEqual(t, len(blob), 4096, "dt=%v", dt)
	}
}

// TestKaleRecentMax: kaleRecentMax agrees with a scan of the last w values.
func TestKaleRecentMax(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, w := range []int{1, 2, 7, 120} {
		m, last := kaleRecentMax{w: w}, NewRing(w)
		for range 3000 {
			x := float64(rng.IntN(20)) / 4
			beaten := false
			for j := 0; j < last.n; j++ {
				beaten = beaten || last.At(j) >= x
			}
			require.Equal(t, beaten, m.beaten(x))
			m.push(x)
			last.Push(x)
			require.LessOrEqual(t, len(m.peaks), w)
		}
	}
}

// FuzzKaleUnmarshal: any blob either fails with ErrKaleState or loads a detector that scores
// further rows in [0, 1] and saves a state that loads again.
func FuzzKaleUnmarshal(f *testing.F) {
	cfg := DefaultKaleConfig()
	ts, xs := kaleSeries(700, 31)
	for i := 600; i < 650; i++ {
		xs[i] = 0
	}
	for _, n := range []int{0, 1, 160, 620, 700} {
		k := NewKale(cfg)
		kaleRun(k, ts[:n], xs[:n])
		blob, err := k.MarshalBinary()
		require.NoError(f, err)
		f.Add(blob)
	}
	if old, err := os.ReadFile("testdata/kale_state_v3.bin"); err == nil {
		f.Add(old)
	}
	f.Fuzz(func(t *testing.T, blob []byte) {
		k := NewKale(cfg)
		if err := k.UnmarshalBinary(blob); err != nil {
			require.ErrorIs(t, err, ErrKaleState)
			return
		}
		last := k.seas.lastTS
		for i, x := range []float64{1, 0, 1e9, -3, 0, 0} {
			s := k.Update(last+60*float64(i+1), x)
			require.True(t, s.Score >= 0 && s.Score <= 1, "score %v", s.Score)
		}
		again, err := k.MarshalBinary()
		require.NoError(t, err)
		require.NoError(t, NewKale(cfg).UnmarshalBinary(again))
	})
}

// TestKaleRingLinear: linear rotates the ring to oldest-first in place, and pushing goes on
// from there.
func TestKaleRingLinear(t *testing.T) {
	r := NewRing(5)
	for i := range 13 {
		r.Push(float64(i))
		want := []float64{}
		for j := max(0, i-4); j <= i; j++ {
			want = append(want, float64(j))
		}
		require.Equal(t, want, append([]float64{}, r.Linear()...), "after %d pushes", i+1)
		require.Equal(t, float64(i), r.Back(0))
	}
}
