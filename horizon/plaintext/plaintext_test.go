package plaintext

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/horizon/ingest/ingesttest"
	"github.com/kale-project/kale/utils/metric"
)

var pt = ingesttest.Pt

var (
	i64 = metric.Int
	f64 = metric.Float
)

func decodeAll(b []byte, lim ingest.Limits) ([]metric.Point, error) {
	return ingesttest.DecodeAll(Decode, b, lim)
}

// counts turns the expected rejections of a test case into ingest.Error.Counts.
var counts = ingesttest.Counts

func TestDecodeGood(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []metric.Point
	}{
		{"one line", "a.b 1.5 1700000000\n", []metric.Point{pt("a.b", i64(1700000000), f64(1.5))}},
		{"no final newline", "a.b 1.5 1700000000", []metric.Point{pt("a.b", i64(1700000000), f64(1.5))}},
		{"crlf", "a.b 1 1700000000\r\nc.d 2 1700000001\r\n", []metric.Point{
			pt("a.b", i64(1700000000), i64(1)), pt("c.d", i64(1700000001), i64(2))}},
		{"spaces and tabs", "  a.b \t 1.5\t\t1700000000  \n", []metric.Point{pt("a.b", i64(1700000000), f64(1.5))}},
		{"blank lines", "\n\n a.b 1 2\n\r\n \t \nc 3 4\n\n", []metric.Point{pt("a.b", i64(2), i64(1)), pt("c", i64(4), i64(3))}},
		{"empty payload", "", nil},
		{"int vs float", "m 42 1700000000.5\nm 4.2e1 -1\nm -7 0\nm +7 007\n", []metric.Point{
			pt("m", f64(1700000000.5), i64(42)),
			pt("m", i64(-1), f64(42)),
			pt("m", i64(0), i64(-7)),
			pt("m", i64(7), i64(7)),
		}},
		{"int64 bounds", "m 9223372036854775807 -9223372036854775808\n", []metric.Point{
			pt("m", i64(math.MinInt64), i64(math.MaxInt64))}},
		{"beyond int64 becomes float", "m 9223372036854775808 1\n", []metric.Point{pt("m", i64(1), f64(9223372036854775808))}},
		{"float forms", "m .5 5.\nm 1E3 1e-400\n", []metric.Point{
			pt("m", f64(5), f64(0.5)), pt("m", f64(0), f64(1000))}},
		{"name charset", "Abc_09-:;=+%@~#/,x 1 2\n", []metric.Point{pt("Abc_09-:;=+%@~#/,x", i64(2), i64(1))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeAll([]byte(tc.in), ingest.DefaultLimits())
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestDecodeBad(t *testing.T) {
	long := strings.Repeat("x", 256)
	for _, tc := range []struct {
		name     string
		in       string
		lim      *ingest.Limits // nil: ingest.DefaultLimits()
		want     []metric.Point
		rejected map[ingest.Reason]int
	}{
		{"two fields", "good 1 2\na.b 1\n", nil, []metric.Point{pt("good", i64(2), i64(1))}, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"one field", "a.b\ngood 1 2", nil, []metric.Point{pt("good", i64(2), i64(1))}, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"four fields", "a.b 1 2 3\ngood 1 2\n", nil, []metric.Point{pt("good", i64(2), i64(1))}, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"nan and inf", "a nan 1\nb 1 inf\nc -Infinity 1\nd 1e400 1\ngood 1 2\n", nil,
			[]metric.Point{pt("good", i64(2), i64(1))}, map[ingest.Reason]int{ingest.NotFinite: 4}},
		{"not decimal", "a 0x1p3 1\nb 1_000 1\nc abc 1\nd 1 1e\ne 1 --1\ngood 1 2\n", nil,
			[]metric.Point{pt("good", i64(2), i64(1))}, map[ingest.Reason]int{ingest.Malformed: 5}},
		{"bad names", "a\xffb 1 2\na\"b 1 2\n<script> 1 2\ngood 1 2\n", nil,
			[]metric.Point{pt("good", i64(2), i64(1))}, map[ingest.Reason]int{ingest.BadName: 3}},
		{"name too long", long + " 1 2\ngood 1 2\n", nil,
			[]metric.Point{pt("good", i64(2), i64(1))}, map[ingest.Reason]int{ingest.NameTooLong: 1}},
		{"line too long", long + " " + strings.Repeat("1", 80) + " 2\ngood 1 2\n", nil,
			[]metric.Point{pt("good", i64(2), i64(1))}, map[ingest.Reason]int{ingest.TooLarge: 1}},
		{"payload too large", "good 1 2\n", &ingest.Limits{MaxNameLen: 255, MaxItems: 10, MaxPayload: 8}, nil,
			map[ingest.Reason]int{ingest.TooLarge: 1}},
		{"nul bytes", "a\x00 1 2\n\x00\x00\x00\ngood 1 2\n", nil,
			[]metric.Point{pt("good", i64(2), i64(1))}, map[ingest.Reason]int{ingest.BadName: 1, ingest.Malformed: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lim := ingest.DefaultLimits()
			if tc.lim != nil {
				lim = *tc.lim
			}
			got, err := decodeAll([]byte(tc.in), lim)
			var e *ingest.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, counts(tc.rejected), e.Counts)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestDecodeLine(t *testing.T) {
	lim := ingest.DefaultLimits()
	p, err := DecodeLine([]byte("a.b 1.5 1700000000\r"), lim)
	require.NoError(t, err)
	require.Equal(t, pt("a.b", i64(1700000000), f64(1.5)), p)

	_, err = DecodeLine([]byte(" \t\r"), lim)
	require.ErrorIs(t, err, ErrBlank)

	_, err = DecodeLine([]byte("a.b nan 1"), lim)
	var e *ingest.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, counts(map[ingest.Reason]int{ingest.NotFinite: 1}), e.Counts)
}

func TestDecodeAllocs(t *testing.T) {
	line := []byte("carbon.agents.host-a.cache.size 12345.5 1700000000\n")
	n := testing.AllocsPerRun(100, func() {
		_ = Decode(line, ingest.DefaultLimits(), func(metric.Point) {})
	})
	require.LessOrEqual(t, n, 1.0, "only the name string may be allocated")
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"a.b 1.5 1700000000\n",
		"a.b 1 2\r\nc.d 3.5 4\n\n",
		"  a \t 1e3 -1 ",
		"a nan 1\nb 1 inf\n",
		"a 0x1p3 1_0\n",
		"a\xff 1 2\n",
		strings.Repeat("m 1 2\n", 20),
	} {
		f.Add([]byte(s))
	}
	lim := ingest.Limits{MaxNameLen: 32, MaxItems: 100, MaxPayload: 4096}
	f.Fuzz(func(t *testing.T, b []byte) {
		var got []metric.Point
		err := Decode(b, lim, func(p metric.Point) {
			_, nerr := ingest.CheckName([]byte(p.Name), lim.MaxNameLen)
			require.NoError(t, nerr)
			require.NoError(t, ingest.CheckFinite("timestamp", p.Timestamp.Float64()))
			require.NoError(t, ingest.CheckFinite("value", p.Value.Float64()))
			got = append(got, p)
		})
		if err != nil {
			var e *ingest.Error
			require.True(t, errors.As(err, &e), "error %v is not an *ingest.Error", err)
		}
		if len(b) > lim.MaxPayload {
			require.Empty(t, got)
			return
		}
		// Decode agrees with DecodeLine on every line.
		var want []metric.Point
		for _, line := range bytes.Split(b, []byte("\n")) {
			if p, err := DecodeLine(line, lim); err == nil {
				want = append(want, p)
			}
		}
		require.Equal(t, want, got)
	})
}
