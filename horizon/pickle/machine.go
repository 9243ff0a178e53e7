package pickle

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/kale-project/kale/horizon/ingest"
)

// The machine runs the opcode stream once and keeps only what a carbon frame can use, so
// that what it holds grows with the payload by a small constant factor:
//
//   - every object on the stack or in the memo is an 8-byte slot; numbers of up to 32 bits,
//     marks, empty and nested sequences live in the slot itself.
//   - strings are not copied: a slot points at the bytes in the payload (protocol 0 text
//     with escapes is decoded once into a side buffer).
//   - a tuple or list becomes, the moment it is built or put into another one, a datapoint
//     (timestamp, value), an item (name, datapoint) or an opaque sequence that only knows
//     its length: an item of any other shape is rejected whatever is inside it, so nothing
//     deeper than name, timestamp and value is ever kept. Only the sequences still on the
//     stack, one of which becomes the payload, keep their elements, and a list whose
//     elements are all opaque keeps only their count. So a million nested lists cost one
//     slot each, and the frame of 500 items one slot, one string reference and two
//     numbers per item, with no allocation per item.
//   - everything the machine keeps is charged to a budget of budgetPerByte bytes per
//     payload byte (plus budgetSlack); a payload that needs more is rejected as
//     ingest.TooLarge before it gets it.
//
// Besides the budget, the payload is rejected as ingest.TooLarge for more objects (pushes)
// or memo stores than a carbon pickle of lim.MaxItems items needs, a number argument over
// maxNumberLen bytes (big.Int parsing is superlinear), a string over maxStringLen bytes and
// calls that would copy (in Python) more than twice the payload. Opcodes carbon never sends
// (dicts, sets, BUILD, INST, OBJ, NEWOBJ, LONG4, 8-byte lengths, out-of-band buffers),
// appending to a list fetched again by GET or DUP, and memo keys Python would not write are
// ingest.Malformed. Globals and calls are never executed: they become inert values that
// reject the item they are in, except the two calls Python 3 uses to pickle bytes in
// protocols 0-2 (_codecs.encode(str, "latin1") and bytearray), which are understood as
// og-rek v1.3.0 understands them (the fuzz test compares the two decoders).
const (
	// Objects pushed per item (constructed tuples and lists included): 5 in a carbon frame,
	// 7 in protocol 0, 12 with bytes names in protocol 0 (a _codecs.encode call each).
	pushesPerItem = 16
	// Memo stores per item: Python memoizes at most 5 objects per item (bytes names again).
	memoPerItem   = 8
	itemSlack     = 64
	budgetPerByte = 4
	budgetSlack   = 64 << 10
	maxNumberLen  = 64       // bytes of a number argument
	maxStringLen  = 64 << 10 // bytes of a string or text argument
	// slowTextCost is charged for decoding one escaped protocol 0 text argument with og-rek.
	slowTextCost = 1 << 10
)

// kind is the type of a slot.
type kind uint8

const (
	kMark   kind = iota + 1 // ref: index of the MARK below, or noMark
	kNone                   // None
	kBool                   // True, False
	kInt32                  // ref: the int32's bits
	kInt64                  // ref: index in nums
	kFloat                  // ref: index in nums
	kBigInt                 // an int beyond int64
	kStr                    // str, unicode, bytes or bytearray (see the flags); ref: index in strs
	kList                   // a list on the stack; ref: index in lists (fStored) or its length
	kTuple                  // a tuple of elements kept in elems; ref: index of its header there
	kDP                     // (timestamp, value); ref: index in dps
	kItem                   // (name, (timestamp, value)); ref: index in items
	kSeq                    // a list or tuple of any other shape; ref: its length
	kClass                  // a global; the flags say which
	kOther                  // a call or a persistent reference
)

// Flags of a slot.
const (
	fList      = 1 << iota // kDP, kItem, kSeq: built from a list; kList: elements stored in lists
	fAlias                 // kDP, kItem, kSeq: a list fetched by GET or DUP
	fBytes                 // kStr: bytes (og-rek Bytes)
	fByteArray             // kStr: bytearray (og-rek []byte): not a name
	fUnknown               // kSeq: a nested sequence whose length was not kept
	fEncode                // kClass: _codecs.encode
	fArray2                // kClass: __builtin__.bytearray
	fArray3                // kClass: builtins.bytearray
)

const fStored = fList // on a kList slot

const noMark = math.MaxUint32

type slot struct {
	kind  kind
	flags uint8
	ref   uint32
}

// str is a string argument: b[off:off+n], or text[off:off+n] when decoded.
type str struct {
	off, n  uint32
	decoded bool
}

type dp struct{ ts, value slot }

type item struct{ name, dp uint32 } // indexes in strs and dps

// machine is the decoding state, pooled: its slices keep their capacity between payloads.
type machine struct {
	b       []byte
	pos     int
	stack   []slot
	mark    uint32 // index of the topmost MARK, or noMark
	memo    []slot // by key; kind 0 is an empty entry
	memoN   int    // entries present: og-rek's len(memo), the key MEMOIZE uses
	nums    []uint64
	strs    []str
	text    []byte    // decoded protocol 0 strings
	elems   []slot    // tuples: a header slot holding the length, then the elements
	lists   [][]slot  // elements of the lists on the stack that have any
	dps     []dp      //
	items   []item    //
	names   []string  // by index in strs, made when first emitted
	checked []uint8   // by index in strs: 0 unchecked, 1 good, else 2+the reason
	proto   int       // the last PROTO, as og-rek keeps it
	slow    slowState // og-rek for escaped text

	pushes, stores, stackHigh  int
	maxPushes, maxStores       int
	used, budget, copied, maxC int
}

func (m *machine) reset(b []byte, lim ingest.Limits) {
	*m = machine{
		b: b, stack: m.stack[:0], mark: noMark, memo: m.memo[:0], nums: m.nums[:0],
		strs: m.strs[:0], text: m.text[:0], elems: m.elems[:0], lists: m.lists[:0],
		dps: m.dps[:0], items: m.items[:0], names: m.names[:0], checked: m.checked[:0], slow: m.slow,
		maxPushes: pushesPerItem*lim.MaxItems + itemSlack,
		maxStores: memoPerItem*lim.MaxItems + itemSlack,
		budget:    budgetPerByte*len(b) + budgetSlack,
		maxC:      2*len(b) + 4096,
	}
}

var errBudget = errors.New("over budget")

// charge accounts for n more bytes kept.
func (m *machine) charge(n int) error {
	m.used += n
	if m.used > m.budget {
		return errBudget
	}
	return nil
}

// run decodes b and returns the object STOP returns. Errors are *ingest.Error.
func (m *machine) run(b []byte, lim ingest.Limits) (slot, error) {
	m.reset(b, lim)
	for m.pos < len(b) {
		at, op := m.pos, b[m.pos]
		m.pos++
		if op == opStop {
			if m.pos != len(b) {
				return slot{}, m.fail(ingest.Malformed, at, op, fmt.Errorf("%d trailing bytes after STOP", len(b)-m.pos))
			}
			if len(m.stack) != 1 || m.mark != noMark {
				return slot{}, m.fail(ingest.Malformed, at, op, fmt.Errorf("%d objects left on the stack, want 1", len(m.stack)))
			}
			return m.stack[0], nil
		}
		if reason, err := m.step(op); err != nil {
			if errors.Is(err, errBudget) {
				reason = ingest.TooLarge
				err = fmt.Errorf("decoding would keep more than %d bytes (%d per payload byte)", m.budget, budgetPerByte)
			}
			return slot{}, m.fail(reason, at, op, err)
		}
	}
	return slot{}, ingest.Fail(ingest.Malformed, fmt.Errorf("cannot decode pickle: truncated: no STOP opcode in %d bytes", len(b)))
}

func (m *machine) fail(reason ingest.Reason, at int, op byte, err error) error {
	return ingest.Fail(reason, fmt.Errorf("cannot decode pickle: opcode %s at offset %d: %w", opName(op), at, err))
}

var (
	errUnderflow   = errors.New("stack underflow")
	errNoMark      = errors.New("no MARK on the stack")
	errMarkUse     = errors.New("MARK used as an object")
	errUnsupported = errors.New("opcode not supported")
)

// step runs one opcode whose byte has been consumed.
func (m *machine) step(op byte) (ingest.Reason, error) {
	switch op {
	case opMark:
		return m.pushMark()
	case opPop:
		if len(m.stack) == 0 {
			return ingest.Malformed, errUnderflow
		}
		if top := m.stack[len(m.stack)-1]; top.kind == kMark {
			m.mark = top.ref
		}
		m.stack = m.stack[:len(m.stack)-1]
		return 0, nil
	case opDup:
		if len(m.stack) == 0 {
			return ingest.Malformed, errUnderflow
		}
		top := m.stack[len(m.stack)-1]
		if top.kind == kMark {
			return m.pushMark()
		}
		return m.push(m.alias(top))

	case opInt, opLong, opFloat:
		return m.textNumber(op)
	case opNone:
		return m.push(slot{kind: kNone})
	case opNewTrue, opNewFalse:
		return m.push(slot{kind: kBool})
	case opBinInt1, opBinInt2, opBinInt:
		w := 4
		switch op {
		case opBinInt1:
			w = 1
		case opBinInt2:
			w = 2
		}
		f, err := m.arg(w)
		if err != nil {
			return ingest.Malformed, err
		}
		var v uint32
		switch w {
		case 1:
			v = uint32(f[0])
		case 2:
			v = uint32(binary.LittleEndian.Uint16(f))
		default:
			v = binary.LittleEndian.Uint32(f)
		}
		return m.push(slot{kind: kInt32, ref: v})
	case opBinFloat:
		f, err := m.arg(8)
		if err != nil {
			return ingest.Malformed, err
		}
		return m.pushNum(kFloat, binary.BigEndian.Uint64(f))
	case opLong1, opLong4:
		n, err := m.length(op)
		if err != nil {
			return ingest.Malformed, err
		}
		if n > maxNumberLen {
			return ingest.TooLarge, fmt.Errorf("long of %d bytes exceeds the limit of %d", n, maxNumberLen)
		}
		if op == opLong4 {
			return ingest.Malformed, errUnsupported
		}
		return m.long1(m.b[m.pos-int(n) : m.pos])

	case opString, opUnicode:
		return m.textString(op)
	case opBinString, opShortBinString, opBinUnicode, opShortBinUnicode, opBinUnicode8,
		opBinBytes, opShortBinBytes, opBinBytes8, opByteArray8:
		n, err := m.length(op)
		if err != nil {
			return ingest.Malformed, err
		}
		if n > maxStringLen {
			return ingest.TooLarge, fmt.Errorf("string of %d bytes exceeds the limit of %d", n, maxStringLen)
		}
		if op == opBinUnicode8 || op == opBinBytes8 {
			return ingest.Malformed, errUnsupported
		}
		var flags uint8
		switch op {
		case opBinBytes, opShortBinBytes:
			flags = fBytes
		case opByteArray8:
			flags = fByteArray
		}
		return m.pushStr(str{off: uint32(m.pos) - uint32(n), n: uint32(n)}, flags)

	case opEmptyList:
		return m.push(slot{kind: kList})
	case opEmptyTuple:
		return m.pushTuple(nil)
	case opList, opTuple:
		k, err := m.popMark()
		if err != nil {
			return ingest.Malformed, err
		}
		items := m.stack[k+1:]
		m.stack = m.stack[:k]
		if op == opTuple {
			return m.pushTuple(items)
		}
		// items stay valid: the stack only shrank.
		l := slot{kind: kList}
		if err := m.appendTo(&l, items); err != nil {
			return ingest.Malformed, err
		}
		return m.push(l)
	case opTuple1, opTuple2, opTuple3:
		n := int(op-opTuple1) + 1
		if len(m.stack) < n {
			return ingest.Malformed, errUnderflow
		}
		items := m.stack[len(m.stack)-n:]
		m.stack = m.stack[:len(m.stack)-n]
		return m.pushTuple(items)
	case opAppend:
		if len(m.stack) < 2 {
			return ingest.Malformed, errUnderflow
		}
		v := m.stack[len(m.stack)-1 : len(m.stack)]
		m.stack = m.stack[:len(m.stack)-1]
		return ingest.Malformed, m.appendTo(&m.stack[len(m.stack)-1], v)
	case opAppends:
		k, err := m.popMark()
		if err != nil {
			return ingest.Malformed, err
		}
		if k < 1 {
			return ingest.Malformed, errUnderflow
		}
		items := m.stack[k+1:]
		m.stack = m.stack[:k]
		return ingest.Malformed, m.appendTo(&m.stack[k-1], items)

	case opPut, opBinPut, opLongBinPut, opMemoize:
		key, err := m.memoKey(op)
		if err != nil {
			return ingest.Malformed, err
		}
		return m.put(key)
	case opGet, opBinGet, opLongBinGet:
		key, err := m.memoKey(op)
		if err != nil {
			return ingest.Malformed, err
		}
		if key >= len(m.memo) || m.memo[key].kind == 0 {
			return ingest.Malformed, fmt.Errorf("memo key %d not set", key)
		}
		return m.push(m.memo[key])

	case opGlobal:
		mod, reason, err := m.line()
		if err != nil {
			return reason, err
		}
		name, reason, err := m.line()
		if err != nil {
			return reason, err
		}
		return m.push(slot{kind: kClass, flags: classFlags(mod, name)})
	case opStackGlobal:
		if len(m.stack) < 2 {
			return ingest.Malformed, errUnderflow
		}
		mod, name := m.stack[len(m.stack)-2], m.stack[len(m.stack)-1]
		m.stack = m.stack[:len(m.stack)-2]
		if mod.kind != kStr || name.kind != kStr || (mod.flags|name.flags)&(fBytes|fByteArray) != 0 {
			return ingest.Malformed, errors.New("module and name must be str")
		}
		return m.push(slot{kind: kClass, flags: classFlags(m.bytes(mod), m.bytes(name))})
	case opReduce:
		return m.reduce()
	case opPersID:
		if _, reason, err := m.line(); err != nil {
			return reason, err
		}
		return m.push(slot{kind: kOther})
	case opBinPersID:
		if len(m.stack) == 0 {
			return ingest.Malformed, errUnderflow
		}
		if m.stack[len(m.stack)-1].kind == kMark {
			return ingest.Malformed, errMarkUse
		}
		m.stack[len(m.stack)-1] = slot{kind: kOther}
		return 0, nil

	case opProto:
		f, err := m.arg(1)
		if err != nil {
			return ingest.Malformed, err
		}
		if f[0] > 5 {
			return ingest.Malformed, fmt.Errorf("unsupported protocol %d", f[0])
		}
		m.proto = int(f[0])
		return 0, nil
	case opFrame:
		if _, err := m.length(op); err != nil {
			return ingest.Malformed, err
		}
		return 0, nil // the frame's bytes are opcodes: walk on
	case opEmptyDict, opDict, opSetItem, opSetItems:
		return ingest.Malformed, errors.New("dicts are not part of a carbon pickle")
	}
	// og-rek does not implement the rest (BUILD, INST, OBJ, POP_MARK, NEWOBJ, NEWOBJ_EX, EXT*,
	// sets, out-of-band buffers), or the byte is not an opcode at all.
	return ingest.Malformed, errUnsupported
}
