package research

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/kale-project/kale/algorithms"
)

// RelativeEntropy is a streaming distribution-change detector after Wang et al.'s
// relative-entropy detector ("Statistical techniques for online anomaly detection in data
// centers", IM 2011; NAB's "relativeEntropy"). It keeps a few histograms of the windows it
// has seen ("hypotheses" of normal behaviour) and scores a row by how well the histogram of
// its window is explained by the hypotheses seen often. State is bounded (a ring of W
// values, the range blocks, at most M hypotheses of B·8 masses) and Update costs
// O(W + M·B), O(W + M·B·8) on a row that moves the range, without allocating.
//
// Bins. Row i's window holds the last W values x(i−W+1..i). Values are binned into B equal
// bins over the range [lo, hi] of the last RangeWindow rows including row i (every row so
// far when RangeWindow is 0; kept in blocks, so up to one block more, see newReRange):
//
//	bin(x) = min(B−1, ⌊B·(x − lo)/(hi − lo)⌋), and bin 0 when hi = lo,
//
// computed on x/2, lo/2, hi/2 so that any finite values work. The window's histogram is
// P = counts/W.
//
// Test. Each stored hypothesis Q_j (a probability vector over the same bins) is compared
// with P by the relative entropy, with q smoothed by ε = 1e-3 so empty bins stay finite:
//
//	D(P‖Q_j) = Σ_k p_k · ln(p_k / q̃_jk),   q̃_jk = (q_jk + ε) / (1 + B·ε),   0·ln 0 = 0,
//	s_j = 2·W·D(P‖Q_j),
//
// the G statistic of the window's counts against Q_j, asymptotically χ² with B − 1 degrees
// of freedom under "the window is drawn from Q_j"; its p-value is π_j = 1 − F(s_j), F the
// χ²(B−1) CDF. The window matches Q_j when π_j > Alpha, i.e. s_j < T = F⁻¹(1 − Alpha).
//
// Score. Each hypothesis carries a match count c_j that forgets with horizon H
// (CountHorizon), and the score is one minus the share of recent windows whose hypothesis
// explains this one, a match counting in full and a near miss in part:
//
//	score = 1 − Σ_j (c_j / C) · min(1, π_j / Alpha),   C = Σ_j c_j,
//
// with the counts as they were before the row. A window explained by a familiar
// hypothesis scores about 0; one that matches nothing (every π_j well below Alpha) scores
// about 1, as does one that matches only a rarely seen hypothesis (a recent new regime);
// a window just beyond the threshold of the familiar hypothesis scores in between: a
// hypothesis holding a share v of the counts keeps the score below 1 − v·min(1, π/Alpha),
// so with v near 1 a score above 0.9 needs π < Alpha/10.
//
// Learning. With j* the matching hypothesis with the largest c_j (ties: the smaller s_j),
// every row c_j ← λ·c_j + [j = j*], λ = 1 − 1/H (λ = 1 when H = 0), so C tends to H and a
// regime not seen for a few H rows becomes rare again; Q_j* learns the window (on the
// sub-bins below), Q_j* ← Q_j* + (P − Q_j*)/c_j* after the increment (a running mean that
// becomes an exponentially weighted one of weight about 1/H). A window that matches nothing
// is a new distribution: it is stored as a new hypothesis with c = 1, replacing the one
// with the smallest c_j when M are stored. Rows before the first full window (i < W−1) and
// the first window itself (which becomes Q_0) score 0; early rows, while Q_0 is still
// learning, can score high.
//
// Range changes. When [lo, hi] changes the bins move, and every stored hypothesis is
// re-binned onto the new bins. To keep that accurate a hypothesis is kept at a finer
// resolution than it is tested at, reSub = 8 sub-bins per bin (the window's sub-bin counts
// are learnt the same way; the test sums them per bin); re-binning spreads each sub-bin's
// mass uniformly over its width (mass outside the new range goes to the nearest end bin, a
// degenerate old range is a point mass). The hypotheses thus survive a range change: after
// a change of scale the new windows are compared with the old behaviour re-binned, not
// with nothing.
type RelativeEntropy struct {
	cfg    RelativeEntropyConfig
	chi    distuv.ChiSquared // χ²(B−1)
	thresh float64           // T
	decay  float64           // λ
	plogp  []float64         // plogp[c] = c·ln(c/W) for c = 0..W
	win    []float64         // ring of the last W values
	head   int               // next write in win
	n      int               // rows learned
	rng    algorithms.BlockRange
	lo, hi float64   // the range the stored hypotheses are binned over
	fine   []float64 // the window's sub-bin counts (B·reSub)
	cnt    []float64 // the window's bin counts (B)
	tmp    []float64 // re-binning scratch (B·reSub)
	q      []float64 // M×(B·reSub) hypotheses' sub-bin probabilities, m rows used
	lq     []float64 // M×B ln q̃
	c      []float64 // M decayed match counts
	m      int       // hypotheses stored
}

// RelativeEntropyConfig configures RelativeEntropy. All sizes are in rows.
type RelativeEntropyConfig struct {
	// Window is W, the number of most recent rows whose histogram is tested.
	Window int
	// Bins is B, the number of equal bins over the range; the test has B − 1 degrees of
	// freedom.
	Bins int
	// MaxHypotheses is M, the most histograms of normal behaviour kept; a new one replaces
	// the least used.
	MaxHypotheses int
	// Alpha is the significance level of the match test: a window matches a hypothesis
	// when its statistic is below the χ²(Bins−1) quantile at 1 − Alpha.
	Alpha float64
	// RangeWindow is the number of recent rows whose range [lo, hi] the bins cover (kept
	// in 8 blocks, so up to one block more); 0 means every row so far. It must be at least
	// Window so the window always fits.
	RangeWindow int
	// CountHorizon is H, the horizon of the match counts: each count is multiplied by
	// 1 − 1/H every row, so a distribution last seen more than a few H rows ago is rare
	// again. 0 means counts never forget.
	CountHorizon int
}

// DefaultRelativeEntropyConfig returns W = 52 and B = 5 as in Wang et al. and NAB, with
// Alpha = 0.01, 20 hypotheses, a range over the last 20·W rows and a count horizon of 10·W.
func DefaultRelativeEntropyConfig() RelativeEntropyConfig {
	return RelativeEntropyConfig{
		Window:        52,
		Bins:          5,
		MaxHypotheses: 20,
		Alpha:         0.01,
		RangeWindow:   1040,
		CountHorizon:  520,
	}
}

// Validate reports the first invalid field.
func (c RelativeEntropyConfig) Validate() error {
	switch {
	case c.Window < 2 || c.Window > 1<<20:
		return fmt.Errorf("invalid Window %d: must be in [2, 2^20]", c.Window)
	case c.Bins < 2 || c.Bins > 1<<10:
		return fmt.Errorf("invalid Bins %d: must be in [2, 2^10]", c.Bins)
	case c.MaxHypotheses < 1 || c.MaxHypotheses > 1<<10:
		return fmt.Errorf("invalid MaxHypotheses %d: must be in [1, 2^10]", c.MaxHypotheses)
	case !(c.Alpha > 0 && c.Alpha < 1):
		return fmt.Errorf("invalid Alpha %v: must be in (0, 1)", c.Alpha)
	case c.RangeWindow != 0 && (c.RangeWindow < c.Window || c.RangeWindow > 1<<24):
		return fmt.Errorf("invalid RangeWindow %d: must be 0 or in [Window, 2^24]", c.RangeWindow)
	case c.CountHorizon < 0 || c.CountHorizon == 1 || c.CountHorizon > 1<<30:
		return fmt.Errorf("invalid CountHorizon %d: must be 0 or in [2, 2^30]", c.CountHorizon)
	}
	return nil
}

// NewRelativeEntropy returns a RelativeEntropy with an empty state. It panics if cfg is
// invalid (see Validate).
func NewRelativeEntropy(cfg RelativeEntropyConfig) *RelativeEntropy {
	if err := cfg.Validate(); err != nil {
		panic("research.NewRelativeEntropy: " + err.Error())
	}
	w, b, m := cfg.Window, cfg.Bins, cfg.MaxHypotheses
	d := &RelativeEntropy{
		cfg:   cfg,
		chi:   distuv.ChiSquared{K: float64(b - 1)},
		decay: 1,
		plogp: make([]float64, w+1),
		win:   make([]float64, w),
		rng:   newReRange(cfg.RangeWindow),
		fine:  make([]float64, b*reSub),
		cnt:   make([]float64, b),
		tmp:   make([]float64, b*reSub),
		q:     make([]float64, m*b*reSub),
		lq:    make([]float64, m*b),
		c:     make([]float64, m),
	}
	d.thresh = d.chi.Quantile(1 - cfg.Alpha)
	if cfg.CountHorizon > 0 {
		d.decay = 1 - 1/float64(cfg.CountHorizon)
	}
	for k := 1; k <= w; k++ {
		d.plogp[k] = float64(k) * math.Log(float64(k)/float64(w))
	}
	return d
}

const (
	// reEpsilon smooths the stored hypotheses so that an empty bin costs a finite amount.
	reEpsilon = 1e-3
	// reSub is the number of sub-bins per bin a hypothesis is kept at, for re-binning.
	reSub = 8
)

// Update scores the row (ts in unix seconds, unused; x finite) from rows 0..i only, then
// learns it, and returns a score in [0, 1] (see the type's doc). A non-finite x scores 0
// and is not learned.
func (d *RelativeEntropy) Update(ts, x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	w, b, alpha := d.cfg.Window, d.cfg.Bins, d.cfg.Alpha
	d.win[d.head] = x
	d.head++
	if d.head == w {
		d.head = 0
	}
	d.n++
	d.rng.Push(x)
	lo, hi, _ := d.rng.Get() // x was just pushed
	if lo != d.lo || hi != d.hi {
		d.rebin(lo, hi)
	}
	if d.n < w {
		return 0
	}

	// The window's counts and Σ c_k·ln(c_k/W) = W·Σ p_k ln p_k.
	clear(d.fine)
	clear(d.cnt)
	half, scale := lo/2, float64(len(d.fine))/(hi/2-lo/2)
	for _, v := range d.win {
		f := reBin(v, half, scale, len(d.fine))
		d.fine[f]++
		d.cnt[f/reSub]++
	}
	var plogp float64
	for _, k := range d.cnt {
		plogp += d.plogp[int(k)]
	}

	// Test every hypothesis: s_j = 2·(Σ c_k ln(c_k/W) − Σ c_k ln q̃_jk).
	best, bestS, total, explained := -1, math.Inf(1), 0.0, 0.0
	for j := range d.m {
		total += d.c[j]
		lq := d.lq[j*b : (j+1)*b]
		s := plogp
		for k, ck := range d.cnt {
			s -= ck * lq[k]
		}
		s = max(0, 2*s)
		if s >= d.thresh {
			explained += d.c[j] * min(1, d.survival(s)/alpha)
			continue
		}
		explained += d.c[j]
		if best < 0 || d.c[j] > d.c[best] || (d.c[j] == d.c[best] && s < bestS) {
			best, bestS = j, s
		}
	}
	score := 0.0
	if total > 0 {
		score = min(1, max(0, 1-explained/total))
	}

	// Learn: forget, count, and fold the window into the matched (or a new) hypothesis.
	for j := range d.m {
		d.c[j] *= d.decay
	}
	n := len(d.fine)
	if best < 0 {
		best = d.store()
		d.c[best] = 1
		for k, f := range d.fine {
			d.q[best*n+k] = f / float64(w)
		}
	} else {
		d.c[best]++
		q := d.q[best*n : (best+1)*n]
		rate := 1 / d.c[best]
		for k, f := range d.fine {
			q[k] += (f/float64(w) - q[k]) * rate
		}
	}
	d.logs(best)
	return score
}

// survival returns the χ²(B−1) survival function at s. For an even number of degrees of
// freedom 2r ≤ 64 and s ≤ 1400 (where e^(−s/2) is a normal float64) it is the closed form
// e^(−s/2)·Σ_{i<r} (s/2)^i/i! (B = 5 gives 2r = 4), which is cheaper than gonum's
// regularised incomplete gamma function, used otherwise.
func (d *RelativeEntropy) survival(s float64) float64 {
	df := d.cfg.Bins - 1
	if df%2 != 0 || df > 64 || !(s <= 1400) {
		return d.chi.Survival(s)
	}
	h := s / 2
	term := math.Exp(-h)
	sum := term
	for i := 1; i < df/2; i++ {
		term *= h / float64(i)
		sum += term
	}
	return min(1, sum)
}

// store returns the slot for a new hypothesis: a free one, else the least used.
func (d *RelativeEntropy) store() int {
	if d.m < d.cfg.MaxHypotheses {
		d.m++
		return d.m - 1
	}
	least := 0
	for j := 1; j < d.m; j++ {
		if d.c[j] < d.c[least] {
			least = j
		}
	}
	return least
}

// logs recomputes ln q̃ of hypothesis j from its sub-bins.
func (d *RelativeEntropy) logs(j int) {
	b := d.cfg.Bins
	norm := 1 + float64(b)*reEpsilon
	q, lq := d.q[j*b*reSub:(j+1)*b*reSub], d.lq[j*b:(j+1)*b]
	for k := range lq {
		var v float64
		for _, f := range q[k*reSub : (k+1)*reSub] {
			v += f
		}
		lq[k] = math.Log((v + reEpsilon) / norm)
	}
}

// rebin moves every stored hypothesis onto the bins of [lo, hi].
func (d *RelativeEntropy) rebin(lo, hi float64) {
	n := len(d.fine)
	for j := range d.m {
		q := d.q[j*n : (j+1)*n]
		reRebin(d.tmp, q, d.lo, d.hi, lo, hi)
		copy(q, d.tmp)
		d.logs(j)
	}
	d.lo, d.hi = lo, hi
}

// reBin returns the bin of x among b equal bins of [lo, hi] (see the type's doc), given
// half = lo/2 and scale = b/(hi/2 − lo/2) (+Inf when hi = lo); values outside the range go
// to the nearest end bin.
func reBin(x, half, scale float64, b int) int {
	u := (x/2 - half) * scale
	switch {
	case !(u > 0): // also hi = lo (0·Inf)
		return 0
	case u >= float64(b):
		return b - 1
	}
	return int(u)
}

// reRebin spreads masses q, over len(q) equal bins of [lo0, hi0], onto len(out) = len(q)
// equal bins of [lo, hi], assuming each old bin's mass is uniform within it (a point mass
// when lo0 = hi0); mass outside [lo, hi] goes to the nearest end bin. The result is
// renormalised to the total of q.
func reRebin(out, q []float64, lo0, hi0, lo, hi float64) {
	b := len(out)
	clear(out)
	var sum float64
	for _, m := range q {
		sum += m
	}
	w := (hi/2 - lo/2) / float64(b)
	if !(w > 0) {
		out[0] = sum
		return
	}
	w0 := (hi0/2 - lo0/2) / float64(b)
	// unit maps a half-scale value to new bin units, clamped so widths stay finite.
	unit := func(h float64) float64 { return min(1e15, max(-1e15, (h-lo/2)/w)) }
	for k, m := range q {
		if m == 0 {
			continue
		}
		a, e := unit(lo0/2+float64(k)*w0), unit(lo0/2+float64(k+1)*w0)
		j := min(b-1, max(0, int(math.Floor(a))))
		if !(e-a > 1e-12) {
			out[j] += m
			continue
		}
		for x := a; x < e; j++ {
			next := e
			if j < b-1 {
				next = min(e, float64(j+1))
			}
			out[j] += m * (next - x) / (e - a)
			x = next
		}
	}
	var got float64
	for _, v := range out {
		got += v
	}
	if got > 0 {
		for k := range out {
			out[k] *= sum / got
		}
	}
}

// reRangeBlocks is the number of blocks a sliding RelativeEntropy range is kept in.
const reRangeBlocks = 8

// newReRange returns the range of the last window rows (every row so far when window is 0),
// kept as algorithms.BlockRange blocks of ⌈window/reRangeBlocks⌉ rows: it covers the last window
// rows and at most one block more, in O(reRangeBlocks) memory.
func newReRange(window int) algorithms.BlockRange {
	if window == 0 {
		return algorithms.NewBlockRange(math.MaxInt, 1) // one block that never completes
	}
	return algorithms.NewBlockRange((window+reRangeBlocks-1)/reRangeBlocks, reRangeBlocks)
}
