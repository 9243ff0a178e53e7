// Package otlp is horizon's pure decoder for OpenTelemetry metrics sent over OTLP/HTTP with
// protobuf encoding (an ExportMetricsServiceRequest, POST /v1/metrics on --ingest-http),
// sitting between the HTTP ingest handler and the writer. Skyline had no OpenTelemetry input.
//
// Only the message types of go.opentelemetry.io/proto/otlp's metrics/v1, common/v1 and
// resource/v1 are used: the request envelope (ExportMetricsServiceRequest, whose only field
// is "repeated ResourceMetrics resource_metrics = 1") and the response are walked and written
// with protowire, so the collector packages (and grpc, grpc-gateway) are not linked in.
//
// The package does no I/O: the handler reads (and gunzips) the body and hands it to Decode.
package otlp

import (
	"errors"
	"fmt"
	"strconv"

	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	metricsv1 "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/horizon/tags"
	"github.com/kale-project/kale/utils/metric"
)

// ErrRequest is wrapped by the error of a request rejected as a whole (bad protobuf, over a
// limit): nothing of it was emitted. Errors that do not wrap it count single data points or
// metrics, and the rest of the request was emitted.
var ErrRequest = errors.New("cannot decode OTLP metrics request")

// ResourceAttributes are the resource attributes that become tags of every data point of
// their resource. The others (telemetry.sdk.*, process.*, service.instance.id, which SDKs
// set to a fresh UUID at every start, …) are left out: they would make names long, and new
// series at every restart, which defeats per-series anomaly detection.
var ResourceAttributes = []string{"service.name", "service.namespace", "host.name"}

// Decode decodes one uncompressed ExportMetricsServiceRequest b and calls emit for every good
// data point of the gauges and sums in it (monotonic or not, any aggregation temporality: the
// value is stored as sent; int and double points alike).
//
// A data point is named "<metric name>;<attr>=<value>;…" in the normal form of horizon/tags
// (tags sorted): its own attributes plus the resource attributes listed in
// ResourceAttributes (a data point attribute wins over a resource attribute of the same key).
// Scope attributes are ignored. Attribute values that are strings, booleans, ints or doubles
// are formatted (strconv); array, kvlist, bytes and empty values and empty keys are left out,
// as Prometheus leaves out empty labels. Bytes outside Kale's name charset
// (ingest.NameCharset), and the bytes graphite forbids in tags (';' and '=' in keys, ';' in
// values and a leading '~' of a value; ';' in the metric name), are replaced with '_', so
// "http.route=/a b" is stored as "http.route=/a_b": OTel attribute values are free text, and
// refusing them would refuse most real traffic. The whole name must then pass
// ingest.CheckName (length); a name that does not rejects its data points.
//
// time_unix_nano becomes seconds: an int (metric.Int) when whole, otherwise a float.
// A data point flagged no_recorded_value is dropped silently; a NaN or ±Inf value is
// ingest.NotFinite; histograms, exponential histograms, summaries and metrics without data
// are ingest.BadType, one count per metric; a metric without a name is ingest.BadName per
// data point.
//
// Limits, checked before the data points are emitted: len(b) > lim.MaxPayload, and more than
// lim.MaxItems data points (of any type) in the request, reject the whole request as
// ingest.TooLarge; bad protobuf is ingest.Malformed; both wrap ErrRequest. Other rejections
// are returned as an *ingest.Error after the good points were emitted.
func Decode(b []byte, lim ingest.Limits, emit func(metric.Point)) error {
	if len(b) > lim.MaxPayload {
		return ingest.Fail(ingest.TooLarge, fmt.Errorf("%w: %d bytes exceed the limit of %d", ErrRequest, len(b), lim.MaxPayload))
	}
	var rms []*metricsv1.ResourceMetrics
	items := 0
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return malformed(protowire.ParseError(n))
		}
		b = b[n:]
		if num != 1 {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return malformed(protowire.ParseError(n))
			}
			b = b[n:]
			continue
		}
		if typ != protowire.BytesType {
			return malformed(fmt.Errorf("resource_metrics has wire type %d", typ))
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return malformed(protowire.ParseError(n))
		}
		b = b[n:]
		rm := new(metricsv1.ResourceMetrics)
		if err := proto.Unmarshal(v, rm); err != nil {
			return malformed(err)
		}
		items += countPoints(rm)
		if items > lim.MaxItems {
			return ingest.Fail(ingest.TooLarge, fmt.Errorf("%w: more than %d data points", ErrRequest, lim.MaxItems))
		}
		rms = append(rms, rm)
	}

	var (
		rej  ingest.Rejects
		buf  []byte
		tl   []tags.Tag
		name []byte
	)
	for _, rm := range rms {
		res := resourceTags(rm.GetResource().GetAttributes())
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				var dps []*metricsv1.NumberDataPoint
				switch d := m.GetData().(type) {
				case *metricsv1.Metric_Gauge:
					dps = d.Gauge.GetDataPoints()
				case *metricsv1.Metric_Sum:
					dps = d.Sum.GetDataPoints()
				case *metricsv1.Metric_Histogram, *metricsv1.Metric_ExponentialHistogram, *metricsv1.Metric_Summary:
					rej.Add(ingest.BadType, fmt.Errorf("cannot decode OTLP metric %q: %T is not stored (only gauges and sums)", m.GetName(), d))
					continue
				default:
					rej.Add(ingest.BadType, fmt.Errorf("cannot decode OTLP metric %q: no data", m.GetName()))
					continue
				}
				name = appendClean(name[:0], m.GetName(), false)
				for _, dp := range dps {
					if dp.GetFlags()&uint32(metricsv1.DataPointFlags_DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK) != 0 {
						continue
					}
					var val metric.Number
					switch v := dp.GetValue().(type) {
					case *metricsv1.NumberDataPoint_AsInt:
						val = metric.Int(v.AsInt)
					case *metricsv1.NumberDataPoint_AsDouble:
						if err := ingest.CheckFinite("value", v.AsDouble); err != nil {
							rej.Add(ingest.NotFinite, fmt.Errorf("cannot decode OTLP data point of %q: %w", m.GetName(), err))
							continue
						}
						val = metric.Float(v.AsDouble)
					default:
						rej.Add(ingest.BadType, fmt.Errorf("cannot decode OTLP data point of %q: no value", m.GetName()))
						continue
					}
					if len(name) == 0 {
						rej.Add(ingest.BadName, fmt.Errorf("cannot decode OTLP data point: metric has no name"))
						continue
					}
					tl = append(tl[:0], res...)
					tl = appendAttrs(tl, dp.GetAttributes())
					var err error
					buf, err = tags.AppendTags(append(buf[:0], name...), tl)
					if err != nil { // cannot happen: appendAttrs cleaned the tags
						rej.Add(ingest.BadName, fmt.Errorf("cannot decode OTLP data point of %q: %w", m.GetName(), err))
						continue
					}
					if reason, err := ingest.CheckName(buf, lim.MaxNameLen); err != nil {
						rej.Add(reason, fmt.Errorf("cannot decode OTLP data point: %w", err))
						continue
					}
					emit(metric.Point{Name: string(buf), Timestamp: nanosToSeconds(dp.GetTimeUnixNano()), Value: val})
				}
			}
		}
	}
	return rej.Err()
}

func malformed(err error) error {
	return ingest.Fail(ingest.Malformed, fmt.Errorf("%w: bad protobuf: %w", ErrRequest, err))
}

// countPoints counts the data points of every type in rm.
func countPoints(rm *metricsv1.ResourceMetrics) int {
	n := 0
	for _, sm := range rm.GetScopeMetrics() {
		for _, m := range sm.GetMetrics() {
			switch d := m.GetData().(type) {
			case *metricsv1.Metric_Gauge:
				n += len(d.Gauge.GetDataPoints())
			case *metricsv1.Metric_Sum:
				n += len(d.Sum.GetDataPoints())
			case *metricsv1.Metric_Histogram:
				n += len(d.Histogram.GetDataPoints())
			case *metricsv1.Metric_ExponentialHistogram:
				n += len(d.ExponentialHistogram.GetDataPoints())
			case *metricsv1.Metric_Summary:
				n += len(d.Summary.GetDataPoints())
			}
		}
	}
	return n
}

// resourceTags returns the tags of the ResourceAttributes found in attrs.
func resourceTags(attrs []*commonv1.KeyValue) []tags.Tag {
	var tl []tags.Tag
	for _, kv := range attrs {
		for _, k := range ResourceAttributes {
			if kv.GetKey() == k {
				tl = appendAttrs(tl, []*commonv1.KeyValue{kv})
				break
			}
		}
	}
	return tl
}

// appendAttrs appends the cleaned tags of attrs to tl, leaving out those that cannot be tags.
func appendAttrs(tl []tags.Tag, attrs []*commonv1.KeyValue) []tags.Tag {
	for _, kv := range attrs {
		var v string
		switch x := kv.GetValue().GetValue().(type) {
		case *commonv1.AnyValue_StringValue:
			v = x.StringValue
		case *commonv1.AnyValue_BoolValue:
			v = strconv.FormatBool(x.BoolValue)
		case *commonv1.AnyValue_IntValue:
			v = strconv.FormatInt(x.IntValue, 10)
		case *commonv1.AnyValue_DoubleValue:
			v = strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
		default:
			continue
		}
		if kv.GetKey() == "" || v == "" {
			continue
		}
		tl = append(tl, tags.Tag{Key: cleanKey(kv.GetKey()), Value: cleanValue(v)})
	}
	return tl
}

// nameOK is Kale's name charset (ingest.NameCharset).
var nameOK = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "._-:;=+%@~#/," {
		t[c] = true
	}
	return t
}()

// appendClean appends s with the bytes outside the charset and ';' replaced with '_'; with
// key, '=' is replaced too.
func appendClean(dst []byte, s string, key bool) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !nameOK[c] || c == ';' || key && c == '=' {
			c = '_'
		}
		dst = append(dst, c)
	}
	return dst
}

func clean(s string, key bool) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !nameOK[c] || c == ';' || key && c == '=' || !key && i == 0 && c == '~' {
			b := appendClean(make([]byte, 0, len(s)), s, key)
			if !key && b[0] == '~' {
				b[0] = '_'
			}
			return string(b)
		}
	}
	return s
}

func cleanKey(s string) string   { return clean(s, true) }
func cleanValue(s string) string { return clean(s, false) }

// nanosToSeconds converts time_unix_nano to Kale's seconds: an int when whole, else a float.
func nanosToSeconds(ns uint64) metric.Number {
	if ns%1e9 == 0 {
		return metric.Int(int64(ns / 1e9))
	}
	return metric.Float(float64(ns) / 1e9)
}

// AppendResponse appends an ExportMetricsServiceResponse to dst: nothing (the empty message)
// when rejected is 0, otherwise partial_success (field 1) with rejected_data_points (field
// 1) and error_message (field 2).
func AppendResponse(dst []byte, rejected int64, msg string) []byte {
	if rejected == 0 && msg == "" {
		return dst
	}
	var ps []byte
	if rejected != 0 {
		ps = protowire.AppendTag(ps, 1, protowire.VarintType)
		ps = protowire.AppendVarint(ps, uint64(rejected))
	}
	if msg != "" {
		ps = protowire.AppendTag(ps, 2, protowire.BytesType)
		ps = protowire.AppendString(ps, msg)
	}
	dst = protowire.AppendTag(dst, 1, protowire.BytesType)
	return protowire.AppendBytes(dst, ps)
}

// AppendStatus appends a google.rpc.Status (code, field 1; message, field 2), the body of an
// OTLP/HTTP error response.
func AppendStatus(dst []byte, code int32, msg string) []byte {
	if code != 0 {
		dst = protowire.AppendTag(dst, 1, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(int64(code)))
	}
	if msg != "" {
		dst = protowire.AppendTag(dst, 2, protowire.BytesType)
		dst = protowire.AppendString(dst, msg)
	}
	return dst
}
