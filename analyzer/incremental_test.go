package analyzer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
)

// kaleAt is a kale analyzer whose clock is *clock, with mod applied.
func kaleAt(t *testing.T, store *redisstore.Store, clock *time.Time, mod func(*Config)) (*Analyzer, *prometheus.Registry) {
	t.Helper()
	return newAnalyzer(t, store, func(c *Config) {
		c.Detector, c.Kale, c.KaleThreshold = DetectorKale, algorithms.DefaultKaleConfig(), 0.66
		c.Now = func() time.Time { return *clock }
		if mod != nil {
			mod(c)
		}
	})
}

// reference is a detector fed points in order (from the first newer than nothing), and its
// state.
func reference(t *testing.T, points []algorithms.Point) []byte {
	t.Helper()
	k := algorithms.NewKale(algorithms.DefaultKaleConfig())
	for _, p := range points {
		k.Update(p.Timestamp, p.Value)
	}
	b, err := k.MarshalBinary()
	require.NoError(t, err)
	return b
}

// requireState compares two detector states without printing kilobytes of them.
func requireState(t *testing.T, want, got []byte, what string) {
	t.Helper()
	require.True(t, bytes.Equal(want, got), "%s: state of %d bytes differs from the %d expected", what, len(got), len(want))
}

func decode(t *testing.T, raw []byte) []algorithms.Point {
	t.Helper()
	pts, st := redisstore.Series(raw)
	require.Zero(t, st.BadBytes)
	return pts
}

func reads(a *Analyzer, kind string) float64 {
	return testutil.ToFloat64(a.m.reads.WithLabelValues(kind))
}

// Each cycle reads only what was appended since the last one, unless the key was rewritten
// in a way that loses the last pair read; either way the detector ends in the state of one
// fed every point once, in order.
func TestKaleReadsTheTailOnly(t *testing.T) {
	e := redisstore.NewEncoder()
	pair := func(i int) []byte {
		return e.AppendPair(nil, metric.Int(now.Unix()+int64(i)*60), metric.Float(100+float64(i%7)))
	}
	for _, tc := range []struct {
		name string
		// change alters the stored series (full) before the second cycle, the clock having
		// moved to row 3; it returns the new stored bytes and the read it should cause.
		change func(full []byte) ([]byte, string)
	}{
		{"appended points", func(full []byte) ([]byte, string) {
			return append(append(append(full, pair(1)...), pair(2)...), pair(3)...), "tail"
		}},
		{"nothing new", func(full []byte) ([]byte, string) { return full, "tail" }},
		{"front trimmed by Roomba, then appended", func(full []byte) ([]byte, string) {
			pts := decode(t, full)
			var trimmed []byte
			for _, p := range pts[100:] {
				trimmed = e.AppendPair(trimmed, metric.Int(int64(p.Timestamp)), metric.Float(p.Value))
			}
			return append(append(trimmed, pair(1)...), pair(3)...), "tail"
		}},
		{"last pair rewritten", func(full []byte) ([]byte, string) {
			pts := decode(t, full)
			var rw []byte
			for _, p := range pts[:len(pts)-1] {
				rw = e.AppendPair(rw, metric.Int(int64(p.Timestamp)), metric.Float(p.Value))
			}
			last := pts[len(pts)-1]
			rw = e.AppendPair(rw, metric.Int(int64(last.Timestamp)), metric.Float(last.Value+0.5))
			return append(append(rw, pair(1)...), pair(2)...), "full"
		}},
		{"more appended than the tail window", func(full []byte) ([]byte, string) {
			for i := range 2 * tailWindow / 15 {
				full = append(full, e.AppendPair(nil, metric.Int(now.Unix()+int64(i+1)*5), metric.Float(float64(i%5)))...)
			}
			return full, "full"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := openStore(t)
			ctx := context.Background()
			clock := now
			full := series(1440, 60, noisy(3))
			require.NoError(t, store.Append(ctx, map[string][]byte{"metrics.m": full}, nil).Err)
			a, _ := kaleAt(t, store, &clock, func(c *Config) { c.ColdRows = -1 })
			_, err := a.Cycle(ctx)
			require.NoError(t, err)
			require.Equal(t, 1.0, reads(a, "full"))

			next, kind := tc.change(append([]byte(nil), full...))
			require.NoError(t, store.Client().Set(ctx, "metrics.m", next, 0).Err())
			clock = now.Add(3 * time.Minute)
			before := reads(a, kind)
			st, err := a.Cycle(ctx)
			require.NoError(t, err)
			require.Equal(t, 1, st.Analysed)
			require.Equal(t, before+1, reads(a, kind), "a %s read", kind)

			// The state equals a detector fed each point newer than the ones before, once.
			var fed []algorithms.Point
			for _, p := range append(decode(t, full), decode(t, next)...) {
				if len(fed) == 0 || p.Timestamp > fed[len(fed)-1].Timestamp {
					fed = append(fed, p)
				}
			}
			ms := a.states.get("m")
			requireState(t, reference(t, fed), ms.blob, "the state")
			require.Equal(t, fed[len(fed)-1].Timestamp, ms.last)
		})
	}
}

// A deleted key is DeletedByRoomba; re-created, it is read whole again.
func TestKaleTailOfDeletedKey(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	clock := now
	require.NoError(t, store.Append(ctx, map[string][]byte{"metrics.m": series(300, 60, noisy(4))}, nil).Err)
	a, _ := kaleAt(t, store, &clock, nil)
	_, err := a.Cycle(ctx)
	require.NoError(t, err)
	require.NoError(t, store.Client().Del(ctx, "metrics.m").Err())
	st, err := a.Cycle(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]int{DeletedByRoomba: 1}, st.Exceptions)
	require.NoError(t, store.Append(ctx, map[string][]byte{"metrics.m": series(300, 60, noisy(5))}, nil).Err)
	st, err = a.Cycle(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, st.Analysed)
	require.Equal(t, 2.0, reads(a, "full"))
}

// A detector with no state learns from the newest ColdRows rows and is young; refine rebuilds
// it from the whole stored series, as if it had learnt from every row.
func TestKaleColdWindowThenRefine(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	clock := now
	raw := series(1440, 60, noisy(6))
	require.NoError(t, store.Append(ctx, map[string][]byte{"metrics.m": raw, "metrics.short": series(150, 60, noisy(7))}, nil).Err)
	a, _ := kaleAt(t, store, &clock, func(c *Config) { c.ColdRows, c.ColdBudget = 200, -1 })
	_, err := a.Cycle(ctx)
	require.NoError(t, err)
	pts := decode(t, raw)
	ms := a.states.get("m")
	require.NotZero(t, ms.flags&stateYoung)
	requireState(t, reference(t, pts[len(pts)-200:]), ms.blob, "learnt from the newest 200 rows")
	require.Zero(t, a.states.get("short").flags&stateYoung, "a series no longer than the window is learnt whole")

	n, err := a.refine(ctx, time.Now().Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Zero(t, ms.flags&stateYoung)
	requireState(t, reference(t, pts), ms.blob, "refined: learnt from every row")
	require.NotZero(t, ms.flags&stateDirty, "the refined state is checkpointed next")

	// A refine out of time does nothing.
	ms.flags |= stateYoung
	n, err = a.refine(ctx, time.Now())
	require.NoError(t, err)
	require.Zero(t, n)
}

// Checkpoints write a bounded share of the changed states each time, starting where the last
// one stopped; a restarted analyzer (kill -9: no save at exit) resumes from them, reading only
// the series' tails.
func TestKaleCheckpointAndRestart(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	clock := now
	data := map[string][]byte{}
	for i := range 40 {
		data[fmt.Sprintf("metrics.m%02d", i)] = series(400, 60, noisy(uint64(i)))
	}
	require.NoError(t, store.Append(ctx, data, nil).Err)
	whole := func(c *Config) { c.ColdRows = -1 }
	a, _ := kaleAt(t, store, &clock, whole)
	_, err := a.Cycle(ctx)
	require.NoError(t, err)
	for i, want := range []int{15, 15, 10, 0} {
		n, err := a.checkpoint(ctx, 15, time.Time{})
		require.NoError(t, err)
		require.Equal(t, want, n, "checkpoint %d", i)
	}
	_, _, dirty := a.states.sweep(a.cycles)
	require.Zero(t, dirty)
	keys, err := store.Client().Keys(ctx, KeyStatePrefix+"*").Result()
	require.NoError(t, err)
	require.Len(t, keys, 40)

	// New points, then a restart without a save.
	clock = now.Add(2 * time.Minute)
	e := redisstore.NewEncoder()
	next := map[string][]byte{}
	for k := range data {
		next[k] = e.AppendPair(e.AppendPair(nil, metric.Int(now.Unix()+60), metric.Float(100)), metric.Int(now.Unix()+120), metric.Float(101))
	}
	require.NoError(t, store.Append(ctx, next, nil).Err)
	var logs bytes.Buffer
	b, _ := kaleAt(t, store, &clock, whole)
	b.log = slog.New(slog.NewTextHandler(&logs, nil))
	st, err := b.Cycle(ctx)
	require.NoError(t, err)
	require.Equal(t, 40, st.Analysed)
	require.Zero(t, st.Errors)
	require.Equal(t, 40.0, reads(b, "tail"), "resumed at the checkpointed last pair")
	require.Zero(t, reads(b, "full"))
	require.Contains(t, logs.String(), "loaded=40 relearnt=0")
	for k, raw := range data {
		ms := b.states.get(k[len("metrics."):])
		require.Equal(t, float64(now.Unix()+120), ms.last)
		requireState(t, reference(t, append(decode(t, raw), decode(t, next[k])...)), ms.blob, k)
	}
}

// A saved state that no longer decodes (another version, corrupt) is a counted error; the
// metric is re-learnt from its series, and the cycle's summary says how many and why.
func TestKaleIncompatibleStateRelearnt(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	clock := now
	raw := series(300, 60, noisy(9))
	require.NoError(t, store.Append(ctx, map[string][]byte{"metrics.a": raw, "metrics.b": raw, "metrics.c": raw}, nil).Err)
	good := newMetricState()
	good.blob, good.last = reference(t, decode(t, raw)[:200]), decode(t, raw)[199].Timestamp
	bad := newMetricState()
	bad.blob, bad.last = []byte("KALE\xffnot a state"), good.last                  // a version to come
	old := append(append([]byte{}, encodeState(nil, good)[2:10]...), good.blob...) // the envelope before tail reads
	for k, v := range map[string][]byte{"a": encodeState(nil, bad), "b": old, "c": []byte("garbage")} {
		require.NoError(t, store.Client().Set(ctx, KeyStatePrefix+k, v, 0).Err())
	}
	var logs bytes.Buffer
	a, _ := kaleAt(t, store, &clock, nil)
	a.log = slog.New(slog.NewTextHandler(&logs, nil))
	st, err := a.Cycle(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, st.Analysed)
	require.Equal(t, 2, st.Errors, "the two bad states")
	require.Contains(t, logs.String(), "loaded=1 relearnt=2 no_saved_state=0 incompatible=2 other_version=1")
	requireState(t, reference(t, decode(t, raw)), a.states.get("b").blob, "the old envelope resumes")
	requireState(t, reference(t, decode(t, raw)), a.states.get("a").blob, "re-learnt from the series")
}

func FuzzDecodeState(f *testing.F) {
	ms := newMetricState()
	ms.blob, ms.last, ms.points = []byte("KALE\x05..."), 1.7e9, 1440
	ms.setSig([]byte{0x92, 0xce, 1, 2, 3, 4, 5})
	f.Add(encodeState(nil, ms))
	f.Add([]byte("\x41\xd9\x54\xfc\x40\x00\x00\x00KALE\x05"))
	f.Add([]byte{stateMagic, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200})
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, err := decodeState(b)
		if err != nil {
			return
		}
		if math.IsNaN(ms.last) || int(ms.sigLen) > maxSig {
			t.Fatalf("decoded %+v", ms)
		}
		again, err := decodeState(encodeState(nil, ms))
		if err != nil || !bytes.Equal(again.blob, ms.blob) || again.sig != ms.sig || again.points != ms.points {
			t.Fatalf("re-encoding changed %+v into %+v (%v)", ms, again, err)
		}
	})
}

type countingYield struct {
	calls atomic.Int64
	err   error
}

func (y *countingYield) Wait(context.Context) error {
	y.calls.Add(1)
	return y.err
}

// The workers wait on Yield between small batches; an error from it (the context ending)
// ends the cycle.
func TestKaleYields(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	clock := now
	data := map[string][]byte{}
	for i := range 100 {
		data[fmt.Sprintf("metrics.m%03d", i)] = series(200, 60, noisy(uint64(i)))
	}
	require.NoError(t, store.Append(ctx, data, nil).Err)
	for _, detector := range []string{DetectorKale, DetectorSkyline} {
		y := &countingYield{}
		a, _ := kaleAt(t, store, &clock, func(c *Config) { c.Yield, c.Detector = y, detector })
		_, err := a.Cycle(ctx)
		require.NoError(t, err)
		require.GreaterOrEqual(t, y.calls.Load(), int64(100/yieldEvery), detector)
		y.err = context.Canceled
		_, err = a.Cycle(ctx)
		require.True(t, errors.Is(err, context.Canceled), "%s: %v", detector, err)
	}
}

// An alert says why the kale detector fired, naming the seasonal phase when there is one; the
// record's JSON carries the phase only then.
func TestKaleWhy(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    Explanation
		why  string
		json string
	}{
		{"context", Explanation{Component: "context", Expected: 100, Lower: 90, Upper: 110},
			"the kale detector's context component scored 0.80: value 410, expected 100 (normal band 90 to 110)",
			`{"component":"context","expected":100,"lower":90,"upper":110}`},
		{"seasonal", Explanation{Component: "seasonal", Expected: 150, Lower: 120, Upper: 180, Phase: "Mondays 03:00"},
			"the kale detector's seasonal component scored 0.80: Mondays 03:00 usually 120 to 180, got 410 (expected 150)",
			`{"component":"seasonal","expected":150,"lower":120,"upper":180,"phase":"Mondays 03:00"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Record{Metric: "m", Value: 410, Score: 0.8, Triggered: []string{"kale:" + tc.e.Component}, Explanation: &tc.e}
			alerts := toAlerts([]Record{r})
			require.Len(t, alerts, 1)
			require.Equal(t, tc.why, alerts[0].Explanation)
			b, err := json.Marshal(tc.e)
			require.NoError(t, err)
			require.JSONEq(t, tc.json, string(b))
		})
	}
}

// The trade-off of the cold window: a young detector (here 200 rows, less than the detector's
// probation) reports nothing; once refined from the whole stored day it reports the spike.
func TestKaleYoungSilentUntilRefined(t *testing.T) {
	e := redisstore.NewEncoder()
	for _, refine := range []bool{false, true} {
		t.Run(fmt.Sprintf("refined=%v", refine), func(t *testing.T) {
			store := openStore(t)
			ctx := context.Background()
			clock := now
			require.NoError(t, store.Append(ctx, map[string][]byte{"metrics.m": series(1440, 60, noisy(7))}, nil).Err)
			a, _ := kaleAt(t, store, &clock, func(c *Config) { c.ColdRows, c.ColdBudget = 200, -1 })
			_, err := a.Cycle(ctx)
			require.NoError(t, err)
			if refine {
				n, err := a.refine(ctx, time.Now().Add(time.Minute))
				require.NoError(t, err)
				require.Equal(t, 1, n)
			}
			var next []byte
			for i, v := range []float64{1100, 100, 100} {
				next = e.AppendPair(next, metric.Int(now.Unix()+int64(60*(i+1))), metric.Float(v))
			}
			require.NoError(t, store.Append(ctx, map[string][]byte{"metrics.m": next}, nil).Err)
			clock = now.Add(3 * time.Minute)
			st, err := a.Cycle(ctx)
			require.NoError(t, err)
			if refine {
				require.Equal(t, 1, st.Anomalies, "the refined detector reports the spike")
			} else {
				require.Zero(t, st.Anomalies, "a young detector is still in its probation")
			}
		})
	}
}

// spiked is a stored day of noise followed by a spike and two normal points, the last one at
// the returned time (the spike is confirmed by the point after it).
func spiked(seed uint64) ([]byte, time.Time) {
	e := redisstore.NewEncoder()
	raw := series(1440, 60, noisy(seed))
	for i, v := range []float64{1100, 100, 100} {
		raw = e.AppendPair(raw, metric.Int(now.Unix()+int64(60*(i+1))), metric.Float(v))
	}
	return raw, now.Add(3 * time.Minute)
}

// Within the cycle's ColdBudget a detector with no state learns its whole stored history at
// once, so a spike among the newest points is reported by the very first cycle.
func TestKaleColdBudgetReportsAtOnce(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	raw, clock := spiked(8)
	require.NoError(t, store.Append(ctx, map[string][]byte{"metrics.m": raw}, nil).Err)
	a, _ := kaleAt(t, store, &clock, func(c *Config) { c.ColdRows = 200 })
	st, err := a.Cycle(ctx)
	require.NoError(t, err)
	require.Zero(t, a.states.get("m").flags&stateYoung, "learnt whole within the budget")
	require.Equal(t, 1, st.Anomalies)
	require.Equal(t, 1, st.AnomaliesNew)
}

// Past the budget, a young detector is still learning and reports nothing; refine then finds
// the spike among the recent rows and the next cycle reports it as new, once.
func TestKaleRefineReportsRecentAnomaly(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	raw, clock := spiked(9)
	require.NoError(t, store.Append(ctx, map[string][]byte{"metrics.m": raw}, nil).Err)
	a, _ := kaleAt(t, store, &clock, func(c *Config) { c.ColdRows, c.ColdBudget = 200, 1000 })
	st, err := a.Cycle(ctx)
	require.NoError(t, err)
	require.NotZero(t, a.states.get("m").flags&stateYoung, "the budget is too small for the whole day")
	require.Zero(t, st.Anomalies, "a young detector is in its probation")
	n, err := a.refine(ctx, time.Now().Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	st, err = a.Cycle(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, st.Anomalies)
	require.Equal(t, 1, st.AnomaliesNew, "found by refine: new in this cycle")
	st, err = a.Cycle(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, st.Anomalies, "still recent")
	require.Zero(t, st.AnomaliesNew, "carried over, not new again")
}
