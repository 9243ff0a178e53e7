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

// series is one metric's recent window as the search uses it. It is immutable once built and
// shared between snapshots.
type series struct {
	name   string
	marker string    // change marker of the stored bytes it was built from
	raw    []float64 // native window values in time order
	times  timeline  // their timestamps (for drawing the window)
	z      []float64 // z-normalised PAA of raw at the index length
	paa    []float64 // segment means of z (LB_PAA)
	env    []float64 // per segment, min of the lower then max of the upper envelope of z (band envBand)
	fp     []byte    // Oculus fingerprint, one byte per token (fpSdec..fpSinc)
}

// snapshot is an immutable view of every indexed series, sorted by name, so that index order
// is name order (the tie-break). Searches take the current snapshot; a sync publishes a new
// one.
type snapshot struct {
	length int
	nseg   int
	envR   int // band of the stored segment envelopes (envBand)
	list   []*series
	pos    map[string]int
	paa    []float64 // nseg values per series, contiguous (the LB_PAA pass reads only this)
	env    []float64 // 2·nseg values per series: segment envelope lows, then highs
}

func emptySnapshot(length int) *snapshot {
	return newSnapshot(length, nil)
}

func segmentsOf(length int) int { return (length + segWidth - 1) / segWidth }

// newSnapshot sorts list by name (it takes ownership) and lays out the LB_PAA slab.
func newSnapshot(length int, list []*series) *snapshot {
	slices.SortFunc(list, func(a, b *series) int { return strings.Compare(a.name, b.name) })
	sn := &snapshot{length: length, nseg: segmentsOf(length), envR: envBand(length), list: list, pos: make(map[string]int, len(list))}
	sn.paa = make([]float64, len(list)*sn.nseg)
	sn.env = make([]float64, 2*len(list)*sn.nseg)
	for i, e := range list {
		sn.pos[e.name] = i
		copy(sn.paa[i*sn.nseg:(i+1)*sn.nseg], e.paa)
		copy(sn.env[2*i*sn.nseg:2*(i+1)*sn.nseg], e.env)
	}
	return sn
}

// envBand is the band, in cells, of the segment envelopes stored with each series: that of
// the default window. A query with a band up to it can use them (a wider stored envelope
// only loosens the bound).
func envBand(length int) int { return algorithms.SakoeChibaCells(DefaultWindow, length) }

// segmentEnvelope returns, per segment of z, the minimum of its lower and the maximum of its
// upper envelope for band r: lows first, then highs.
func segmentEnvelope(z []float64, r int) []float64 {
	u, l := algorithms.Envelope(z, r, nil, nil)
	n := segmentsOf(len(z))
	out := make([]float64, 2*n)
	for s := range n {
		lo, hi := s*segWidth, min((s+1)*segWidth, len(z))
		out[s], out[n+s] = slices.Min(l[lo:hi]), slices.Max(u[lo:hi])
	}
	return out
}

func (sn *snapshot) get(name string) *series {
	if i, ok := sn.pos[name]; ok {
		return sn.list[i]
	}
	return nil
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
