// Package pickle is horizon's pure decoder for carbon pickle payloads (TCP and UDP port
// 2024), sitting between the pickle listeners and the writer; it replaces the unpickling in
// Skyline's listen.py (cPickle.loads, later Carbon's SafeUnpickler), which executed or
// trusted whatever the network sent.
//
// Decoding is a single pass over the opcode stream by a small stack machine (machine.go)
// that never executes code and keeps only what a list of (name, (timestamp, value)) can
// use, so what a payload costs grows with its size by a small constant factor whatever its
// shape (issue #14); github.com/kisielk/og-rek, which the package used before, decodes only
// escaped protocol 0 text and serves the tests as the reference. The package does no I/O:
// listeners frame bytes and hand each payload to Decode.
package pickle

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"sync"

	ogorek "github.com/kisielk/og-rek"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/utils/metric"
)

// Decode decodes one pickle payload b and calls emit for every good datapoint in order.
//
// b is the body of one carbon pickle frame (after its uint32 big-endian length) or one whole
// UDP datagram. It must hold exactly one pickle, of any protocol from 0 to 5 (Python 2
// carbon sends protocol 2, Python 3 carbon 2 to 5), whose value is a list or tuple of items
// (name, (timestamp, value)); items and datapoints may be lists or tuples. name is a str,
// unicode or bytes that must pass ingest.CheckName; timestamp and value are ints (kept as
// metric.Int; Python longs only when they fit int64) or floats (metric.Float).
//
// Limits (see machine.go): len(b) > lim.MaxPayload, more than lim.MaxItems items, a number
// argument over 64 bytes, a string over 64 KiB, more objects, memo entries or call copies
// than a carbon pickle of lim.MaxItems items can need, and a payload whose decoding would
// keep more than 4 bytes per payload byte (plus 64 KiB) reject the payload as
// ingest.TooLarge: a legitimate frame keeps about 1.5 bytes per byte. A declared length
// beyond the end of b, an opcode that carbon never sends (dicts, sets, BUILD, INST, OBJ,
// NEWOBJ, LONG4, BINUNICODE8, BINBYTES8, out-of-band buffers), bytes after STOP, and
// anything else that does not unpickle reject it as ingest.Malformed; so does a value that
// is not a list or tuple, except a pickled global or call (os.system, …), which is
// ingest.BadType. Nothing is emitted for a payload rejected as a whole.
//
// Items of the wrong shape or types (bool, None, str numbers, globals, calls, ints beyond
// int64), bad or too long names and NaN/±Inf numbers reject only that item; the others are
// emitted and the rejections are returned as an *ingest.Error.
func Decode(b []byte, lim ingest.Limits, emit func(metric.Point)) error {
	if len(b) > lim.MaxPayload {
		return ingest.Fail(ingest.TooLarge, fmt.Errorf("cannot decode pickle: %d bytes exceed the limit of %d", len(b), lim.MaxPayload))
	}
	m := machinePool.Get().(*machine)
	defer m.release()
	top, err := m.run(b, lim)
	if err != nil {
		return err
	}
	var buf [2]slot
	var elems []slot
	opaque := 0 // leading elements that are nested sequences
	switch top.kind {
	case kList:
		if top.flags&fStored != 0 {
			elems = m.lists[top.ref]
		} else {
			opaque = int(top.ref)
		}
	case kTuple, kDP, kItem, kSeq:
		if top.flags&fAlias != 0 && (top.kind != kSeq || top.ref != 0) {
			// A list fetched again from the memo: Python never sends one.
			return ingest.Fail(ingest.Malformed, fmt.Errorf("cannot decode pickle: payload is %s, want a list of (name, (timestamp, value))", m.describe(top)))
		}
		if top.kind == kSeq {
			opaque = int(top.ref) // a tuple of nested sequences
		} else {
			elems, _ = m.tupleElems(top, &buf)
		}
	case kClass, kOther:
		return ingest.Fail(ingest.BadType, fmt.Errorf("cannot decode pickle: payload is %s, want a list of (name, (timestamp, value))", m.describe(top)))
	default:
		return ingest.Fail(ingest.Malformed, fmt.Errorf("cannot decode pickle: payload is %s, want a list of (name, (timestamp, value))", m.describe(top)))
	}
	if n := opaque + len(elems); n > lim.MaxItems {
		return ingest.Fail(ingest.TooLarge, fmt.Errorf("cannot decode pickle: %d items exceed the limit of %d", n, lim.MaxItems))
	}
	// One name string and check per str object however many items share it.
	if err := m.charge((nameSize + 1) * len(m.strs)); err != nil {
		return ingest.Fail(ingest.TooLarge, fmt.Errorf("cannot decode pickle: decoding would keep more than %d bytes (%d per payload byte)", m.budget, budgetPerByte))
	}
	m.names = grow(m.names, len(m.strs))
	m.checked = grow(m.checked, len(m.strs))

	var rej ingest.Rejects
	reject := func(i int, reason ingest.Reason, msg func() error) {
		var err error
		if rej.Err() == nil { // only the first message is kept: do not format the others
			err = fmt.Errorf("cannot decode pickle item %d: %w", i, msg())
		}
		rej.Add(reason, err)
	}
	for i := range opaque {
		reject(i, ingest.BadType, func() error { return errors.New("item is a nested list or tuple, want (name, (timestamp, value))") })
	}
	for j, e := range elems {
		i := opaque + j
		if e.kind != kItem {
			reject(i, ingest.BadType, func() error { return m.badItem(e) })
			continue
		}
		it := m.items[e.ref]
		d := m.dps[it.dp]
		name, reason, err := m.name(it.name, lim.MaxNameLen)
		if err != nil {
			reject(i, reason, func() error { return err })
			continue
		}
		ts, value := m.number(d.ts), m.number(d.value)
		if err := ingest.CheckFinite("timestamp", ts.Float64()); err != nil {
			reject(i, ingest.NotFinite, func() error { return err })
			continue
		}
		if err := ingest.CheckFinite("value", value.Float64()); err != nil {
			reject(i, ingest.NotFinite, func() error { return err })
			continue
		}
		emit(metric.Point{Name: name, Timestamp: ts, Value: value})
	}
	return rej.Err()
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// name returns the checked metric name of strs[i], made once.
func (m *machine) name(i uint32, maxLen int) (string, ingest.Reason, error) {
	switch m.checked[i] {
	case 0:
		reason, err := ingest.CheckName(m.bytes(slot{kind: kStr, ref: i}), maxLen)
		if err != nil {
			m.checked[i] = uint8(reason) + 2
			return "", reason, err
		}
		m.checked[i] = 1
		m.names[i] = string(m.bytes(slot{kind: kStr, ref: i}))
		return m.names[i], 0, nil
	case 1:
		return m.names[i], 0, nil
	}
	reason := ingest.Reason(m.checked[i] - 2)
	return "", reason, fmt.Errorf("metric name rejected (%s)", reason)
}

// number converts a kInt32, kInt64 or kFloat slot, keeping which one the sender wrote.
func (m *machine) number(v slot) metric.Number {
	switch v.kind {
	case kInt32:
		return metric.Int(int64(int32(v.ref)))
	case kInt64:
		return metric.Int(int64(m.nums[v.ref]))
	}
	return metric.Float(math.Float64frombits(m.nums[v.ref]))
}

// badItem says why v is not an item (name, (timestamp, value)).
func (m *machine) badItem(v slot) error {
	var buf [2]slot
	var pair []slot
	switch {
	case v.kind == kDP:
		pair, _ = m.tupleElems(slot{kind: kDP, ref: v.ref}, &buf)
	case v.kind == kTuple:
		pair, _ = m.tupleElems(v, &buf)
	}
	if len(pair) != 2 {
		return fmt.Errorf("item is %s, want (name, (timestamp, value))", m.describe(v))
	}
	if pair[0].kind != kStr || pair[0].flags&fByteArray != 0 {
		return fmt.Errorf("name is %s, want str or bytes", m.describe(pair[0]))
	}
	return fmt.Errorf("datapoint is %s, want (timestamp, value) of ints or floats", m.describe(pair[1]))
}

// describe names a value for an error message.
func (m *machine) describe(v slot) string {
	seq := "tuple"
	if v.flags&fList != 0 || v.kind == kList {
		seq = "list"
	}
	switch v.kind {
	case kList:
		if v.flags&fStored != 0 {
			return fmt.Sprintf("a list of %d", len(m.lists[v.ref]))
		}
		return fmt.Sprintf("a list of %d", v.ref)
	case kTuple:
		return fmt.Sprintf("a tuple of %d", m.elems[v.ref].ref)
	case kDP, kItem:
		return fmt.Sprintf("a %s of 2", seq)
	case kSeq:
		if v.flags&fUnknown != 0 {
			return "a nested " + seq
		}
		return fmt.Sprintf("a %s of %d", seq, v.ref)
	case kStr:
		switch {
		case v.flags&fByteArray != 0:
			return "a bytearray"
		case v.flags&fBytes != 0:
			return "bytes"
		}
		return "a str"
	case kInt32, kInt64:
		return "an int"
	case kBigInt:
		return "an int beyond int64"
	case kFloat:
		return "a float"
	case kBool:
		return "a bool"
	case kNone:
		return "None"
	case kClass:
		return "a global"
	case kOther:
		return "a call or a persistent reference"
	}
	return "nothing"
}

var machinePool = sync.Pool{New: func() any {
	return &machine{slow: slowState{br: bufio.NewReader(nil)}}
}}

func (m *machine) release() {
	// Do not keep what a huge payload needed alive in the pool.
	const keep = 1 << 14
	if cap(m.stack) > keep || cap(m.memo) > keep || cap(m.nums) > keep || cap(m.strs) > keep ||
		cap(m.elems) > keep || cap(m.lists) > keep || cap(m.dps) > keep || cap(m.items) > keep ||
		cap(m.names) > keep || cap(m.checked) > keep || cap(m.text) > 1<<20 {
		*m = machine{slow: m.slow}
	}
	for i := range m.lists[:cap(m.lists)] {
		if cap(m.lists[:cap(m.lists)][i]) > keep {
			m.lists[:cap(m.lists)][i] = nil
		}
	}
	clear(m.names)
	m.b = nil
	m.slow.reset()
	machinePool.Put(m)
}

// slowState decodes escaped protocol 0 text with og-rek, so that its Python quoting rules
// stay the reference.
type slowState struct {
	buf []byte
	r   bytes.Reader
	br  *bufio.Reader
}

func (s *slowState) reset() {
	s.r.Reset(nil)
	s.br.Reset(nil)
	if cap(s.buf) > 1<<16 {
		s.buf = nil
	}
}

// errPanic wraps a panic of og-rek. None is known (FuzzDecode fails if it sees one), but
// og-rek is third-party code parsing network input: a bug in it must cost one payload, not
// the listener.
var errPanic = errors.New("og-rek panicked")

// decodeText decodes the argument line of a STRING or UNICODE opcode.
func (s *slowState) decodeText(op byte, line []byte) (text string, err error) {
	s.buf = append(append(append(s.buf[:0], op), line...), '\n', opStop)
	s.r.Reset(s.buf)
	s.br.Reset(&s.r)
	defer func() {
		if p := recover(); p != nil {
			text, err = "", fmt.Errorf("%w: %v", errPanic, p)
		}
	}()
	// og-rek wraps its reader in bufio.NewReader, which returns a *bufio.Reader of the
	// default size unchanged: the pooled one saves 4 KiB per call.
	v, err := ogorek.NewDecoderWithConfig(s.br, &ogorek.DecoderConfig{}).Decode()
	if err != nil {
		return "", fmt.Errorf("cannot decode text argument: %w", err)
	}
	text, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("text argument decoded as %T", v)
	}
	return text, nil
}
