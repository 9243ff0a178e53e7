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
// decoding), then each part; integers are varints, floats IEEE-754 float64 little-endian,
// the seasonal profiles and scales 2-byte little-endian codes as in memory. Version 6 replaced
// the seasonal history ring of versions 2 to 5 by the bucketed daily and weekly profiles
// (kale_season.go) and added the context step; version 7 added the last report (score and
// age), the range of the context step's rows (the range window keeps raw rows' range), the
// level's error on the weekly profile's buckets and the usual size of the sustained z. Older
// states fail with an error wrapping ErrKaleStateVersion (and ErrKaleState): the caller
// re-learns from the stored history.
const kaleStateVersion = 7

// finite reports whether the decoded floats are finite (a corrupt blob could carry NaN or
// ±Inf, which would poison every later score).
func (k *Kale) finite() bool {
	ok := func(xs ...float64) bool {
		for _, x := range xs {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return false
			}
		}
		return true
	}
	s := &k.seas
	good := ok(k.ew.mean, k.ew.variance, k.base, k.flat.last, k.rng.cmin, k.rng.cmax, k.peaks.pending.Score, k.peaks.repScore, k.cSum, k.cLo, k.cHi, k.firstTS) &&
		ok(k.rng.mins[:k.rng.full]...) && ok(k.rng.maxs[:k.rng.full]...) &&
		s.dayQ.unit >= 0 && s.weekQ.unit >= 0 && s.dt >= 0 && s.period <= kalePeriodWeekly
	for _, p := range s.floats() {
		good = good && ok(*p)
	}
	for i := range k.ctx {
		good = good && ok(k.ctx[i].step) && k.ctx[i].step >= 0
	}
	for i := range s.day {
		good = good && s.day[i] >= -math.MaxInt16
	}
	for i := range s.week {
		good = good && s.week[i] >= -math.MaxInt16
	}
	return good
}

// kaleComponents are the KaleScore.Component names, in their state-encoding order.
var kaleComponents = []string{"context", "seasonal", "flat", "level", "variance"}

// ErrKaleState reports a state blob that does not decode into this Kale.
var ErrKaleState = errors.New("invalid kale state")

// ErrKaleStateVersion reports a state written by another version of the detector (also
// ErrKaleState): it cannot be loaded, and the caller re-learns from the stored history.
var ErrKaleStateVersion = errors.New("kale state of another version")

// MarshalBinary encodes the state (not the configuration).
func (k *Kale) MarshalBinary() ([]byte, error) {
	b := append(make([]byte, 0, 2048), "KALE"...)
	b = append(b, kaleStateVersion)
	for _, v := range k.shape() {
		b = binary.AppendUvarint(b, uint64(v))
	}
	b = binary.AppendUvarint(b, uint64(k.n))
	b = binary.AppendUvarint(b, uint64(k.peaks.raws.w))
	b = binary.AppendUvarint(b, uint64(len(k.peaks.raws.peaks)))
	for _, p := range k.peaks.raws.peaks {
		b = binary.AppendUvarint(b, uint64(k.peaks.raws.n-p.row))
		b = kaleAppendFloats(b, p.v)
	}
	b = kaleAppendFloats(b, k.ew.mean, k.ew.variance, k.base, k.firstTS, k.cSum, k.cLo, k.cHi)
	b = binary.AppendUvarint(b, uint64(k.ew.n))
	b = binary.AppendUvarint(b, uint64(k.cn))
	b = binary.AppendVarint(b, k.cIdx)
	b = binary.AppendUvarint(b, uint64(k.cN))
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
	b = k.seas.appendTo(b)
	f := &k.flat
	b = kaleAppendFloats(b, f.last)
	b = binary.AppendUvarint(b, uint64(f.run))
	b = binary.AppendUvarint(b, uint64(f.record))
	b = binary.AppendUvarint(b, uint64(f.long))
	b = binary.AppendUvarint(b, uint64(f.minTime))
	b = binary.AppendUvarint(b, uint64(k.peaks.repAge))
	if k.peaks.repAge > 0 {
		b = kaleAppendFloats(b, k.peaks.repScore)
	}
	if !k.peaks.hasPending {
		return append(b, 0), nil
	}
	p := &k.peaks.pending
	b = append(b, 1)
	b = kaleAppendFloats(b, p.Score, p.Timestamp, p.Value)
	b = append(b, byte(slices.Index(kaleComponents, p.Component)), p.phase)
	return kaleAppendFloats(b, p.Expected, p.Lower, p.Upper), nil
}

// shape is the part of the configuration a state depends on.
func (k *Kale) shape() []int {
	return []int{k.cfg.Rest, len(k.ctx), k.cfg.ContextOrder, k.cfg.ContextTableBits,
		min(k.rng.block, 1<<40), k.cfg.ContextShrinkBits}
}

// UnmarshalBinary restores a state written by MarshalBinary (this version) of a Kale with
// the same configuration; on error k is unchanged. A state of another version fails with
// an error wrapping ErrKaleStateVersion.
func (k *Kale) UnmarshalBinary(data []byte) error {
	if len(data) < 5 || string(data[:4]) != "KALE" {
		return fmt.Errorf("%w: bad magic", ErrKaleState)
	}
	if version := data[4]; version != kaleStateVersion {
		return fmt.Errorf("%w: %w: version %d, want %d", ErrKaleState, ErrKaleStateVersion, version, kaleStateVersion)
	}
	d := kaleDecoder{b: data[5:]}
	for _, want := range k.shape() {
		if got := d.uint(); got != want && d.err == nil {
			return fmt.Errorf("%w: written with another configuration", ErrKaleState)
		}
	}
	nk := NewKale(k.cfg)
	nk.n = d.uint()
	if w := d.uint(); w >= k.cfg.Rest && w <= 1<<20 {
		nk.peaks.raws.w = w
	} else {
		d.fail("horizon")
	}
	d.recentMax(&nk.peaks.raws, nk.n)
	nk.ew.mean, nk.ew.variance, nk.base, nk.firstTS, nk.cSum, nk.cLo, nk.cHi = d.float(), d.float(), d.float(), d.float(), d.float(), d.float(), d.float()
	nk.ew.n, nk.cn = d.uint(), d.uint()
	nk.cIdx, nk.cN = d.int(), int32(min(d.uint(), 1<<30))
	d.blockRange(&nk.rng)
	for i := range nk.ctx {
		c := &nk.ctx[i]
		c.nsyms = int32(min(d.uint(), 1<<20))
		c.step = d.float()
		for j := range c.syms {
			c.syms[j] = int32(d.int())
		}
		d.bitsetV3(c.seen)
		if c.nsyms > c.order {
			d.fail("context symbols")
		}
	}
	d.season(&nk.seas)
	f := &nk.flat
	f.last = d.float()
	f.run, f.record, f.long, f.minTime = d.int32(), d.int32(), d.int32(), d.int32()
	if nk.peaks.repAge = d.uint(); nk.peaks.repAge > nk.peaks.raws.w {
		d.fail("last report")
	} else if nk.peaks.repAge > 0 {
		nk.peaks.repScore = d.float() // checked by finite
	}
	if nk.peaks.hasPending = d.byte() == 1; nk.peaks.hasPending {
		p := &nk.peaks.pending
		p.Score, p.Timestamp, p.Value = d.float(), d.float(), d.float()
		if c := int(d.byte()); c < len(kaleComponents) {
			p.Component = kaleComponents[c]
		} else {
			d.fail("component")
		}
		if p.phase = d.byte(); p.phase > kalePeriodWeekly {
			d.fail("phase")
		}
		p.Expected, p.Lower, p.Upper = d.float(), d.float(), d.float()
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return d.err
	}
	if !nk.finite() {
		return fmt.Errorf("%w: non-finite value", ErrKaleState)
	}
	*k = *nk
	return nil
}

// kaleSeasonFloats is the number of the seasonal part's float fields.
const kaleSeasonFloats = 42

// floats lists the seasonal part's float fields in their encoding order: appendTo writes
// them, the decoder reads them and finite checks them.
func (s *kaleSeason) floats() [kaleSeasonFloats]*float64 {
	return [kaleSeasonFloats]*float64{&s.dayQ.base, &s.dayQ.unit, &s.weekQ.base, &s.weekQ.unit, &s.g, &s.off, &s.bSum, &s.bSq, &s.bRes, &s.bResW, &s.meanS, &s.meanW, &s.dLo, &s.dHi, &s.hSum, &s.lvl, &s.errN[0], &s.errN[1], &s.errD[0], &s.errD[1], &s.errW[0], &s.errW[1], &s.errDW[0], &s.errDW[1], &s.errNW[0], &s.errNW[1],
		&s.lastTS, &s.lastX, &s.quantum, &s.dt, &s.zbar, &s.z2, &s.rho, &s.zmax, &s.lvlV, &s.shiftSince, &s.shiftX, &s.shiftE, &s.gPrev, &s.offPrev, &s.rebasedAt, &s.backSince}
}

// appendTo writes the seasonal part.
func (s *kaleSeason) appendTo(b []byte) []byte {
	for i := range s.day {
		b = binary.LittleEndian.AppendUint16(b, uint16(s.day[i]))
		b = binary.LittleEndian.AppendUint16(b, uint16(s.dayS[i]))
		b = binary.LittleEndian.AppendUint16(b, uint16(s.weekS[i]))
	}
	b = append(b, s.dayN[:]...)
	for i := range s.week {
		b = binary.LittleEndian.AppendUint16(b, uint16(s.week[i]))
	}
	b = append(b, s.weekN[:]...)
	for _, p := range s.floats() {
		b = kaleAppendFloats(b, *p)
	}
	b = binary.AppendVarint(b, s.bIdx)
	b = binary.AppendVarint(b, s.hIdx)
	for _, v := range []int32{s.bN, s.bResN, s.bResWN, s.hN, s.nb, s.shiftN} {
		b = binary.AppendUvarint(b, uint64(v))
	}
	return append(b, s.period)
}

func (d *kaleDecoder) season(s *kaleSeason) {
	for i := range s.day {
		s.day[i] = int16(d.uint16())
		s.dayS[i], s.weekS[i] = kaleScale(d.uint16()), kaleScale(d.uint16())
	}
	d.bytes(s.dayN[:])
	for i := range s.week {
		s.week[i] = int16(d.uint16())
	}
	d.bytes(s.weekN[:])
	for _, p := range s.floats() {
		*p = d.float()
	}
	s.bIdx, s.hIdx = d.int(), d.int()
	for _, p := range []*int32{&s.bN, &s.bResN, &s.bResWN, &s.hN, &s.nb, &s.shiftN} {
		*p = int32(min(d.uint(), 1<<30))
	}
	s.period = d.byte()
}

func kaleAppendFloats(b []byte, xs ...float64) []byte {
	for _, x := range xs {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
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

// recentMax reads the (age, value) pairs MarshalBinary wrote; n is the row count.
func (d *kaleDecoder) recentMax(m *kaleRecentMax, n int) {
	c := d.uint()
	if c > m.w || c > n || c > len(d.b)/9 { // each pair takes at least 9 bytes
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

func (d *kaleDecoder) bytes(dst []byte) {
	if len(d.b) < len(dst) {
		d.fail("counts")
		return
	}
	copy(dst, d.b)
	d.b = d.b[len(dst):]
}

func (d *kaleDecoder) uint16() uint16 {
	if len(d.b) < 2 {
		d.fail("scale")
		return 0
	}
	v := binary.LittleEndian.Uint16(d.b)
	d.b = d.b[2:]
	return v
}

func (d *kaleDecoder) int32() int32 { return int32(min(d.uint(), math.MaxInt32)) }
