package horizon_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/require"
	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	metricsv1 "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcev1 "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/kale-project/kale/horizon"
	"github.com/kale-project/kale/horizon/promwrite"
	"github.com/kale-project/kale/horizon/protocol"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
)

// listen enables only the given listeners, on free loopback ports.
func listen(mod func(*horizon.Config), protocols ...string) func(*horizon.Config) {
	return func(c *horizon.Config) {
		*c = c.Listen(protocols...)
		if mod != nil {
			mod(c)
		}
	}
}

// remoteWrite is what Prometheus sends: a prompb.WriteRequest, marshalled, snappy-compressed.
func remoteWrite(t testing.TB, series ...prompb.TimeSeries) []byte {
	t.Helper()
	raw, err := (&prompb.WriteRequest{Timeseries: series}).Marshal()
	require.NoError(t, err)
	return snappy.Encode(nil, raw)
}

func post(t *testing.T, url string, body []byte, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp
}

var rwHeaders = []string{"Content-Encoding", "snappy", "Content-Type", "application/x-protobuf", "X-Prometheus-Remote-Write-Version", "0.1.0"}

// series waits until name has n points and returns them.
func series(t *testing.T, e *env, name string, n int) []redisstore.Pair {
	t.Helper()
	var p []redisstore.Pair
	require.Eventually(t, func() bool {
		p, _, _ = e.store.Series(context.Background(), name)
		return len(p) >= n
	}, 5*time.Second, 10*time.Millisecond, "%s: want %d points, have %d", name, n, len(p))
	return p
}

func TestRemoteWriteStoresTaggedSeries(t *testing.T) {
	e := start(t, listen(nil, protocol.IngestHTTP))
	defer e.stop()
	now := time.Now().Unix()
	labels := []prompb.Label{
		{Name: "__name__", Value: "kale_horizon_received_total"}, {Name: "protocol", Value: "pickle-tcp"},
		{Name: "job", Value: "kale"}, {Name: "instance", Value: "localhost:1500"},
	}
	body := remoteWrite(t,
		prompb.TimeSeries{Labels: labels, Samples: []prompb.Sample{
			{Value: 7, Timestamp: (now - 15) * 1000}, {Value: 8, Timestamp: now * 1000},
			{Value: math.Float64frombits(promwrite.StaleNaN), Timestamp: now*1000 + 500}, // dropped, not counted
		}},
		prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: "up"}, {Name: "job", Value: "node"}},
			Samples: []prompb.Sample{{Value: 1, Timestamp: now * 1000}}},
	)
	resp := post(t, "http://"+e.svc.Addr(protocol.IngestHTTP)+"/api/v1/write", body, rwHeaders...)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)

	p := series(t, e, "kale_horizon_received_total;instance=localhost:1500;job=kale;protocol=pickle-tcp", 2)
	require.Equal(t, []redisstore.Pair{{Timestamp: float64(now - 15), Value: 7}, {Timestamp: float64(now), Value: 8}}, p)
	require.Equal(t, []redisstore.Pair{{Timestamp: float64(now), Value: 1}}, series(t, e, "up;job=node", 1))
	require.Equal(t, 3.0, metricWith(t, e.reg, "kale_horizon_received_total", "protocol", "remote-write"))
	require.Equal(t, 1.0, metricWith(t, e.reg, "kale_horizon_payloads_total", "protocol", "remote-write"))
	require.Equal(t, 1.0, metricWith(t, e.reg, "kale_horizon_listener_up", "protocol", "ingest-http"))

	// A bad body is refused and counted; the listener goes on.
	resp = post(t, "http://"+e.svc.Addr(protocol.IngestHTTP)+"/api/v1/write", []byte("junk"), rwHeaders...)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, 1.0, metricWith(t, e.reg, "kale_horizon_rejected_total", "protocol", "remote-write", "reason", "malformed"))
}

func TestInfluxStoresOneSeriesPerField(t *testing.T) {
	e := start(t, listen(nil, protocol.IngestHTTP))
	defer e.stop()
	now := time.Now().Unix()
	addr := "http://" + e.svc.Addr(protocol.IngestHTTP)
	resp := post(t, addr+"/write?db=telegraf&precision=s", fmt.Appendf(nil, "bar_influx,host=a,dc=x cpu=1.5,mem=2i %d\n", now))
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	resp = post(t, addr+"/api/v2/write?org=o&bucket=b&precision=ns",
		fmt.Appendf(nil, "v2_influx,host=b up=true,note=\"x\" %d\n", now*1_000_000_000))
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "a string field is refused (partial write)")

	require.Equal(t, []redisstore.Pair{{Timestamp: float64(now), Value: 1.5}}, series(t, e, "bar_influx.cpu;dc=x;host=a", 1))
	require.Equal(t, []redisstore.Pair{{Timestamp: float64(now), Value: 2}}, series(t, e, "bar_influx.mem;dc=x;host=a", 1))
	require.Equal(t, []redisstore.Pair{{Timestamp: float64(now), Value: 1}}, series(t, e, "v2_influx.up;host=b", 1))
	require.Equal(t, 2.0, metricWith(t, e.reg, "kale_horizon_received_total", "protocol", "influx-v1"))
	require.Equal(t, 1.0, metricWith(t, e.reg, "kale_horizon_received_total", "protocol", "influx-v2"))
	require.Equal(t, 1.0, metricWith(t, e.reg, "kale_horizon_rejected_total", "protocol", "influx-v2", "reason", "bad_type"))
}

func TestIngestToken(t *testing.T) {
	e := start(t, listen(func(c *horizon.Config) { c.IngestToken = "s3cret" }, protocol.IngestHTTP))
	defer e.stop()
	url := "http://" + e.svc.Addr(protocol.IngestHTTP) + "/write?precision=s"
	line := fmt.Appendf(nil, "tok v=1 %d\n", time.Now().Unix())
	require.Equal(t, http.StatusUnauthorized, post(t, url, line).StatusCode)
	require.Equal(t, http.StatusUnauthorized, post(t, url, line, "Authorization", "Bearer wrong").StatusCode)
	require.Equal(t, http.StatusNoContent, post(t, url, line, "Authorization", "Bearer s3cret").StatusCode)
	series(t, e, "tok.v", 1)
}

// An OTLP/HTTP exporter's ExportMetricsServiceRequest (protobuf) is stored under the Graphite
// tagged name of each data point: its attributes plus the resource's service.name.
func TestOTLPStoresTaggedSeries(t *testing.T) {
	e := start(t, listen(nil, protocol.IngestHTTP))
	defer e.stop()
	now := time.Now().Unix()
	str := func(k, v string) *commonv1.KeyValue {
		return &commonv1.KeyValue{Key: k, Value: &commonv1.AnyValue{Value: &commonv1.AnyValue_StringValue{StringValue: v}}}
	}
	rm, err := proto.Marshal(&metricsv1.ResourceMetrics{
		Resource: &resourcev1.Resource{Attributes: []*commonv1.KeyValue{str("service.name", "svc"), str("telemetry.sdk.name", "opentelemetry")}},
		ScopeMetrics: []*metricsv1.ScopeMetrics{{Metrics: []*metricsv1.Metric{
			{Name: "my.gauge", Data: &metricsv1.Metric_Gauge{Gauge: &metricsv1.Gauge{DataPoints: []*metricsv1.NumberDataPoint{{
				TimeUnixNano: uint64(now) * 1e9, Value: &metricsv1.NumberDataPoint_AsDouble{AsDouble: 2.5}, Attributes: []*commonv1.KeyValue{str("host", "a")},
			}}}}},
			{Name: "my.count", Data: &metricsv1.Metric_Sum{Sum: &metricsv1.Sum{IsMonotonic: true, DataPoints: []*metricsv1.NumberDataPoint{{
				TimeUnixNano: uint64(now) * 1e9, Value: &metricsv1.NumberDataPoint_AsInt{AsInt: 42},
			}}}}},
		}}},
	})
	require.NoError(t, err)
	body := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), rm) // ExportMetricsServiceRequest.resource_metrics
	resp := post(t, "http://"+e.svc.Addr(protocol.IngestHTTP)+"/v1/metrics", body, "Content-Type", "application/x-protobuf")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/x-protobuf", resp.Header.Get("Content-Type"))

	require.Equal(t, []redisstore.Pair{{Timestamp: float64(now), Value: 2.5}}, series(t, e, "my.gauge;host=a;service.name=svc", 1))
	require.Equal(t, []redisstore.Pair{{Timestamp: float64(now), Value: 42}}, series(t, e, "my.count;service.name=svc", 1))
	require.Equal(t, 2.0, metricWith(t, e.reg, "kale_horizon_received_total", "protocol", "otlp"))
	require.Equal(t, 1.0, metricWith(t, e.reg, "kale_horizon_payloads_total", "protocol", "otlp"))

	resp = post(t, "http://"+e.svc.Addr(protocol.IngestHTTP)+"/v1/metrics", []byte("junk"), "Content-Type", "application/x-protobuf")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, 1.0, metricWith(t, e.reg, "kale_horizon_rejected_total", "protocol", "otlp", "reason", "malformed"))
}

// A full writer answers 429 with Retry-After, so Prometheus backs off; nothing is lost
// uncounted.
func TestIngestHTTPFullWriterGives429(t *testing.T) {
	e := start(t, listen(func(c *horizon.Config) { c.QueueSize = 1 }, protocol.IngestHTTP))
	defer e.stop()
	e.srv.Stop() // the writer cannot flush: what it holds stays
	now := time.Now().Unix()
	body := remoteWrite(t, prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: "full"}},
		Samples: []prompb.Sample{{Value: 1, Timestamp: (now - 1) * 1000}, {Value: 2, Timestamp: now * 1000}}})
	url := "http://" + e.svc.Addr(protocol.IngestHTTP) + "/api/v1/write"
	require.Equal(t, http.StatusNoContent, post(t, url, body, rwHeaders...).StatusCode, "an empty writer takes any batch")
	resp := post(t, url, body, rwHeaders...)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Equal(t, "5", resp.Header.Get("Retry-After"))
	require.Equal(t, 2.0, metricWith(t, e.reg, "kale_horizon_rejected_total", "protocol", "remote-write", "reason", "queue_full"))
	e.srv.Restart()
	require.Len(t, series(t, e, "full", 2), 2)
}

func TestStatsdAggregatesAndFlushes(t *testing.T) {
	e := start(t, listen(func(c *horizon.Config) { c.StatsdFlush = 200 * time.Millisecond }, protocol.StatsdUDP))
	defer e.stop()
	addr := e.svc.Addr(protocol.StatsdUDP)
	var ten [][]byte
	for range 10 {
		ten = append(ten, []byte("x:1|c"))
	}
	send(t, "udp", addr, ten...)
	send(t, "udp", addr, []byte("g:5|g\ng:+2|g\nt:10|ms\nt:30|ms\nt:20|ms\nbad line\n"))

	// Every flush after the first sends x again as 0, stamped in whole seconds: the values sum to 10.
	sum := func(p []redisstore.Pair) (s float64) {
		for _, x := range p {
			s += x.Value
		}
		return s
	}
	require.Eventually(t, func() bool {
		p, _, _ := e.store.Series(context.Background(), "stats_counts.x")
		return sum(p) == 10
	}, 5*time.Second, 10*time.Millisecond)
	g := series(t, e, "stats.gauges.g", 1)
	require.Equal(t, 7.0, g[len(g)-1].Value)
	require.Equal(t, []redisstore.Pair{{Timestamp: series(t, e, "stats.timers.t.upper", 1)[0].Timestamp, Value: 30}},
		series(t, e, "stats.timers.t.upper", 1), "a timer sends upper only for an interval with values")
	require.Equal(t, 20.0, series(t, e, "stats.timers.t.median", 1)[0].Value)
	require.Equal(t, 15.0, metricWith(t, e.reg, "kale_horizon_received_total", "protocol", "statsd-udp"))
	require.Equal(t, 1.0, metricWith(t, e.reg, "kale_horizon_rejected_total", "protocol", "statsd-udp", "reason", "malformed"))
}

// What arrived since the last flush is flushed when horizon stops, before the writer stops.
func TestStatsdFinalFlushAtStop(t *testing.T) {
	e := start(t, listen(func(c *horizon.Config) { c.StatsdFlush = time.Hour }, protocol.StatsdUDP))
	defer func() { _ = e.store.Close() }()
	send(t, "udp", e.svc.Addr(protocol.StatsdUDP), []byte("y:3|c\ny:2|c|@0.5"))
	require.Eventually(t, func() bool {
		return metricWith(t, e.reg, "kale_horizon_received_total", "protocol", "statsd-udp") == 2
	}, 3*time.Second, 5*time.Millisecond)
	e.halt()
	p, _, err := e.store.Series(context.Background(), "stats_counts.y")
	require.NoError(t, err)
	require.Len(t, p, 1)
	require.Equal(t, 7.0, p[0].Value, "3 + 2 sampled at 0.5")
}

func TestTaggedPlaintextIsNormalised(t *testing.T) {
	e := start(t, listen(nil, protocol.PlaintextTCP))
	defer e.stop()
	now := time.Now().Unix()
	send(t, "tcp", e.svc.Addr(protocol.PlaintextTCP), fmt.Appendf(nil, "name;b=2;a=1 1.5 %d\nbad;a=~x 1 %d\n", now, now))
	require.Equal(t, []redisstore.Pair{{Timestamp: float64(now), Value: 1.5}}, series(t, e, "name;a=1;b=2", 1))
	require.Eventually(t, func() bool {
		return metricWith(t, e.reg, "kale_horizon_rejected_total", "protocol", "plaintext-tcp", "reason", "bad_name") == 1
	}, 3*time.Second, 5*time.Millisecond)
	members, err := e.store.Members(context.Background(), "metrics.")
	require.NoError(t, err)
	require.Equal(t, []string{"metrics.name;a=1;b=2"}, members)
}

// The listener-down rules hold for the new listeners: a default address that cannot bind is
// reported and skipped, an explicit one is fatal and names the flag.
func TestIngestListenersBindFailures(t *testing.T) {
	busyTCP, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busyTCP.Close()
	busyUDP, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busyUDP.Close()
	srv := redistest.Start(t)
	store, err := redisstore.Open(srv.URL(), redisstore.Options{})
	require.NoError(t, err)
	defer store.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := horizon.DefaultConfig()
	cfg.Listeners = []horizon.Listener{
		{Protocol: protocol.IngestHTTP, Addr: busyTCP.Addr().String()},
		{Protocol: protocol.StatsdUDP, Addr: busyUDP.LocalAddr().String()},
	}
	svc, err := horizon.New(horizon.Options{Config: cfg, Store: store, Log: log})
	require.NoError(t, err)
	states := svc.Listeners()
	require.Len(t, states, 2)
	for i, p := range []string{protocol.IngestHTTP, protocol.StatsdUDP} {
		require.Equal(t, p, states[i].Protocol)
		require.False(t, states[i].Up)
		require.Contains(t, states[i].Error, "address already in use")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, svc.Run(ctx))

	for i, flag := range []string{"--ingest-http", "--statsd-udp"} {
		c := cfg
		c.Listeners = []horizon.Listener{cfg.Listeners[i]}
		c.Listeners[0].Explicit = true
		_, err = horizon.New(horizon.Options{Config: c, Store: store, Log: log})
		require.ErrorContains(t, err, flag)
	}
	c := cfg
	c.Listeners = []horizon.Listener{{Protocol: protocol.StatsdUDP, Addr: "127.0.0.1:0"}}
	c.StatsdFlush = 0
	_, err = horizon.New(horizon.Options{Config: c, Store: store, Log: log})
	require.ErrorContains(t, err, "statsd flush interval")
	require.False(t, strings.Contains(fmt.Sprint(horizon.Protocols), protocol.IngestHTTP), "kale seed drives horizon.Protocols")
}
