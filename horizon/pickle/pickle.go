// Package pickle is horizon's pure decoder for carbon pickle payloads (TCP and UDP port
// 2024), sitting between the pickle listeners and the writer; it replaces the unpickling in
// Skyline's listen.py (cPickle.loads, later Carbon's SafeUnpickler), which executed or
// trusted whatever the network sent.
//
// Decoding uses github.com/kisielk/og-rek, which never executes code (globals and calls
// become inert Class and Call values), behind a pre-scan of the opcode stream that bounds
// every resource og-rek would spend; see scan.go for the bombs it defuses. The package does
// no I/O: listeners frame bytes and hand each payload to Decode.
package pickle

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sync"
	"unsafe"

	ogorek "github.com/kisielk/og-rek"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/utils/redisstore"
)

// Decode decodes one pickle payload b and calls emit for every good datapoint in order.
//
// b is the body of one carbon pickle frame (after its uint32 big-endian length) or one whole
// UDP datagram. It must hold exactly one pickle, of any protocol from 0 to 5 (Python 2
// carbon sends protocol 2, Python 3 carbon 2 to 5), whose value is a list or tuple of items
// (name, (timestamp, value)); items and datapoints may be lists or tuples. name is a str,
// unicode or bytes that must pass ingest.CheckName; timestamp and value are ints (kept as
// redisstore.Int; Python longs only when they fit int64) or floats (redisstore.Float).
//
// Limits, all checked before og-rek allocates anything (see scan.go): len(b) >
// lim.MaxPayload, more than lim.MaxItems items, a number argument over 64 bytes, a string
// over 64 KiB, and more objects, memo entries or call copies than a carbon pickle of
// lim.MaxItems items can need reject the payload as ingest.TooLarge. A declared length beyond
// the end of b, an opcode that carbon never sends or og-rek does not implement (dicts, sets,
// BUILD, INST, OBJ, NEWOBJ, LONG4, BINUNICODE8, BINBYTES8, out-of-band buffers), bytes after
// STOP, and anything else that does not unpickle reject it as ingest.Malformed; so does a
// value that is not a list or tuple, except a pickled global or call (os.system, …), which is
// ingest.BadType. Nothing is emitted for a payload rejected as a whole.
//
// Items of the wrong shape or types (bool, None, str numbers, globals, calls, ints beyond
// int64), bad or too long names and NaN/±Inf numbers reject only that item; the others are
// emitted and the rejections are returned as an *ingest.Error.
func Decode(b []byte, lim ingest.Limits, emit func(redisstore.Point)) error {
	if len(b) > lim.MaxPayload {
		return ingest.Fail(ingest.TooLarge, fmt.Errorf("cannot decode pickle: %d bytes exceed the limit of %d", len(b), lim.MaxPayload))
	}
	s := statePool.Get().(*state)
	defer s.release()
	_, obj, err := s.unpickle(b, lim)
	if err != nil {
		return err
	}
	var items []any
	switch v := obj.(type) {
	case []any:
		items = v
	case ogorek.Tuple:
		items = v
	case ogorek.Class, ogorek.Call, ogorek.Ref:
		return ingest.Fail(ingest.BadType, fmt.Errorf("cannot decode pickle: payload is %s, want a list of (name, (timestamp, value))", describe(obj)))
	default:
		return ingest.Fail(ingest.Malformed, fmt.Errorf("cannot decode pickle: payload is %s, want a list of (name, (timestamp, value))", describe(obj)))
	}
	if len(items) > lim.MaxItems { // the pre-scan already counted them; kept as a guard
		return ingest.Fail(ingest.TooLarge, fmt.Errorf("cannot decode pickle: %d items exceed the limit of %d", len(items), lim.MaxItems))
	}

	var rej ingest.Rejects
	for i, it := range items {
		p, reason, err := point(it, lim)
		if err != nil {
			rej.Add(reason, fmt.Errorf("cannot decode pickle item %d: %w", i, err))
			continue
		}
		emit(p)
	}
	return rej.Err()
}

// state is the per-call decoding state, pooled.
type state struct {
	scan scanner
	buf  []byte // the payload without its unused memo stores
	r    bytes.Reader
	br   *bufio.Reader
}

var statePool = sync.Pool{New: func() any {
	return &state{br: bufio.NewReader(nil)}
}}

func (s *state) release() {
	// Do not keep the simulated stack and memo of a huge payload alive in the pool.
	if cap(s.scan.stack) > 1<<14 || cap(s.scan.memo) > 1<<14 || cap(s.scan.stores) > 1<<14 {
		s.scan = scanner{}
	}
	if cap(s.buf) > 1<<20 {
		s.buf = nil
	}
	s.scan.b = nil
	s.r.Reset(nil)
	s.br.Reset(nil)
	statePool.Put(s)
}

// unpickle pre-scans b and, if that passes, decodes it with og-rek. It also returns what the
// pre-scan predicted for the value (FuzzDecode checks the two agree).
func (s *state) unpickle(b []byte, lim ingest.Limits) (slot, any, error) {
	top, err := s.scan.scan(b, lim)
	if err != nil {
		return top, nil, err
	}
	if (top.kind == kList || top.kind == kListAlias || top.kind == kTuple) && top.n > lim.MaxItems {
		return top, nil, ingest.Fail(ingest.TooLarge, fmt.Errorf("cannot decode pickle: %d items exceed the limit of %d", top.n, lim.MaxItems))
	}
	s.buf = s.scan.stripMemo(s.buf[:0])
	s.r.Reset(s.buf)
	s.br.Reset(&s.r)
	// og-rek wraps its reader in bufio.NewReader, which returns a *bufio.Reader of the default
	// size unchanged: the pooled one saves 4 KiB per payload.
	obj, err := decode(s.br)
	if err != nil {
		return top, nil, ingest.Fail(ingest.Malformed, fmt.Errorf("cannot decode pickle: %w", err))
	}
	return top, obj, nil
}

// errPanic wraps a panic of og-rek. None is known (FuzzDecode fails if it sees one), but
// og-rek is third-party code parsing network input: a bug in it must cost one payload, not
// the listener.
var errPanic = errors.New("og-rek panicked")

func decode(r io.Reader) (obj any, err error) {
	defer func() {
		if p := recover(); p != nil {
			obj, err = nil, fmt.Errorf("%w: %v", errPanic, p)
		}
	}()
	return ogorek.NewDecoderWithConfig(r, &ogorek.DecoderConfig{}).Decode()
}

// point converts one decoded item (name, (timestamp, value)).
func point(it any, lim ingest.Limits) (redisstore.Point, ingest.Reason, error) {
	pair, ok := sequence(it)
	if !ok || len(pair) != 2 {
		return redisstore.Point{}, ingest.BadType, fmt.Errorf("item is %s, want (name, (timestamp, value))", describe(it))
	}
	var name string
	switch v := pair[0].(type) {
	case string:
		name = v
	case ogorek.Bytes:
		name = string(v)
	case ogorek.ByteString:
		name = string(v)
	default:
		return redisstore.Point{}, ingest.BadType, fmt.Errorf("name is %s, want str or bytes", describe(pair[0]))
	}
	dp, ok := sequence(pair[1])
	if !ok || len(dp) != 2 {
		return redisstore.Point{}, ingest.BadType, fmt.Errorf("datapoint is %s, want (timestamp, value)", describe(pair[1]))
	}
	ts, err := number(dp[0], "timestamp")
	if err != nil {
		return redisstore.Point{}, ingest.BadType, err
	}
	value, err := number(dp[1], "value")
	if err != nil {
		return redisstore.Point{}, ingest.BadType, err
	}
	// og-rek has already made the name a string; CheckName reads its bytes in place
	// instead of copying them into a []byte (it does not retain or modify them).
	if reason, err := ingest.CheckName(unsafe.Slice(unsafe.StringData(name), len(name)), lim.MaxNameLen); err != nil {
		return redisstore.Point{}, reason, err
	}
	if err := ingest.CheckFinite("timestamp", ts.Float64()); err != nil {
		return redisstore.Point{}, ingest.NotFinite, err
	}
	if err := ingest.CheckFinite("value", value.Float64()); err != nil {
		return redisstore.Point{}, ingest.NotFinite, err
	}
	return redisstore.Point{Name: name, Timestamp: ts, Value: value}, 0, nil
}

func sequence(v any) ([]any, bool) {
	switch v := v.(type) {
	case []any:
		return v, true
	case ogorek.Tuple:
		return v, true
	}
	return nil, false
}

// number converts a Python int, long or float, keeping which one the sender wrote.
func number(v any, what string) (redisstore.Number, error) {
	switch v := v.(type) {
	case int64:
		return redisstore.Int(v), nil
	case float64:
		return redisstore.Float(v), nil
	case *big.Int:
		if v.IsInt64() {
			return redisstore.Int(v.Int64()), nil
		}
		return redisstore.Number{}, fmt.Errorf("%s is an int of %d bits, beyond int64", what, v.BitLen())
	}
	return redisstore.Number{}, fmt.Errorf("%s is %s, want int or float", what, describe(v))
}

// describe names a decoded value for an error message. It never formats the value itself:
// a decoded value can be nested a million levels deep.
func describe(v any) string {
	switch v := v.(type) {
	case []any:
		return fmt.Sprintf("a list of %d", len(v))
	case ogorek.Tuple:
		return fmt.Sprintf("a tuple of %d", len(v))
	case string, ogorek.ByteString:
		return "a str"
	case ogorek.Bytes, []byte:
		return "bytes"
	case int64, *big.Int:
		return "an int"
	case float64:
		return "a float"
	case bool:
		return "a bool"
	case ogorek.None:
		return "None"
	case ogorek.Class:
		return fmt.Sprintf("the global %s", className(v))
	case ogorek.Call:
		return fmt.Sprintf("a call of %s", className(v.Callable))
	case ogorek.Ref:
		return "a persistent reference"
	case nil:
		return "nil"
	}
	return fmt.Sprintf("a %T", v)
}

func className(c ogorek.Class) string {
	s := c.Module + "." + c.Name
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Sprintf("%q", s)
}
