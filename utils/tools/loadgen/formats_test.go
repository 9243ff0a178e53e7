package loadgen

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/horizon/influx"
	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/horizon/promwrite"
	"github.com/kale-project/kale/horizon/protocol"
	"github.com/kale-project/kale/horizon/statsd"
	"github.com/kale-project/kale/utils/metric"
)

// manyPoints cycles through metrics, timestamps and the whole value table.
func manyPoints(metrics, n int) []pt {
	pts := make([]pt, n)
	for i := range pts {
		pts[i] = pt{i % metrics, 1_700_000_000 + int64(i/metrics), (i * 7) % valueCount}
	}
	return pts
}

// requirePoints compares decoded points with what was encoded, under the stored names.
func requirePoints(t *testing.T, got []metric.Point, stored []string, pts []pt) {
	t.Helper()
	require.Len(t, got, len(pts))
	for i, p := range pts {
		require.Equal(t, metric.Point{Name: stored[p.m], Timestamp: metric.Int(p.ts), Value: metric.Float(Value(p.v))}, got[i], "point %d", i)
	}
}

// The hand-written protobuf is a WriteRequest that Prometheus's own prompb reads as one
// series per datapoint (labels sorted, timestamps in milliseconds), and horizon's decoder
// stores under "name;job=loadgen".
func TestRemoteWriteRoundTrip(t *testing.T) {
	names := Names("rw.", 5)
	stored := StoredNames(protocol.RemoteWrite, names)
	require.Equal(t, "rw.000003;job=loadgen", stored[3])
	for _, n := range []int{1, 2, 20, 2000, 20_000} {
		pts := manyPoints(len(names), n)
		b := encode(t, protocol.RemoteWrite, names, pts)

		raw, err := snappy.Decode(nil, b)
		require.NoError(t, err)
		var req prompb.WriteRequest
		require.NoError(t, req.Unmarshal(raw), "batch of %d", n)
		require.Len(t, req.Timeseries, n)
		p := pts[n-1]
		require.Equal(t, prompb.TimeSeries{
			Labels:  []prompb.Label{{Name: "__name__", Value: names[p.m]}, {Name: "job", Value: "loadgen"}},
			Samples: []prompb.Sample{{Value: Value(p.v), Timestamp: p.ts * 1000}},
		}, req.Timeseries[n-1])

		var got []metric.Point
		require.NoError(t, promwrite.Decode(b, ingest.DefaultLimits(), func(p metric.Point) { got = append(got, p) }))
		requirePoints(t, got, stored, pts)
	}
}

func TestInfluxRoundTrip(t *testing.T) {
	names := Names("ix.", 3)
	stored := StoredNames(protocol.InfluxV2, names)
	pts := []pt{{0, 1_700_000_000, 0}, {1, 1_700_000_001, 1023}, {2, 1_700_000_002, 4}}
	b := encode(t, protocol.InfluxV2, names, pts)
	require.Equal(t, "ix.000000,job=loadgen value=0.125 1700000000\n"+
		"ix.000001,job=loadgen value=255.875 1700000001\n"+
		"ix.000002,job=loadgen value=1.125 1700000002\n", string(b))
	require.Equal(t, b, encode(t, protocol.InfluxV1, names, pts))
	require.Equal(t, "ix.000002.value;job=loadgen", stored[2])

	for _, n := range []int{1, 3, 2000, 20_000} {
		pts := manyPoints(len(names), n)
		var got []metric.Point
		err := influx.Decode(encode(t, protocol.InfluxV2, names, pts), ingest.DefaultLimits(), influx.Options{Precision: influx.Second},
			func(p metric.Point) { got = append(got, p) })
		require.NoError(t, err)
		requirePoints(t, got, stored, pts)
	}
}

// StatsD lines carry no timestamp: the decoder reads gauges with the values sent, in order.
func TestStatsdRoundTrip(t *testing.T) {
	names := Names("sd.", 3)
	pts := []pt{{0, 1_700_000_000, 0}, {1, 1_700_000_001, 1023}, {2, 5, 4}}
	b := encode(t, protocol.StatsdUDP, names, pts)
	require.Equal(t, "sd.000000:0.125|g\nsd.000001:255.875|g\nsd.000002:1.125|g\n", string(b))
	require.Equal(t, "stats.gauges.sd.000001", StoredNames(protocol.StatsdUDP, names)[1])

	pts = manyPoints(len(names), 500)
	var got []statsd.Sample
	require.NoError(t, statsd.Decode(encode(t, protocol.StatsdUDP, names, pts), ingest.DefaultLimits(), func(s statsd.Sample) { got = append(got, s) }))
	require.Len(t, got, len(pts))
	for i, p := range pts {
		require.Equal(t, statsd.Sample{Name: names[p.m], Kind: statsd.Gauge, Value: Value(p.v), Rate: 1}, got[i], "sample %d", i)
	}
}

// The default StatsD batch keeps every datagram under 1,400 bytes, however wide the values.
func TestStatsdDefaultBatchFitsMTU(t *testing.T) {
	for _, tc := range []struct {
		prefix  string
		metrics int
	}{{"", 1000}, {"a.", 1}, {"a.much.longer.prefix.for.statsd.", 50_000_000 / 10}} {
		o := Options{Target: "statsd://h:1", Prefix: tc.prefix, Metrics: tc.metrics}
		_, err := o.normalize()
		require.NoError(t, err)
		require.Greater(t, o.Batch, 1)
		names := Names(o.Prefix, 1)
		pts := make([]pt, o.Batch)
		for i := range pts {
			pts[i] = pt{0, 0, 1023} // the widest value, "255.875"
		}
		names[0] = o.Prefix + strings.Repeat("9", nameDigits(o.Metrics))
		require.LessOrEqual(t, len(encode(t, protocol.StatsdUDP, names, pts)), statsdDatagram, "prefix %q batch %d", o.Prefix, o.Batch)
	}
}

func TestNewTargets(t *testing.T) {
	for in, want := range map[string]string{
		"remote-write://127.0.0.1:2006": "remote-write://127.0.0.1:2006 http://127.0.0.1:2006/api/v1/write tcp",
		"influx://h:2006":               "influx-v2://h:2006 http://h:2006/api/v2/write?precision=s tcp",
		"influx-v2://h:2006":            "influx-v2://h:2006 http://h:2006/api/v2/write?precision=s tcp",
		"INFLUX-V1://[::1]:2006":        "influx-v1://[::1]:2006 http://[::1]:2006/write?precision=s tcp",
		"statsd://:8125":                "statsd-udp://:8125  udp",
		"statsd-udp://h:8125":           "statsd-udp://h:8125  udp",
	} {
		tg, err := ParseTarget(in)
		require.NoError(t, err, in)
		require.Equal(t, want, tg.String()+" "+tg.URL()+" "+tg.Network, in)
		require.Equal(t, tg.URL() != "", tg.HTTP())
	}
	for target, batch := range map[string]int{"remote-write://h:1": 2000, "influx://h:1": 2000, "influx-v1://h:1": 2000, "statsd://h:1": 56} {
		o := Options{Target: target}
		_, err := o.normalize()
		require.NoError(t, err)
		require.Equal(t, batch, o.Batch, target)
	}
	for _, target := range []string{"remote-write://h:1", "influx://h:1", "statsd://h:1"} {
		_, err := Run(context.Background(), Options{Target: target, Prefix: "a;b=c."}, io.Discard)
		require.ErrorContains(t, err, `invalid --prefix: "a;b=c." has ';'`)
	}
}

// An HTTP sender posts each batch with the remote_write headers, waits out a 429's
// Retry-After and sends the same body again, and stops on any other error status.
func TestHTTPLink(t *testing.T) {
	var posts, refused atomic.Int64
	var bodies atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "/api/v1/write", r.URL.Path)
		require.Equal(t, "snappy", r.Header.Get("Content-Encoding"))
		require.Equal(t, "application/x-protobuf", r.Header.Get("Content-Type"))
		b, _ := io.ReadAll(r.Body)
		if posts.Add(1) == 2 {
			refused.Add(1)
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		n := 0
		require.NoError(t, promwrite.Decode(b, ingest.DefaultLimits(), func(metric.Point) { n++ }))
		bodies.Add(int64(n))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	rep, err := Run(context.Background(), Options{Target: "remote-write://" + addr, Metrics: 100, Rate: 10_000,
		Duration: 500 * time.Millisecond, Progress: -1}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, int64(5000), rep.Sent)
	require.Equal(t, int64(5000), bodies.Load())
	require.Equal(t, int64(1), rep.Retries)
	require.Contains(t, rep.String(), "1 requests retried after 429/503")

	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "missing or wrong token", http.StatusUnauthorized)
	}))
	defer bad.Close()
	_, err = Run(context.Background(), Options{Target: "influx://" + strings.TrimPrefix(bad.URL, "http://"), Metrics: 10,
		Duration: 200 * time.Millisecond, Progress: -1}, io.Discard)
	require.ErrorContains(t, err, "401 Unauthorized: missing or wrong token")
	require.ErrorContains(t, err, "/api/v2/write?precision=s")
}

func TestStatsdSkipsVerify(t *testing.T) {
	pc := listenUDP(t)
	var out strings.Builder
	rep, err := Run(context.Background(), Options{Target: "statsd://" + pc, Metrics: 10, Rate: 1000, Duration: 100 * time.Millisecond,
		VerifyRedis: "redis://127.0.0.1:1", Progress: -1}, &out)
	require.NoError(t, err)
	require.False(t, rep.Verified)
	require.Equal(t, int64(100), rep.Sent)
	require.Contains(t, out.String(), "skipping --verify-redis for statsd: StatsD values are aggregated per --statsd-flush")
	require.Contains(t, rep.String(), "not verified in Redis: ")
}

// listenUDP is a UDP socket that reads and discards until the test ends.
func listenUDP(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = pc.Close() })
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	return pc.LocalAddr().String()
}
