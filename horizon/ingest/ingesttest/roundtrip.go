package ingesttest

import (
	"math"
	"testing"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/utils/metric"
)

// RoundTripLimits are generous limits for round-trip tests: what an encoder writes must decode
// whole.
var RoundTripLimits = ingest.Limits{MaxNameLen: 1 << 16, MaxItems: 1 << 20, MaxPayload: 1 << 30}

// RoundTripPoints are points of every number shape the encoders distinguish: small, large and
// negative ints of each width, floats (integral ones, -0, subnormal, huge), float timestamps,
// short and long names.
func RoundTripPoints() []metric.Point {
	long := make([]byte, 300)
	for i := range long {
		long[i] = 'a' + byte(i%26)
	}
	var pts []metric.Point
	ints := []int64{0, 1, 127, 128, 255, 256, 65535, 65536, 1 << 31, 1<<31 - 1, 1<<32 + 5, math.MaxInt64, -1, -32, -33, -128, -129,
		-32768, -32769, math.MinInt32, math.MinInt32 - 1, math.MinInt64, 1_700_000_000}
	floats := []float64{0, math.Copysign(0, -1), 0.5, -2.25, 2, 1e21, 1e-300, 5e-324, math.MaxFloat64, 12.375, 1e15, 123456789012345680}
	for i, v := range ints {
		pts = append(pts, Pt("int.value", metric.Int(1_700_000_000+int64(i)), metric.Int(v)))
		pts = append(pts, Pt("int.ts", metric.Int(v), metric.Float(float64(i)/4)))
	}
	for i, v := range floats {
		pts = append(pts, Pt("float.value;tag=x", metric.Int(int64(i)), metric.Float(v)))
		pts = append(pts, Pt("float.ts", metric.Float(v), metric.Int(int64(i))))
	}
	pts = append(pts, Pt(string(long), metric.Int(1), metric.Int(2)), Pt("a", metric.Float(1.5), metric.Float(-0.125)))
	return pts
}

// RoundTrip checks that decode returns exactly pts, in order and with their int/float types,
// from what encode appended to a non-empty prefix (which must be left alone).
func RoundTrip(t testing.TB, encode Encoder, decode Decoder, pts []metric.Point) {
	t.Helper()
	prefix := []byte("prefix")
	b := encode(append([]byte(nil), prefix...), pts)
	if string(b[:len(prefix)]) != string(prefix) {
		t.Fatalf("encode changed the bytes before dst's end")
	}
	got, err := DecodeAll(decode, b[len(prefix):], RoundTripLimits)
	if err != nil {
		t.Fatalf("cannot decode what was encoded (%d points): %v", len(pts), err)
	}
	if len(got) != len(pts) {
		t.Fatalf("decoded %d points, encoded %d", len(got), len(pts))
	}
	for i := range pts {
		if !same(got[i], pts[i]) {
			t.Fatalf("point %d: decoded %+v, encoded %+v", i, got[i], pts[i])
		}
	}
}

// Encoder and Decoder are a wire format's Append and Decode.
type (
	Encoder = func([]byte, []metric.Point) []byte
	Decoder = func([]byte, ingest.Limits, func(metric.Point)) error
)

// RoundTrips runs RoundTrip on the first 0, 1, 2, 15, 16 and all of RoundTripPoints: the
// round-trip test every wire format shares.
func RoundTrips(t testing.TB, encode Encoder, decode Decoder) {
	t.Helper()
	pts := RoundTripPoints()
	for _, n := range []int{0, 1, 2, 15, 16, len(pts)} {
		RoundTrip(t, encode, decode, pts[:n])
	}
}

// FuzzRoundTrip is the body of every wire format's FuzzAppend: points built by FuzzPoints
// from the fuzzer's values must decode exactly as they were encoded.
func FuzzRoundTrip(f *testing.F, encode Encoder, decode Decoder) {
	f.Add("a.b", int64(1_700_000_000), 0.0, true, int64(0), 1.5, false, uint8(3))
	f.Add("x;tag=1", int64(-1), -0.0, false, int64(-129), 0.0, true, uint8(0))
	f.Add("big", int64(1<<40), 1e300, true, int64(-1<<40), 5e-324, false, uint8(7))
	f.Fuzz(func(t *testing.T, name string, tsI int64, tsF float64, tsInt bool, vI int64, vF float64, vInt bool, n uint8) {
		if pts := FuzzPoints(name, tsI, tsF, tsInt, vI, vF, vInt, n); pts != nil {
			RoundTrip(t, encode, decode, pts)
		}
	})
}

// same compares points exactly, telling -0 from 0 apart from the type.
func same(a, b metric.Point) bool {
	num := func(x, y metric.Number) bool {
		return x.IsInt == y.IsInt && (x.IsInt && x.I == y.I || !x.IsInt && math.Float64bits(x.F) == math.Float64bits(y.F))
	}
	return a.Name == b.Name && num(a.Timestamp, b.Timestamp) && num(a.Value, b.Value)
}

// FuzzPoints builds up to n points from fuzz input; it returns nil when the input is not
// something a sender can encode (a name the decoders refuse, a non-finite number).
func FuzzPoints(name string, tsI int64, tsF float64, tsInt bool, vI int64, vF float64, vInt bool, n uint8) []metric.Point {
	if _, err := ingest.CheckName([]byte(name), RoundTripLimits.MaxNameLen); err != nil {
		return nil
	}
	num := func(i int64, f float64, isInt bool) (metric.Number, bool) {
		if isInt {
			return metric.Int(i), true
		}
		return metric.Float(f), !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	ts, ok1 := num(tsI, tsF, tsInt)
	v, ok2 := num(vI, vF, vInt)
	if !ok1 || !ok2 {
		return nil
	}
	pts := make([]metric.Point, int(n%8)+1)
	for i := range pts {
		pts[i] = Pt(name, ts, v)
		if ts.IsInt && ts.I < math.MaxInt64 {
			ts = metric.Int(ts.I + 1)
		}
	}
	return pts
}
