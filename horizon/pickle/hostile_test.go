package pickle

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/utils/metric"
)

// hostileSize is the size of the frames hostileFrames builds: the 4 MiB of issue #14.
const hostileSize = 4 << 20

// fill repeats unit after head until the frame is about size bytes, then adds tail.
func fill(size int, head, unit, tail string) []byte {
	n := max(0, (size-len(head)-len(tail))/len(unit))
	return p(head, strings.Repeat(unit, n), tail)
}

// half repeats open, then close, as many times each as fits in size.
func half(size int, head, open, close, tail string) []byte {
	n := max(0, (size-len(head)-len(tail))/(len(open)+len(close)))
	return p(head, strings.Repeat(open, n), strings.Repeat(close, n), tail)
}

// hostileFrames returns frames of about size bytes built to make a decoder spend as much as
// possible per input byte.
func hostileFrames(size int) []struct {
	name string
	b    []byte
} {
	str := strings.Repeat("s", 60<<10)
	return []struct {
		name string
		b    []byte
	}{
		{"nested lists", half(size, "]", "]", "a", goodItem+".")},
		{"nested marks", half(size, "]", "(", "l", "a"+goodItem+".")},
		{"nested tuples", half(size, "]", "(", "t", "a"+goodItem+".")},
		{"nested tuple1", fill(size, "]N", "\x85", "a"+goodItem+".")},
		{"empty lists appended", fill(size, "](", "]", "e.")},
		{"empty lists APPEND", fill(size, "]", "]a", ".")},
		{"empty tuples", fill(size, "](", ")", "e.")},
		{"tiny tuples", fill(size, "](", "N\x85", "e.")},
		{"pair tuples", fill(size, "](", "NN\x86", "e.")},
		{"big ints", fill(size, "](", "J\xff\xff\xff\x7f", "e.")},
		{"floats", fill(size, "](", "G\x40\x09\x21\xfb\x54\x44\x2d\x18", "e.")},
		{"LONG1 ints", fill(size, "\x80\x02](", "\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f", "e.")},
		{"INT text", fill(size, "](", "I1234567890123\n", "e.")},
		{"short strings", fill(size, "](", "U\x01a", "e.")},
		{"short unicode", fill(size, "\x80\x04](", "\x8c\x01a", "e.")},
		{"STRING text", fill(size, "](", "S'a'\n", "e.")},
		{"MARK flood", fill(size, "]", "(", ".")},
		{"MARK POP flood", fill(size, "]", "(0", ".")},
		{"DUP flood", fill(size, "]", "2", ".")},
		{"NONE POP flood", fill(size, "]", "N0", ".")},
		{"MEMOIZE flood", fill(size, "\x80\x04]", "\x94", ".")},
		{"BINPUT flood", fill(size, "]", "q\x00", ".")},
		{"PUT text flood", fill(size, "]", "p0\n", ".")},
		{"BINGET fan-out", fill(size, "](U\x01a(K\x01K\x02ttq\x000(", "h\x00", "e.")},
		{"BINGET POP", fill(size, "](U\x01a(K\x01K\x02ttq\x000", "h\x000", goodItem+".")},
		{"GET text fan-out", fill(size, "](U\x01a(K\x01K\x02ttp0\n0(", "g0\n", "e.")},
		{"long string fan-out", fill(size, "](X\x00\xf0\x00\x00"+str+"q\x000(", "h\x00", "e.")},
		{"long string items", fill(size, "](X\x00\xf0\x00\x00"+str+"q\x000", "(h\x00(K\x01K\x02tt", "e.")},
		{"list fan-out", fill(size, "](NNNNNNNNlq\x000(", "h\x00", "e.")},
		{"DUP tuples", fill(size, "](NN\x86", "2", "e.")},
		{"memoized items", fill(size, "](", "U\x01aq\x00K\x01K\x02\x86q\x01\x86q\x02", "e.")},
		{"tiny items", fill(size, "](", "(U\x01a(K\x01K\x02tt", "e.")},
		{"carbon items", fill(size, "\x80\x04](", "\x8c\x1ecarbon.agents.host-01.metric_x\x94G\x41\xd9\x54\xfc\x40\x00\x00\x00G\x3f\xe0\x00\x00\x00\x00\x00\x00\x86\x94\x86\x94", "e.")},
		{"GLOBAL flood", fill(size, "](", "ca\nb\n", "e.")},
		{"REDUCE calls", fill(size, "](ca\nb\nq\x00)q\x010", "h\x00h\x01R", "e.")},
		{"REDUCE copies", fill(size, "]c_codecs\nencode\nq\x01X\x00\xf0\x00\x00"+str+"q\x02X\x06\x00\x00\x00latin1q\x03000", "h\x01h\x02h\x03\x86R0", ".")},
		{"PERSID flood", fill(size, "](", "Pa\n", "e.")},
	}
}

// BenchmarkHostile decodes each hostile frame and reports the bytes allocated per byte of
// input (alloc-x).
func BenchmarkHostile(b *testing.B) {
	lim := ingest.DefaultLimits()
	for _, f := range hostileFrames(hostileSize) {
		b.Run(strings.ReplaceAll(f.name, " ", "_"), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(f.b)))
			var total uint64
			for b.Loop() {
				total += allocBytes(func() { _ = Decode(f.b, lim, func(metric.Point) {}) })
			}
			b.ReportMetric(float64(total)/float64(b.N)/float64(len(f.b)), "alloc-x")
		})
	}
}

// hostileAllocX bounds the bytes Decode allocates per byte of a hostile frame. The machine
// keeps at most budgetPerByte bytes per byte (plus budgetSlack); each of its arenas grows by
// doubling, clipped to the budget, so a frame that fills one arena allocates about twice
// that, and one that fills two at once (a stack of short strings or small tuples) up to
// 11 times its size (BenchmarkHostile measures each kind).
const hostileAllocX = 12

// TestHostileFrames decodes 4 MiB frames built to make a decoder spend the most per input
// byte: each allocates at most hostileAllocX times its size (plus 1 MiB) and either fails
// as a whole or emits only valid points.
func TestHostileFrames(t *testing.T) {
	if testing.Short() {
		t.Skip("4 MiB frames")
	}
	lim := ingest.DefaultLimits()
	for _, f := range hostileFrames(hostileSize) {
		t.Run(f.name, func(t *testing.T) {
			// Checked as they come, not collected: only Decode's allocations are measured.
			var buf []byte
			points, bad := 0, 0
			check := func(p metric.Point) {
				points++
				buf = append(buf[:0], p.Name...)
				if _, err := ingest.CheckName(buf, lim.MaxNameLen); err != nil ||
					ingest.CheckFinite("", p.Timestamp.Float64()) != nil || ingest.CheckFinite("", p.Value.Float64()) != nil {
					bad++
				}
			}
			buf = make([]byte, 0, lim.MaxNameLen)
			var err error
			alloc := allocBytes(func() { err = Decode(f.b, lim, check) })
			require.LessOrEqual(t, alloc, uint64(hostileAllocX*len(f.b)+1<<20), "allocated %.1f× the frame (%v)", float64(alloc)/float64(len(f.b)), err)
			require.Zero(t, bad, "invalid points emitted")
			var e *ingest.Error
			if err != nil {
				require.ErrorAs(t, err, &e)
			}
			t.Logf("%.2f× (%d points, %v)", float64(alloc)/float64(len(f.b)), points, err)
		})
	}
}
