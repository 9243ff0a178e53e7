package redisstore

import (
	"encoding/hex"
	"testing"

	"github.com/kale-project/kale/utils/metric"
	"github.com/stretchr/testify/require"
)

// Expected bytes are what Python's msgpack.packb((ts, value)) writes (msgpack 1.0, Debian
// python3-msgpack), i.e. what Skyline's horizon worker APPENDs.
func TestAppendPairMatchesPython(t *testing.T) {
	for _, tc := range []struct {
		ts, v metric.Number
		hex   string
	}{
		{metric.Int(1700000000), metric.Float(1.5), "92ce6553f100cb3ff8000000000000"},      // (1700000000, 1.5)
		{metric.Int(1700000000), metric.Int(5), "92ce6553f10005"},                          // (1700000000, 5)
		{metric.Int(0), metric.Int(-1), "9200ff"},                                          // (0, -1)
		{metric.Int(1), metric.Int(-33), "9201d0df"},                                       // (1, -33)
		{metric.Int(1700000000), metric.Int(300), "92ce6553f100cd012c"},                    // (1700000000, 300)
		{metric.Int(1700000000), metric.Int(70000), "92ce6553f100ce00011170"},              // (1700000000, 70000)
		{metric.Int(1700000000), metric.Int(-200), "92ce6553f100d1ff38"},                   // (1700000000, -200)
		{metric.Int(1700000000), metric.Int(-40000), "92ce6553f100d2ffff63c0"},             // (1700000000, -40000)
		{metric.Int(1700000000), metric.Int(1 << 40), "92ce6553f100cf0000010000000000"},    // (1700000000, 2**40)
		{metric.Float(1.5), metric.Float(1e308), "92cb3ff8000000000000cb7fe1ccf385ebc8a0"}, // (1.5, 1e308)
	} {
		got := AppendPair(nil, tc.ts, tc.v)
		require.Equal(t, tc.hex, hex.EncodeToString(got), "pair (%v, %v)", tc.ts, tc.v)
	}
}

func TestDecodeSeriesKeepsGoodPoints(t *testing.T) {
	e := NewEncoder()
	var good []byte
	for i := range 5 {
		good = e.AppendPair(good, metric.Int(int64(1000+i)), metric.Float(float64(i)+0.5))
	}
	for _, tc := range []struct {
		name     string
		raw      []byte
		pairs    int
		badBytes int
	}{
		{"clean", good, 5, 0},
		{"empty", nil, 0, 0},
		{"truncated tail", append(append([]byte{}, good...), good[:7]...), 5, 7},
		{"garbage tail", append(append([]byte{}, good...), 0xc1, 0xff, 0x00), 5, 3},
		{"corrupt byte in the middle", func() []byte {
			b := append([]byte{}, good...)
			b[len(good)/2-2] = 0xc1 // inside the third pair
			return b
		}(), 4, 0},
		{"scalar among pairs", append(append([]byte{0x05}, good...), 0x07), 5, 2},
		{"string where a value belongs", append(hexBytes("92ce6553f100a3616263"), good...), 5, 10},
		{"3-array", append(hexBytes("93010203"), good...), 5, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pairs, st := Series(tc.raw)
			require.Len(t, pairs, tc.pairs)
			require.Equal(t, tc.pairs, st.Pairs)
			if tc.badBytes > 0 {
				require.Equal(t, tc.badBytes, st.BadBytes)
			}
			if tc.pairs > 0 && tc.name != "corrupt byte in the middle" {
				require.Equal(t, Pair{Timestamp: 1000, Value: 0.5}, pairs[0])
				require.Equal(t, Pair{Timestamp: 1004, Value: 4.5}, pairs[len(pairs)-1])
			}
		})
	}
}

// A Skyline-written key (Python msgpack bytes, floats and ints mixed) reads back.
func TestDecodeSkylineWritten(t *testing.T) {
	raw := hexBytes("92ce6553f100cb3ff8000000000000" + "92ce6553f10005" + "92cb41d954fc40000000cb4059000000000000")
	var got []Pair
	st := DecodeSeries(raw, func(p Pair) { got = append(got, p) })
	require.Equal(t, DecodeStats{Pairs: 3}, st)
	require.Equal(t, []Pair{{Timestamp: 1700000000, Value: 1.5}, {Timestamp: 1700000000, Value: 5}, {Timestamp: 1700000000, Value: 100}}, got)

	// Types survive a typed decode, so a rewrite reproduces the bytes exactly.
	var again []byte
	e := NewEncoder()
	DecodeNumbers(raw, func(ts, v metric.Number) { again = e.AppendPair(again, ts, v) })
	require.Equal(t, raw, again)
}

func hexBytes(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func FuzzDecodeSeries(f *testing.F) {
	f.Add(hexBytes("92ce6553f100cb3ff8000000000000"))
	f.Add(hexBytes("92ce6553f10005920102"))
	f.Add(hexBytes("dd7fffffff"))
	f.Add([]byte{0x92, 0x92, 0x92})
	f.Fuzz(func(t *testing.T, b []byte) {
		st := DecodeNumbers(b, func(ts, v metric.Number) {})
		if st.BadBytes > len(b) || st.BadBytes < 0 {
			t.Fatalf("bad byte count %d for %d bytes", st.BadBytes, len(b))
		}
		if st.Pairs*3 > len(b) {
			t.Fatalf("%d pairs from %d bytes", st.Pairs, len(b))
		}
	})
}

func BenchmarkDecodeSeries(b *testing.B) {
	e := NewEncoder()
	var raw []byte
	for i := range 8640 { // 24 h at 10 s
		raw = e.AppendPair(raw, metric.Int(int64(1_700_000_000+10*i)), metric.Float(float64(i%97)*1.25))
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		DecodeSeries(raw, func(Pair) { n++ })
		if n != 8640 {
			b.Fatal(n)
		}
	}
}

func BenchmarkAppendPair(b *testing.B) {
	e := NewEncoder()
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = e.AppendPair(buf[:0], metric.Int(1_700_000_000), metric.Float(12.5))
	}
}

// AppendPairsEnd decodes what AppendPairs does and locates the last good pair: its bytes
// decode alone to that pair, and nothing after them does.
func FuzzAppendPairsEnd(f *testing.F) {
	f.Add(hexBytes("92ce6553f100cb3ff8000000000000"))
	f.Add(hexBytes("92ce6553f10005920102ff"))
	f.Add(hexBytes("c192010292"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		want, wst := AppendPairs(nil, b)
		got, st, ls, le := AppendPairsEnd(nil, b)
		if wst != st || len(want) != len(got) {
			t.Fatalf("AppendPairsEnd %v %d pairs, AppendPairs %v %d", st, len(got), wst, len(want))
		}
		if len(got) == 0 {
			if ls != -1 || le != -1 {
				t.Fatalf("no pair, but last pair at [%d, %d)", ls, le)
			}
			return
		}
		if !(0 <= ls && ls < le && le <= len(b)) {
			t.Fatalf("last pair at [%d, %d) of %d bytes", ls, le, len(b))
		}
		alone, ast := AppendPairs(nil, b[ls:le])
		if len(alone) != 1 || ast.BadBytes != 0 || !samePair(alone[0], got[len(got)-1]) {
			t.Fatalf("bytes [%d, %d) decode to %v (%v), want the last pair %v", ls, le, alone, ast, got[len(got)-1])
		}
		if rest, _ := AppendPairs(nil, b[le:]); len(rest) != 0 {
			t.Fatalf("%d pairs after the last one", len(rest))
		}
	})
}

func samePair(a, b Pair) bool {
	eq := func(x, y float64) bool { return x == y || (x != x && y != y) }
	return eq(a.Timestamp, b.Timestamp) && eq(a.Value, b.Value)
}

func TestAppendPairsEnd(t *testing.T) {
	e := NewEncoder()
	one := e.AppendPair(nil, metric.Int(1_700_000_000), metric.Float(1.5))
	two := e.AppendPair(append([]byte(nil), one...), metric.Int(1_700_000_060), metric.Int(7))
	for _, tc := range []struct {
		name   string
		b      []byte
		pairs  int
		ls, le int
	}{
		{"empty", nil, 0, -1, -1},
		{"one pair", one, 1, 0, len(one)},
		{"two pairs", two, 2, len(one), len(two)},
		{"corrupt tail", append(append([]byte(nil), two...), 0x92, 0xcb), 2, len(one), len(two)},
		{"corrupt head", append([]byte{0xc1, 0xc1}, one...), 1, 2, 2 + len(one)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, st, ls, le := AppendPairsEnd(nil, tc.b)
			require.Len(t, got, tc.pairs)
			require.Equal(t, tc.pairs, st.Pairs)
			require.Equal(t, [2]int{tc.ls, tc.le}, [2]int{ls, le})
		})
	}
}
