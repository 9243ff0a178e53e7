package pickle

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/kale-project/kale/horizon/ingest"
)

// The pre-scan walks the opcode stream and simulates the unpickler's stack with one small
// slot per object, without building any object, so that every resource og-rek would spend is
// bounded before og-rek runs. Besides the length checks it guards against these bombs, all
// found by reading og-rek v1.3.0 (each has a test in pickle_test.go):
//
//   - stack flood: every MARK, DUP, NONE or EMPTY_LIST costs og-rek 16-40 bytes for one byte of
//     input; pushes are capped at pushesPerItem×MaxItems.
//   - memo flood: every MEMOIZE/PUT adds a map entry with a freshly formatted string key; memo
//     stores are capped at memoPerItem×MaxItems, and keys must be the sequential decimal keys
//     Python writes. (Stores that no GET reads are then stripped before og-rek runs, see
//     stripMemo: that is also og-rek's largest cost on real frames.)
//   - stale-list appends: og-rek memoizes a list by slice header, so a list fetched again with
//     GET (or DUP) shares its backing array at its old length; APPENDing to such a copy
//     reallocates the whole list every time (quadratic time and memory from a few bytes per
//     op). Python never appends to a list it fetched from the memo, so that is rejected.
//   - REDUCE copies: og-rek turns _codecs.encode(str, "latin1") and bytearray(...) into fresh
//     byte copies of the argument; with a memoized megabyte string each 5-byte REDUCE would
//     copy a megabyte. The bytes such calls may copy are capped at 2×len(payload)+4 KiB.
//   - long numbers: INT, LONG and FLOAT text arguments and LONG1/LONG4 bodies longer than
//     maxNumberLen bytes are rejected (big.Int parsing is superlinear). This also keeps og-rek
//     away from its LONG1 bug: it reads the length byte as signed, so a LONG1 of 128..255
//     bytes would be decoded as zero and its body executed as opcodes.
//   - long strings: og-rek decodes a UNICODE text argument through a []rune of its length,
//     4 bytes per input byte, and BINUNICODE one byte at a time; string and text arguments
//     are capped at maxStringLen, far beyond any valid metric name.
//   - dicts: hashing a memoized key string costs its length on every SETITEM; carbon never
//     sends dicts, so the dict opcodes are rejected outright.
//
// Deep nesting needs no guard: og-rek's decoder is iterative, and Decode never formats or
// walks decoded values deeper than an item.
const (
	// Objects pushed per item (constructed tuples and lists included): 5 in a carbon frame,
	// 7 in protocol 0, 12 with bytes names in protocol 0 (a _codecs.encode call each).
	pushesPerItem = 16
	// Memo stores per item: Python memoizes at most 5 objects per item (bytes names again).
	memoPerItem  = 8
	budgetSlack  = 64
	maxNumberLen = 64       // bytes of a number argument; must stay below 128 (see LONG1)
	maxStringLen = 64 << 10 // bytes of a string or text argument
)

// kind is what the pre-scan knows of an object on the simulated stack.
type kind uint8

const (
	kMark      kind = iota + 1
	kScalar         // int, long, float, bool, None
	kStr            // str, unicode
	kBytes          // bytes, bytearray
	kList           // a list owned by this stack slot (EMPTY_LIST, LIST)
	kListAlias      // a list fetched again by GET or DUP, sharing og-rek's backing array
	kTuple
	kClass // GLOBAL, STACK_GLOBAL
	kOther // REDUCE results, persistent references
)

type slot struct {
	kind kind
	n    int // elements, for lists and tuples
	size int // upper bound of the bytes a REDUCE can copy out of this object
}

// scanner holds the simulated stack and memo; it is pooled with the rest of the state.
type scanner struct {
	b        []byte
	at, pos  int // offsets of the current opcode and of the next byte to read
	stack    []slot
	marks    []int       // indexes of the kMark slots in stack
	memo     []slot      // by key; kind 0 is an empty entry
	memoFrom []int       // by key: the index in stores of the store that set it
	memoN    int         // entries present: og-rek's len(memo), the key MEMOIZE uses
	stores   []memoStore // every memo store, in stream order
	pushes   int

	maxPushes, maxStores, maxCopy, copied int
}

// scan checks b and returns the object STOP would return. Errors are *ingest.Error.
func (s *scanner) scan(b []byte, lim ingest.Limits) (slot, error) {
	*s = scanner{b: b, stack: s.stack[:0], marks: s.marks[:0], memo: s.memo[:0], memoFrom: s.memoFrom[:0], stores: s.stores[:0]}
	s.maxPushes = pushesPerItem*lim.MaxItems + budgetSlack
	s.maxStores = memoPerItem*lim.MaxItems + budgetSlack
	s.maxCopy = 2*len(b) + 4096
	for s.pos < len(b) {
		at, op := s.pos, b[s.pos]
		s.at = at
		s.pos++
		if op == opStop {
			if s.pos != len(b) {
				return slot{}, s.fail(ingest.Malformed, at, op, fmt.Errorf("%d trailing bytes after STOP", len(b)-s.pos))
			}
			if len(s.stack) != 1 || len(s.marks) != 0 {
				return slot{}, s.fail(ingest.Malformed, at, op, fmt.Errorf("%d objects left on the stack, want 1", len(s.stack)))
			}
			return s.stack[0], nil
		}
		if reason, err := s.step(op); err != nil {
			return slot{}, s.fail(reason, at, op, err)
		}
	}
	return slot{}, ingest.Fail(ingest.Malformed, fmt.Errorf("cannot decode pickle: truncated: no STOP opcode in %d bytes", len(b)))
}

func (s *scanner) fail(reason ingest.Reason, at int, op byte, err error) error {
	return ingest.Fail(reason, fmt.Errorf("cannot decode pickle: opcode %s at offset %d: %w", opName(op), at, err))
}

// step simulates one opcode whose byte has been consumed.
func (s *scanner) step(op byte) (ingest.Reason, error) {
	switch op {
	case opMark:
		return s.push(slot{kind: kMark})
	case opPop:
		_, err := s.pop(true)
		return ingest.Malformed, err
	case opDup:
		if len(s.stack) == 0 {
			return ingest.Malformed, errUnderflow
		}
		return s.push(aliased(s.stack[len(s.stack)-1]))

	// Scalars.
	case opInt, opLong, opFloat:
		line, reason, err := s.line()
		if err != nil {
			return reason, err
		}
		if len(line) > maxNumberLen {
			return ingest.TooLarge, fmt.Errorf("number argument of %d bytes exceeds the limit of %d", len(line), maxNumberLen)
		}
		return s.push(slot{kind: kScalar})
	case opNone, opNewTrue, opNewFalse:
		return s.push(slot{kind: kScalar})
	case opBinInt1, opBinInt2, opBinInt, opBinFloat:
		w := 8
		switch op {
		case opBinInt1:
			w = 1
		case opBinInt2:
			w = 2
		case opBinInt:
			w = 4
		}
		if err := s.skip(w); err != nil {
			return ingest.Malformed, err
		}
		return s.push(slot{kind: kScalar})
	case opLong1, opLong4:
		n, err := s.length(op)
		if err != nil {
			return ingest.Malformed, err
		}
		if n > maxNumberLen {
			return ingest.TooLarge, fmt.Errorf("long of %d bytes exceeds the limit of %d", n, maxNumberLen)
		}
		if op == opLong4 {
			return ingest.Malformed, errUnsupported
		}
		s.pos += int(n)
		return s.push(slot{kind: kScalar})

	// Strings and bytes.
	case opString, opUnicode:
		line, reason, err := s.line()
		if err != nil {
			return reason, err
		}
		size := len(line)
		if op == opUnicode {
			size *= 2 // raw-unicode-escape: a byte ≥ 0x80 becomes two bytes of UTF-8
		}
		return s.push(slot{kind: kStr, size: size})
	case opBinString, opShortBinString, opBinUnicode, opShortBinUnicode, opBinUnicode8,
		opBinBytes, opShortBinBytes, opBinBytes8, opByteArray8:
		n, err := s.length(op)
		if err != nil {
			return ingest.Malformed, err
		}
		if n > maxStringLen {
			return ingest.TooLarge, fmt.Errorf("string of %d bytes exceeds the limit of %d", n, maxStringLen)
		}
		if op == opBinUnicode8 || op == opBinBytes8 {
			return ingest.Malformed, errUnsupported
		}
		s.pos += int(n)
		k := kStr
		if op == opBinBytes || op == opShortBinBytes || op == opByteArray8 {
			k = kBytes
		}
		return s.push(slot{kind: k, size: int(n)})

	// Lists and tuples.
	case opEmptyList:
		return s.push(slot{kind: kList})
	case opEmptyTuple:
		return s.push(slot{kind: kTuple})
	case opList, opTuple:
		items, err := s.popMark()
		if err != nil {
			return ingest.Malformed, err
		}
		if op == opList {
			return s.push(slot{kind: kList, n: len(items)})
		}
		return s.push(tuple(items))
	case opTuple1, opTuple2, opTuple3:
		n := int(op-opTuple1) + 1
		if len(s.stack) < n {
			return ingest.Malformed, errUnderflow
		}
		items := s.stack[len(s.stack)-n:]
		for _, it := range items {
			if it.kind == kMark {
				return ingest.Malformed, errMarkUse
			}
		}
		t := tuple(items)
		s.stack = s.stack[:len(s.stack)-n]
		return s.push(t)
	case opAppend:
		if _, err := s.pop(false); err != nil {
			return ingest.Malformed, err
		}
		if len(s.stack) == 0 {
			return ingest.Malformed, errUnderflow
		}
		return s.appendTo(len(s.stack)-1, 1)
	case opAppends:
		if len(s.marks) == 0 {
			return ingest.Malformed, errNoMark
		}
		k := s.marks[len(s.marks)-1]
		if k < 1 {
			return ingest.Malformed, errUnderflow
		}
		items, _ := s.popMark()
		return s.appendTo(k-1, len(items))

	// The memo.
	case opPut, opBinPut, opLongBinPut, opMemoize:
		key, err := s.memoKey(op)
		if err != nil {
			return ingest.Malformed, err
		}
		return s.put(key)
	case opGet, opBinGet, opLongBinGet:
		key, err := s.memoKey(op)
		if err != nil {
			return ingest.Malformed, err
		}
		if key >= len(s.memo) || s.memo[key].kind == 0 {
			return ingest.Malformed, fmt.Errorf("memo key %d not set", key)
		}
		s.stores[s.memoFrom[key]].fetched = true
		return s.push(aliased(s.memo[key]))

	// Globals and calls: decoded as og-rek Class and Call values, never executed.
	case opGlobal:
		for range 2 {
			if _, reason, err := s.line(); err != nil {
				return reason, err
			}
		}
		return s.push(slot{kind: kClass})
	case opStackGlobal:
		for range 2 {
			v, err := s.pop(false)
			if err != nil {
				return ingest.Malformed, err
			}
			if v.kind != kStr {
				return ingest.Malformed, errors.New("module and name must be str")
			}
		}
		return s.push(slot{kind: kClass})
	case opReduce:
		args, err := s.pop(false)
		if err != nil {
			return ingest.Malformed, err
		}
		callable, err := s.pop(false)
		if err != nil {
			return ingest.Malformed, err
		}
		if args.kind != kTuple || callable.kind != kClass {
			return ingest.Malformed, errors.New("want a global and a tuple of arguments")
		}
		// _codecs.encode and bytearray copy their first argument.
		s.copied += args.size
		if s.copied > s.maxCopy {
			return ingest.TooLarge, fmt.Errorf("calls would copy more than %d bytes", s.maxCopy)
		}
		return s.push(slot{kind: kOther, size: args.size})
	case opPersID:
		if _, reason, err := s.line(); err != nil {
			return reason, err
		}
		return s.push(slot{kind: kOther})
	case opBinPersID:
		if _, err := s.pop(false); err != nil {
			return ingest.Malformed, err
		}
		return s.push(slot{kind: kOther})

	// Framing.
	case opProto:
		if err := s.skip(1); err != nil {
			return ingest.Malformed, err
		}
		if v := s.b[s.pos-1]; v > 5 {
			return ingest.Malformed, fmt.Errorf("unsupported protocol %d", v)
		}
		return 0, nil
	case opFrame:
		if _, err := s.length(op); err != nil {
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

var (
	errUnderflow   = errors.New("stack underflow")
	errNoMark      = errors.New("no MARK on the stack")
	errMarkUse     = errors.New("MARK used as an object")
	errUnsupported = errors.New("opcode not supported")
)

// aliased is what DUP and GET push: a list becomes an alias of its backing array.
func aliased(v slot) slot {
	if v.kind == kList {
		v.kind = kListAlias
	}
	return v
}

func tuple(items []slot) slot {
	t := slot{kind: kTuple, n: len(items)}
	for _, it := range items {
		t.size = max(t.size, it.size)
	}
	return t
}

func (s *scanner) push(v slot) (ingest.Reason, error) {
	s.pushes++
	if s.pushes > s.maxPushes {
		return ingest.TooLarge, fmt.Errorf("more than %d objects", s.maxPushes)
	}
	if v.kind == kMark {
		s.marks = append(s.marks, len(s.stack))
	}
	s.stack = append(s.stack, v)
	return 0, nil
}

// pop removes the top object; markOK says whether it may be a MARK (POP only).
func (s *scanner) pop(markOK bool) (slot, error) {
	if len(s.stack) == 0 {
		return slot{}, errUnderflow
	}
	v := s.stack[len(s.stack)-1]
	if v.kind == kMark {
		if !markOK {
			return slot{}, errMarkUse
		}
		s.marks = s.marks[:len(s.marks)-1]
	}
	s.stack = s.stack[:len(s.stack)-1]
	return v, nil
}

// popMark removes the topmost MARK and the objects above it, which it returns; they stay
// valid until the next push.
func (s *scanner) popMark() ([]slot, error) {
	if len(s.marks) == 0 {
		return nil, errNoMark
	}
	k := s.marks[len(s.marks)-1]
	s.marks = s.marks[:len(s.marks)-1]
	items := s.stack[k+1:]
	s.stack = s.stack[:k]
	return items, nil
}

func (s *scanner) appendTo(i, n int) (ingest.Reason, error) {
	switch s.stack[i].kind {
	case kList:
		s.stack[i].n += n
		return 0, nil
	case kListAlias:
		return ingest.Malformed, errors.New("append to a list fetched again by GET or DUP")
	}
	return ingest.Malformed, errors.New("append to a non-list")
}

func (s *scanner) put(key int) (ingest.Reason, error) {
	if len(s.stores) >= s.maxStores {
		return ingest.TooLarge, fmt.Errorf("more than %d memo stores", s.maxStores)
	}
	s.stores = append(s.stores, memoStore{at: s.at, end: s.pos, key: key})
	if key > len(s.stores) {
		// Python numbers memo entries 0, 1, 2… (Python 2's cPickle from 1), so a key is
		// never above the number of stores; this keeps the simulated memo dense.
		return ingest.Malformed, fmt.Errorf("memo key %d out of sequence", key)
	}
	if len(s.stack) == 0 {
		return ingest.Malformed, errUnderflow
	}
	top := s.stack[len(s.stack)-1]
	if top.kind == kMark {
		return ingest.Malformed, errMarkUse
	}
	for len(s.memo) <= key {
		s.memo = append(s.memo, slot{})
		s.memoFrom = append(s.memoFrom, 0)
	}
	if s.memo[key].kind == 0 {
		s.memoN++
	}
	s.memo[key] = top
	s.memoFrom[key] = len(s.stores) - 1
	return 0, nil
}

// memoStore is one PUT, BINPUT, LONG_BINPUT or MEMOIZE: b[at:end] stored the top of the
// stack under key, and fetched says whether a GET ever read that value.
type memoStore struct {
	at, end, key int
	fetched      bool
}

// stripMemo appends to dst the scanned pickle without the memo stores that no GET reads,
// and with the others as explicit BINPUT or LONG_BINPUT of their key (a MEMOIZE's implicit
// key depends on the stores before it). Python memoizes every string and tuple but carbon
// frames rarely fetch any back, and og-rek's memo (a map keyed by freshly formatted
// strings) is its largest cost. The result decodes to the same value: the memo is only read
// by GETs. FRAME lengths become stale; og-rek ignores them.
func (s *scanner) stripMemo(dst []byte) []byte {
	last := 0
	for _, st := range s.stores {
		dst = append(dst, s.b[last:st.at]...)
		if st.fetched {
			if st.key <= 0xff {
				dst = append(dst, opBinPut, byte(st.key))
			} else {
				dst = binary.LittleEndian.AppendUint32(append(dst, opLongBinPut), uint32(st.key))
			}
		}
		last = st.end
	}
	return append(dst, s.b[last:]...)
}

// memoKey reads the key argument of a memo opcode. Text keys must be canonical decimals, as
// Python writes them: og-rek keys its memo by the text, so "01" and "1" differ there.
func (s *scanner) memoKey(op byte) (int, error) {
	switch op {
	case opMemoize:
		return s.memoN, nil
	case opBinPut, opBinGet:
		if err := s.skip(1); err != nil {
			return 0, err
		}
		return int(s.b[s.pos-1]), nil
	case opLongBinPut, opLongBinGet:
		if err := s.skip(4); err != nil {
			return 0, err
		}
		return int(binary.LittleEndian.Uint32(s.b[s.pos-4:])), nil
	}
	line, _, err := s.line()
	if err != nil {
		return 0, err
	}
	if len(line) == 0 || len(line) > 9 || (line[0] == '0' && len(line) > 1) {
		return 0, fmt.Errorf("memo key %q is not a canonical decimal", line)
	}
	key := 0
	for _, c := range line {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("memo key %q is not a canonical decimal", line)
		}
		key = key*10 + int(c-'0')
	}
	return key, nil
}

// line consumes a text argument up to and including its "\n" and returns it without.
func (s *scanner) line() ([]byte, ingest.Reason, error) {
	i := bytes.IndexByte(s.b[s.pos:], '\n')
	if i < 0 {
		return nil, ingest.Malformed, fmt.Errorf("truncated: no newline in the last %d bytes", len(s.b)-s.pos)
	}
	if i > maxStringLen {
		return nil, ingest.TooLarge, fmt.Errorf("text argument of %d bytes exceeds the limit of %d", i, maxStringLen)
	}
	line := s.b[s.pos : s.pos+i]
	s.pos += i + 1
	return line, 0, nil
}

// skip consumes n argument bytes.
func (s *scanner) skip(n int) error {
	if n > len(s.b)-s.pos {
		return fmt.Errorf("truncated: %d argument bytes, %d remain", n, len(s.b)-s.pos)
	}
	s.pos += n
	return nil
}

// length consumes the length field of a counted opcode and checks the declared length
// against the bytes that remain; the counted bytes themselves are left to the caller.
func (s *scanner) length(op byte) (uint64, error) {
	w := 4
	switch op {
	case opShortBinString, opShortBinUnicode, opShortBinBytes, opLong1:
		w = 1
	case opBinUnicode8, opBinBytes8, opByteArray8, opFrame:
		w = 8
	}
	if err := s.skip(w); err != nil {
		return 0, err
	}
	var n uint64
	switch f := s.b[s.pos-w : s.pos]; w {
	case 1:
		n = uint64(f[0])
	case 4:
		n = uint64(binary.LittleEndian.Uint32(f))
	default:
		n = binary.LittleEndian.Uint64(f)
	}
	if n > uint64(len(s.b)-s.pos) {
		return 0, fmt.Errorf("declared length %d exceeds the %d bytes that remain", n, len(s.b)-s.pos)
	}
	return n, nil
}
