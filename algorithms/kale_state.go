package algorithms

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// State encoding: "KALE", a version byte, the shape of the configuration (checked on
// decoding), then each part; integers are varints and floats are IEEE-754 little-endian.
// Version 5 adds the context range window's block size and ContextShrinkBits to the shape,
// writes the window range (BlockRange.appendTo) after the EW moments, and drops each
// context's row count and all-time range; an older state's window range is started from
// the seasonal history's values. Version 4 appends the flat detector (last value, run,
// record, long-run count) and the pending peak (a flag, then its score, timestamp, value,
// component index, expected, lower, upper) to version 3; versions 2 and 3 are still read
// (with an empty flat detector and no pending peak). Version 3: the raw-score window as
// its monotone deque of
// (age, score) pairs; each context bitset as a tag byte and the shorter of the zero-run
// word encoding (0) and the list of set bits as varint gaps (1); the seasonal history as zig-zag varint deltas of its scaled decimals
// when it holds them; the seasonal residuals only once a period is fixed.
const kaleStateVersion = 5

// finite reports whether the decoded moments, grid steps, window range and held peak score
// are finite (a corrupt blob could carry NaN or ±Inf, which would poison every later score).
func (k *Kale) finite() bool {
	ok := func(xs ...float64) bool {
		for _, x := range xs {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return false
			}
		}
		return true
	}
	good := ok(k.ew.mean, k.ew.variance, k.base, k.flat.last, k.rng.cmin, k.rng.cmax, k.peaks.pending.Score) &&
		ok(k.rng.mins[:k.rng.full]...) && ok(k.rng.maxs[:k.rng.full]...)
	for i := range k.ctx {
		good = good && ok(k.ctx[i].step) && k.ctx[i].step >= 0
	}
	return good
}

// kaleComponents are the KaleScore.Component names, in their state-encoding order.
var kaleComponents = []string{"context", "seasonal", "flat"}

// ErrKaleState reports a state blob that does not decode into this Kale.
var ErrKaleState = errors.New("invalid kale state")

// MarshalBinary encodes the state (not the configuration).
func (k *Kale) MarshalBinary() ([]byte, error) {
	b := append(make([]byte, 0, 1024), "KALE"...)
	b = append(b, kaleStateVersion)
	b = binary.AppendUvarint(b, uint64(k.cfg.Rest))
	b = binary.AppendUvarint(b, uint64(len(k.ctx)))
	b = binary.AppendUvarint(b, uint64(k.cfg.ContextOrder))
	b = binary.AppendUvarint(b, uint64(k.cfg.ContextTableBits))
	b = binary.AppendUvarint(b, uint64(k.cfg.SeasonalHistory))
	b = binary.AppendUvarint(b, uint64(k.cfg.SeasonalResidWindow))
	b = binary.AppendUvarint(b, uint64(min(k.rng.block, 1<<40)))
	b = binary.AppendUvarint(b, uint64(k.cfg.ContextShrinkBits))
	b = binary.AppendUvarint(b, uint64(k.n))
	b = binary.AppendUvarint(b, uint64(len(k.peaks.raws.peaks)))
	for _, p := range k.peaks.raws.peaks {
		b = binary.AppendUvarint(b, uint64(k.peaks.raws.n-p.row))
		b = kaleAppendFloats(b, p.v)
	}
	b = kaleAppendFloats(b, k.ew.mean, k.ew.variance, k.base)
	b = binary.AppendUvarint(b, uint64(k.ew.n))
	b = k.rng.appendTo(b)
	for i := range k.ctx {
		c := &k.ctx[i]
		b = binary.AppendUvarint(b, uint64(c.nsyms))
		b = kaleAppendFloats(b, c.step)
		for _, s := range c.syms {
			b = binary.AppendVarint(b, int64(s))
		}
		b = kaleAppendBitsetV3(b, c.seen)
	}
	s := &k.seas
	b = binary.AppendUvarint(b, uint64(s.period))
	b = binary.AppendUvarint(b, uint64(s.sinceChk))
	active := byte(0)
	if s.active {
		active = 1
	}
	b = append(b, active)
	b = kaleAppendFloats(b, s.lastTS, s.dt, s.acf)
	b = s.hist.appendTo(b)
	if s.period > 0 {
		b = s.resid.appendTo(b)
	}
	f := &k.flat
	b = kaleAppendFloats(b, f.last)
	b = binary.AppendUvarint(b, uint64(f.run))
	b = binary.AppendUvarint(b, uint64(f.record))
	b = binary.AppendUvarint(b, uint64(f.long))
	if !k.peaks.hasPending {
		return append(b, 0), nil
	}
	p := &k.peaks.pending
	b = append(b, 1)
	b = kaleAppendFloats(b, p.Score, p.Timestamp, p.Value)
	b = append(b, byte(slices.Index(kaleComponents, p.Component)))
	return kaleAppendFloats(b, p.Expected, p.Lower, p.Upper), nil
}

// UnmarshalBinary restores a state written by MarshalBinary (this version or versions 2 to
// 4) of a Kale with the same configuration; on error k is unchanged.
func (k *Kale) UnmarshalBinary(data []byte) error {
	if len(data) < 5 || string(data[:4]) != "KALE" {
		return fmt.Errorf("%w: bad magic", ErrKaleState)
	}
	version := data[4]
	if version < 2 || version > kaleStateVersion {
		return fmt.Errorf("%w: version %d, want %d", ErrKaleState, data[4], kaleStateVersion)
	}
	d := kaleDecoder{b: data[5:]}
	shape := []int{k.cfg.Rest, len(k.ctx), k.cfg.ContextOrder, k.cfg.ContextTableBits, k.cfg.SeasonalHistory, k.cfg.SeasonalResidWindow}
	if version >= 5 {
		shape = append(shape, min(k.rng.block, 1<<40), k.cfg.ContextShrinkBits)
	}
	for _, want := range shape {
		if got := d.uint(); got != want && d.err == nil {
			return fmt.Errorf("%w: written with another configuration", ErrKaleState)
		}
	}
	nk := NewKale(k.cfg)
	nk.n = d.uint()
	if version == 2 {
		d.recentMaxV2(&nk.peaks.raws, nk.n)
	} else {
		d.recentMax(&nk.peaks.raws, nk.n)
	}
	nk.ew.mean, nk.ew.variance, nk.base, nk.ew.n = d.float(), d.float(), d.float(), d.uint()
	if version >= 5 {
		d.blockRange(&nk.rng)
	}
	for i := range nk.ctx {
		c := &nk.ctx[i]
		if version < 5 {
			d.uint() // rows seen
		}
		c.nsyms = d.uint()
		if version < 5 {
			d.float() // the all-time range: replaced by the window range, seeded below
			d.float()
		}
		c.step = d.float()
		for j := range c.syms {
			c.syms[j] = int32(d.int())
		}
		if version == 2 {
			d.bitset(c.seen)
		} else {
			d.bitsetV3(c.seen)
		}
		if c.nsyms > c.order {
			d.fail("context symbols")
		}
	}
	s := &nk.seas
	resid := NewRing(s.window)
	if version == 2 {
		d.valRingV2(&s.hist)
		d.ring(&resid)
	}
	s.period, s.sinceChk = d.uint(), d.uint()
	s.active = d.byte() == 1
	s.lastTS, s.dt, s.acf = d.float(), d.float(), d.float()
	if version != 2 {
		d.valRing(&s.hist)
		if s.period > 0 {
			d.ring(&resid)
		}
	}
	if version >= 4 {
		f := &nk.flat
		f.last = d.float()
		f.run, f.record, f.long = d.uint(), d.uint(), d.uint()
		if nk.peaks.hasPending = d.byte() == 1; nk.peaks.hasPending {
			p := &nk.peaks.pending
			p.Score, p.Timestamp, p.Value = d.float(), d.float(), d.float()
			if c := int(d.byte()); c < len(kaleComponents) {
				p.Component = kaleComponents[c]
			} else {
				d.fail("component")
			}
			p.Expected, p.Lower, p.Upper = d.float(), d.float(), d.float()
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if version < 5 && d.err == nil { // no window range was kept: start it from the history
		for i := range s.hist.n {
			nk.rng.Push(s.hist.at(i))
		}
	}
	if d.err == nil && !nk.finite() {
		d.fail("non-finite values")
	}
	if d.err == nil && 2*s.period > s.hist.size {
		d.fail("seasonal period")
	}
	if d.err == nil && s.period == 0 && resid.n > 0 {
		d.fail("seasonal residuals") // never written: residuals start with the period
	}
	if d.err != nil {
		return d.err
	}
	if s.period > 0 {
		s.resid = resid
	}
	*k = *nk
	return nil
}

func kaleAppendFloats(b []byte, xs ...float64) []byte {
	for _, x := range xs {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return b
}

// appendTo writes the ring's kept values, oldest first: the count, then 0 and the floats,
// or exp+1 and the zig-zag varint deltas of the scaled decimals.
func (r *kaleValRing) appendTo(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(r.n))
	if r.n == 0 {
		return b
	}
	b = append(b, byte(r.exp+1))
	prev := int64(0)
	for i := 0; i < r.n; i++ {
		j := r.idx(i)
		if r.exp < 0 {
			b = kaleAppendFloats(b, r.f[j])
			continue
		}
		b = binary.AppendVarint(b, int64(r.m[j])-prev)
		prev = int64(r.m[j])
	}
	return b
}

// appendTo writes the rows in the block being filled, its range if any, the number of
// complete blocks and their ranges, oldest first.
func (r *BlockRange) appendTo(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(r.cur))
	if r.cur > 0 {
		b = kaleAppendFloats(b, r.cmin, r.cmax)
	}
	b = binary.AppendUvarint(b, uint64(r.full))
	for i := range r.full {
		j := (r.head - r.full + i + len(r.mins)) % len(r.mins)
		b = kaleAppendFloats(b, r.mins[j], r.maxs[j])
	}
	return b
}

// blockRange reads what BlockRange.appendTo wrote into the empty r.
func (d *kaleDecoder) blockRange(r *BlockRange) {
	r.cur = d.uint()
	if r.cur >= r.block {
		d.fail("range block")
		return
	}
	if r.cur > 0 {
		r.cmin, r.cmax = d.float(), d.float()
	}
	r.full = d.uint()
	if r.full > len(r.mins) {
		d.fail("range blocks")
		return
	}
	for i := range r.full {
		r.mins[i], r.maxs[i] = d.float(), d.float()
	}
	r.head = r.full % len(r.mins)
	r.summarise()
}

// appendTo writes the ring's kept values, oldest first.
func (r *Ring) appendTo(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(r.n))
	for i := 0; i < r.n; i++ {
		b = kaleAppendFloats(b, r.At(i))
	}
	return b
}

// kaleAppendBitset writes the words as (zero-run length, word) pairs, ending with the run of
// trailing zeros.
func kaleAppendBitset(b []byte, words []uint64) []byte {
	run := 0
	for _, w := range words {
		if w == 0 {
			run++
			continue
		}
		b = binary.AppendUvarint(b, uint64(run))
		b = binary.LittleEndian.AppendUint64(b, w)
		run = 0
	}
	return binary.AppendUvarint(b, uint64(run))
}

// kaleAppendBitsetV3 writes the shorter of kaleAppendBitset (tag 0) and the set bits' count
// and gaps (tag 1: the first index, then each index minus the previous one minus 1).
func kaleAppendBitsetV3(b []byte, words []uint64) []byte {
	start := len(b)
	b = append(b, 1)
	count := 0
	for _, w := range words {
		count += bits.OnesCount64(w)
	}
	b = binary.AppendUvarint(b, uint64(count))
	next := 0 // the smallest index the next set bit can have
	for i, w := range words {
		for w != 0 {
			j := i*64 + bits.TrailingZeros64(w)
			b = binary.AppendUvarint(b, uint64(j-next))
			next = j + 1
			w &= w - 1
		}
	}
	rle := kaleAppendBitset([]byte{0}, words)
	if len(rle) < len(b)-start {
		b = append(b[:start], rle...)
	}
	return b
}

// kaleDecoder reads what MarshalBinary wrote; the first error sticks.
type kaleDecoder struct {
	b   []byte
	err error
}

func (d *kaleDecoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: cannot decode %s", ErrKaleState, what)
	}
	d.b = nil
}

func (d *kaleDecoder) uint() int {
	v, n := binary.Uvarint(d.b)
	if n <= 0 || v > 1<<40 {
		d.fail("integer")
		return 0
	}
	d.b = d.b[n:]
	return int(v)
}

func (d *kaleDecoder) int() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("integer")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *kaleDecoder) byte() byte {
	if len(d.b) < 1 {
		d.fail("flag")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *kaleDecoder) float() float64 {
	if len(d.b) < 8 {
		d.fail("float")
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}

func (d *kaleDecoder) ring(r *Ring) {
	n := d.uint()
	if n > len(r.buf) {
		d.fail("ring length")
		return
	}
	for range n {
		r.Push(d.float())
	}
}

// valRing reads what kaleValRing.appendTo wrote.
func (d *kaleDecoder) valRing(r *kaleValRing) {
	n := d.uint()
	if n > r.size {
		d.fail("ring length")
		return
	}
	if n == 0 {
		return
	}
	tag := int(d.byte())
	if tag > len(kalePow10) {
		d.fail("ring scale")
		return
	}
	v := int64(0)
	for range n {
		if d.err != nil {
			return
		}
		if tag == 0 {
			r.push(d.float())
			continue
		}
		v += d.int()
		if v > math.MaxInt32 || v < math.MinInt32 {
			d.fail("ring value")
			return
		}
		r.push(float64(v) / kalePow10[tag-1])
	}
}

// valRingV2 reads a version-2 ring (count and floats) into r.
func (d *kaleDecoder) valRingV2(r *kaleValRing) {
	n := d.uint()
	if n > r.size {
		d.fail("ring length")
		return
	}
	for range n {
		r.push(d.float())
	}
}

// recentMax reads the (age, value) pairs MarshalBinary wrote; n is the row count.
func (d *kaleDecoder) recentMax(m *kaleRecentMax, n int) {
	c := d.uint()
	if c > m.w || c > n {
		d.fail("raw scores")
		return
	}
	m.n = n
	m.peaks = make([]kalePeak, 0, c)
	for range c {
		age, v := d.uint(), d.float()
		row := n - age
		if d.err != nil || age >= m.w || age >= n || math.IsNaN(v) ||
			len(m.peaks) > 0 && (row <= m.peaks[len(m.peaks)-1].row || v >= m.peaks[len(m.peaks)-1].v) {
			d.fail("raw scores")
			return
		}
		m.peaks = append(m.peaks, kalePeak{row, v})
	}
}

// recentMaxV2 reads a version-2 ring of the last raw scores (n rows seen) into m.
func (d *kaleDecoder) recentMaxV2(m *kaleRecentMax, n int) {
	c := d.uint()
	if c > m.w || c > n {
		d.fail("ring length")
		return
	}
	m.n = n - c
	for range c {
		if v := d.float(); !math.IsNaN(v) {
			m.push(v)
		} else {
			d.fail("raw scores")
		}
	}
}

// bitsetV3 reads what kaleAppendBitsetV3 wrote into the zeroed words.
func (d *kaleDecoder) bitsetV3(words []uint64) {
	switch d.byte() {
	case 0:
		d.bitset(words)
	case 1:
		count, next := d.uint(), 0
		if count > len(words)*64 {
			d.fail("bitset")
			return
		}
		for range count {
			j := next + d.uint()
			if d.err != nil || j >= len(words)*64 {
				d.fail("bitset")
				return
			}
			words[j/64] |= 1 << (j % 64)
			next = j + 1
		}
	default:
		d.fail("bitset")
	}
}

func (d *kaleDecoder) bitset(words []uint64) {
	i := 0
	for d.err == nil {
		run := d.uint()
		if run > len(words)-i {
			d.fail("bitset")
			return
		}
		i += run
		if i == len(words) {
			return
		}
		if len(d.b) < 8 {
			d.fail("bitset")
			return
		}
		words[i] = binary.LittleEndian.Uint64(d.b)
		d.b = d.b[8:]
		i++
	}
}
