package promwrite

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/horizon/ingest/ingesttest"
	"github.com/kale-project/kale/utils/metric"
)

var (
	pt     = ingesttest.Pt
	counts = ingesttest.Counts
	i64    = metric.Int
	f64    = metric.Float
)

// body builds a remote_write body the way Prometheus does: protobuf, then snappy's block format.
func body(t testing.TB, series ...prompb.TimeSeries) []byte {
	t.Helper()
	raw, err := (&prompb.WriteRequest{Timeseries: series}).Marshal()
	require.NoError(t, err)
	return snappy.Encode(nil, raw)
}

func series(labels []string, samples ...prompb.Sample) prompb.TimeSeries {
	var ls []prompb.Label
	for i := 0; i+1 < len(labels); i += 2 {
		ls = append(ls, prompb.Label{Name: labels[i], Value: labels[i+1]})
	}
	return prompb.TimeSeries{Labels: ls, Samples: samples}
}

func decodeAll(b []byte, lim ingest.Limits) ([]metric.Point, error) {
	return ingesttest.DecodeAll(Decode, b, lim)
}

func TestDecodeGood(t *testing.T) {
	stale := math.Float64frombits(StaleNaN)
	b := body(t,
		series([]string{"__name__", "kale_horizon_received_total", "protocol", "pickle-tcp", "job", "kale", "instance", "h:1500"},
			prompb.Sample{Value: 42, Timestamp: 1700000000000},
			prompb.Sample{Value: 43.5, Timestamp: 1700000000123}),
		series([]string{"job", "node", "__name__", "up", "empty", ""}, prompb.Sample{Value: 1, Timestamp: 1700000015000}),
		series([]string{"__name__", "up", "job", "gone"}, prompb.Sample{Value: stale, Timestamp: 1700000030000}),
		series([]string{"__name__", "no_samples"}),
	)
	got, err := decodeAll(b, ingest.DefaultLimits())
	require.NoError(t, err)
	require.Equal(t, []metric.Point{
		pt("kale_horizon_received_total;instance=h:1500;job=kale;protocol=pickle-tcp", i64(1700000000), f64(42)),
		pt("kale_horizon_received_total;instance=h:1500;job=kale;protocol=pickle-tcp", f64(1700000000.123), f64(43.5)),
		pt("up;job=node", i64(1700000015), f64(1)),
	}, got)

	got, err = decodeAll(snappy.Encode(nil, nil), ingest.DefaultLimits())
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestDecodeBad(t *testing.T) {
	good := series([]string{"__name__", "good"}, prompb.Sample{Value: 1, Timestamp: 2000})
	goodPt := []metric.Point{pt("good", i64(2), f64(1))}
	small := ingest.Limits{MaxNameLen: 255, MaxItems: 2, MaxPayload: 1 << 20}
	for _, tc := range []struct {
		name     string
		in       []byte
		lim      *ingest.Limits
		want     []metric.Point
		rejected map[ingest.Reason]int
	}{
		{"not snappy", []byte("\xff\xff\xff\xff\xff\xff"), nil, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"snappy but not protobuf", snappy.Encode(nil, []byte("\xff\xff\xff\xff")), nil, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"plain protobuf, no snappy", func() []byte {
			raw, _ := (&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{good}}).Marshal()
			return raw
		}(), nil, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"claims a huge decoded length", []byte("\xff\xff\xff\xff\x0f\x00"), nil, nil, map[ingest.Reason]int{ingest.TooLarge: 1}},
		{"compressed payload too large", body(t, good), &ingest.Limits{MaxNameLen: 255, MaxItems: 10, MaxPayload: 4}, nil, map[ingest.Reason]int{ingest.TooLarge: 1}},
		{"decoded payload too large", snappy.Encode(nil, make([]byte, 4096)), &ingest.Limits{MaxNameLen: 255, MaxItems: 10, MaxPayload: 1024}, nil, map[ingest.Reason]int{ingest.TooLarge: 1}},
		{"too many samples", body(t, good, series([]string{"__name__", "x"}, prompb.Sample{Value: 1}, prompb.Sample{Value: 2})), &small, nil, map[ingest.Reason]int{ingest.TooLarge: 1}},
		{"no __name__", body(t, series([]string{"job", "x"}, prompb.Sample{Value: 1}, prompb.Sample{Value: 2}), good), nil, goodPt, map[ingest.Reason]int{ingest.BadName: 2}},
		{"label value outside the charset", body(t, series([]string{"__name__", "x", "path", "/a b"}, prompb.Sample{Value: 1}), good), nil, goodPt, map[ingest.Reason]int{ingest.BadName: 1}},
		{"graphite-invalid value", body(t, series([]string{"__name__", "x", "re", "~x"}, prompb.Sample{Value: 1}), good), nil, goodPt, map[ingest.Reason]int{ingest.BadName: 1}},
		{"name too long", body(t, series([]string{"__name__", strings.Repeat("x", 300)}, prompb.Sample{Value: 1}), good), nil, goodPt, map[ingest.Reason]int{ingest.NameTooLong: 1}},
		{"nan and inf", body(t, series([]string{"__name__", "x"}, prompb.Sample{Value: math.NaN()}, prompb.Sample{Value: math.Inf(-1)}), good), nil, goodPt, map[ingest.Reason]int{ingest.NotFinite: 2}},
		{"native histogram", body(t, prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: "h"}}, Histograms: []prompb.Histogram{{Timestamp: 1}, {Timestamp: 2}}}, good), nil, goodPt, map[ingest.Reason]int{ingest.BadType: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lim := ingest.DefaultLimits()
			if tc.lim != nil {
				lim = *tc.lim
			}
			got, err := decodeAll(tc.in, lim)
			var e *ingest.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, counts(tc.rejected), e.Counts)
			require.Equal(t, tc.want, got)
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(body(f, series([]string{"__name__", "up", "job", "node"}, prompb.Sample{Value: 1, Timestamp: 1700000000123})))
	lim := ingest.Limits{MaxNameLen: 64, MaxItems: 100, MaxPayload: 1 << 16}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := Decode(b, lim, func(p metric.Point) {
			_, nerr := ingest.CheckName([]byte(p.Name), lim.MaxNameLen)
			require.NoError(t, nerr)
			require.NoError(t, ingest.CheckFinite("value", p.Value.Float64()))
			require.True(t, strings.IndexByte(p.Name, ';') < 0 || !strings.Contains(p.Name, ";;"))
		})
		if err != nil {
			var e *ingest.Error
			require.True(t, errors.As(err, &e), "error %v is not an *ingest.Error", err)
		}
	})
}
