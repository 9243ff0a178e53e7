package otlp

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	metricsv1 "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcev1 "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/horizon/ingest/ingesttest"
	"github.com/kale-project/kale/horizon/tags"
	"github.com/kale-project/kale/utils/metric"
)

var (
	pt     = ingesttest.Pt
	counts = ingesttest.Counts
	i64    = metric.Int
	f64    = metric.Float
)

// request builds an ExportMetricsServiceRequest the way an SDK sends it: field 1 repeated.
func request(t testing.TB, rms ...*metricsv1.ResourceMetrics) []byte {
	t.Helper()
	var b []byte
	for _, rm := range rms {
		raw, err := proto.Marshal(rm)
		require.NoError(t, err)
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, raw)
	}
	return b
}

func kv(k string, v any) *commonv1.KeyValue {
	a := &commonv1.AnyValue{}
	switch x := v.(type) {
	case string:
		a.Value = &commonv1.AnyValue_StringValue{StringValue: x}
	case int:
		a.Value = &commonv1.AnyValue_IntValue{IntValue: int64(x)}
	case float64:
		a.Value = &commonv1.AnyValue_DoubleValue{DoubleValue: x}
	case bool:
		a.Value = &commonv1.AnyValue_BoolValue{BoolValue: x}
	case []byte:
		a.Value = &commonv1.AnyValue_BytesValue{BytesValue: x}
	case nil:
		a = nil
	}
	return &commonv1.KeyValue{Key: k, Value: a}
}

func resource(attrs []*commonv1.KeyValue, ms ...*metricsv1.Metric) *metricsv1.ResourceMetrics {
	return &metricsv1.ResourceMetrics{
		Resource:     &resourcev1.Resource{Attributes: attrs},
		ScopeMetrics: []*metricsv1.ScopeMetrics{{Metrics: ms}},
	}
}

func gauge(name string, dps ...*metricsv1.NumberDataPoint) *metricsv1.Metric {
	return &metricsv1.Metric{Name: name, Data: &metricsv1.Metric_Gauge{Gauge: &metricsv1.Gauge{DataPoints: dps}}}
}

func sum(name string, mono bool, dps ...*metricsv1.NumberDataPoint) *metricsv1.Metric {
	return &metricsv1.Metric{Name: name, Data: &metricsv1.Metric_Sum{Sum: &metricsv1.Sum{
		DataPoints: dps, IsMonotonic: mono, AggregationTemporality: metricsv1.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE,
	}}}
}

func dpInt(ns uint64, v int64, attrs ...*commonv1.KeyValue) *metricsv1.NumberDataPoint {
	return &metricsv1.NumberDataPoint{TimeUnixNano: ns, Value: &metricsv1.NumberDataPoint_AsInt{AsInt: v}, Attributes: attrs}
}

func dpDouble(ns uint64, v float64, attrs ...*commonv1.KeyValue) *metricsv1.NumberDataPoint {
	return &metricsv1.NumberDataPoint{TimeUnixNano: ns, Value: &metricsv1.NumberDataPoint_AsDouble{AsDouble: v}, Attributes: attrs}
}

const sec = uint64(1_700_000_000) * 1e9

func decode(t testing.TB, b []byte, lim ingest.Limits) ([]metric.Point, error) {
	t.Helper()
	return ingesttest.DecodeAll(Decode, b, lim)
}

func TestOTLPGaugesAndSums(t *testing.T) {
	res := []*commonv1.KeyValue{kv("service.name", "svc"), kv("telemetry.sdk.name", "opentelemetry"), kv("host.name", "h1")}
	b := request(t, resource(res,
		gauge("my.gauge", dpDouble(sec, 1.5, kv("host", "a")), dpInt(sec+500_000_000, 7, kv("zone", "x"), kv("a", 1))),
		sum("requests", true, dpInt(sec+2e9, 42, kv("ok", true), kv("ratio", 0.25))),
		sum("delta", false, dpDouble(sec, -3)),
	), resource(nil, gauge("bare", dpInt(sec, 1))))
	got, err := decode(t, b, ingest.DefaultLimits())
	require.NoError(t, err)
	require.Equal(t, []metric.Point{
		pt("my.gauge;host.name=h1;host=a;service.name=svc", i64(1_700_000_000), f64(1.5)),
		pt("my.gauge;a=1;host.name=h1;service.name=svc;zone=x", f64(1_700_000_000.5), i64(7)),
		pt("requests;host.name=h1;ok=true;ratio=0.25;service.name=svc", i64(1_700_000_002), i64(42)),
		pt("delta;host.name=h1;service.name=svc", i64(1_700_000_000), f64(-3)),
		pt("bare", i64(1_700_000_000), i64(1)),
	}, got)
	for _, p := range got {
		require.True(t, tags.IsNormal(p.Name), p.Name)
	}
}

func TestOTLPDataPointAttributeWinsOverResource(t *testing.T) {
	b := request(t, resource([]*commonv1.KeyValue{kv("service.name", "res")}, gauge("g", dpInt(sec, 1, kv("service.name", "dp")))))
	got, err := decode(t, b, ingest.DefaultLimits())
	require.NoError(t, err)
	require.Equal(t, []metric.Point{pt("g;service.name=dp", i64(1_700_000_000), i64(1))}, got)
}

func TestOTLPAttributesAreCleaned(t *testing.T) {
	b := request(t, resource(nil, gauge("a;b c",
		dpInt(sec, 1, kv("http.route", "/a b;c"), kv("k=ey", "~v"), kv("empty", ""), kv("", "x"), kv("bytes", []byte("z")), kv("nil", nil), kv("ünï", "ok")))))
	got, err := decode(t, b, ingest.DefaultLimits())
	require.NoError(t, err)
	require.Equal(t, []metric.Point{pt("a_b_c;__n__=ok;http.route=/a_b_c;k_ey=_v", i64(1_700_000_000), i64(1))}, got)
}

func TestOTLPRejections(t *testing.T) {
	hist := &metricsv1.Metric{Name: "h", Data: &metricsv1.Metric_Histogram{Histogram: &metricsv1.Histogram{
		DataPoints: []*metricsv1.HistogramDataPoint{{Count: 1}, {Count: 2}}}}}
	exp := &metricsv1.Metric{Name: "e", Data: &metricsv1.Metric_ExponentialHistogram{ExponentialHistogram: &metricsv1.ExponentialHistogram{}}}
	summ := &metricsv1.Metric{Name: "s", Data: &metricsv1.Metric_Summary{Summary: &metricsv1.Summary{}}}
	empty := &metricsv1.Metric{Name: "nodata"}
	noRec := dpDouble(sec, 9)
	noRec.Flags = uint32(metricsv1.DataPointFlags_DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK)
	long := make([]byte, 300)
	for i := range long {
		long[i] = 'x'
	}
	b := request(t, resource(nil,
		hist, exp, summ, empty,
		gauge("g", dpDouble(sec, math.NaN()), dpDouble(sec, math.Inf(-1)), noRec, &metricsv1.NumberDataPoint{TimeUnixNano: sec}, dpInt(sec, 5)),
		gauge("", dpInt(sec, 1)),
		gauge(string(long), dpInt(sec, 1)),
	))
	got, err := decode(t, b, ingest.DefaultLimits())
	require.Equal(t, []metric.Point{pt("g", i64(1_700_000_000), i64(5))}, got)
	var e *ingest.Error
	require.ErrorAs(t, err, &e)
	require.NotErrorIs(t, err, ErrRequest)
	require.Equal(t, counts(map[ingest.Reason]int{ingest.BadType: 5, ingest.NotFinite: 2, ingest.BadName: 1, ingest.NameTooLong: 1}), e.Counts)
}

func TestOTLPRequestErrors(t *testing.T) {
	lim := ingest.Limits{MaxNameLen: 255, MaxItems: 2, MaxPayload: 1 << 10}
	ok := request(t, resource(nil, gauge("g", dpInt(sec, 1), dpInt(sec, 2))))
	got, err := decode(t, ok, lim)
	require.NoError(t, err)
	require.Len(t, got, 2)

	// Unknown fields of the envelope are skipped; an empty request is fine.
	withUnknown := protowire.AppendVarint(protowire.AppendTag(append([]byte(nil), ok...), 7, protowire.VarintType), 3)
	got, err = decode(t, withUnknown, lim)
	require.NoError(t, err)
	require.Len(t, got, 2)
	got, err = decode(t, nil, lim)
	require.NoError(t, err)
	require.Empty(t, got)

	for name, tc := range map[string]struct {
		b      []byte
		reason ingest.Reason
	}{
		"too many points":  {request(t, resource(nil, gauge("g", dpInt(sec, 1))), resource(nil, gauge("g", dpInt(sec, 1), dpInt(sec, 2)))), ingest.TooLarge},
		"too many bytes":   {make([]byte, 1<<10+1), ingest.TooLarge},
		"junk":             {[]byte("not a protobuf at all"), ingest.Malformed},
		"truncated":        {ok[:len(ok)-1], ingest.Malformed},
		"field 1 a varint": {protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 1), ingest.Malformed},
		"bad inner":        {protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte{0xff}), ingest.Malformed},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := decode(t, tc.b, lim)
			require.Empty(t, got)
			require.ErrorIs(t, err, ErrRequest)
			var e *ingest.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, counts(map[ingest.Reason]int{tc.reason: 1}), e.Counts)
		})
	}
}

func TestOTLPResponse(t *testing.T) {
	require.Empty(t, AppendResponse(nil, 0, ""))
	b := AppendResponse(nil, 3, "rejected 3")
	num, typ, n := protowire.ConsumeTag(b)
	require.Equal(t, protowire.Number(1), num)
	require.Equal(t, protowire.BytesType, typ)
	inner, m := protowire.ConsumeBytes(b[n:])
	require.Equal(t, len(b), n+m)
	num, _, n = protowire.ConsumeTag(inner)
	require.Equal(t, protowire.Number(1), num)
	v, k := protowire.ConsumeVarint(inner[n:])
	require.Equal(t, uint64(3), v)
	inner = inner[n+k:]
	num, _, n = protowire.ConsumeTag(inner)
	require.Equal(t, protowire.Number(2), num)
	s, _ := protowire.ConsumeString(inner[n:])
	require.Equal(t, "rejected 3", s)

	st := AppendStatus(nil, 3, "bad")
	require.Equal(t, []byte{0x08, 3, 0x12, 3, 'b', 'a', 'd'}, st)
}

func FuzzOTLPDecode(f *testing.F) {
	f.Add(request(f, resource([]*commonv1.KeyValue{kv("service.name", "svc")},
		gauge("my.gauge", dpDouble(sec, 1.5, kv("host", "a"))), sum("c", true, dpInt(sec+1, 2, kv("k;=", "~v"))))))
	f.Add(request(f, resource(nil, &metricsv1.Metric{Name: "h", Data: &metricsv1.Metric_Histogram{Histogram: &metricsv1.Histogram{}}})))
	f.Add([]byte{0x0a, 0x00})
	f.Add([]byte("junk"))
	lim := ingest.Limits{MaxNameLen: 64, MaxItems: 100, MaxPayload: 1 << 16}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := Decode(b, lim, func(p metric.Point) {
			_, nerr := ingest.CheckName([]byte(p.Name), lim.MaxNameLen)
			require.NoError(t, nerr)
			require.NoError(t, ingest.CheckFinite("value", p.Value.Float64()))
			require.True(t, tags.IsNormal(p.Name), p.Name)
		})
		if err != nil {
			var e *ingest.Error
			require.True(t, errors.As(err, &e), "error %v is not an *ingest.Error", err)
		}
	})
}
