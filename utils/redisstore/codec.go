package redisstore

import (
	"bytes"
	"errors"
	"fmt"
	"math"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// Number is one field of a datapoint as the sender typed it. Skyline stores timestamps and
// values exactly as received, and Python's msgpack writes ints in their most compact form and
// floats as float64, so the int/float distinction is kept to stay byte-compatible.
type Number struct {
	I     int64
	F     float64
	IsInt bool
}

// Int returns an integer Number.
func Int(i int64) Number { return Number{I: i, F: float64(i), IsInt: true} }

// Float returns a floating-point Number.
func Float(f float64) Number { return Number{F: f} }

// Float64 returns the number as a float64 (ints beyond 2^53 lose precision).
func (n Number) Float64() float64 {
	if n.IsInt {
		return float64(n.I)
	}
	return n.F
}

// String formats the number the way Python would print it: ints without a decimal point.
func (n Number) String() string {
	if n.IsInt {
		return fmt.Sprint(n.I)
	}
	return fmt.Sprint(n.F)
}

// Point is one datapoint of one metric. Name is the metric name without namespace prefix.
type Point struct {
	Name      string
	Timestamp Number
	Value     Number
}

// Pair is a decoded [timestamp, value] element of a stored series.
type Pair struct {
	Timestamp float64
	Value     float64
}

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
func (e *Encoder) AppendPair(dst []byte, ts, value Number) []byte {
	e.out.b = dst
	// Appending to a slice cannot fail.
	_ = e.enc.EncodeArrayLen(2)
	e.encodeNumber(ts)
	e.encodeNumber(value)
	dst, e.out.b = e.out.b, nil
	return dst
}

func (e *Encoder) encodeNumber(n Number) {
	if n.IsInt {
		_ = e.enc.EncodeInt(n.I)
		return
	}
	_ = e.enc.EncodeFloat64(n.F)
}

// AppendPair is a convenience wrapper for one-off encodings; hot paths keep an Encoder.
func AppendPair(dst []byte, ts, value Number) []byte {
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
	return DecodeNumbers(b, func(ts, v Number) {
		emit(Pair{Timestamp: ts.Float64(), Value: v.Float64()})
	})
}

// Series decodes all good pairs of b into a new slice; see DecodeSeries.
func Series(b []byte) ([]Pair, DecodeStats) {
	out := make([]Pair, 0, len(b)/15)
	st := DecodeSeries(b, func(p Pair) { out = append(out, p) })
	return out, st
}

// DecodeNumbers streams the concatenated msgpack pairs in b, calling emit for every good
// [ts, value] pair in stored order with each field's int/float type kept (so a rewrite by
// Roomba preserves the stored bytes of every kept point). It never fails as a whole: bytes
// that do not decode as a pair (a corrupt tail, a foreign scalar, a truncated append) are
// skipped and counted, and decoding resumes at the next byte that starts a valid pair, so one
// bad byte never costs the rest of the series.
func DecodeNumbers(b []byte, emit func(ts, value Number)) DecodeStats {
	var st DecodeStats
	r := bytes.NewReader(b)
	d := msgpack.NewDecoder(r)
	for pos := 0; pos < len(b); {
		ts, v, err := decodeTypedPair(d)
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

func decodeTypedPair(d *msgpack.Decoder) (Number, Number, error) {
	n, err := d.DecodeArrayLen()
	if err != nil {
		return Number{}, Number{}, err
	}
	if n != 2 {
		return Number{}, Number{}, ErrNotPair
	}
	ts, err := decodeTypedNumber(d)
	if err != nil {
		return Number{}, Number{}, err
	}
	v, err := decodeTypedNumber(d)
	if err != nil {
		return Number{}, Number{}, err
	}
	return ts, v, nil
}

func decodeTypedNumber(d *msgpack.Decoder) (Number, error) {
	c, err := d.PeekCode()
	if err != nil {
		return Number{}, err
	}
	switch {
	case c == msgpcode.Uint64:
		u, err := d.DecodeUint64()
		if u > math.MaxInt64 {
			return Float(float64(u)), err
		}
		return Int(int64(u)), err
	case c == msgpcode.Float, c == msgpcode.Double:
		f, err := d.DecodeFloat64()
		return Float(f), err
	case msgpcode.IsFixedNum(c), c == msgpcode.Uint8, c == msgpcode.Uint16, c == msgpcode.Uint32,
		c == msgpcode.Int8, c == msgpcode.Int16, c == msgpcode.Int32, c == msgpcode.Int64:
		i, err := d.DecodeInt64()
		return Int(i), err
	}
	return Number{}, ErrNotPair
}
