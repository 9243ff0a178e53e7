package redisstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/utils/metric"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// Pair is a decoded [timestamp, value] element of a stored series. It is the detectors'
// point type, so a decoded series goes to the analyzer without a copy.
type Pair = algorithms.Point

// Encoder appends msgpack [ts, value] pairs exactly as Python's msgpack.packb((ts, value))
// writes them: a fixarray of 2, ints compact (positive fixint, uint8..uint64, negative fixint,
// int8..int64), floats as float64. It is not safe for concurrent use.
type Encoder struct {
	out appendWriter
	enc *msgpack.Encoder
}

// appendWriter lets the msgpack encoder write straight into the caller's slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }
func (w *appendWriter) WriteByte(c byte) error      { w.b = append(w.b, c); return nil }

// NewEncoder returns an Encoder.
func NewEncoder() *Encoder {
	e := &Encoder{}
	e.enc = msgpack.NewEncoder(&e.out)
	return e
}

// AppendPair appends the encoding of [ts, value] to dst and returns the extended slice.
func (e *Encoder) AppendPair(dst []byte, ts, value metric.Number) []byte {
	e.out.b = dst
	// Appending to a slice cannot fail.
	_ = e.enc.EncodeArrayLen(2)
	e.encodeNumber(ts)
	e.encodeNumber(value)
	dst, e.out.b = e.out.b, nil
	return dst
}

func (e *Encoder) encodeNumber(n metric.Number) {
	if n.IsInt {
		_ = e.enc.EncodeInt(n.I)
		return
	}
	_ = e.enc.EncodeFloat64(n.F)
}

// AppendPair is a convenience wrapper for one-off encodings; hot paths keep an Encoder.
func AppendPair(dst []byte, ts, value metric.Number) []byte {
	return NewEncoder().AppendPair(dst, ts, value)
}

// ErrNotPair reports a stored object that is not a [number, number] array.
var ErrNotPair = errors.New("msgpack object is not a [timestamp, value] pair")

// DecodeStats describes what a series decode skipped.
type DecodeStats struct {
	Pairs    int // good pairs emitted
	BadBytes int // bytes skipped because they did not decode as a pair
}

// DecodeSeries streams the concatenated msgpack pairs in b, calling emit for every good
// [ts, value] pair in stored order; see DecodeNumbers for the error handling.
func DecodeSeries(b []byte, emit func(Pair)) DecodeStats {
	var st DecodeStats
	for pos := 0; pos < len(b); {
		ts, v, next, bad := nextPair(b, pos)
		st.BadBytes += bad
		if next < 0 {
			break
		}
		emit(Pair{Timestamp: ts.Float64(), Value: v.Float64()})
		st.Pairs++
		pos = next
	}
	return st
}

// AppendPairs appends every good pair of b to dst, without a callback per point (the
// analyzer's path); see DecodeNumbers for the error handling.
func AppendPairs(dst []Pair, b []byte) ([]Pair, DecodeStats) {
	var st DecodeStats
	for pos := 0; pos < len(b); {
		ts, v, next, bad := nextPair(b, pos)
		st.BadBytes += bad
		if next < 0 {
			break
		}
		dst = append(dst, Pair{Timestamp: ts.Float64(), Value: v.Float64()})
		st.Pairs++
		pos = next
	}
	return dst, st
}

// AppendPairsEnd is AppendPairs that also returns where the last good pair of b starts and
// ends (both -1 when b holds none): the analyzer keeps those bytes to find, in a later read
// of the key's tail, where the points it has not seen begin.
func AppendPairsEnd(dst []Pair, b []byte) (out []Pair, st DecodeStats, lastStart, lastEnd int) {
	lastStart, lastEnd = -1, -1
	for pos := 0; pos < len(b); {
		ts, v, next, bad := nextPair(b, pos)
		st.BadBytes += bad
		if next < 0 {
			break
		}
		dst = append(dst, Pair{Timestamp: ts.Float64(), Value: v.Float64()})
		st.Pairs++
		lastStart, lastEnd = pos+bad, next
		pos = next
	}
	return dst, st, lastStart, lastEnd
}

// Series decodes all good pairs of b into a new slice; see DecodeSeries.
func Series(b []byte) ([]Pair, DecodeStats) {
	return AppendPairs(make([]Pair, 0, len(b)/15), b)
}

// DecodeNumbers streams the concatenated msgpack pairs in b, calling emit for every good
// [ts, value] pair in stored order with each field's int/float type kept (so a rewrite by
// Roomba preserves the stored bytes of every kept point). It never fails as a whole: bytes
// that do not decode as a pair (a corrupt tail, a foreign scalar, a truncated append) are
// skipped and counted, and decoding resumes at the next byte that starts a valid pair, so one
// bad byte never costs the rest of the series.
//
// This is the analyzer's hottest path (every point of every metric, every cycle), so the
// fixed two-number shape is parsed by hand: about 20x faster than walking it with the msgpack
// library's Decoder, which stays the reference the differential fuzz test compares against.
func DecodeNumbers(b []byte, emit func(ts, value metric.Number)) DecodeStats {
	var st DecodeStats
	for pos := 0; pos < len(b); {
		ts, v, next, bad := nextPair(b, pos)
		st.BadBytes += bad
		if next < 0 {
			break
		}
		emit(ts, v)
		st.Pairs++
		pos = next
	}
	return st
}

// nextPair decodes the first good pair at or after pos. It returns the pair, the position
// after it (-1 when no good pair is left) and the number of bad bytes skipped to reach it.
func nextPair(b []byte, pos int) (ts, v metric.Number, next, bad int) {
	for pos < len(b) {
		if b[pos] == 0x92 {
			ts, n1, ok := parseNumber(b[pos+1:])
			if ok {
				v, n2, ok := parseNumber(b[pos+1+n1:])
				if ok {
					return ts, v, pos + 1 + n1 + n2, bad
				}
			}
		}
		// Resynchronise: skip to the next fixarray-of-2 marker after pos.
		skip := bytes.IndexByte(b[pos+1:], 0x92)
		if skip < 0 {
			return metric.Number{}, metric.Number{}, -1, bad + len(b) - pos
		}
		bad += skip + 1
		pos += skip + 1
	}
	return metric.Number{}, metric.Number{}, -1, bad
}

// parseNumber reads one msgpack integer or float from the start of b.
func parseNumber(b []byte) (metric.Number, int, bool) {
	if len(b) == 0 {
		return metric.Number{}, 0, false
	}
	c := b[0]
	switch {
	case c <= 0x7f: // positive fixint
		return metric.Int(int64(c)), 1, true
	case c >= 0xe0: // negative fixint
		return metric.Int(int64(int8(c))), 1, true
	}
	size := map8[c]
	if size == 0 || len(b) < 1+int(size) {
		return metric.Number{}, 0, false
	}
	p := b[1 : 1+size]
	switch c {
	case msgpcode.Double:
		return metric.Float(math.Float64frombits(binary.BigEndian.Uint64(p))), 9, true
	case msgpcode.Float:
		return metric.Float(float64(math.Float32frombits(binary.BigEndian.Uint32(p)))), 5, true
	case msgpcode.Uint8:
		return metric.Int(int64(p[0])), 2, true
	case msgpcode.Uint16:
		return metric.Int(int64(binary.BigEndian.Uint16(p))), 3, true
	case msgpcode.Uint32:
		return metric.Int(int64(binary.BigEndian.Uint32(p))), 5, true
	case msgpcode.Uint64:
		u := binary.BigEndian.Uint64(p)
		if u > math.MaxInt64 {
			return metric.Float(float64(u)), 9, true
		}
		return metric.Int(int64(u)), 9, true
	case msgpcode.Int8:
		return metric.Int(int64(int8(p[0]))), 2, true
	case msgpcode.Int16:
		return metric.Int(int64(int16(binary.BigEndian.Uint16(p)))), 3, true
	case msgpcode.Int32:
		return metric.Int(int64(int32(binary.BigEndian.Uint32(p)))), 5, true
	default: // msgpcode.Int64
		return metric.Int(int64(binary.BigEndian.Uint64(p))), 9, true
	}
}

// map8 holds the payload size of each fixed-size numeric msgpack code (0: not a number code).
var map8 = func() (t [256]uint8) {
	for code, size := range map[byte]uint8{
		msgpcode.Float: 4, msgpcode.Double: 8,
		msgpcode.Uint8: 1, msgpcode.Uint16: 2, msgpcode.Uint32: 4, msgpcode.Uint64: 8,
		msgpcode.Int8: 1, msgpcode.Int16: 2, msgpcode.Int32: 4, msgpcode.Int64: 8,
	} {
		t[code] = size
	}
	return t
}()
