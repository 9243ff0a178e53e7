package oculus

import (
	"math"
	"slices"
	"strings"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/utils/redisstore"
)

// segWidth is the number of resampled points per segment of the LB_PAA bound that orders
// phase 2 (see bound.go): 32 segments for the default length of 256.
const segWidth = 8

// series is one metric's recent window as the search keeps it in memory: the compact form
// (about 1.6 KB with its snapshot slot at the default length of 256; see README.md). The
// native values and their timestamps stay in Redis: a search reads them back only for its
// final candidates (to rank them on the exact float64 values), for comparisons without a
// stored representation and to draw windows. It is immutable once built and shared between
// snapshots.
type series struct {
	name   string
	marker string    // change marker of the stored bytes it was built from
	n      int32     // points in the native window
	z      []float32 // ZNormalize(PAA(raw, L)) rounded to float32 (z32)
	fp     []byte    // Oculus fingerprint, packed 4 tokens per byte (packFingerprint)
}

// Every bound and kernel of phase 2 runs on z32 (widened to float64), so they bound and
// compute DTW(q, z32), not DTW(q, z64); exactness.go turns that into the exact top k.

// snapshot is an immutable view of every indexed series, sorted by name, so that index order
// is name order (the tie-break). Searches take the current snapshot; a sync publishes a new
// one. Names are found by binary search (no map: it would cost ~60 bytes per series).
//
// bounds holds, per series, boundsWidth(nseg) = 3·nseg float32, contiguous (the LB_PAA pass
// reads only this slab, in order):
//
//	paa  [0, nseg)        segment means of z32, rounded to nearest
//	lo   [nseg, 2·nseg)   per segment, the min of the lower envelope of z32 for band envR, rounded down
//	hi   [2·nseg, 3·nseg) the max of its upper envelope, rounded up
type snapshot struct {
	length int
	nseg   int
	envR   int     // band of the stored segment envelopes (envBand)
	mu     float64 // bound on the rounding of a stored segment mean (paaSlack)
	tol    float64 // bound on |sqrt DTW(q, z32) − sqrt DTW(q, z64)| (zTolerance)
	list   []*series
	bounds []float32
}

func emptySnapshot(length int) *snapshot {
	return newSnapshot(length, nil, nil, nil)
}

func segmentsOf(length int) int { return (length + segWidth - 1) / segWidth }

func boundsWidth(nseg int) int { return 3 * nseg }

// newSnapshot sorts list by name (it takes ownership) and lays out the bounds slab: each
// series' bounds come from fresh (series just prepared), else from old (series kept from the
// previous snapshot), else are computed from its z.
func newSnapshot(length int, list []*series, old *snapshot, fresh map[*series][]float32) *snapshot {
	slices.SortFunc(list, func(a, b *series) int { return strings.Compare(a.name, b.name) })
	sn := &snapshot{length: length, nseg: segmentsOf(length), envR: envBand(length), mu: paaSlack(length),
		tol: zTolerance(length), list: list}
	w := boundsWidth(sn.nseg)
	sn.bounds = make([]float32, len(list)*w)
	for i, e := range list {
		dst := sn.bounds[i*w : (i+1)*w]
		if b, ok := fresh[e]; ok {
			copy(dst, b)
			continue
		}
		if old != nil && old.length == length {
			if j, ok := old.index(e.name); ok && old.list[j] == e {
				copy(dst, old.bounds[j*w:(j+1)*w])
				continue
			}
		}
		copy(dst, boundsOf(e.z, sn.envR))
	}
	return sn
}

// paa returns series i's stored segment means.
func (sn *snapshot) paa(i int) []float32 {
	w := boundsWidth(sn.nseg)
	return sn.bounds[i*w : i*w+sn.nseg]
}

// env returns series i's stored segment envelope: lows, then highs.
func (sn *snapshot) env(i int) []float32 {
	w := boundsWidth(sn.nseg)
	return sn.bounds[i*w+sn.nseg : (i+1)*w]
}

// envBand is the band, in cells, of the segment envelopes stored with each series: that of
// the default window. A query with a band up to it can use them (a wider stored envelope
// only loosens the bound).
func envBand(length int) int { return algorithms.SakoeChibaCells(DefaultWindow, length) }

// compactSeries returns the stored form of z64 (ZNormalize(PAA(raw, L)), finite): z rounded
// to float32, and the bounds of that rounded copy (boundsOf) for band r (envBand(L)).
func compactSeries(z64 []float64, r int) (z []float32, bounds []float32) {
	z = make([]float32, len(z64))
	for i, v := range z64 {
		z[i] = float32(v)
	}
	return z, boundsOf(z, r)
}

// boundsOf returns the stored bounds of z32 (see snapshot): its segment means, and the
// segment envelope for band r rounded outwards.
func boundsOf(z32 []float32, r int) []float32 {
	length, nseg := len(z32), segmentsOf(len(z32))
	out := make([]float32, boundsWidth(nseg))
	z := widen(nil, z32)
	for s, m := range segmentMeans(nil, z) {
		out[s] = float32(m)
	}
	u, l := algorithms.Envelope(z, r, nil, nil)
	for s := range nseg {
		lo, hi := s*segWidth, min((s+1)*segWidth, length)
		out[nseg+s] = roundDown(slices.Min(l[lo:hi]))
		out[2*nseg+s] = roundUp(slices.Max(u[lo:hi]))
	}
	return out
}

// roundDown and roundUp round to a float32 on the given side, so that a rounded envelope
// still encloses the exact one.
func roundDown(x float64) float32 {
	f := float32(x)
	if float64(f) > x {
		f = math.Nextafter32(f, float32(math.Inf(-1)))
	}
	return f
}

func roundUp(x float64) float32 {
	f := float32(x)
	if float64(f) < x {
		f = math.Nextafter32(f, float32(math.Inf(1)))
	}
	return f
}

// widen copies a float32 series into dst as float64.
func widen(dst []float64, x []float32) []float64 {
	dst = growTo(dst, len(x))
	for i, v := range x {
		dst[i] = float64(v)
	}
	return dst
}

// get returns the series named name, or nil.
func (sn *snapshot) get(name string) *series {
	if i, ok := sn.index(name); ok {
		return sn.list[i]
	}
	return nil
}

// index returns the position of name.
func (sn *snapshot) index(name string) (int, bool) {
	i, ok := slices.BinarySearchFunc(sn.list, name, func(e *series, n string) int { return strings.Compare(e.name, n) })
	return i, ok
}

// segmentMeans writes the mean of each segWidth-point segment of z into dst.
func segmentMeans(dst, z []float64) []float64 {
	n := segmentsOf(len(z))
	dst = slices.Grow(dst[:0], n)[:n]
	for s := range n {
		lo, hi := s*segWidth, min((s+1)*segWidth, len(z))
		sum := 0.0
		for _, v := range z[lo:hi] {
			sum += v
		}
		dst[s] = sum / float64(hi-lo)
	}
	return dst
}

// Fingerprint tokens as bytes.
const (
	fpSdec byte = 1 + iota
	fpDec
	fpInc
	fpSinc
)

// packFingerprint packs tokens (fpSdec..fpSinc) 4 per byte, 2 bits each, the first token in
// the low bits, followed by one byte holding the number of tokens (1–4) in the last packed
// byte: a 256-point window's fingerprint takes 65 bytes instead of 255.
func packFingerprint(fp []byte) []byte {
	if len(fp) == 0 {
		return nil
	}
	out := make([]byte, (len(fp)+3)/4)
	for i, t := range fp {
		out[i/4] |= (t - 1) << (2 * (i % 4))
	}
	// The count: one more byte holding the number of tokens in the last packed byte.
	return append(out, byte((len(fp)-1)%4+1))
}

// unpackFingerprint appends the tokens of a packed fingerprint to dst.
func unpackFingerprint(dst, packed []byte) []byte {
	dst = dst[:0]
	if len(packed) < 2 {
		return dst
	}
	last := int(packed[len(packed)-1])
	body := packed[:len(packed)-1]
	for i, b := range body {
		n := 4
		if i == len(body)-1 {
			n = last
		}
		for k := range n {
			dst = append(dst, (b>>(2*k))&3+1)
		}
	}
	return dst
}

// encodeFingerprint turns "inc dec sinc" into one byte per token.
func encodeFingerprint(fp string) []byte {
	var out []byte
	for _, t := range strings.Fields(fp) {
		switch t {
		case "sdec":
			out = append(out, fpSdec)
		case "dec":
			out = append(out, fpDec)
		case "inc":
			out = append(out, fpInc)
		case "sinc":
			out = append(out, fpSinc)
		}
	}
	return out
}

// windowOf decodes a stored series and returns the values of its recent window in time
// order, with their timestamps: points with a finite timestamp and value, sorted by
// timestamp, the first of equal timestamps kept (Roomba's rule), and — when window > 0 — only
// points newer than the newest timestamp minus window. buf is scratch space, returned for
// reuse.
func windowOf(b []byte, window float64, buf []redisstore.Pair) (vals []float64, times timeline, scratch []redisstore.Pair) {
	_, pairs, lo := windowBounds(b, window, buf)
	vals = make([]float64, 0, len(pairs)-lo)
	tb := timelineBuilder{}
	for i := lo; i < len(pairs); i++ {
		if i > lo && pairs[i].Timestamp == pairs[i-1].Timestamp {
			continue
		}
		vals = append(vals, pairs[i].Value)
		tb.add(pairs[i].Timestamp)
	}
	return vals, tb.timeline(), pairs
}

// windowBounds decodes b into buf, keeps the finite points sorted by timestamp (stable), and
// returns the index of the first point of the window.
func windowBounds(b []byte, window float64, buf []redisstore.Pair) (n int, pairs []redisstore.Pair, lo int) {
	pairs, _ = redisstore.AppendPairs(buf[:0], b)
	j := 0
	for _, p := range pairs {
		if isFinite(p.Timestamp) && isFinite(p.Value) {
			pairs[j] = p
			j++
		}
	}
	pairs = pairs[:j]
	if !slices.IsSortedFunc(pairs, cmpTS) {
		slices.SortStableFunc(pairs, cmpTS)
	}
	if window > 0 && len(pairs) > 0 {
		cut := pairs[len(pairs)-1].Timestamp - window
		lo, _ = slices.BinarySearchFunc(pairs, cut, func(p redisstore.Pair, t float64) int {
			if p.Timestamp <= t {
				return -1
			}
			return 1
		})
	}
	return len(pairs) - lo, pairs, lo
}

func cmpTS(a, b redisstore.Pair) int {
	switch {
	case a.Timestamp < b.Timestamp:
		return -1
	case a.Timestamp > b.Timestamp:
		return 1
	}
	return 0
}

func isFinite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func allFinite(x []float64) bool {
	for _, v := range x {
		if !isFinite(v) {
			return false
		}
	}
	return true
}

// resampleZ returns ZNormalize(PAA(raw, length)) in a new slice.
func resampleZ(raw []float64, length int) []float64 {
	z := algorithms.PAA(make([]float64, length), raw, length)
	return algorithms.ZNormalize(z, z)
}

// timeline holds the timestamps of a window: first + i·step when they are evenly spaced (the
// usual case, kept in two numbers), else every one of them.
type timeline struct {
	first, step float64
	ts          []float64 // nil when evenly spaced
}

// at is the i-th timestamp.
func (t timeline) at(i int) float64 {
	if t.ts != nil {
		return t.ts[i]
	}
	return t.first + float64(i)*t.step
}

// timelineBuilder collects increasing timestamps, keeping each one only once they stop being
// evenly spaced.
type timelineBuilder struct {
	n int
	t timeline
}

func (b *timelineBuilder) add(ts float64) {
	if b.n == 1 {
		b.t.step = ts - b.t.first
	}
	switch {
	case b.n == 0:
		b.t.first = ts
	case b.t.ts == nil && ts != b.t.first+float64(b.n)*b.t.step:
		// No longer evenly spaced: the timestamps so far are exactly first + i·step.
		b.t.ts = make([]float64, b.n, 2*b.n)
		for i := range b.n {
			b.t.ts[i] = b.t.first + float64(i)*b.t.step
		}
	}
	if b.t.ts != nil {
		b.t.ts = append(b.t.ts, ts)
	}
	b.n++
}

func (b *timelineBuilder) timeline() timeline { return b.t }

// points returns the window of vals (timestamps from t) as [timestamp, value] points.
func (t timeline) points(vals []float64) []algorithms.Point {
	out := make([]algorithms.Point, len(vals))
	for i, v := range vals {
		out[i] = algorithms.Point{Timestamp: t.at(i), Value: v}
	}
	return out
}
