package writer

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
)

// A key that holds another type (here a set) refuses every APPEND. Its points are dropped and
// counted at once; the good points of the same flush are stored in that flush, and the writer
// does not back off.
func TestPoisonKeyDoesNotHoldUpOthers(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.FlushInterval = 200 * time.Millisecond; c.Mini = true })
	defer f.stop()
	ctx := context.Background()
	require.NoError(t, f.store.Client().SAdd(ctx, "metrics.collide", "x").Err())
	now := time.Now().Unix()
	in := append(pts("collide", now, 3), pts("good.a", now, 5)...)
	in = append(in, metric.Point{Name: "unique_metrics", Timestamp: metric.Int(now), Value: metric.Int(1)})
	in = append(in, pts("good.b", now, 5)...)
	require.NoError(t, f.w.Put(ctx, f.proto, in, false))
	// Stored within 2.5 s (the external check), where a retried poison key held everything.
	require.Eventually(t, func() bool { return f.w.Buffered() == 0 }, 2500*time.Millisecond, 10*time.Millisecond)
	require.Equal(t, 5, f.count(t, "metrics.good.a"))
	require.Equal(t, 5, f.count(t, "metrics.good.b"))
	require.Equal(t, 3, f.count(t, "mini.collide"), "the mini copy has its own key and is stored")
	require.Equal(t, 4.0, counterValue(t, f.stats, "bad_name"), "3 refused by Redis + 1 reserved name")
	require.Zero(t, counterTotal(f.stats.FlushErrors), "no failed flush, so no backoff")
	require.Contains(t, f.logs.String(), "holds another type")

	// The next points keep flowing at the normal pace: the poison key caused no backoff.
	require.NoError(t, f.w.Put(ctx, f.proto, append(pts("collide", now+10, 1), pts("good.a", now+10, 1)...), false))
	require.Eventually(t, func() bool { return f.w.Buffered() == 0 }, 2500*time.Millisecond, 10*time.Millisecond)
	require.Equal(t, 6, f.count(t, "metrics.good.a"))
	require.Zero(t, counterTotal(f.stats.FlushErrors))
	members, err := f.store.Members(ctx, "metrics.")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"metrics.good.a", "metrics.good.b"}, members)
}

// step is one Put-and-flush of a scenario driven by hand (no Run), with its own clock.
type step struct {
	at      time.Duration // since the start of the scenario
	names   []string      // one point each
	stored  []string      // of names, those that must be stored
	tooMany int           // too_many_metrics added by this step
}

func TestNameLimits(t *testing.T) {
	names := func(prefix string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%s%d", prefix, i)
		}
		return out
	}
	for _, tc := range []struct {
		name            string
		maxMetrics, per int
		forget          time.Duration
		steps           []step
	}{
		{name: "ceiling", maxMetrics: 3, steps: []step{
			{names: names("a", 5), stored: names("a", 3), tooMany: 2},
			{at: time.Minute, names: []string{"a0", "a4", "a2"}, stored: []string{"a0", "a2"}, tooMany: 1},
		}},
		{name: "rate", per: 4, steps: []step{
			{names: names("a", 6), stored: names("a", 4), tooMany: 2},
			{at: 15 * time.Second, names: []string{"a0", "a4", "a5"}, stored: []string{"a0", "a4"}, tooMany: 1},
			{at: 2 * time.Minute, names: append(names("a", 6), names("b", 4)...), stored: append(names("a", 6), "b0", "b1", "b2"), tooMany: 1},
		}},
		{name: "silent names are forgotten", maxMetrics: 2, forget: time.Hour, steps: []step{
			{names: []string{"a", "b", "c"}, stored: []string{"a", "b"}, tooMany: 1},
			{at: 90 * time.Minute, names: []string{"a"}, stored: []string{"a"}},
			// b was last seen at 0, two rotations ago: forgotten, so c fits.
			{at: 150 * time.Minute, names: []string{"a", "c", "d"}, stored: []string{"a", "c"}, tooMany: 1},
		}},
		{name: "no limits", steps: []step{{names: names("a", 50), stored: names("a", 50)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t0 := time.Now()
			clock := t0
			f := newFixture(t, func(c *Config) {
				c.MaxMetrics, c.MaxNewPerMinute, c.ForgetAfter = tc.maxMetrics, tc.per, tc.forget
				c.MaxResolution = 24 * time.Hour
				c.Now = func() time.Time { return clock }
			})
			f.stop() // driven by hand: the clock is the test's
			want := map[string]int{}
			tooMany := 0
			for i, s := range tc.steps {
				clock = t0.Add(s.at)
				var in []metric.Point
				for _, n := range s.names {
					in = append(in, metric.Point{Name: n, Timestamp: metric.Int(clock.Unix()), Value: metric.Int(1)})
				}
				require.NoError(t, f.w.Put(context.Background(), f.proto, in, false))
				f.w.drain()
				require.True(t, f.w.flush(context.Background()))
				for _, n := range s.stored {
					want[n]++
				}
				tooMany += s.tooMany
				for n, c := range want {
					require.Equal(t, c, f.count(t, "metrics."+n), "step %d, %s", i, n)
				}
				require.Equal(t, float64(tooMany), counterValue(t, f.stats, "too_many_metrics"), "step %d", i)
			}
		})
	}
}

// Names stored before a restart are known from the start: they neither use the per-minute
// budget nor get refused at the ceiling.
func TestKnownNamesSeededFromRedis(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxMetrics, c.MaxNewPerMinute = 3, 1 })
	f.stop()
	ctx := context.Background()
	now := time.Now().Unix()
	old := map[string][]byte{}
	for _, n := range []string{"old.0", "old.1"} {
		old["metrics."+n] = redisstore.AppendPair(nil, metric.Int(now-10), metric.Int(1))
	}
	require.NoError(t, f.store.Append(ctx, old, nil).Err)
	seeded, done := f.w.seed(ctx)
	f.w.known.add(<-seeded)
	<-done
	in := append(pts("old.0", now, 1), pts("old.1", now, 1)...)
	in = append(in, pts("new.0", now, 1)...)
	in = append(in, pts("new.1", now, 1)...)
	require.NoError(t, f.w.Put(ctx, f.proto, in, false))
	f.w.drain()
	require.True(t, f.w.flush(ctx))
	require.Equal(t, 2, f.count(t, "metrics.old.0"))
	require.Equal(t, 2, f.count(t, "metrics.old.1"))
	require.Equal(t, 1, f.count(t, "metrics.new.0"))
	require.Zero(t, f.count(t, "metrics.new.1"), "over the ceiling of 3")
	require.Equal(t, 1.0, counterValue(t, f.stats, "too_many_metrics"))
}

func TestHashSet(t *testing.T) {
	var s hashSet
	for i := range uint64(5000) {
		s.add(i * 0x9e3779b97f4a7c15) // includes 0, stored as 1
	}
	s.add(0)
	require.Equal(t, 5000, s.n)
	for i := range uint64(5000) {
		require.True(t, s.has(i*0x9e3779b97f4a7c15))
	}
	require.False(t, s.has(12345))
	require.LessOrEqual(t, 4*s.n, 3*len(s.slots))
}

// Shutdown logs exactly one line that says what happened to the buffered datapoints.
func TestShutdownSummary(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		down    bool
		want    string
		notWant string
	}{
		{"delivered", 5 * time.Second, false, "level=INFO msg=\"writer stopped: every buffered datapoint was delivered to Redis\" delivered=300", "lost="},
		{"zero timeout: one attempt", 0, false, "delivered=300", "lost="},
		{"redis down", 300 * time.Millisecond, true, "level=ERROR msg=\"writer stopped: buffered datapoints could not be delivered to Redis and are lost; raise --shutdown-timeout if Redis was only slow\" lost=300", "delivered=300"},
		{"redis down, zero timeout", 0, true, "lost=300", "delivered=300"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) {
				c.ShutdownTimeout, c.FlushInterval, c.FlushPoints = tc.timeout, time.Hour, 1<<30
			})
			if tc.down {
				f.srv.Stop()
			}
			now := time.Now().Unix()
			for i := range 3 {
				require.NoError(t, f.w.Put(context.Background(), f.proto, pts(fmt.Sprintf("s.%d", i), now, 100), true))
			}
			start := time.Now()
			f.stop()
			require.Less(t, time.Since(start), tc.timeout+2*time.Second)
			logs := f.logs.String()
			require.Equal(t, 1, strings.Count(logs, "writer stopped"), logs)
			require.Equal(t, 1, strings.Count(logs, "\n"), "no other line: %s", logs)
			require.Contains(t, logs, tc.want)
			require.NotContains(t, logs, tc.notWant)
			if !tc.down {
				require.Equal(t, 100, f.count(t, "metrics.s.2"))
			}
		})
	}
}
