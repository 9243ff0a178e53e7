package integration

import (
	"cmp"
	"slices"
	"testing"
	"time"

	"github.com/cactus/go-statsd-client/v5/statsd"
	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/horizon"
	"github.com/kale-project/kale/horizon/protocol"
	"github.com/kale-project/kale/utils/redisstore"
)

// A StatsD client library (cactus/go-statsd-client, buffered: many metrics per datagram,
// newline-separated) sends counters, gauges, timers and a set to --statsd-udp; Kale
// aggregates them as Etsy's statsd does. Flushes may split what was sent, so the checks are
// over every flush: counts add up, the last gauge holds, a timer's upper is the largest
// value sent.
func TestStatsdClient(t *testing.T) {
	flush := 200 * time.Millisecond
	k := startKale(t, func(c *horizon.Config) { c.StatsdFlush = flush }, protocol.StatsdUDP)
	for _, buffered := range []bool{false, true} {
		prefix := map[bool]string{false: "plain", true: "buffered"}[buffered]
		t.Run(prefix, func(t *testing.T) {
			s, err := statsd.NewClientWithConfig(&statsd.ClientConfig{Address: k.svc.Addr(protocol.StatsdUDP),
				Prefix: prefix, UseBuffered: buffered, FlushInterval: 20 * time.Millisecond})
			require.NoError(t, err)
			// Always send sampled stats, so that Kale's scaling by 1/rate is what is tested.
			s.(*statsd.Client).SetSamplerFunc(func(float32) bool { return true })
			for range 10 {
				require.NoError(t, s.Inc("x", 1, 1))
			}
			require.NoError(t, s.Inc("sampled", 1, 0.5))
			require.NoError(t, s.Gauge("g", 5, 1))
			require.NoError(t, s.GaugeDelta("g", 2, 1))
			require.NoError(t, s.GaugeDelta("g", -3, 1))
			for _, ms := range []int64{10, 30, 20} {
				require.NoError(t, s.Timing("t", ms, 1))
			}
			require.NoError(t, s.TimingDuration("d", 1500*time.Microsecond, 1))
			for _, v := range []string{"a", "b", "a"} {
				require.NoError(t, s.Set("users", v, 1))
			}
			require.NoError(t, s.Close()) // the buffered client sends what it holds

			total := func(want float64) func([]redisstore.Pair) bool {
				return func(p []redisstore.Pair) bool { return sum(p) == want }
			}
			last := func(want float64) func([]redisstore.Pair) bool {
				return func(p []redisstore.Pair) bool { return p[len(p)-1].Value == want }
			}
			byValue := func(a, b redisstore.Pair) int { return cmp.Compare(a.Value, b.Value) }
			highest := func(p []redisstore.Pair) float64 { return slices.MaxFunc(p, byValue).Value }
			lowest := func(p []redisstore.Pair) float64 { return slices.MinFunc(p, byValue).Value }
			const wait = 5 * time.Second
			k.waitSeries(t, "stats_counts."+prefix+".x", wait, total(10))
			// stats.<key> is per second: 10 over flushes of 0.2 s.
			k.waitSeries(t, "stats."+prefix+".x", wait, total(10/flush.Seconds()))
			k.waitSeries(t, "stats_counts."+prefix+".sampled", wait, total(2))
			k.waitSeries(t, "stats.gauges."+prefix+".g", wait, last(4))
			k.waitSeries(t, "stats.timers."+prefix+".t.count", wait, total(3))
			k.waitSeries(t, "stats.timers."+prefix+".t.sum", wait, total(60))
			upper := k.waitSeries(t, "stats.timers."+prefix+".t.upper", wait, func(p []redisstore.Pair) bool { return highest(p) == 30 })
			require.LessOrEqual(t, lowest(upper), 30.0)
			k.waitSeries(t, "stats.timers."+prefix+".t.lower", wait, func(p []redisstore.Pair) bool { return lowest(p) == 10 })
			k.waitSeries(t, "stats.timers."+prefix+".d.upper", wait, last(1.5))
			k.waitSeries(t, "stats.sets."+prefix+".users.count", wait, func(p []redisstore.Pair) bool { return highest(p) == 2 })
		})
	}
	require.Zero(t, k.counter(t, "kale_horizon_rejected_total", "protocol", "statsd-udp"))
	// Per client: 10 + 1 counters, 3 gauges, 4 timings, 3 set members.
	require.Equal(t, 2*21.0, k.counter(t, "kale_horizon_received_total", "protocol", "statsd-udp"))
}
