package msgpackudp

import (
	"encoding/hex"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/horizon/ingest/ingesttest"
	"github.com/kale-project/kale/utils/metric"
)

var (
	i64 = metric.Int
	f64 = metric.Float
)

var pt = ingesttest.Pt

// mp encodes v the way the senders do (ints in their most compact form).
func mp(t testing.TB, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	require.NoError(t, err)
	return b
}

// unhex decodes a hex string; spaces are ignored.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(t, err)
	return b
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// item is one Skyline datapoint [name, [ts, value]].
func item(name any, ts, value any) []any { return []any{name, []any{ts, value}} }

func decodeAll(b []byte, lim ingest.Limits) ([]metric.Point, error) {
	return ingesttest.DecodeAll(Decode, b, lim)
}

var counts = ingesttest.Counts

func TestDecodeGood(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want []metric.Point
	}{
		// msgpack.packb(["a.b", [1700000000, 1.5]]) in Python, byte for byte.
		{"python packb", unhex(t, "92 a3 612e62 92 ce 6553f100 cb 3ff8000000000000"),
			[]metric.Point{pt("a.b", i64(1700000000), f64(1.5))}},
		{"bin name", mp(t, item([]byte("a.b"), 1, 2)), []metric.Point{pt("a.b", i64(1), i64(2))}},
		{"float32", mp(t, item("a", float32(1.5), float32(-0.25))), []metric.Point{pt("a", f64(1.5), f64(-0.25))}},
		{"int codes", cat(unhex(t, "95"),
			mp(t, item("i8", int8(-100), int8(-1))),
			unhex(t, "92 a3 693136 92 d1 ff9c cd ffff"),         // int16 -100, uint16 65535
			unhex(t, "92 a3 693332 92 d2 ffffff9c ce ffffffff"), // int32 -100, uint32 4294967295
			unhex(t, "92 a3 693634 92 d3 ffffffffffffff9c cf 7fffffffffffffff"),
			unhex(t, "92 a3 753634 92 cf 0000018bcfe56800 cf ffffffffffffffff"), // uint64: ms timestamp, 2^64-1
		), []metric.Point{
			pt("i8", i64(-100), i64(-1)),
			pt("i16", i64(-100), i64(65535)),
			pt("i32", i64(-100), i64(4294967295)),
			pt("i64", i64(-100), i64(math.MaxInt64)),
			pt("u64", i64(1700000000000), f64(18446744073709551615)),
		}},
		{"batch", mp(t, []any{item("a", 1, 1.5), item("b", 2, 2.5), item("c", 3, 3)}), []metric.Point{
			pt("a", i64(1), f64(1.5)), pt("b", i64(2), f64(2.5)), pt("c", i64(3), i64(3))}},
		{"array16 batch", cat(unhex(t, "dc 0002"), mp(t, item("a", 1, 2)), mp(t, item("b", 3, 4))),
			[]metric.Point{pt("a", i64(1), i64(2)), pt("b", i64(3), i64(4))}},
		{"str8 name", cat(unhex(t, "92 d9 03 612e62 92 01 02")), []metric.Point{pt("a.b", i64(1), i64(2))}},
		{"empty batch", unhex(t, "90"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeAll(tc.in, ingest.DefaultLimits())
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestDecodeBad(t *testing.T) {
	good := mp(t, item("good", 1, 2))
	goodPt := []metric.Point{pt("good", i64(1), i64(2))}
	// batch wraps items (already encoded) in an array after the good one, which comes first
	// because an outer array whose first element is not an array is a single item.
	batch := func(items ...[]byte) []byte {
		return cat(unhex(t, "dc"), []byte{0, byte(len(items) + 1)}, good, cat(items...))
	}
	nested := cat(unhex(t, "91"), []byte(strings.Repeat("\x91", 100_000)), unhex(t, "90"))
	for _, tc := range []struct {
		name     string
		in       []byte
		lim      *ingest.Limits // nil: ingest.DefaultLimits()
		want     []metric.Point
		rejected map[ingest.Reason]int
	}{
		// Items of the wrong shape or types: only they are rejected.
		{"item not an array", batch(mp(t, 42), mp(t, "a.b"), mp(t, map[string]int{"a": 1})), nil, goodPt, map[ingest.Reason]int{ingest.BadType: 3}},
		{"item of 3", batch(mp(t, []any{"a", []any{1, 2}, 3})), nil, goodPt, map[ingest.Reason]int{ingest.BadType: 1}},
		{"datapoint of 3", batch(mp(t, []any{"a", []any{1, 2, 3}})), nil, goodPt, map[ingest.Reason]int{ingest.BadType: 1}},
		{"name not str", batch(mp(t, item(1, 1, 2)), mp(t, item(nil, 1, 2)), mp(t, item([]any{"a"}, 1, 2))), nil, goodPt, map[ingest.Reason]int{ingest.BadType: 3}},
		{"numbers not numbers", batch(mp(t, item("a", nil, 2)), mp(t, item("a", 1, true)), mp(t, item("a", "1", 2)), mp(t, item("a", 1, []any{}))), nil,
			goodPt, map[ingest.Reason]int{ingest.BadType: 4}},
		{"ext", batch(unhex(t, "d6 01 00000000"), unhex(t, "92 a1 61 92 c7 01 05 00 01")), nil, goodPt, map[ingest.Reason]int{ingest.BadType: 2}},
		{"not finite", batch(mp(t, item("a", 1, math.NaN())), mp(t, item("a", math.Inf(1), 1)), mp(t, item("a", 1, float32(math.Inf(-1))))), nil,
			goodPt, map[ingest.Reason]int{ingest.NotFinite: 3}},
		{"bad names", batch(mp(t, item("a b", 1, 2)), mp(t, item([]byte{0xff, 0xfe}, 1, 2)), mp(t, item("", 1, 2))), nil,
			goodPt, map[ingest.Reason]int{ingest.BadName: 3}},
		{"name too long", batch(mp(t, item(strings.Repeat("x", 256), 1, 2))), nil, goodPt, map[ingest.Reason]int{ingest.NameTooLong: 1}},
		{"deeply nested", cat(unhex(t, "92"), good, nested), nil, goodPt, map[ingest.Reason]int{ingest.BadType: 1}},
		{"first item not an array: a single item", cat(unhex(t, "92 2a"), good), nil, nil, map[ingest.Reason]int{ingest.BadType: 1}},
		{"single bad item", mp(t, item("a", 1, "x")), nil, nil, map[ingest.Reason]int{ingest.BadType: 1}},
		{"single NaN", mp(t, item("a", 1, math.NaN())), nil, nil, map[ingest.Reason]int{ingest.NotFinite: 1}},

		// Datagrams rejected as a whole: nothing is emitted.
		{"not an array", mp(t, 42), nil, nil, map[ingest.Reason]int{ingest.BadType: 1}},
		{"a map", mp(t, map[string]any{"a.b": []any{1, 2}}), nil, nil, map[ingest.Reason]int{ingest.BadType: 1}},
		{"empty datagram", nil, nil, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"truncated", good[:len(good)-1], nil, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"truncated batch", batch(mp(t, item("a", 1, 2)))[:12], nil, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"trailing bytes", cat(good, unhex(t, "00")), nil, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"two objects", cat(good, good), nil, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"never-used code", batch(unhex(t, "c1")), nil, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"array32 of 4G", unhex(t, "dd ffffffff 00"), nil, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"str32 of 4G", unhex(t, "92 db ffffffff 61"), nil, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"bin32 of 4G", unhex(t, "92 c6 ffffffff 61"), nil, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"map32 of 4G", unhex(t, "df ffffffff"), nil, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"ext32 of 4G", unhex(t, "92 a1 61 c9 ffffffff 01"), nil, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"array16 longer than datagram", unhex(t, "dc 0010 9201 02"), nil, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"too many items", batch(mp(t, item("a", 1, 2)), mp(t, item("b", 1, 2))), &ingest.Limits{MaxNameLen: 255, MaxItems: 2, MaxPayload: 1 << 16}, nil,
			map[ingest.Reason]int{ingest.TooLarge: 1}},
		{"too large", good, &ingest.Limits{MaxNameLen: 255, MaxItems: 2, MaxPayload: len(good) - 1}, nil,
			map[ingest.Reason]int{ingest.TooLarge: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lim := ingest.DefaultLimits()
			if tc.lim != nil {
				lim = *tc.lim
			}
			got, err := decodeAll(tc.in, lim)
			var e *ingest.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, counts(tc.rejected), e.Counts, "%v", err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestDecodeAllocs(t *testing.T) {
	lim := ingest.DefaultLimits()
	single := mp(t, item("carbon.agents.host-a.cache.size", 1700000000, 1.5))
	n := testing.AllocsPerRun(100, func() {
		require.NoError(t, Decode(single, lim, func(metric.Point) {}))
	})
	require.LessOrEqual(t, n, 1.0, "only the name string may be allocated")

	for _, bomb := range [][]byte{unhex(t, "92 db ffffffff 61"), unhex(t, "dd ffffffff 00")} {
		require.Less(t, allocBytes(func() { _ = Decode(bomb, lim, func(metric.Point) {}) }), 1024.0,
			"a lying length must cost no more than the error value")
	}
}

// allocBytes returns the bytes f allocates per call, averaged over many calls.
func allocBytes(f func()) float64 {
	const runs = 100
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return float64(after.TotalAlloc-before.TotalAlloc) / runs
}

// fuzzLimits are small so that the fuzzer reaches every limit.
var fuzzLimits = ingest.Limits{MaxNameLen: 32, MaxItems: 8, MaxPayload: 4096}

func FuzzDecode(f *testing.F) {
	// Seeds beyond testdata/fuzz/FuzzDecode: the good cases of the table tests.
	f.Add(unhex(f, "92 a3 612e62 92 ce 6553f100 cb 3ff8000000000000"))
	f.Add(mp(f, []any{item("a", 1, 1.5), item([]byte("b"), -2, float32(2.5)), item("c", uint64(math.MaxUint64), nil)}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var got []metric.Point
		err := Decode(b, fuzzLimits, func(p metric.Point) {
			_, nerr := ingest.CheckName([]byte(p.Name), fuzzLimits.MaxNameLen)
			require.NoError(t, nerr)
			require.NoError(t, ingest.CheckFinite("timestamp", p.Timestamp.Float64()))
			require.NoError(t, ingest.CheckFinite("value", p.Value.Float64()))
			got = append(got, p)
		})
		require.LessOrEqual(t, len(got), fuzzLimits.MaxItems)
		if err == nil {
			return
		}
		var e *ingest.Error
		require.True(t, errors.As(err, &e), "error %v is not an *ingest.Error", err)
		if e.Counts[ingest.Malformed] > 0 || e.Counts[ingest.TooLarge] > 0 {
			require.Empty(t, got, "a datagram rejected as a whole emitted points")
		}
	})
}

func TestSeedCorpus(t *testing.T) {
	// The committed seeds named good-* stay meaningful: they decode without rejections.
	files, err := filepath.Glob("testdata/fuzz/FuzzDecode/good-*")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		require.Len(t, lines, 2, f)
		q, ok := strings.CutPrefix(lines[1], "[]byte(")
		require.True(t, ok, f)
		b, err := strconv.Unquote(strings.TrimSuffix(q, ")"))
		require.NoError(t, err, f)
		got, err := decodeAll([]byte(b), ingest.DefaultLimits())
		require.NoError(t, err, f)
		require.NotEmpty(t, got, f)
	}
}
