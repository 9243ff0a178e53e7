package influx

import (
	"errors"
	"strings"
	"testing"
	"time"

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
	now    = time.Unix(1700000100, 250_000_000)
)

func decodeAll(b []byte, lim ingest.Limits, o Options) ([]metric.Point, error) {
	var got []metric.Point
	err := Decode(b, lim, o, func(p metric.Point) { got = append(got, p) })
	return got, err
}

func TestDecodeGood(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		o    Options
		want []metric.Point
	}{
		{"the issue's example", "bar_influx,host=a,dc=x cpu=1.5,mem=2i 1700000000000000000\n", Options{}, []metric.Point{
			pt("bar_influx.cpu;dc=x;host=a", i64(1700000000), f64(1.5)),
			pt("bar_influx.mem;dc=x;host=a", i64(1700000000), i64(2)),
		}},
		{"types", "m u=3u,t=true,f=false,neg=-4i,e=1e3 1700000000\n", Options{Precision: Second}, []metric.Point{
			pt("m.u", i64(1700000000), i64(3)),
			pt("m.t", i64(1700000000), i64(1)),
			pt("m.f", i64(1700000000), i64(0)),
			pt("m.neg", i64(1700000000), i64(-4)),
			pt("m.e", i64(1700000000), f64(1000)),
		}},
		{"uint beyond int64", "m u=18446744073709551615u 1\n", Options{Precision: Second}, []metric.Point{
			pt("m.u", i64(1), f64(18446744073709551615))}},
		{"sub-second ns", "m v=1 1700000000123000000", Options{}, []metric.Point{pt("m.v", f64(1700000000.123), f64(1))}},
		{"ms", "m v=1 1700000000123\nm v=2 1700000001000", Options{Precision: Millisecond}, []metric.Point{
			pt("m.v", f64(1700000000.123), f64(1)), pt("m.v", i64(1700000001), f64(2))}},
		{"us", "m v=1 1700000000000001", Options{Precision: Microsecond}, []metric.Point{pt("m.v", f64(1700000000.000001), f64(1))}},
		{"minutes", "m v=1 2", Options{Precision: Minute}, []metric.Point{pt("m.v", i64(120), f64(1))}},
		{"no timestamp, seconds", "m v=1\n", Options{Precision: Second, Now: now}, []metric.Point{pt("m.v", i64(1700000100), f64(1))}},
		{"no timestamp, ns", "m v=1\n", Options{Now: now}, []metric.Point{pt("m.v", f64(1700000100.25), f64(1))}},
		{"escapes and comments", "# comment\n\nweather\\ x,loc=a\\,b t=1 1\n", Options{Precision: Second}, nil},
		{"tags sorted, name tag dropped", "m,z=1,a=2,name=q v=1 1", Options{Precision: Second}, []metric.Point{pt("m.v;a=2;z=1", i64(1), f64(1))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeAll([]byte(tc.in), ingest.DefaultLimits(), tc.o)
			if tc.name == "escapes and comments" {
				// "weather x" and "a,b" are outside Kale's name charset: parsed, then refused.
				var e *ingest.Error
				require.ErrorAs(t, err, &e)
				require.Equal(t, counts(map[ingest.Reason]int{ingest.BadName: 1}), e.Counts)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestDecodeBad(t *testing.T) {
	good := "good v=1 2\n"
	goodPt := []metric.Point{pt("good.v", i64(2), f64(1))}
	for _, tc := range []struct {
		name     string
		in       string
		lim      *ingest.Limits
		want     []metric.Point
		rejected map[ingest.Reason]int
	}{
		{"string field refused, numbers kept", "m,h=a s=\"x\",v=1,s2=\"y\" 2\n", nil,
			[]metric.Point{pt("m.v;h=a", i64(2), f64(1))}, map[ingest.Reason]int{ingest.BadType: 2}},
		{"no fields", "m,h=a 2\n" + good, nil, goodPt, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"bad value", "m v=1x 2\n" + good, nil, goodPt, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"int out of range", "m v=99999999999999999999i 2\n" + good, nil, goodPt, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"bad timestamp", "m v=1 12a\nm v=1 2 3\n" + good, nil, goodPt, map[ingest.Reason]int{ingest.Malformed: 2}},
		{"whole line refused on a late error", "m a=1,b=2 x\n" + good, nil, goodPt, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"garbage", "\x00\xff\n,,,\n=\n" + good, nil, goodPt, map[ingest.Reason]int{ingest.Malformed: 3}},
		{"tag value starting with ~", "m,t=~x v=1,w=2 2\n" + good, nil, goodPt, map[ingest.Reason]int{ingest.BadName: 2}},
		{"name too long", strings.Repeat("m", 300) + " v=1 2\n" + good, nil, goodPt, map[ingest.Reason]int{ingest.NameTooLong: 1}},
		{"too many points", "m a=1,b=2,c=3 2\n", &ingest.Limits{MaxNameLen: 255, MaxItems: 2, MaxPayload: 1 << 20},
			[]metric.Point{pt("m.a", i64(2), f64(1)), pt("m.b", i64(2), f64(2))}, map[ingest.Reason]int{ingest.TooLarge: 1}},
		{"payload too large", good, &ingest.Limits{MaxNameLen: 255, MaxItems: 2, MaxPayload: 4}, nil, map[ingest.Reason]int{ingest.TooLarge: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lim := ingest.DefaultLimits()
			if tc.lim != nil {
				lim = *tc.lim
			}
			got, err := decodeAll([]byte(tc.in), lim, Options{Precision: Second})
			var e *ingest.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, counts(tc.rejected), e.Counts, "%v", err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParsePrecision(t *testing.T) {
	for s, want := range map[string]Precision{"": Nanosecond, "n": Nanosecond, "ns": Nanosecond, "u": Microsecond, "us": Microsecond,
		"ms": Millisecond, "s": Second, "m": Minute, "h": Hour} {
		got, err := ParsePrecision(s)
		require.NoError(t, err)
		require.Equal(t, want, got, s)
	}
	_, err := ParsePrecision("d")
	require.ErrorContains(t, err, `cannot parse precision "d"`)
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"bar_influx,host=a,dc=x cpu=1.5,mem=2i 1700000000000000000\n",
		"m u=3u,t=true,s=\"str\" \nm v=1",
		"m\\ x,a\\=b=c\\,d v=1e400 -1\n",
		"m,t=~x v=1 99999999999999999999\n# c\n",
	} {
		f.Add([]byte(s), uint8(0))
	}
	lim := ingest.Limits{MaxNameLen: 64, MaxItems: 50, MaxPayload: 4096}
	precs := []Precision{Nanosecond, Microsecond, Millisecond, Second, Minute, Hour}
	f.Fuzz(func(t *testing.T, b []byte, p uint8) {
		n := 0
		err := Decode(b, lim, Options{Precision: precs[int(p)%len(precs)], Now: now}, func(p metric.Point) {
			n++
			_, nerr := ingest.CheckName([]byte(p.Name), lim.MaxNameLen)
			require.NoError(t, nerr)
			require.NoError(t, ingest.CheckFinite("value", p.Value.Float64()))
			require.NoError(t, ingest.CheckFinite("timestamp", p.Timestamp.Float64()))
			require.Contains(t, p.Name, ".")
		})
		require.LessOrEqual(t, n, lim.MaxItems)
		if err != nil {
			var e *ingest.Error
			require.True(t, errors.As(err, &e), "error %v is not an *ingest.Error", err)
		}
	})
}
