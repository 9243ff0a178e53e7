package algorithms

import (
	"fmt"
	"strconv"

	"gonum.org/v1/gonum/stat/distuv"
)

// SAX (Lin, Keogh, Lonardi & Chiu 2003) and iSAX-style multi-resolution words (Shieh &
// Keogh 2008), Kale's addition to Oculus' phase-1 retrieval: symbolic words of the
// z-normalised shape that an inverted index (bleve) can match, in place of or next to the
// Oculus fingerprint of fingerprint.go.

// Alphabet sizes SAXWord supports.
const (
	SAXMinAlphabet = 2
	SAXMaxAlphabet = 16
)

// saxBreakpointTable[a] holds the a−1 breakpoints of alphabet size a: the standard normal
// quantiles Φ⁻¹(k/a), k = 1..a−1, so that each symbol is equiprobable for N(0, 1) data. It is
// built once from gonum's distuv.UnitNormal and never written afterwards.
var saxBreakpointTable = func() (t [SAXMaxAlphabet + 1][]float64) {
	for a := SAXMinAlphabet; a <= SAXMaxAlphabet; a++ {
		t[a] = make([]float64, a-1)
		for k := 1; k < a; k++ {
			t[a][k-1] = distuv.UnitNormal.Quantile(float64(k) / float64(a))
		}
	}
	return t
}()

// SAXBreakpoints returns a copy of the a−1 breakpoints β_1 < … < β_{a−1} of alphabet size a
// (standard normal quantiles Φ⁻¹(k/a)). It panics if a is outside [2, 16].
func SAXBreakpoints(alphabet int) []float64 {
	return append([]float64(nil), saxBreakpoints(alphabet)...)
}

func saxBreakpoints(alphabet int) []float64 {
	if alphabet < SAXMinAlphabet || alphabet > SAXMaxAlphabet {
		panic(fmt.Sprintf("algorithms: SAX alphabet %d outside [%d, %d]", alphabet, SAXMinAlphabet, SAXMaxAlphabet))
	}
	return saxBreakpointTable[alphabet]
}

// SAXWord appends the SAX word of znormPAA — the PAA (PAA) of a z-normalised series
// (ZNormalize), one symbol per segment — to dst and returns it. Segment value v gets
//
//	'a' + k,  k = #{ breakpoints β_j of the alphabet : β_j <= v }
//
// i.e. the intervals are (−∞, β_1), [β_1, β_2), …, [β_{a−1}, +∞), so 'a' is the lowest
// value and 'a'+alphabet−1 the highest; a value exactly on a breakpoint takes the upper
// symbol, and NaN takes 'a'. It does not allocate when dst has room. It panics if alphabet is
// outside [2, 16] (a programming error: callers pass constants).
func SAXWord(dst []byte, znormPAA []float64, alphabet int) []byte {
	bp := saxBreakpoints(alphabet)
	for _, v := range znormPAA {
		dst = append(dst, 'a'+saxSymbol(bp, v))
	}
	return dst
}

// saxSymbol is the number of breakpoints <= v (binary search; at most 15 breakpoints).
func saxSymbol(bp []float64, v float64) byte {
	lo, hi := 0, len(bp)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if bp[mid] <= v {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return byte(lo)
}

// isaxResolutions are the (segments, alphabet) pairs of ISAXWords, coarse to fine.
var isaxResolutions = [...]struct{ segments, alphabet int }{
	{4, 4}, {8, 4}, {8, 8}, {16, 8},
}

// isaxMaxSegments is the largest segment count of isaxResolutions (stack buffer size).
const isaxMaxSegments = 16

// ISAXWords returns the tokens that index a z-normalised series (ZNormalize) in an inverted
// index, so that a query's tokens retrieve series of similar shape at several resolutions.
// For each (segments, alphabet) in (4,4), (8,4), (8,8), (16,8), with w = SAXWord(PAA(znorm,
// segments), alphabet):
//
//	"s<segments>a<alphabet>_<w>"                      the whole word, e.g. "s4a4_abdc"
//	"p<segments>a<alphabet>_<i>_<w[i]>"  i = 0..segments−1, one per segment, e.g. "p4a4_2_d"
//
// in that order: 4 word tokens then 36 segment tokens, 40 in all. A whole-word match means
// the same shape at that resolution (coarse resolutions tolerate more), and the per-segment
// tokens let partial matches score: a term query over them ranks candidates by how many
// segments agree, which is a coarse, warping-free similarity. PAA resamples fractionally, so
// series shorter than 16 points work too. An empty series gives no tokens.
//
// The tokens share one backing string, so ISAXWords allocates twice (slice and string);
// AppendISAXWords with a reused dst allocates once.
func ISAXWords(znorm []float64) []string {
	if len(znorm) == 0 {
		return nil
	}
	return AppendISAXWords(make([]string, 0, ISAXWordCount), znorm)
}

// ISAXWordCount is the number of tokens ISAXWords returns for a non-empty series.
const ISAXWordCount = 4 + 4 + 8 + 8 + 16

// AppendISAXWords appends the tokens of ISAXWords(znorm) to dst and returns it.
func AppendISAXWords(dst []string, znorm []float64) []string {
	if len(znorm) == 0 {
		return dst
	}
	// Every token is built in one byte buffer (at most 4·(6+16) + 36·(6+3+1) = 448 bytes),
	// converted to a string once and sliced; ends records where each token stops.
	var (
		buf   [512]byte
		ends  [ISAXWordCount]int
		paa   [isaxMaxSegments]float64
		words [len(isaxResolutions)][isaxMaxSegments]byte
	)
	b := buf[:0]
	t := 0
	for r, res := range isaxResolutions {
		seg := PAA(paa[:0], znorm, res.segments)
		SAXWord(words[r][:0], seg, res.alphabet)
		b = isaxPrefix(b, 's', res.segments, res.alphabet)
		b = append(b, words[r][:res.segments]...)
		ends[t] = len(b)
		t++
	}
	for r, res := range isaxResolutions {
		for i := range res.segments {
			b = isaxPrefix(b, 'p', res.segments, res.alphabet)
			b = strconv.AppendInt(b, int64(i), 10)
			b = append(b, '_', words[r][i])
			ends[t] = len(b)
			t++
		}
	}
	s := string(b)
	start := 0
	for _, end := range ends {
		dst = append(dst, s[start:end])
		start = end
	}
	return dst
}

// isaxPrefix appends "<kind><segments>a<alphabet>_".
func isaxPrefix(b []byte, kind byte, segments, alphabet int) []byte {
	b = append(b, kind)
	b = strconv.AppendInt(b, int64(segments), 10)
	b = append(b, 'a')
	b = strconv.AppendInt(b, int64(alphabet), 10)
	return append(b, '_')
}
