// Package promwrite is horizon's pure decoder for Prometheus remote_write v1 requests (a
// snappy-compressed protobuf WriteRequest, POST /api/v1/write on --ingest-http), sitting
// between the HTTP ingest handler and the writer. Skyline had no Prometheus input at all;
// its successor needed a separate gateway for it.
//
// The package does no I/O: the handler reads the body and hands it to Decode.
package promwrite

import (
	"fmt"
	"math"
	"sync"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/horizon/tags"
	"github.com/kale-project/kale/utils/metric"
)

// StaleNaN is the bit pattern Prometheus writes as a sample value to mark a series stale
// (model/value.StaleNaN). Such samples carry no data and are dropped without being counted.
const StaleNaN uint64 = 0x7ff0000000000002

// Decode decodes one remote_write v1 body b (snappy block format, as Prometheus sends it with
// Content-Encoding: snappy) and calls emit for every good sample.
//
// A series is named "<__name__>;<label>=<value>;…" with its labels in the normal form of
// horizon/tags (sorted; labels with an empty value are absent in Prometheus's data model and
// are left out); the whole name must pass ingest.CheckName. Timestamps are milliseconds: a
// whole second becomes an int (metric.Int), anything else a float of seconds (metric.Float),
// so sub-second scrape times are kept. Values are floats. A stale marker (StaleNaN) is dropped
// silently; any other NaN or ±Inf is ingest.NotFinite. Native histogram samples are counted as
// ingest.BadType (one per histogram sample); exemplars and metadata are ignored.
//
// Limits, checked before allocating: len(b) > lim.MaxPayload, a decoded length (read from the
// snappy header) over lim.MaxPayload, and more than lim.MaxItems samples in the request reject
// the whole request as ingest.TooLarge. Bad snappy or protobuf is ingest.Malformed. A series
// whose name is bad rejects its samples (one count per sample); the other series are emitted
// and the rejections are returned as an *ingest.Error.
func Decode(b []byte, lim ingest.Limits, emit func(metric.Point)) error {
	if len(b) > lim.MaxPayload {
		return ingest.Fail(ingest.TooLarge, fmt.Errorf("cannot decode remote_write request: %d compressed bytes exceed the limit of %d", len(b), lim.MaxPayload))
	}
	n, err := snappy.DecodedLen(b)
	if err != nil {
		return ingest.Fail(ingest.Malformed, fmt.Errorf("cannot decode remote_write request: bad snappy header: %w", err))
	}
	if n > lim.MaxPayload {
		return ingest.Fail(ingest.TooLarge, fmt.Errorf("cannot decode remote_write request: %d decompressed bytes exceed the limit of %d", n, lim.MaxPayload))
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	if cap(*bp) < n {
		*bp = make([]byte, n)
	}
	raw, err := snappy.Decode((*bp)[:n], b)
	if err != nil {
		return ingest.Fail(ingest.Malformed, fmt.Errorf("cannot decode remote_write request: bad snappy block: %w", err))
	}
	return DecodeProto(raw, lim, emit)
}

// bufPool holds decompression buffers (at most lim.MaxPayload bytes each) between requests.
var bufPool = sync.Pool{New: func() any { return new([]byte) }}

// reqPool holds WriteRequests between requests: Unmarshal appends into the kept capacity of
// the series slice. Point names are fresh strings, so nothing emitted refers to a pooled one.
var reqPool = sync.Pool{New: func() any { return new(prompb.WriteRequest) }}

// DecodeProto decodes an uncompressed WriteRequest; see Decode.
func DecodeProto(raw []byte, lim ingest.Limits, emit func(metric.Point)) error {
	if len(raw) > lim.MaxPayload {
		return ingest.Fail(ingest.TooLarge, fmt.Errorf("cannot decode remote_write request: %d bytes exceed the limit of %d", len(raw), lim.MaxPayload))
	}
	req := reqPool.Get().(*prompb.WriteRequest)
	defer func() {
		clear(req.Timeseries) // drop label strings so the pool does not pin them
		req.Timeseries = req.Timeseries[:0]
		req.Metadata = nil
		reqPool.Put(req)
	}()
	if err := req.Unmarshal(raw); err != nil {
		return ingest.Fail(ingest.Malformed, fmt.Errorf("cannot decode remote_write request: bad protobuf: %w", err))
	}
	items := 0
	for i := range req.Timeseries {
		items += len(req.Timeseries[i].Samples) + len(req.Timeseries[i].Histograms)
	}
	if items > lim.MaxItems {
		return ingest.Fail(ingest.TooLarge, fmt.Errorf("cannot decode remote_write request: %d samples exceed the limit of %d", items, lim.MaxItems))
	}

	var (
		rej ingest.Rejects
		buf []byte
		tl  []tags.Tag
	)
	for i := range req.Timeseries {
		ts := &req.Timeseries[i]
		if len(ts.Histograms) > 0 {
			rej.Add(ingest.BadType, fmt.Errorf("cannot decode remote_write series: %d native histogram samples are not stored", len(ts.Histograms)))
			for range len(ts.Histograms) - 1 {
				rej.Add(ingest.BadType, nil)
			}
		}
		if len(ts.Samples) == 0 {
			continue
		}
		var (
			name   string
			reason ingest.Reason
			err    error
		)
		name, buf, tl, reason, err = seriesName(ts.Labels, lim, buf, tl)
		if err != nil {
			for range ts.Samples {
				rej.Add(reason, err)
			}
			continue
		}
		for _, s := range ts.Samples {
			bits := math.Float64bits(s.Value)
			if bits == StaleNaN {
				continue
			}
			if err := ingest.CheckFinite("value", s.Value); err != nil {
				rej.Add(ingest.NotFinite, fmt.Errorf("cannot decode remote_write sample of %q: %w", name, err))
				continue
			}
			emit(metric.Point{Name: name, Timestamp: msToSeconds(s.Timestamp), Value: metric.Float(s.Value)})
		}
	}
	return rej.Err()
}

// seriesName builds the tagged name of one series, reusing buf and tl between series.
func seriesName(labels []prompb.Label, lim ingest.Limits, buf []byte, tl []tags.Tag) (string, []byte, []tags.Tag, ingest.Reason, error) {
	var metricName string
	tl = tl[:0]
	for _, l := range labels {
		switch {
		case l.Name == "__name__":
			metricName = l.Value
		case l.Value == "":
			// An empty label value means the label is absent (Prometheus data model).
		default:
			tl = append(tl, tags.Tag{Key: l.Name, Value: l.Value})
		}
	}
	if metricName == "" {
		return "", buf, tl, ingest.BadName, fmt.Errorf("cannot decode remote_write series: no __name__ label")
	}
	buf, err := tags.AppendFormat(buf[:0], metricName, tl)
	if err != nil {
		return "", buf, tl, ingest.BadName, fmt.Errorf("cannot decode remote_write series %q: %w", metricName, err)
	}
	if reason, err := ingest.CheckName(buf, lim.MaxNameLen); err != nil {
		return "", buf, tl, reason, fmt.Errorf("cannot decode remote_write series: %w", err)
	}
	return string(buf), buf, tl, 0, nil
}

// msToSeconds converts a Prometheus millisecond timestamp to Kale's seconds: an int when the
// timestamp is a whole second, otherwise a float.
func msToSeconds(ms int64) metric.Number {
	if ms%1000 == 0 {
		return metric.Int(ms / 1000)
	}
	return metric.Float(float64(ms) / 1000)
}
