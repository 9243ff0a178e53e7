package research

import (
	"fmt"
	"math"
)

// Discord is a streaming nearest-neighbour (discord) detector, the idea of KNN-CAD and of
// streaming matrix-profile discords: a row is anomalous when the shape of the last few rows
// has no close match among the recent subsequences. Like Kale it keeps a bounded state, sees
// one row at a time (Update) and scores each row from the rows so far only (causal).
//
// Distance. With m = Window, H = History and x_0..x_t the rows so far, the current
// subsequence is S_t = (x_{t−m+1}, …, x_t). Its neighbours are the subsequences S_j that end
// in the last H rows and do not overlap S_t (trivial matches excluded), that is
// max(m−1, t−H+1) ≤ j ≤ t−m, so up to H−m of them. The discord distance is
//
//	D²_t = min_j Σ_{k<m} (x_{j−m+1+k} − x_{t−m+1+k})²   (summed oldest row first)
//	d_t  = sqrt(D²_t / m) / s_t
//
// the root-mean-square row difference to the nearest neighbour in units of s_t, a robust
// scale of the last H+m values: their interquartile range (numpy "lower" quantiles, the
// elements of rank floor(0.25·(n−1)) and floor(0.75·(n−1))) divided by 1.349 (σ for normal
// data), or their range divided by 1.349 if the IQR is 0, or 1 if every kept value is equal
// (then every distance is 0). d_t exists from row t = 2m−1 on.
//
// Why raw values and not z-normalised subsequences. z-normalising throws away level and
// amplitude, so the right shape at the wrong level (a level shift, a dead stretch at a new
// value, a pattern at double height) would be no discord, and on monitoring metrics those
// are the anomalies that matter; it also blows the jitter of a quiet stretch up to unit
// variance, so that every quiet window looks like a new shape unless a tuned floor on the
// standard deviation stops it. Raw distances need no per-neighbour mean or deviation, admit
// exact early abandoning, and are exactly 0 between two flat stretches at the same level.
// The scale is one division per row; since the score is a ratio to recent distances it
// matters only for Floor and for keeping recent distances comparable while the spread drifts.
//
// Search. The search is exact and allocates nothing. The neighbour after the previous row's
// nearest one (consecutive subsequences tend to have consecutive neighbours) is measured
// first, for a tight best-so-far. A branch-free pass then keeps the neighbours whose lower
// bound (LB_Kim on the first and last rows: (x_{j−m+1} − x_{t−m+1})² + (x_j − x_t)²) does
// not exceed it, and those are measured newest first with early abandoning (the partial sum
// is compared with the best-so-far every four rows). The cost is O(H·m) per row at worst,
// O(H) plus a few neighbours in practice. Every buffer is sized in NewDiscord:
// 8·(2(H+m) + 2N + m) + 4H bytes, about 28 KB at the defaults.
//
// Score. With q_t the Quantile (numpy "lower": the element of rank floor(Quantile·(n−1)))
// of the last n ≤ N = Calibration discord distances before row t,
//
//	score(t) = min(1, d_t / (Scale · max(q_t, Floor)))
//
// (0 when d_t = 0): a distance Scale times the usual high distance scores 1. The score is 0
// until MinDistances distances are known, i.e. for rows t < 2m−1+MinDistances; d_t is
// learned after the row is scored.
//
// Numerics. A D² that overflows (values beyond about 1e154) makes d_t the largest float64,
// never NaN or +Inf, so scores stay in [0, 1]. A non-finite x is ignored: it scores 0 and
// is not learned.
type Discord struct {
	cfg    DiscordConfig
	vals   []float64    // ring of the last Window+History values; len grows to its capacity
	head   int          // ring position of the next write once full
	sorted []float64    // the ring's values, ascending (for the robust scale)
	query  []float64    // the current subsequence, oldest first
	cand   []int32      // scratch: the lags t−j of the neighbours that pass the lower bound
	rows   int          // rows learned
	nn     int          // end row of the previous row's nearest neighbour, < 0 if none
	dists  sortedWindow // the last Calibration discord distances
}

// DiscordConfig configures Discord; DefaultDiscordConfig gives the defaults. All sizes are
// in rows.
type DiscordConfig struct {
	// Window is m, the length of the subsequences compared.
	Window int
	// History is H: neighbours are the subsequences that end in the last History rows and
	// at least Window rows before the current one (up to History−Window of them).
	History int
	// Calibration is N, the number of recent discord distances the score is calibrated
	// against.
	Calibration int
	// MinDistances is the number of discord distances that must be known before a row
	// scores above 0.
	MinDistances int
	// Quantile is the quantile q of the recent discord distances taken as their usual high
	// value.
	Quantile float64
	// Scale: a discord distance Scale times the quantile scores 1.
	Scale float64
	// Floor is the smallest quantile used, in units of the robust scale of the values (a
	// root-mean-square difference of Floor·s); it keeps a series that repeats exactly from
	// scoring tiny differences as 1.
	Floor float64
}

// DefaultDiscordConfig returns the default configuration: 16-row subsequences compared with
// the last 1000 rows, scored against the 99th percentile of the last 500 distances.
func DefaultDiscordConfig() DiscordConfig {
	return DiscordConfig{
		Window:       16,
		History:      1000,
		Calibration:  500,
		MinDistances: 100,
		Quantile:     0.99,
		Scale:        3,
		Floor:        0.01,
	}
}

// Validate reports the first invalid field.
func (c DiscordConfig) Validate() error {
	switch {
	case c.Window < 1 || c.Window > 1<<16:
		return fmt.Errorf("invalid Window %d: must be in [1, 2^16]", c.Window)
	case c.History <= c.Window || c.History > 1<<24:
		return fmt.Errorf("invalid History %d: must be in [Window+1 (%d), 2^24]", c.History, c.Window+1)
	case c.Calibration < 1 || c.Calibration > 1<<20:
		return fmt.Errorf("invalid Calibration %d: must be in [1, 2^20]", c.Calibration)
	case c.MinDistances < 1 || c.MinDistances > c.Calibration:
		return fmt.Errorf("invalid MinDistances %d: must be in [1, Calibration (%d)]", c.MinDistances, c.Calibration)
	case !(c.Quantile > 0 && c.Quantile <= 1):
		return fmt.Errorf("invalid Quantile %v: must be in (0, 1]", c.Quantile)
	case !(c.Scale > 0) || math.IsInf(c.Scale, 0):
		return fmt.Errorf("invalid Scale %v: must be positive and finite", c.Scale)
	case !(c.Floor >= 0) || math.IsInf(c.Floor, 0):
		return fmt.Errorf("invalid Floor %v: must be >= 0 and finite", c.Floor)
	}
	return nil
}

// NewDiscord returns a Discord with an empty state and every buffer allocated. It panics if
// cfg is invalid (see Validate).
func NewDiscord(cfg DiscordConfig) *Discord {
	if err := cfg.Validate(); err != nil {
		panic("research.NewDiscord: " + err.Error())
	}
	c := cfg.Window + cfg.History
	return &Discord{
		cfg:    cfg,
		vals:   make([]float64, 0, c),
		sorted: make([]float64, 0, c),
		query:  make([]float64, cfg.Window),
		cand:   make([]int32, cfg.History),
		nn:     -2,
		dists:  newSortedWindow(cfg.Calibration),
	}
}

// Update scores the row (ts unix seconds, value finite) from rows 0..i only (causal), then
// learns it; the score is in [0, 1]. ts is not used (all sizes are in rows); rows must come
// in timestamp order. A non-finite x scores 0 and is not learned.
func (d *Discord) Update(ts, x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	d.push(x)
	d2, ok := d.nearest()
	if !ok {
		return 0
	}
	dist := math.Sqrt(d2/float64(d.cfg.Window)) / d.scale()
	if !(dist <= math.MaxFloat64) { // +Inf from an overflowing D², or NaN from Inf/Inf
		dist = math.MaxFloat64
	}
	score := d.score(dist)
	d.learn(dist)
	return score
}

// push appends x to the value ring and its sorted copy.
func (d *Discord) push(x float64) {
	d.rows++
	if len(d.vals) < cap(d.vals) {
		d.vals = append(d.vals, x)
		d.sorted = sortedInsert(d.sorted, x)
		return
	}
	old := d.vals[d.head]
	d.vals[d.head] = x
	d.head++
	if d.head == len(d.vals) {
		d.head = 0
	}
	sortedReplace(d.sorted, old, x)
}

// nearest returns D²_t for the newest row t (see Discord) and records the end row of the
// nearest neighbour; ok is false while the current subsequence has no neighbour.
func (d *Discord) nearest() (d2 float64, ok bool) {
	m, t := d.cfg.Window, d.rows-1
	lo, hi := max(m-1, t-d.cfg.History+1), t-m // the neighbours' end rows
	if hi < lo {
		return 0, false
	}
	n := len(d.vals)
	newest := d.head - 1 // ring position of row t
	if newest < 0 {
		newest = n - 1
	}
	// pos is the ring position of row j <= t.
	pos := func(j int) int {
		p := newest - (t - j)
		if p < 0 {
			p += n
		}
		return p
	}
	for k, p := 0, pos(t-m+1); k < m; k++ {
		d.query[k] = d.vals[p]
		if p++; p == n {
			p = 0
		}
	}
	best, bsf := -1, math.Inf(1)
	hint := d.nn + 1
	if hint >= lo && hint <= hi {
		best, bsf = hint, d.distEA(pos(hint), math.Inf(1))
	}
	// Pass 1, without data-dependent branches: keep the neighbours whose lower bound
	// (LB_Kim's first and last rows) does not exceed the hint's distance; the rounded sum of
	// two of the squares never exceeds the rounded left-to-right sum of all of them. The
	// neighbours are visited newest first in runs that do not cross the ring's end.
	qf, ql := d.query[0], d.query[m-1]
	cand := d.cand[:hi-lo+1]
	keep, g := 0, t-hi             // g is the lag t−j of the neighbour
	pe, ps := pos(hi), pos(hi-m+1) // ring positions of its last and first rows
	for left := len(cand); left > 0; {
		r := min(left, pe+1, ps+1)
		last, first := d.vals[pe-r+1:pe+1], d.vals[ps-r+1:ps+1]
		first = first[:len(last)]
		for k := len(last) - 1; k >= 0; k-- {
			e := ql - last[k]
			lb := float64(e * e)
			if m > 1 {
				e = qf - first[k]
				lb += float64(e * e)
			}
			cand[keep] = int32(g)
			keep += ddBool(lb <= bsf)
			g++
		}
		left, pe, ps = left-r, pe-r, ps-r
		if pe < 0 {
			pe += n
		}
		if ps < 0 {
			ps += n
		}
	}
	// Pass 2: the survivors, newest first, with early abandoning.
	for _, g := range cand[:keep] {
		j := t - int(g)
		if s := d.distEA(pos(j), bsf); s < bsf || best < 0 {
			best, bsf = j, s
		}
	}
	d.nn = best
	return bsf, true
}

// ddBool is 1 for true and 0 for false (compiled without a branch).
func ddBool(b bool) int {
	if b {
		return 1
	}
	return 0
}

// distEA returns the squared distance between the query and the subsequence ending at ring
// position end, summed oldest row first and abandoned early (ddSquaredEA): the result is
// > bsf iff the full distance is, and exact otherwise.
func (d *Discord) distEA(end int, bsf float64) float64 {
	m := len(d.query)
	if start := end - m + 1; start >= 0 {
		return ddSquaredEA(0, d.query, d.vals[start:end+1], bsf)
	}
	// The subsequence wraps: its older part is at the end of the ring.
	older := d.vals[len(d.vals)+end-m+1:]
	s := ddSquaredEA(0, d.query[:len(older)], older, bsf)
	if s > bsf {
		return s
	}
	return ddSquaredEA(s, d.query[len(older):], d.vals[:end+1], bsf)
}

// ddSquaredEA returns s + Σ_i (q_i − c_i)², summed left to right with each square rounded
// (as SquaredEuclidean), for len(q) == len(c). It abandons with SquaredEuclideanEA's
// contract — the result is > bsf iff the full sum is, and exact otherwise — but tests the
// partial sum only every four terms: most neighbours are abandoned within the first few
// terms, and one predictable branch per block costs less than a mispredicted one per term.
func ddSquaredEA(s float64, q, c []float64, bsf float64) float64 {
	c = c[:len(q)]
	i := 0
	for ; i+4 <= len(q); i += 4 {
		e0, e1, e2, e3 := q[i]-c[i], q[i+1]-c[i+1], q[i+2]-c[i+2], q[i+3]-c[i+3]
		s += float64(e0 * e0)
		s += float64(e1 * e1)
		s += float64(e2 * e2)
		s += float64(e3 * e3)
		if s > bsf {
			return s
		}
	}
	for ; i < len(q); i++ {
		e := q[i] - c[i]
		s += float64(e * e)
	}
	return s
}

// scale returns s_t, the robust scale of the kept values (see Discord).
func (d *Discord) scale() float64 {
	s, n := d.sorted, len(d.sorted)
	if iqr := s[(3*(n-1))/4] - s[(n-1)/4]; iqr > 0 {
		return iqr / 1.349
	}
	if r := s[n-1] - s[0]; r > 0 {
		return r / 1.349
	}
	return 1
}

// score calibrates dist against the recent discord distances (see Discord).
func (d *Discord) score(dist float64) float64 {
	n := d.dists.len()
	if n < d.cfg.MinDistances || dist <= 0 {
		return 0
	}
	q := max(d.dists.sorted[int(d.cfg.Quantile*float64(n-1))], d.cfg.Floor)
	lim := d.cfg.Scale * q
	if dist >= lim { // also when lim is 0
		return 1
	}
	return dist / lim
}

// learn appends dist to the distance window.
func (d *Discord) learn(dist float64) { d.dists.push(dist) }
