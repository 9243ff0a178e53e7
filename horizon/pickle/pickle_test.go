package pickle

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	ogorek "github.com/kisielk/og-rek"
	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/horizon/ingest/ingesttest"
	"github.com/kale-project/kale/utils/metric"
)

var (
	i64 = metric.Int
	f64 = metric.Float
)

var pt = ingesttest.Pt

var goodPt = pt("good", i64(1), i64(2)) // GOOD = ("good", (1, 2)) in gen.py

func decodeAll(b []byte, lim ingest.Limits) ([]metric.Point, error) {
	return ingesttest.DecodeAll(Decode, b, lim)
}

var counts = ingesttest.Counts

// fixtures returns the testdata files written by gen.py for one fixture, in every Python
// version and protocol, failing if fewer than want exist.
func fixtures(t *testing.T, name string, want int) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "py*-p*-"+name+".pickle"))
	require.NoError(t, err)
	require.Len(t, files, want, "fixtures of %q: run testdata/gen.py with python3 and python2", name)
	out := make(map[string][]byte, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		out[filepath.Base(f)] = b
	}
	return out
}

// p concatenates pickle fragments.
func p(parts ...string) []byte { return []byte(strings.Join(parts, "")) }

func u32(n uint32) string { return string(binary.LittleEndian.AppendUint32(nil, n)) }
func u64(n uint64) string { return string(binary.LittleEndian.AppendUint64(nil, n)) }

// Every protocol: Python 2 has 0-2, Python 3 0-5.
const allProtocols = 3 + 6

func TestDecodeGood(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		files   int
		want    []metric.Point
	}{
		// [("a.b", (1700000000, 1.5))]
		{"basic", allProtocols, []metric.Point{pt("a.b", i64(1700000000), f64(1.5))}},
		// [("carbon.agents.a.cpu", (1700000000.0, 0.5)), ("carbon.agents.a.mem", (1700000010.0, 1024.0))]
		{"carbon", allProtocols, []metric.Point{
			pt("carbon.agents.a.cpu", f64(1700000000), f64(0.5)),
			pt("carbon.agents.a.mem", f64(1700000010), f64(1024)),
		}},
		// [("a", (1700000000000, -2)), (u"b", (-1, 2 ** 62)), ["c", [0, 1e-300]]]
		// (Python 2 writes 1700000000000 as INT text even in protocol 2, Python 3 as LONG1.)
		{"mixed", allProtocols, []metric.Point{
			pt("a", i64(1700000000000), i64(-2)),
			pt("b", i64(-1), i64(1<<62)),
			pt("c", i64(0), f64(1e-300)),
		}},
		// (("a.b", (1, 2.5)),)
		{"tuple", allProtocols, []metric.Point{pt("a.b", i64(1), f64(2.5))}},
		// [("a.b", (1, 1.0)), ("a.b", (2, 2.0))] with one name object: the second is a memo GET
		{"repeat", allProtocols, []metric.Point{pt("a.b", i64(1), f64(1)), pt("a.b", i64(2), f64(2))}},
		// []
		{"empty", allProtocols, nil},
		// [(b"a.b", (1, 2))] (Python 3; protocols 0-2 pickle bytes as _codecs.encode(u"a.b", "latin1"))
		{"bytesname", 6, []metric.Point{pt("a.b", i64(1), i64(2))}},
	} {
		for file, b := range fixtures(t, tc.fixture, tc.files) {
			t.Run(file, func(t *testing.T) {
				got, err := decodeAll(b, ingest.DefaultLimits())
				require.NoError(t, err)
				require.Equal(t, tc.want, got)
			})
		}
	}
}

// TestDecodeFrames decodes the 500-datapoint frames with MaxItems at exactly 500: the
// pre-scan's per-item budgets must admit the protocols that need the most opcodes per item.
func TestDecodeFrames(t *testing.T) {
	lim := ingest.DefaultLimits()
	lim.MaxItems = 500
	for _, fixture := range []string{"carbon500", "bytes500"} {
		for file, b := range fixtures(t, fixture, map[string]int{"carbon500": 5, "bytes500": 3}[fixture]) {
			t.Run(file, func(t *testing.T) {
				got, err := decodeAll(b, lim)
				require.NoError(t, err)
				require.Len(t, got, 500)
				if fixture == "carbon500" {
					// ("carbon.agents.host-%02d.cache.metric_%03d" % (i % 16, i), (1700000000.0 + 10 * i, i * 37.5))
					require.Equal(t, pt("carbon.agents.host-03.cache.metric_499", f64(1700004990), f64(499*37.5)), got[499])
				} else {
					// (("m.%03d" % i).encode("ascii"), (1700000000 + 10 * i, i))
					require.Equal(t, pt("m.499", i64(1700004990), i64(499)), got[499])
				}

				lim := lim
				lim.MaxItems = 499
				_, err = decodeAll(b, lim)
				var e *ingest.Error
				require.ErrorAs(t, err, &e)
				require.Equal(t, counts(map[ingest.Reason]int{ingest.TooLarge: 1}), e.Counts)
			})
		}
	}
}

// TestDecodeBadFixtures decodes the malicious and broken pickles made by real Python.
func TestDecodeBadFixtures(t *testing.T) {
	for _, tc := range []struct {
		fixture  string
		files    int
		want     []metric.Point
		rejected map[ingest.Reason]int
	}{
		// [("a.b", (1, float("nan"))), ("c.d", (float("inf"), 1)), ("e.f", (1, float("-inf"))), GOOD]
		{"nan", allProtocols, []metric.Point{goodPt}, map[ingest.Reason]int{ingest.NotFinite: 3}},
		// [("a", (1, True)), ("b", (1, None)), ("c", (1, "1.5")), ("d", (1,)), ("e", 1),
		//  (1, (1, 2)), ("g", (1, 2 ** 70)), ("h", (1, 2), 3), GOOD]
		{"badtypes", allProtocols, []metric.Point{goodPt}, map[ingest.Reason]int{ingest.BadType: 8}},
		// [("a b", (1, 2)), ("", (1, 2)), ("x" * 256, (1, 2)), ("<script>", (1, 2)), GOOD]
		{"badnames", allProtocols, []metric.Point{goodPt}, map[ingest.Reason]int{ingest.BadName: 3, ingest.NameTooLong: 1}},
		// [(b"\xff\xfe", (1, 2)), (u"\u00e9t\u00e9", (1, 2)), GOOD]  (Python 2: "\xff\xfe")
		{"nonutf8", allProtocols, []metric.Point{goodPt}, map[ingest.Reason]int{ingest.BadName: 2}},
		// [(os.system, (1, 2)), ("a.b", (1, os.system)), GOOD]: GLOBAL posix.system as a value
		{"global", allProtocols, []metric.Point{goodPt}, map[ingest.Reason]int{ingest.BadType: 2}},
		// [("a.b", (1, Evil())), (Evil(), (1, 2)), GOOD] where Evil().__reduce__() is
		// (os.system, ("echo pwned",)): GLOBAL/STACK_GLOBAL + REDUCE, an og-rek Call
		{"reduce", allProtocols, []metric.Point{goodPt}, map[ingest.Reason]int{ingest.BadType: 2}},
		// Evil(): the whole payload is a call of os.system
		{"evil", allProtocols, nil, map[ingest.Reason]int{ingest.BadType: 1}},
		// {"a.b": (1, 2)}: a dict instead of a list
		{"dict", allProtocols, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
	} {
		for file, b := range fixtures(t, tc.fixture, tc.files) {
			t.Run(file, func(t *testing.T) {
				got, err := decodeAll(b, ingest.DefaultLimits())
				var e *ingest.Error
				require.ErrorAs(t, err, &e)
				require.Equal(t, counts(tc.rejected), e.Counts, "%v", err)
				require.Equal(t, tc.want, got)
			})
		}
	}
}

func TestDecodeTruncated(t *testing.T) {
	for file, b := range fixtures(t, "carbon", allProtocols) {
		for n := range len(b) {
			got, err := decodeAll(b[:n], ingest.DefaultLimits())
			var e *ingest.Error
			require.ErrorAs(t, err, &e, "%s[:%d]", file, n)
			require.Equal(t, counts(map[ingest.Reason]int{ingest.Malformed: 1}), e.Counts, "%s[:%d]: %v", file, n, err)
			require.Empty(t, got)
		}
	}
}

// small limits make the per-item budgets small enough to hit in a test.
var small = ingest.Limits{MaxNameLen: 255, MaxItems: 100, MaxPayload: 1 << 20}

// Hand-made pickles, in the notation of pickletools.dis.
var (
	// ["good"-item]: ]  (  U good  (  K1 K2  t  t  a  .
	goodItem = "(U\x04good(K\x01K\x02tta"

	// The classic: os.system("echo pwned") in protocol 0.
	classic = p("cos\nsystem\n(S'echo pwned'\ntR.")

	// Deep nesting: 100 000 EMPTY_LISTs appended into each other, then the good item.
	nested = p("]", strings.Repeat("]", 100_000), strings.Repeat("a", 100_000), goodItem, ".")
	// … and 100 000 MARKs closed by LIST.
	nestedMarks = p("]", strings.Repeat("(", 100_000), strings.Repeat("l", 100_000), "a", goodItem, ".")

	// One memoized item (POPped after BINPUT) referenced n times: n points, 2 bytes each.
	memoRefs = func(n int) []byte {
		return p("](U\x01a(K\x01K\x02ttq\x000(", strings.Repeat("h\x00", n), "e.")
	}

	// A full list (LIST allocates exactly its length) memoized, then fetched back, appended
	// to and dropped, over and over: og-rek's memo holds the slice header, so every APPEND
	// copies the whole list into a new backing array.
	staleAppend = func(listLen, appends int) []byte {
		return p("](", strings.Repeat("N", listLen), "lq\x000", strings.Repeat("h\x00Na0", appends), ".")
	}

	// _codecs.encode(s, "latin1") called n times on one memoized string s: og-rek copies s
	// twice per call (to latin-1 bytes, then to Bytes).
	reduceCopies = func(size, n int) []byte {
		return p("]c_codecs\nencode\nq\x01X", u32(uint32(size)), strings.Repeat("a", size), "q\x02X\x06\x00\x00\x00latin1q\x03000",
			strings.Repeat("h\x01h\x02h\x03\x86R0", n), ".")
	}
)

func TestDecodeBad(t *testing.T) {
	big := strings.Repeat("9", 100)
	for _, tc := range []struct {
		name     string
		in       []byte
		lim      ingest.Limits
		want     []metric.Point
		rejected map[ingest.Reason]int
	}{
		{"classic os.system", classic, small, nil, map[ingest.Reason]int{ingest.BadType: 1}},
		{"os.system in an item", p("](cos\nsystem\n(S'x'\ntR(K\x01K\x02tta", goodItem, "."), small, []metric.Point{goodPt},
			map[ingest.Reason]int{ingest.BadType: 1}},
		{"persistent id", p("](Pfoo\n(K\x01K\x02tta", goodItem, "."), small, []metric.Point{goodPt}, map[ingest.Reason]int{ingest.BadType: 1}},
		{"LONG text of 100 digits", p("](U\x01a(L", big, "L\nK\x02tta", goodItem, "."), small, nil, map[ingest.Reason]int{ingest.TooLarge: 1}},
		{"LONG1 beyond int64", p("](U\x01a(\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01K\x02tta", goodItem, "."), small, []metric.Point{goodPt},
			map[ingest.Reason]int{ingest.BadType: 1}},
		{"py2 long in int64", p("](U\x01a(L1700000000000L\nK\x02tta."), small, []metric.Point{pt("a", i64(1700000000000), i64(2))}, nil},

		// Lengths that lie.
		{"BINUNICODE of 2 GiB", p("\x80\x02]X", u32(0x7fffffff), "abc"), small, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"BINSTRING of -1", p("]T", u32(0xffffffff), "abc"), small, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"BINBYTES of 4 GiB", p("\x80\x03]B", u32(0xffffffff), "abc"), small, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"SHORT_BINUNICODE beyond the end", p("\x80\x04]\x8c\xffabc"), small, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"BINUNICODE8 of 2^63", p("\x80\x04]\x8d", u64(1<<63), "abc"), small, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"BINBYTES8 of 2^64-1", p("\x80\x04]\x8e", u64(math.MaxUint64), "abc"), small, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"BYTEARRAY8 of 1 GiB", p("\x80\x05]\x96", u64(1<<30), "abc"), small, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"FRAME of 1 TiB", p("\x80\x04\x95", u64(1<<40), "]."), small, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"LONG4 of 1 MiB", p("\x80\x02]\x8b", u32(1<<20), "abc"), small, nil, map[ingest.Reason]int{ingest.Malformed: 1}},

		// Strings far longer than any name.
		{"UNICODE of 100 KiB", p("](V", strings.Repeat("a", 100<<10), "\n(K\x01K\x02tta."), small, nil, map[ingest.Reason]int{ingest.TooLarge: 1}},
		{"BINUNICODE of 100 KiB", p("](X", u32(100<<10), strings.Repeat("a", 100<<10), "(K\x01K\x02tta."), small, nil, map[ingest.Reason]int{ingest.TooLarge: 1}},
		{"GLOBAL of 100 KiB", p("](c", strings.Repeat("a", 100<<10), "\nb\n(K\x01K\x02tta."), small, nil, map[ingest.Reason]int{ingest.TooLarge: 1}},

		// Numbers too long to parse cheaply.
		{"INT of 100 digits", p("](U\x01a(I", big, "\nK\x02tta."), small, nil, map[ingest.Reason]int{ingest.TooLarge: 1}},
		{"FLOAT of 100 digits", p("](U\x01a(F", big, "\nK\x02tta."), small, nil, map[ingest.Reason]int{ingest.TooLarge: 1}},
		{"LONG1 of 100 bytes", p("\x80\x02](U\x01a(\x8a\x64", big, "K\x02tta."), small, nil, map[ingest.Reason]int{ingest.TooLarge: 1}},
		// og-rek reads LONG1's length byte as signed: 0x80 would be a zero-length long and
		// the next 128 bytes would run as opcodes.
		{"LONG1 of 128 bytes", p("\x80\x02]\x8a\x80", strings.Repeat("N", 128), "."), small, nil, map[ingest.Reason]int{ingest.TooLarge: 1}},

		// Floods: each opcode costs og-rek 16-60 bytes for 1 byte of input.
		{"MARK flood", p("]", strings.Repeat("(", 10_000), "."), small, nil, map[ingest.Reason]int{ingest.TooLarge: 1}},
		{"DUP flood", p("]", strings.Repeat("2", 10_000), "."), small, nil, map[ingest.Reason]int{ingest.TooLarge: 1}},
		{"NONE flood", p("]", strings.Repeat("N0", 10_000), "."), small, nil, map[ingest.Reason]int{ingest.TooLarge: 1}},
		{"MEMOIZE flood", p("\x80\x04]", strings.Repeat("\x94", 10_000), "."), small, nil, map[ingest.Reason]int{ingest.TooLarge: 1}},
		{"BINPUT flood", p("]", strings.Repeat("q\x00", 10_000), "."), small, nil, map[ingest.Reason]int{ingest.TooLarge: 1}},
		{"memo key out of sequence", p("]r", u32(0x7fffffff), "."), small, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"memo key not canonical", p("]p01\n."), small, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"memo key missing", p("]h\x05."), small, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"stale list append", staleAppend(10, 2), small, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"DUP list append", p("]2N", "a0."), small, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"REDUCE copies", reduceCopies(64<<10, 100), small, nil, map[ingest.Reason]int{ingest.TooLarge: 1}},
		{"memo refs over MaxItems", memoRefs(101), small, nil, map[ingest.Reason]int{ingest.TooLarge: 1}},

		// Deep nesting is harmless: one bad item, the good one survives.
		{"nested lists", nested, ingest.DefaultLimits(), []metric.Point{goodPt}, map[ingest.Reason]int{ingest.BadType: 1}},
		{"nested marks", nestedMarks, ingest.DefaultLimits(), []metric.Point{goodPt}, map[ingest.Reason]int{ingest.BadType: 1}},

		// Not a pickle of a list.
		{"empty payload", nil, small, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"garbage", p("hello world"), small, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"STOP alone", p("."), small, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"no STOP", p("]"), small, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"two objects", p("]]."), small, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"trailing bytes", p("].]."), small, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"an int", p("K\x01."), small, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"a string", p("U\x03a.b."), small, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"protocol 6", p("\x80\x06]."), small, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"BUILD", p("cos\nsystem\n)Rb."), small, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"INST", p("(ios\nsystem\n."), small, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"NEWOBJ", p("\x80\x02cos\nsystem\n)\x81."), small, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"empty set", p("\x80\x04\x8f."), small, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"not an opcode", p("]\xff."), small, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"bad float text", p("](U\x01a(K\x01Fx\ntta."), small, nil, map[ingest.Reason]int{ingest.Malformed: 1}},
		{"MARK returned", p("(."), small, nil, map[ingest.Reason]int{ingest.Malformed: 1}},

		// Limits.
		{"payload too large", p("]", goodItem, "."), ingest.Limits{MaxNameLen: 255, MaxItems: 10, MaxPayload: 8}, nil, map[ingest.Reason]int{ingest.TooLarge: 1}},
		{"too many items", p("](", strings.Repeat("N", 101), "e."), small, nil, map[ingest.Reason]int{ingest.TooLarge: 1}},
		{"name too long", p("](U\x09long.name(K\x01K\x02tta", goodItem, "."), ingest.Limits{MaxNameLen: 8, MaxItems: 10, MaxPayload: 1 << 10},
			[]metric.Point{goodPt}, map[ingest.Reason]int{ingest.NameTooLong: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeAll(tc.in, tc.lim)
			if tc.rejected == nil {
				require.NoError(t, err)
			} else {
				var e *ingest.Error
				require.ErrorAs(t, err, &e)
				require.Equal(t, counts(tc.rejected), e.Counts, "%v", err)
			}
			require.Equal(t, tc.want, got)
		})
	}
}

func TestMemoRefsWithinLimit(t *testing.T) {
	got, err := decodeAll(memoRefs(100), small)
	require.NoError(t, err)
	require.Len(t, got, 100)
}

// allocBytes returns the bytes f allocates.
func allocBytes(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestBombsAreReal shows what each guarded bomb costs og-rek on its own, and that Decode
// rejects it for about the size of the payload.
func TestBombsAreReal(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      []byte
		minCost uint64 // what og-rek alone allocates, at least
	}{
		{"stale list append", staleAppend(4096, 2000), 2000 * 4096 * 16},
		{"REDUCE copies", reduceCopies(64<<10, 200), 200 * 64 << 10},
		{"MARK flood", p("]", strings.Repeat("(", 1<<20), "."), 16 << 20},
		{"MEMOIZE flood", p("\x80\x04]", strings.Repeat("\x94", 1<<20), "."), 32 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := allocBytes(func() {
				_, _ = ogorek.NewDecoder(bytes.NewReader(tc.in)).Decode()
			})
			require.Greater(t, raw, tc.minCost, "og-rek alone")

			lim := ingest.DefaultLimits()
			lim.MaxItems = 1000
			var err error
			guarded := allocBytes(func() { err = Decode(tc.in, lim, func(metric.Point) {}) })
			require.Error(t, err)
			// The pre-scan's own stack (24 bytes an object) stops at 16 objects an item.
			require.Less(t, guarded, uint64(len(tc.in))+4<<20, "Decode: %v", err)
			require.Less(t, guarded, raw/4, "Decode: %v", err)
			t.Logf("%d-byte payload: og-rek alone allocates %d MB, Decode %d kB (%v)", len(tc.in), raw>>20, guarded>>10, err)
		})
	}
}

func TestDecodeAllocs(t *testing.T) {
	b, err := os.ReadFile("testdata/py3-p4-carbon500.pickle")
	require.NoError(t, err)
	lim := ingest.DefaultLimits()
	n := testing.AllocsPerRun(20, func() { require.NoError(t, Decode(b, lim, func(metric.Point) {})) })
	// The name string of each item, nothing else: the pooled machine keeps its arenas.
	require.LessOrEqual(t, n, 500+4.0)
}

// fuzzLimits are small so that the fuzzer reaches every budget.
var fuzzLimits = ingest.Limits{MaxNameLen: 32, MaxItems: 16, MaxPayload: 1 << 16}

func FuzzDecode(f *testing.F) {
	// Seeds beyond testdata/fuzz/FuzzDecode: every fixture made by gen.py and the hand-made
	// bombs at a fuzzable size.
	files, err := filepath.Glob("testdata/*.pickle")
	require.NoError(f, err)
	for _, file := range files {
		b, err := os.ReadFile(file)
		require.NoError(f, err)
		if len(b) <= fuzzLimits.MaxPayload {
			f.Add(b)
		}
	}
	f.Add(classic)
	f.Add(memoRefs(3))
	f.Add(staleAppend(2, 2))
	f.Add(reduceCopies(4, 2))
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
		require.NotErrorIs(t, err, errPanic)
		if err != nil {
			var e *ingest.Error
			require.True(t, errors.As(err, &e), "error %v is not an *ingest.Error", err)
			if e.Counts[ingest.Malformed]+e.Counts[ingest.TooLarge] > 0 {
				require.Empty(t, got, "a payload rejected as a whole emitted points")
			}
		}

		// Decode agrees with og-rek wherever both accept the payload.
		var want []metric.Point
		refErr := refDecode(b, fuzzLimits, func(p metric.Point) { want = append(want, p) })
		requireAgree(t, b, got, err, want, refErr)
	})
}

// requireAgree checks Decode's result against refDecode's. Decode may reject as a whole
// (Malformed, TooLarge) what og-rek accepts; otherwise the points and the rejection counts
// must be the same.
func requireAgree(t *testing.T, b []byte, got []metric.Point, err error, want []metric.Point, refErr error) {
	t.Helper()
	var e, re *ingest.Error
	if errors.As(err, &e) && e.Counts[ingest.Malformed]+e.Counts[ingest.TooLarge] > 0 {
		return
	}
	require.True(t, refErr == nil || errors.As(refErr, &re), "%v", refErr)
	require.False(t, re != nil && re.Counts[ingest.Malformed] > 0, "og-rek rejects %q (%v), Decode does not (%v)", b, refErr, err)
	require.True(t, samePoints(want, got), "%q: og-rek decodes %v, Decode %v", b, want, got)
	if re == nil {
		require.NoError(t, err)
	} else {
		require.NotNil(t, e, "%q: og-rek: %v", b, refErr)
		require.Equal(t, re.Counts, e.Counts, "%q: og-rek: %v, Decode: %v", b, refErr, err)
	}
}

// TestAgreesWithOgRek decodes every fixture with Decode and with og-rek.
func TestAgreesWithOgRek(t *testing.T) {
	files, err := filepath.Glob("testdata/*.pickle")
	require.NoError(t, err)
	for _, file := range files {
		b, err := os.ReadFile(file)
		require.NoError(t, err)
		t.Run(filepath.Base(file), func(t *testing.T) {
			got, err := decodeAll(b, ingest.DefaultLimits())
			want, refErr := ingesttest.DecodeAll(refDecode, b, ingest.DefaultLimits())
			requireAgree(t, b, got, err, want, refErr)
		})
	}
}

func samePoints(a, b []metric.Point) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || !sameNumber(a[i].Timestamp, b[i].Timestamp) || !sameNumber(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

func sameNumber(a, b metric.Number) bool {
	return a.IsInt == b.IsInt && a.I == b.I && (a.F == b.F || math.IsNaN(a.F) && math.IsNaN(b.F))
}
