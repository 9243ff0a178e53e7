package redisstore

import (
	"bytes"
	"math"
	"testing"

	"github.com/kale-project/kale/utils/metric"
	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// referenceDecode is DecodeNumbers written with the msgpack library's Decoder: slower, and
// the oracle the hand-written fast path must agree with.
func referenceDecode(b []byte, emit func(ts, v metric.Number)) DecodeStats {
	var st DecodeStats
	r := bytes.NewReader(b)
	d := msgpack.NewDecoder(r)
	for pos := 0; pos < len(b); {
		ts, v, err := refPair(d)
		if err == nil {
			emit(ts, v)
			st.Pairs++
			pos = len(b) - r.Len()
			continue
		}
		next := bytes.IndexByte(b[pos+1:], 0x92)
		if next < 0 {
			st.BadBytes += len(b) - pos
			break
		}
		st.BadBytes += next + 1
		pos += next + 1
		r.Reset(b[pos:])
		d.Reset(r)
		b, pos = b[pos:], 0
	}
	return st
}

func refPair(d *msgpack.Decoder) (metric.Number, metric.Number, error) {
	n, err := d.DecodeArrayLen()
	if err != nil {
		return metric.Number{}, metric.Number{}, err
	}
	if n != 2 {
		return metric.Number{}, metric.Number{}, ErrNotPair
	}
	ts, err := refNumber(d)
	if err != nil {
		return metric.Number{}, metric.Number{}, err
	}
	v, err := refNumber(d)
	return ts, v, err
}

func refNumber(d *msgpack.Decoder) (metric.Number, error) {
	c, err := d.PeekCode()
	if err != nil {
		return metric.Number{}, err
	}
	switch {
	case c == msgpcode.Uint64:
		u, err := d.DecodeUint64()
		if u > math.MaxInt64 {
			return metric.Float(float64(u)), err
		}
		return metric.Int(int64(u)), err
	case c == msgpcode.Float, c == msgpcode.Double:
		f, err := d.DecodeFloat64()
		return metric.Float(f), err
	case msgpcode.IsFixedNum(c), c == msgpcode.Uint8, c == msgpcode.Uint16, c == msgpcode.Uint32,
		c == msgpcode.Int8, c == msgpcode.Int16, c == msgpcode.Int32, c == msgpcode.Int64:
		i, err := d.DecodeInt64()
		return metric.Int(i), err
	}
	return metric.Number{}, ErrNotPair
}

type typed struct{ ts, v metric.Number }

// FuzzFastDecoderMatchesLibrary is a differential test: the hand-written decoder and the
// msgpack library agree on every input, pair by pair and byte count by byte count.
func FuzzFastDecoderMatchesLibrary(f *testing.F) {
	for _, s := range []string{"92ce6553f100cb3ff8000000000000", "9200ff9201d0df", "92ca3fc0000092d3ffffff0000000000cf8000000000000000",
		"92cf8000000000000000cc05", "92cb", "c1929292", "92a3616263", "93010203"} {
		f.Add(hexBytes(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast, ref []typed
		fs := DecodeNumbers(b, func(ts, v metric.Number) { fast = append(fast, typed{ts, v}) })
		rs := referenceDecode(b, func(ts, v metric.Number) { ref = append(ref, typed{ts, v}) })
		if fs != rs {
			t.Fatalf("stats differ: fast %+v, library %+v", fs, rs)
		}
		for i := range fast {
			a, r := fast[i], ref[i]
			if a.ts.IsInt != r.ts.IsInt || a.v.IsInt != r.v.IsInt || a.ts.I != r.ts.I || a.v.I != r.v.I ||
				math.Float64bits(a.ts.F) != math.Float64bits(r.ts.F) || math.Float64bits(a.v.F) != math.Float64bits(r.v.F) {
				t.Fatalf("pair %d differs: fast %+v, library %+v", i, a, r)
			}
		}
	})
}

func BenchmarkReferenceDecode(b *testing.B) {
	e := NewEncoder()
	var raw []byte
	for i := range 8640 {
		raw = e.AppendPair(raw, metric.Int(int64(1_700_000_000+10*i)), metric.Float(float64(i%97)*1.25))
	}
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		referenceDecode(raw, func(ts, v metric.Number) {})
	}
}

func BenchmarkAppendPairs(b *testing.B) {
	e := NewEncoder()
	var raw []byte
	for i := range 8640 {
		raw = e.AppendPair(raw, metric.Int(int64(1_700_000_000+10*i)), metric.Float(float64(i%97)*1.25))
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	dst := make([]Pair, 0, 8640)
	for b.Loop() {
		dst, _ = AppendPairs(dst[:0], raw)
	}
}
