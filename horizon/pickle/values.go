package pickle

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/kale-project/kale/horizon/ingest"
)

// Sizes charged to the budget.
const (
	slotSize = int(unsafe.Sizeof(slot{}))
	strSize  = int(unsafe.Sizeof(str{}))
	dpSize   = int(unsafe.Sizeof(dp{}))
	itemSize = int(unsafe.Sizeof(item{}))
	listSize = int(unsafe.Sizeof([]slot{}))
	nameSize = int(unsafe.Sizeof(""))
	numSize  = 8
)

// reserve returns s with room for n more elements of size bytes. It doubles the capacity,
// but never beyond what the rest of the budget could pay for, so that what the machine
// allocates stays within twice its budget (append would grow by 1.25, allocating five times
// the final size along the way).
func reserve[T any](m *machine, s []T, n, size int) []T {
	need := len(s) + n
	if need <= cap(s) {
		return s
	}
	c := max(2*cap(s), need, 64)
	if limit := len(s) + max(0, m.budget-m.used)/size; c > limit {
		c = max(need, limit)
	}
	t := make([]T, len(s), c)
	copy(t, s)
	return t
}

func (m *machine) push(v slot) (ingest.Reason, error) {
	m.pushes++
	if m.pushes > m.maxPushes {
		return ingest.TooLarge, fmt.Errorf("more than %d objects", m.maxPushes)
	}
	if len(m.stack) == m.stackHigh {
		m.stackHigh++
		if err := m.charge(slotSize); err != nil {
			return ingest.TooLarge, err
		}
	}
	m.stack = append(reserve(m, m.stack, 1, slotSize), v)
	return 0, nil
}

// pushMark pushes a MARK that links to the one below it.
func (m *machine) pushMark() (ingest.Reason, error) {
	v := slot{kind: kMark, ref: m.mark}
	m.mark = uint32(len(m.stack))
	return m.push(v)
}

// popMark removes the topmost MARK, leaving the objects above it beyond len(m.stack), and
// returns its index.
func (m *machine) popMark() (int, error) {
	if m.mark == noMark {
		return 0, errNoMark
	}
	k := int(m.mark)
	m.mark = m.stack[k].ref
	return k, nil
}

func (m *machine) pushNum(k kind, bits uint64) (ingest.Reason, error) {
	if err := m.charge(numSize); err != nil {
		return ingest.TooLarge, err
	}
	m.nums = append(reserve(m, m.nums, 1, numSize), bits)
	return m.push(slot{kind: k, ref: uint32(len(m.nums) - 1)})
}

func (m *machine) pushInt(v int64) (ingest.Reason, error) {
	if v == int64(int32(v)) {
		return m.push(slot{kind: kInt32, ref: uint32(int32(v))})
	}
	return m.pushNum(kInt64, uint64(v))
}

func (m *machine) pushStr(s str, flags uint8) (ingest.Reason, error) {
	if err := m.charge(strSize); err != nil {
		return ingest.TooLarge, err
	}
	m.strs = append(reserve(m, m.strs, 1, strSize), s)
	return m.push(slot{kind: kStr, flags: flags, ref: uint32(len(m.strs) - 1)})
}

// bytes returns the bytes of a kStr slot.
func (m *machine) bytes(v slot) []byte {
	s := m.strs[v.ref]
	if s.decoded {
		return m.text[s.off : s.off+s.n]
	}
	return m.b[s.off : s.off+s.n]
}

// number returns a kInt32, kInt64 or kFloat slot as a Python value, ok false for others.
func (m *machine) isNumber(v slot) bool {
	return v.kind == kInt32 || v.kind == kInt64 || v.kind == kFloat
}

// freeze turns v into what a tuple or list keeps of an element (see machine.go).
func (m *machine) freeze(v slot) (slot, error) {
	switch v.kind {
	case kMark:
		return slot{}, errMarkUse
	case kList:
		if v.flags&fStored == 0 {
			return slot{kind: kSeq, flags: fList, ref: v.ref}, nil
		}
		return m.compact(m.lists[v.ref], fList)
	case kTuple:
		return slot{kind: kSeq, ref: m.elems[v.ref].ref}, nil
	}
	return v, nil
}

// compact returns the slot of a sequence of frozen elements: a datapoint, an item or an
// opaque sequence of that length.
func (m *machine) compact(elems []slot, flags uint8) (slot, error) {
	if len(elems) == 2 {
		a, b := elems[0], elems[1]
		switch {
		case m.isNumber(a) && m.isNumber(b):
			if err := m.charge(dpSize); err != nil {
				return slot{}, err
			}
			m.dps = append(reserve(m, m.dps, 1, dpSize), dp{a, b})
			return slot{kind: kDP, flags: flags, ref: uint32(len(m.dps) - 1)}, nil
		case a.kind == kStr && a.flags&fByteArray == 0 && b.kind == kDP:
			if err := m.charge(itemSize); err != nil {
				return slot{}, err
			}
			m.items = append(reserve(m, m.items, 1, itemSize), item{name: a.ref, dp: b.ref})
			return slot{kind: kItem, flags: flags, ref: uint32(len(m.items) - 1)}, nil
		}
	}
	return slot{kind: kSeq, flags: flags, ref: uint32(len(elems))}, nil
}

// alias is what DUP and a memo store keep of v: a list is frozen as it is now (og-rek keeps
// its slice header, which later appends to the original do not change).
func (m *machine) alias(v slot) slot {
	if v.kind != kList {
		return v
	}
	f, err := m.freeze(v)
	if err != nil { // cannot happen: freezing a list only fails over budget, see compact
		return slot{kind: kSeq, flags: fList | fUnknown}
	}
	f.flags |= fAlias
	return f
}

// pushTuple pushes a tuple of items, which may alias the stack beyond its length.
func (m *machine) pushTuple(items []slot) (ingest.Reason, error) {
	for i, it := range items {
		f, err := m.freeze(it)
		if err != nil {
			return ingest.Malformed, err
		}
		items[i] = f
	}
	if len(items) == 0 {
		return m.push(slot{kind: kSeq})
	}
	c, err := m.compact(items, 0)
	if err != nil {
		return ingest.TooLarge, err
	}
	opaque := true
	for _, it := range items {
		opaque = opaque && it.kind == kSeq
	}
	if c.kind != kSeq || opaque {
		return m.push(c) // a tuple of nested sequences only needs its length, as a list
	}
	// Kept whole: it may be the payload or the arguments of a call.
	if err := m.charge(slotSize * (len(items) + 1)); err != nil {
		return ingest.TooLarge, err
	}
	at := len(m.elems)
	m.elems = append(reserve(m, m.elems, len(items)+1, slotSize), slot{ref: uint32(len(items))})
	m.elems = append(m.elems, items...)
	return m.push(slot{kind: kTuple, ref: uint32(at)})
}

// tupleElems returns the elements of a slot that og-rek would decode as a Tuple, ok false
// for any other slot (and for a tuple of more than two nested sequences). The elements of
// a datapoint, an item or a short tuple of nested sequences are rebuilt in buf.
func (m *machine) tupleElems(v slot, buf *[2]slot) ([]slot, bool) {
	if v.flags&fList != 0 {
		return nil, false
	}
	switch v.kind {
	case kTuple:
		n := m.elems[v.ref].ref
		return m.elems[v.ref+1 : v.ref+1+n], true
	case kDP:
		d := m.dps[v.ref]
		buf[0], buf[1] = d.ts, d.value
		return buf[:], true
	case kItem:
		it := m.items[v.ref]
		buf[0], buf[1] = slot{kind: kStr, ref: it.name}, slot{kind: kDP, ref: it.dp}
		return buf[:], true
	case kSeq:
		// A tuple of nested sequences: only its length is known.
		if v.flags&fUnknown != 0 || v.ref > 2 {
			return nil, false
		}
		buf[0], buf[1] = slot{kind: kSeq, flags: fUnknown}, slot{kind: kSeq, flags: fUnknown}
		return buf[:v.ref], true
	}
	return nil, false
}

// appendTo appends items (which may alias the stack beyond its length) to the list l.
func (m *machine) appendTo(l *slot, items []slot) error {
	if l.kind != kList {
		if l.flags&fAlias != 0 {
			return errors.New("append to a list fetched again by GET or DUP")
		}
		return errors.New("append to a non-list")
	}
	opaque := true
	for i, it := range items {
		f, err := m.freeze(it)
		if err != nil {
			return err
		}
		items[i] = f
		opaque = opaque && f.kind == kSeq
	}
	if l.flags&fStored == 0 {
		if opaque {
			l.ref += uint32(len(items))
			return nil
		}
		// The first element worth keeping: the opaque ones before it become placeholders.
		if err := m.charge(listSize + slotSize*int(l.ref)); err != nil {
			return err
		}
		i := len(m.lists)
		if i < cap(m.lists) {
			m.lists = m.lists[:i+1]
		} else {
			m.lists = append(m.lists, nil)
		}
		elems := reserve(m, m.lists[i][:0], int(l.ref), slotSize)
		for range l.ref {
			elems = append(elems, slot{kind: kSeq, flags: fUnknown})
		}
		m.lists[i] = elems
		*l = slot{kind: kList, flags: fStored, ref: uint32(i)}
	}
	if err := m.charge(slotSize * len(items)); err != nil {
		return err
	}
	m.lists[l.ref] = append(reserve(m, m.lists[l.ref], len(items), slotSize), items...)
	return nil
}

func (m *machine) put(key int) (ingest.Reason, error) {
	m.stores++
	if m.stores > m.maxStores {
		return ingest.TooLarge, fmt.Errorf("more than %d memo stores", m.maxStores)
	}
	if key > m.stores {
		// Python numbers memo entries 0, 1, 2… (Python 2's cPickle from 1), so a key is
		// never above the number of stores; this keeps the memo dense.
		return ingest.Malformed, fmt.Errorf("memo key %d out of sequence", key)
	}
	if len(m.stack) == 0 {
		return ingest.Malformed, errUnderflow
	}
	top := m.stack[len(m.stack)-1]
	if top.kind == kMark {
		return ingest.Malformed, errMarkUse
	}
	if key >= len(m.memo) {
		if err := m.charge(slotSize * (key + 1 - len(m.memo))); err != nil {
			return ingest.TooLarge, err
		}
		m.memo = reserve(m, m.memo, key+1-len(m.memo), slotSize)
		for len(m.memo) <= key {
			m.memo = append(m.memo, slot{})
		}
	}
	if m.memo[key].kind == 0 {
		m.memoN++
	}
	m.memo[key] = m.alias(top)
	return 0, nil
}

// memoKey reads the key argument of a memo opcode. Text keys must be canonical decimals, as
// Python writes them: og-rek keys its memo by the text, so "01" and "1" differ there.
func (m *machine) memoKey(op byte) (int, error) {
	switch op {
	case opMemoize:
		return m.memoN, nil
	case opBinPut, opBinGet:
		f, err := m.arg(1)
		if err != nil {
			return 0, err
		}
		return int(f[0]), nil
	case opLongBinPut, opLongBinGet:
		f, err := m.arg(4)
		if err != nil {
			return 0, err
		}
		return int(binary.LittleEndian.Uint32(f)), nil
	}
	line, _, err := m.line()
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

// textNumber pushes the argument of INT, LONG or FLOAT as og-rek parses it.
func (m *machine) textNumber(op byte) (ingest.Reason, error) {
	line, reason, err := m.line()
	if err != nil {
		return reason, err
	}
	if len(line) > maxNumberLen {
		return ingest.TooLarge, fmt.Errorf("number argument of %d bytes exceeds the limit of %d", len(line), maxNumberLen)
	}
	text := unsafe.String(unsafe.SliceData(line), len(line)) // parsed, not kept
	switch op {
	case opFloat:
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return ingest.Malformed, errors.New("bad FLOAT argument")
		}
		return m.pushNum(kFloat, math.Float64bits(f))
	case opInt:
		if text == "00" || text == "01" {
			return m.push(slot{kind: kBool})
		}
	case opLong:
		if len(text) == 0 || text[len(text)-1] != 'L' {
			return ingest.Malformed, errors.New("LONG argument does not end in L")
		}
		text = text[:len(text)-1]
	}
	v, err := strconv.ParseInt(text, 10, 64)
	if err == nil {
		return m.pushInt(v)
	}
	if errors.Is(err, strconv.ErrRange) {
		return m.push(slot{kind: kBigInt})
	}
	return ingest.Malformed, fmt.Errorf("bad %s argument", opName(op))
}

// long1 pushes a LONG1 body: a little-endian two's complement integer.
func (m *machine) long1(data []byte) (ingest.Reason, error) {
	n := len(data)
	if n == 0 {
		return m.pushInt(0)
	}
	neg := data[n-1]&0x80 != 0
	if n > 8 {
		ext := byte(0)
		if neg {
			ext = 0xff
		}
		for _, c := range data[8:] {
			if c != ext {
				return m.push(slot{kind: kBigInt})
			}
		}
		if data[7]&0x80 != ext&0x80 {
			return m.push(slot{kind: kBigInt})
		}
		n = 8
	}
	var u uint64
	for i := n - 1; i >= 0; i-- {
		u = u<<8 | uint64(data[i])
	}
	if n < 8 && neg {
		u |= ^uint64(0) << (8 * n)
	}
	return m.pushInt(int64(u))
}

// textString pushes the argument of STRING or UNICODE. Text with escapes (or, for UNICODE,
// bytes beyond ASCII, which are latin-1) goes through og-rek, once.
func (m *machine) textString(op byte) (ingest.Reason, error) {
	at := m.pos
	line, reason, err := m.line()
	if err != nil {
		return reason, err
	}
	if op == opString {
		if len(line) < 2 || (line[0] != '\'' && line[0] != '"') || line[len(line)-1] != line[0] {
			return ingest.Malformed, errors.New("STRING argument is not quoted")
		}
		if bytes.IndexByte(line, '\\') < 0 {
			return m.pushStr(str{off: uint32(at + 1), n: uint32(len(line) - 2)}, 0)
		}
	} else if ascii(line) && bytes.IndexByte(line, '\\') < 0 {
		return m.pushStr(str{off: uint32(at), n: uint32(len(line))}, 0)
	}
	if err := m.charge(slowTextCost + 4*len(line)); err != nil {
		return ingest.TooLarge, err
	}
	text, err := m.slow.decodeText(op, line)
	if err != nil {
		return ingest.Malformed, err
	}
	off := len(m.text)
	m.text = append(reserve(m, m.text, len(text), 1), text...)
	return m.pushStr(str{off: uint32(off), n: uint32(len(text)), decoded: true}, 0)
}

func ascii(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// reduce runs REDUCE. og-rek turns two calls into bytes (Python 3 pickles bytes as
// _codecs.encode(str, "latin1") in protocols 0-2) and bytearray(...) into []byte; any
// other call becomes an inert Call value.
func (m *machine) reduce() (ingest.Reason, error) {
	if len(m.stack) < 2 {
		return ingest.Malformed, errUnderflow
	}
	callable, args := m.stack[len(m.stack)-2], m.stack[len(m.stack)-1]
	m.stack = m.stack[:len(m.stack)-2]
	var buf [2]slot
	argv, ok := m.tupleElems(args, &buf)
	if !ok && args.kind == kSeq && args.flags&fList == 0 && callable.kind == kClass {
		return m.push(slot{kind: kOther}) // more arguments than any call og-rek understands
	}
	if !ok || callable.kind != kClass {
		return ingest.Malformed, errors.New("want a global and a tuple of arguments")
	}
	// The calls og-rek understands copy their first argument; so would Python.
	for _, a := range argv {
		if a.kind == kStr {
			m.copied += int(m.strs[a.ref].n)
		}
	}
	if m.copied > m.maxC {
		return ingest.TooLarge, fmt.Errorf("calls would copy more than %d bytes", m.maxC)
	}
	isStr := func(i int, s string) bool {
		return len(argv) > i && argv[i].kind == kStr && argv[i].flags&(fBytes|fByteArray) == 0 && string(m.bytes(argv[i])) == s
	}
	switch {
	case callable.flags&fEncode != 0 && len(argv) == 2 && isStr(1, "latin1"):
		return m.latin1(argv[0], fBytes, "_codecs.encode")
	case callable.flags&fArray2 != 0 && m.proto <= 2, callable.flags&fArray3 != 0 && m.proto > 2:
		switch {
		case len(argv) == 1:
			a := argv[0]
			if a.kind != kStr || a.flags&fBytes == 0 {
				return ingest.Malformed, errors.New("bytearray: want (bytes,)")
			}
			return m.push(slot{kind: kStr, flags: fByteArray, ref: a.ref})
		case len(argv) == 2 && isStr(1, "latin-1"):
			return m.latin1(argv[0], fByteArray, "bytearray")
		}
	}
	return m.push(slot{kind: kOther})
}

// latin1 pushes the latin-1 encoding of the str a, as og-rek's decodeLatin1Bytes does.
func (m *machine) latin1(a slot, flags uint8, what string) (ingest.Reason, error) {
	if a.kind != kStr || a.flags&(fBytes|fByteArray) != 0 {
		return ingest.Malformed, fmt.Errorf("%s: argument must be str", what)
	}
	b := m.bytes(a)
	if ascii(b) {
		return m.push(slot{kind: kStr, flags: flags, ref: a.ref})
	}
	if err := m.charge(len(b)); err != nil {
		return ingest.TooLarge, err
	}
	off := len(m.text)
	m.text = reserve(m, m.text, len(b), 1)
	for len(b) > 0 {
		r, w := utf8.DecodeRune(b)
		if r >= 0x100 {
			m.text = m.text[:off]
			return ingest.Malformed, fmt.Errorf("%s: cannot encode %q as latin-1", what, r)
		}
		m.text = append(m.text, byte(r))
		b = b[w:]
	}
	return m.pushStr(str{off: uint32(off), n: uint32(len(m.text) - off), decoded: true}, flags)
}

func classFlags(mod, name []byte) uint8 {
	switch {
	case string(mod) == "_codecs" && string(name) == "encode":
		return fEncode
	case string(mod) == "__builtin__" && string(name) == "bytearray":
		return fArray2
	case string(mod) == "builtins" && string(name) == "bytearray":
		return fArray3
	}
	return 0
}

// line consumes a text argument up to and including its "\n" and returns it without.
func (m *machine) line() ([]byte, ingest.Reason, error) {
	i := bytes.IndexByte(m.b[m.pos:], '\n')
	if i < 0 {
		return nil, ingest.Malformed, fmt.Errorf("truncated: no newline in the last %d bytes", len(m.b)-m.pos)
	}
	if i > maxStringLen {
		return nil, ingest.TooLarge, fmt.Errorf("text argument of %d bytes exceeds the limit of %d", i, maxStringLen)
	}
	line := m.b[m.pos : m.pos+i]
	m.pos += i + 1
	return line, 0, nil
}

// arg consumes n argument bytes and returns them.
func (m *machine) arg(n int) ([]byte, error) {
	if n > len(m.b)-m.pos {
		return nil, fmt.Errorf("truncated: %d argument bytes, %d remain", n, len(m.b)-m.pos)
	}
	m.pos += n
	return m.b[m.pos-n : m.pos], nil
}

// length consumes the length field of a counted opcode and the counted bytes (except for
// FRAME, whose bytes are opcodes), checking the declared length against what remains.
func (m *machine) length(op byte) (uint64, error) {
	w := 4
	switch op {
	case opShortBinString, opShortBinUnicode, opShortBinBytes, opLong1:
		w = 1
	case opBinUnicode8, opBinBytes8, opByteArray8, opFrame:
		w = 8
	}
	f, err := m.arg(w)
	if err != nil {
		return 0, err
	}
	var n uint64
	switch w {
	case 1:
		n = uint64(f[0])
	case 4:
		n = uint64(binary.LittleEndian.Uint32(f))
	default:
		n = binary.LittleEndian.Uint64(f)
	}
	if n > uint64(len(m.b)-m.pos) {
		return 0, fmt.Errorf("declared length %d exceeds the %d bytes that remain", n, len(m.b)-m.pos)
	}
	if op != opFrame {
		m.pos += int(n)
	}
	return n, nil
}
