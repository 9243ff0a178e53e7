// Package msgpackudp is horizon's pure decoder for Skyline's msgpack datagrams (UDP port
// 2025), sitting between the UDP listener and the writer; it replaces the msgpack unpacking
// of Skyline's listen.py UDP listener, which trusted every datagram and stopped for good on
// the first malformed one.
//
// The package does no I/O: the listener reads a datagram and hands it to Decode.
package msgpackudp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/utils/metric"
)

// Decode decodes one datagram b and calls emit for every good datapoint in order.
//
// b holds exactly one msgpack object: either a single item [name, [timestamp, value]]
// (Skyline's format, as sent by seed_data.py and Oculus' graphite worker) or an array of such
// items (a batch). The two are told apart by the first element of the outer array: an array
// means a batch. name is a msgpack str or bin and must pass ingest.CheckName; timestamp and
// value are msgpack ints (kept as metric.Int, so the store writes the same bytes) or
// float32/float64 (metric.Float). A uint64 above math.MaxInt64 cannot be an Int and is
// stored as a Float, as redisstore.DecodeNumbers does; nil, bool, str and anything else are
// ingest.BadType. NaN and ±Inf are ingest.NotFinite.
//
// Limits, all checked before anything is allocated: len(b) > lim.MaxPayload and a batch of
// more than lim.MaxItems items reject the datagram as ingest.TooLarge. Every declared array,
// map, str, bin and ext length is checked against the bytes that remain (a 6-byte datagram
// cannot make the decoder reserve 4 GB), and the whole object is walked without recursion
// before the first point is emitted, so a datagram that is not exactly one well-formed msgpack
// object (truncated, invalid code, trailing bytes) is rejected as a whole as ingest.Malformed
// and emits nothing. A well-formed item of the wrong shape or types, a bad name or a
// non-finite number rejects only that item; the others are emitted and the rejections are
// returned as an *ingest.Error.
func Decode(b []byte, lim ingest.Limits, emit func(metric.Point)) error {
	if len(b) > lim.MaxPayload {
		return ingest.Fail(ingest.TooLarge, fmt.Errorf("cannot decode msgpack datagram: %d bytes exceed the limit of %d", len(b), lim.MaxPayload))
	}
	end, err := skip(b, 0)
	if err != nil {
		return ingest.Fail(ingest.Malformed, fmt.Errorf("cannot decode msgpack datagram: %w", err))
	}
	if end != len(b) {
		return ingest.Fail(ingest.Malformed, fmt.Errorf("cannot decode msgpack datagram: %d trailing bytes after the object", len(b)-end))
	}
	if !isArray(b[0]) {
		return ingest.Fail(ingest.BadType, fmt.Errorf("cannot decode msgpack datagram: got a msgpack %s, want [name, [timestamp, value]] or an array of those", kind(b[0])))
	}

	s := statePool.Get().(*state)
	defer s.release()
	s.b = b
	s.r.Reset(b)
	n, err := s.d.DecodeArrayLen()
	if err != nil {
		return ingest.Fail(ingest.Malformed, fmt.Errorf("cannot decode msgpack datagram: %w", err))
	}
	switch {
	case n == 0:
		return nil // an empty batch
	case !isArray(b[s.pos()]):
		// A single item: the outer array is the item itself.
		s.seek(0)
		p, reason, err := s.item(0, lim)
		if err != nil {
			return ingest.Fail(reason, err)
		}
		emit(p)
		return nil
	case n > lim.MaxItems:
		return ingest.Fail(ingest.TooLarge, fmt.Errorf("cannot decode msgpack datagram: batch of %d items exceeds the limit of %d", n, lim.MaxItems))
	}
	var rej ingest.Rejects
	for i := range n {
		p, reason, err := s.item(i, lim)
		if err != nil {
			rej.Add(reason, err)
			continue
		}
		emit(p)
	}
	return rej.Err()
}

// state is the per-call decoding state, pooled so that a datagram costs no allocation but
// its metric names.
type state struct {
	b []byte
	r bytes.Reader
	d *msgpack.Decoder // reads s.r directly: bytes.Reader is an io.ByteScanner, so no buffering
}

var statePool = sync.Pool{New: func() any {
	s := &state{}
	s.d = msgpack.NewDecoder(&s.r)
	return s
}}

func (s *state) release() {
	s.b = nil
	s.r.Reset(nil)
	statePool.Put(s)
}

// pos is the offset in s.b of the next byte the decoder reads.
func (s *state) pos() int { return len(s.b) - s.r.Len() }

func (s *state) seek(pos int) { _, _ = s.r.Seek(int64(pos), io.SeekStart) }

// item decodes the item at the current position and leaves the position after it, whatever
// the outcome. The datagram was validated by skip, so every length is in bounds.
func (s *state) item(i int, lim ingest.Limits) (metric.Point, ingest.Reason, error) {
	end, err := skip(s.b, s.pos())
	if err != nil {
		return metric.Point{}, ingest.Malformed, fmt.Errorf("cannot decode msgpack item %d: %w", i, err)
	}
	defer s.seek(end)
	name, ts, value, reason, err := s.fields()
	if err == nil {
		reason, err = check(name, ts, value, lim)
	}
	if err != nil {
		return metric.Point{}, reason, fmt.Errorf("cannot decode msgpack item %d: %w", i, err)
	}
	return metric.Point{Name: string(name), Timestamp: ts, Value: value}, 0, nil
}

// check validates the name (before it becomes a string) and the numbers of a datapoint.
func check(name []byte, ts, value metric.Number, lim ingest.Limits) (ingest.Reason, error) {
	if reason, err := ingest.CheckName(name, lim.MaxNameLen); err != nil {
		return reason, err
	}
	if err := ingest.CheckFinite("timestamp", ts.Float64()); err != nil {
		return ingest.NotFinite, err
	}
	if err := ingest.CheckFinite("value", value.Float64()); err != nil {
		return ingest.NotFinite, err
	}
	return 0, nil
}

// errShape is wrapped by the errors of items that are not [name, [timestamp, value]].
var errShape = errors.New("want [name, [timestamp, value]]")

// fields reads [name, [timestamp, value]]; name aliases s.b.
func (s *state) fields() (name []byte, ts, value metric.Number, reason ingest.Reason, err error) {
	if err := s.pair("item"); err != nil {
		return nil, ts, value, ingest.BadType, err
	}
	c := s.b[s.pos()]
	if !isStr(c) && !isBin(c) {
		return nil, ts, value, ingest.BadType, fmt.Errorf("name is a msgpack %s, want str or bin", kind(c))
	}
	n, err := s.d.DecodeBytesLen()
	if err != nil {
		return nil, ts, value, ingest.Malformed, err
	}
	at := s.pos()
	name = s.b[at : at+n]
	s.seek(at + n)
	if err := s.pair("datapoint"); err != nil {
		return nil, ts, value, ingest.BadType, err
	}
	if ts, err = s.number("timestamp"); err != nil {
		return nil, ts, value, ingest.BadType, err
	}
	if value, err = s.number("value"); err != nil {
		return nil, ts, value, ingest.BadType, err
	}
	return name, ts, value, 0, nil
}

// pair reads the header of an array of two elements.
func (s *state) pair(what string) error {
	c := s.b[s.pos()]
	if !isArray(c) {
		return fmt.Errorf("%s is a msgpack %s: %w", what, kind(c), errShape)
	}
	n, err := s.d.DecodeArrayLen()
	if err != nil {
		return err
	}
	if n != 2 {
		return fmt.Errorf("%s is an array of %d elements: %w", what, n, errShape)
	}
	return nil
}

// number reads an int or a float, keeping which one the sender wrote.
func (s *state) number(what string) (metric.Number, error) {
	switch c := s.b[s.pos()]; {
	case c == codeUint64:
		u, err := s.d.DecodeUint64()
		if u > math.MaxInt64 {
			return metric.Float(float64(u)), err
		}
		return metric.Int(int64(u)), err
	case c == codeFloat32 || c == codeFloat64:
		f, err := s.d.DecodeFloat64()
		return metric.Float(f), err
	case isInt(c):
		i, err := s.d.DecodeInt64()
		return metric.Int(i), err
	default:
		return metric.Number{}, fmt.Errorf("%s is a msgpack %s, want int or float", what, kind(c))
	}
}
