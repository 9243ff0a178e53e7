package ingesthttp

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"sync"
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

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/utils/metric"
)

type sink struct {
	mu     sync.Mutex
	pts    []metric.Point
	protos []string // the proto of every Put
	err    error
}

func (s *sink) Put(_ context.Context, proto string, pts []metric.Point) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.protos = append(s.protos, proto)
	if s.err != nil {
		return s.err
	}
	s.pts = append(s.pts, pts...)
	return nil
}

type counter struct {
	mu       sync.Mutex
	received map[string]int
	rejected map[string]int // "proto/reason"
}

func (c *counter) Received(p string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.received[p] += n
}

func (c *counter) Rejected(p string, r ingest.Reason, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rejected[p+"/"+r.String()] += n
}

func newServer(t *testing.T, cfg Config) (*httptest.Server, *sink, *counter) {
	t.Helper()
	s := &sink{}
	c := &counter{received: map[string]int{}, rejected: map[string]int{}}
	cfg.Counter = c
	cfg.Logger = slog.New(slog.DiscardHandler)
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return time.Unix(1700000100, 0) }
	}
	srv := httptest.NewServer(New(cfg, s))
	t.Cleanup(srv.Close)
	return srv, s, c
}

func post(t *testing.T, url string, body []byte, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

// remoteWriteBody is what Prometheus sends: a prompb.WriteRequest, marshalled, snappy-compressed.
func remoteWriteBody(t *testing.T) []byte {
	req := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
		Labels: []prompb.Label{
			{Name: "__name__", Value: "kale_horizon_received_total"},
			{Name: "instance", Value: "localhost:1500"},
			{Name: "job", Value: "kale"},
			{Name: "protocol", Value: "pickle-tcp"},
		},
		Samples: []prompb.Sample{{Value: 7, Timestamp: 1700000000000}, {Value: 8, Timestamp: 1700000015500}},
	}}}
	raw, err := req.Marshal()
	require.NoError(t, err)
	return snappy.Encode(nil, raw)
}

var rwHeaders = []string{"Content-Encoding", "snappy", "Content-Type", "application/x-protobuf", "X-Prometheus-Remote-Write-Version", "0.1.0"}

func TestRemoteWrite(t *testing.T) {
	srv, s, c := newServer(t, Config{})
	resp, _ := post(t, srv.URL+"/api/v1/write", remoteWriteBody(t), rwHeaders...)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	name := "kale_horizon_received_total;instance=localhost:1500;job=kale;protocol=pickle-tcp"
	require.Equal(t, []metric.Point{
		{Name: name, Timestamp: metric.Int(1700000000), Value: metric.Float(7)},
		{Name: name, Timestamp: metric.Float(1700000015.5), Value: metric.Float(8)},
	}, s.pts)
	require.Equal(t, map[string]int{RemoteWrite: 2}, c.received)
	require.Equal(t, []string{RemoteWrite}, s.protos)

	resp, _ = post(t, srv.URL+"/api/v1/write", []byte("junk"), rwHeaders...)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, map[string]int{"remote-write/malformed": 1}, c.rejected)

	resp, _ = post(t, srv.URL+"/api/v1/write", remoteWriteBody(t), "Content-Type", "application/x-protobuf;proto=io.prometheus.write.v2.Request")
	require.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode, "RW 2.0 senders fall back to 1.0 on 415")
	resp, _ = post(t, srv.URL+"/api/v1/write", remoteWriteBody(t), "Content-Encoding", "zstd")
	require.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode)

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/write", nil)
	r, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	r.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, r.StatusCode)
}

func TestBackPressure(t *testing.T) {
	srv, s, c := newServer(t, Config{RetryAfter: 3 * time.Second})
	s.err = fmt.Errorf("writer: %w", ErrFull)
	resp, _ := post(t, srv.URL+"/api/v1/write", remoteWriteBody(t), rwHeaders...)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Equal(t, "3", resp.Header.Get("Retry-After"))
	require.Equal(t, map[string]int{"remote-write/queue_full": 2}, c.rejected)

	s.err = context.DeadlineExceeded
	resp, _ = post(t, srv.URL+"/write?precision=s", []byte("m v=1 1\n"))
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "3", resp.Header.Get("Retry-After"))
}

func TestInflux(t *testing.T) {
	srv, s, c := newServer(t, Config{})
	line := "bar_influx,host=a,dc=x cpu=1.5,mem=2i 1700000000000000000\n"
	resp, _ := post(t, srv.URL+"/write?db=telegraf", []byte(line))
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Equal(t, []metric.Point{
		{Name: "bar_influx.cpu;dc=x;host=a", Timestamp: metric.Int(1700000000), Value: metric.Float(1.5)},
		{Name: "bar_influx.mem;dc=x;host=a", Timestamp: metric.Int(1700000000), Value: metric.Int(2)},
	}, s.pts)

	s.pts = nil
	resp, _ = post(t, srv.URL+"/api/v2/write?org=o&bucket=b&precision=ms", []byte("m v=1 1700000000500\nm v=2\n"))
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Equal(t, []metric.Point{
		{Name: "m.v", Timestamp: metric.Float(1700000000.5), Value: metric.Float(1)},
		{Name: "m.v", Timestamp: metric.Int(1700000100), Value: metric.Float(2)},
	}, s.pts)

	// gzip, as Telegraf sends with content_encoding = "gzip".
	s.pts = nil
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	_, _ = zw.Write([]byte("z v=3i 5\n"))
	require.NoError(t, zw.Close())
	resp, _ = post(t, srv.URL+"/write?precision=s", zb.Bytes(), "Content-Encoding", "gzip")
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Equal(t, []metric.Point{{Name: "z.v", Timestamp: metric.Int(5), Value: metric.Int(3)}}, s.pts)

	// A string field is refused and counted; the numeric field of the line is stored; 400.
	s.pts = nil
	resp, body := post(t, srv.URL+"/write?precision=s", []byte("m s=\"x\",v=1 5\n"))
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.JSONEq(t, `{"error":"partial write: 1 point(s) stored, 1 rejected, first: cannot store string field \"s\" of measurement \"m\": only numbers and booleans are stored"}`, body)
	require.Len(t, s.pts, 1)
	require.Equal(t, 1, c.rejected["influx-v1/bad_type"])

	resp, _ = post(t, srv.URL+"/write?precision=d", []byte("m v=1 5\n"))
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, _ = post(t, srv.URL+"/write", []byte("not gzip"), "Content-Encoding", "gzip")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	require.Equal(t, 4, c.received[InfluxV1]) // 2 from the first request, 1 gzipped, 1 of the partial write
	require.Equal(t, []string{InfluxV1, InfluxV2, InfluxV1, InfluxV1}, s.protos)
}

func TestLimits(t *testing.T) {
	srv, _, c := newServer(t, Config{MaxBody: 64, Limits: ingest.Limits{MaxNameLen: 255, MaxItems: 100, MaxPayload: 128}})
	resp, _ := post(t, srv.URL+"/write", bytes.Repeat([]byte("m v=1 5\n"), 20))
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)

	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	_, _ = zw.Write(bytes.Repeat([]byte("m v=1 5\n"), 1000))
	require.NoError(t, zw.Close())
	require.Less(t, zb.Len(), 64)
	resp, _ = post(t, srv.URL+"/write", zb.Bytes(), "Content-Encoding", "gzip")
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, "a gzip bomb stops at Limits.MaxPayload")
	require.Equal(t, map[string]int{"influx-v1/too_large": 2}, c.rejected)
}

func TestAuth(t *testing.T) {
	srv, s, _ := newServer(t, Config{Token: "s3cret"})
	line := []byte("m v=1 5\n")
	for _, tc := range []struct {
		hdr  []string
		url  string
		want int
	}{
		{nil, "/write?precision=s", http.StatusUnauthorized},
		{[]string{"Authorization", "Bearer wrong"}, "/write?precision=s", http.StatusUnauthorized},
		{[]string{"Authorization", "Bearer s3cret"}, "/write?precision=s", http.StatusNoContent},
		{[]string{"Authorization", "bearer s3cret"}, "/write?precision=s", http.StatusNoContent},
		{[]string{"Authorization", "Token s3cret"}, "/api/v2/write?precision=s", http.StatusNoContent},
		{[]string{"Authorization", "Basic dTpzM2NyZXQ="}, "/write?precision=s", http.StatusNoContent}, // u:s3cret
		{nil, "/write?precision=s&u=x&p=s3cret", http.StatusNoContent},
		{[]string{"Authorization", "Digest s3cret"}, "/write?precision=s", http.StatusUnauthorized},
	} {
		resp, _ := post(t, srv.URL+tc.url, line, tc.hdr...)
		require.Equal(t, tc.want, resp.StatusCode, "%v %s", tc.hdr, tc.url)
		if tc.want == http.StatusUnauthorized {
			require.NotEmpty(t, resp.Header.Get("WWW-Authenticate"))
		}
	}
	require.Len(t, s.pts, 5)

	resp, err := http.Get(srv.URL + "/ping")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode, "/ping needs no token")
}

// otlpBody is what an OTLP/HTTP exporter sends: an ExportMetricsServiceRequest (its only field,
// resource_metrics = 1, written with protowire), marshalled.
func otlpBody(t *testing.T, ms ...*metricsv1.Metric) []byte {
	t.Helper()
	raw, err := proto.Marshal(&metricsv1.ResourceMetrics{
		Resource: &resourcev1.Resource{Attributes: []*commonv1.KeyValue{
			{Key: "service.name", Value: &commonv1.AnyValue{Value: &commonv1.AnyValue_StringValue{StringValue: "svc"}}},
		}},
		ScopeMetrics: []*metricsv1.ScopeMetrics{{Metrics: ms}},
	})
	require.NoError(t, err)
	return protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), raw)
}

func otlpGauge(name string, v float64) *metricsv1.Metric {
	return &metricsv1.Metric{Name: name, Data: &metricsv1.Metric_Gauge{Gauge: &metricsv1.Gauge{DataPoints: []*metricsv1.NumberDataPoint{{
		TimeUnixNano: 1_700_000_000_000_000_000, Value: &metricsv1.NumberDataPoint_AsDouble{AsDouble: v},
		Attributes: []*commonv1.KeyValue{{Key: "host", Value: &commonv1.AnyValue{Value: &commonv1.AnyValue_StringValue{StringValue: "a"}}}},
	}}}}}
}

var otlpHeaders = []string{"Content-Type", "application/x-protobuf"}

func TestOTLP(t *testing.T) {
	srv, s, c := newServer(t, Config{Limits: ingest.Limits{MaxNameLen: 255, MaxItems: 10, MaxPayload: 1 << 12}})
	resp, body := post(t, srv.URL+"/v1/metrics", otlpBody(t, otlpGauge("my.gauge", 1.5)), otlpHeaders...)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/x-protobuf", resp.Header.Get("Content-Type"))
	require.Empty(t, body, "an empty ExportMetricsServiceResponse")
	want := metric.Point{Name: "my.gauge;host=a;service.name=svc", Timestamp: metric.Int(1700000000), Value: metric.Float(1.5)}
	require.Equal(t, []metric.Point{want}, s.pts)
	require.Equal(t, map[string]int{OTLP: 1}, c.received)
	require.Equal(t, []string{OTLP}, s.protos)

	// gzip, as the Collector's otlphttp exporter sends by default.
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	_, _ = zw.Write(otlpBody(t, otlpGauge("my.gauge", 1.5)))
	require.NoError(t, zw.Close())
	resp, _ = post(t, srv.URL+"/v1/metrics", zb.Bytes(), "Content-Type", "application/x-protobuf", "Content-Encoding", "gzip")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, s.pts, 2)

	// Partial success: 200 with rejected_data_points; the good point is stored.
	hist := &metricsv1.Metric{Name: "h", Data: &metricsv1.Metric_Histogram{Histogram: &metricsv1.Histogram{}}}
	resp, body = post(t, srv.URL+"/v1/metrics", otlpBody(t, otlpGauge("ok", 1), otlpGauge("nan", math.NaN()), hist), otlpHeaders...)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, s.pts, 3)
	require.Equal(t, map[string]int{"otlp/not_finite": 1, "otlp/bad_type": 1}, c.rejected)
	num, _, n := protowire.ConsumeTag([]byte(body))
	require.Equal(t, protowire.Number(1), num, "partial_success")
	ps, _ := protowire.ConsumeBytes([]byte(body)[n:])
	num, _, n = protowire.ConsumeTag(ps)
	require.Equal(t, protowire.Number(1), num, "rejected_data_points")
	rejected, _ := protowire.ConsumeVarint(ps[n:])
	require.Equal(t, uint64(2), rejected)

	clear(c.rejected)
	resp, body = post(t, srv.URL+"/v1/metrics", []byte("junk"), otlpHeaders...)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, "application/x-protobuf", resp.Header.Get("Content-Type"))
	require.Contains(t, body, "bad protobuf", "a google.rpc.Status with the message")
	require.Equal(t, map[string]int{"otlp/malformed": 1}, c.rejected)

	many := make([]*metricsv1.Metric, 11)
	for i := range many {
		many[i] = otlpGauge("g", 1)
	}
	resp, _ = post(t, srv.URL+"/v1/metrics", otlpBody(t, many...), otlpHeaders...)
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	require.Equal(t, 1, c.rejected["otlp/too_large"])

	resp, _ = post(t, srv.URL+"/v1/metrics", []byte(`{"resourceMetrics":[]}`), "Content-Type", "application/json")
	require.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode, "OTLP/HTTP JSON is refused")
	resp, _ = post(t, srv.URL+"/v1/metrics", otlpBody(t), "Content-Type", "application/x-protobuf", "Content-Encoding", "zstd")
	require.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode)

	s.err = fmt.Errorf("writer: %w", ErrFull)
	resp, _ = post(t, srv.URL+"/v1/metrics", otlpBody(t, otlpGauge("my.gauge", 1.5)), otlpHeaders...)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Equal(t, "5", resp.Header.Get("Retry-After"))
	require.Equal(t, 1, c.rejected["otlp/queue_full"])
}
