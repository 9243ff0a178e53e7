package algorithms

import (
	"fmt"
	"math"
)

const (
	histogramNumBins  = 15 // Skyline's np.histogram(series, bins=15)
	histogramMaxCount = 20 // a bin with at most this many values is "rare"
)

// HistogramBins is Skyline's histogram_bins: does the tail average fall in a bin of the
// series' 15-bin histogram that holds 20 values or fewer?
//
// The histogram is np.histogram(V, bins=15): edges e_i = min + i*((max-min)/15) for
// i < 15 and e_15 = max (np.linspace), or min-0.5 .. max+0.5 when min == max; bins are
// [e_i, e_i+1) except the last, which is closed; each value is counted in the bin numpy's
// index computation (with its ±1 corrections at the edges) puts it in. Non-finite values
// make numpy raise, and the vote is an error.
//
// With HistogramEdgeCompat (Etsy) the lookup loops over the bins with count <= 20 and
// matches bin 0 only if tail_avg <= e_0, bin i >= 1 if e_i <= tail_avg < e_i+1, so a tail
// average equal to max never matches. By default the tail average is looked up the way
// numpy counts a value (clamped into [e_0, e_15]). Score is the count of the matched bin
// (NaN if none matched), Threshold is 20.
func HistogramBins(series []Point, now float64, cfg *Settings) Vote {
	v, _ := histogramBins(series, now, cfg)
	return v
}

type histogramStats struct {
	edges  [histogramNumBins + 1]float64
	counts [histogramNumBins]int
	tBin   int // the bin numpy would count tail_avg in, -1 outside the range
}

func histogramBins(series []Point, _ float64, cfg *Settings) (Vote, histogramStats) {
	var st histogramStats
	if len(series) == 0 {
		return errVote(ErrEmptySeries), st
	}
	if err := numpyHistogram(series, &st.edges, &st.counts); err != nil {
		return errVote(err), st
	}
	t := TailAvg(series, cfg.tailAvgIntDiv())
	st.tBin = histogramIndex(t, &st.edges)
	if cfg.histogramEdgeCompat() {
		for i, count := range st.counts {
			if count > histogramMaxCount {
				continue
			}
			if (i == 0 && t <= st.edges[0]) || (i > 0 && t >= st.edges[i] && t < st.edges[i+1]) {
				return boolVote(true, float64(count), histogramMaxCount), st
			}
		}
		return boolVote(false, math.NaN(), histogramMaxCount), st
	}
	bin := st.tBin
	switch {
	case bin >= 0:
	case t < st.edges[0]: // a tail average rounded just below min
		bin = 0
	default:
		bin = histogramNumBins - 1
	}
	count := st.counts[bin]
	return boolVote(count <= histogramMaxCount, float64(count), histogramMaxCount), st
}

// numpyHistogram is np.histogram(values, bins=15) for numpy 1.24's uniform-bin path.
func numpyHistogram(series []Point, edges *[histogramNumBins + 1]float64, counts *[histogramNumBins]int) error {
	lo, hi := series[0].Value, series[0].Value
	for _, p := range series[1:] {
		lo = min(lo, p.Value) // like np.min/np.max, Go's min/max propagate NaN
		hi = max(hi, p.Value)
	}
	if math.IsNaN(lo) || math.IsInf(lo, 0) || math.IsNaN(hi) || math.IsInf(hi, 0) {
		return fmt.Errorf("cannot build histogram: autodetected range of [%v, %v] is not finite", lo, hi)
	}
	if lo == hi {
		lo -= 0.5
		hi += 0.5
	}
	// np.linspace(lo, hi, 16): step = (hi-lo)/15, edge i = i*step + lo, last edge = hi.
	delta := hi - lo
	step := delta / histogramNumBins
	for i := range histogramNumBins {
		if step == 0 {
			edges[i] = float64(i)/histogramNumBins*delta + lo
		} else {
			edges[i] = float64(i)*step + lo
		}
	}
	edges[histogramNumBins] = hi
	for _, p := range series {
		if i := histogramIndex(p.Value, edges); i >= 0 {
			counts[i]++
		}
	}
	return nil
}

// histogramIndex is the bin np.histogram counts v in, or -1 when v is outside
// [edges[0], edges[15]]: f = (v - first) / (last - first) * 15 truncated, 15 -> 14, then
// one step down if v < edges[i] and one up if v >= edges[i+1] (except in the last bin).
func histogramIndex(v float64, edges *[histogramNumBins + 1]float64) int {
	first, last := edges[0], edges[histogramNumBins]
	if !(v >= first && v <= last) {
		return -1
	}
	i := int((v - first) / (last - first) * histogramNumBins)
	if i == histogramNumBins {
		i--
	}
	if v < edges[i] {
		i--
	}
	if i != histogramNumBins-1 && v >= edges[i+1] {
		i++
	}
	return i
}
