package research

import (
	"fmt"
	"math"
)

// LevelShift is a streaming level-shift (change-point) detector: it fires once when a
// series settles at a new level and then re-baselines on that level. Like Kale it keeps a
// bounded state, sees one row at a time (Update) and scores each row from the rows so far
// only (causal).
//
// Windows. The recent window holds the last Window rows, including the current one; the
// reference holds up to Reference rows before them (a row leaves the recent window into
// the reference, and the oldest reference row is dropped). Both are fixed-size rings with
// a sorted copy, so medians are read directly and each row costs O(Reference).
//
// Reference level and scale. With m the median of the reference (numpy convention: the
// mean of the two middle values for an even count), MAD the median of |r − m| over the
// reference rows r, and |m| the magnitude of that median,
//
//	s = max(1.4826 · MAD, RelativeFloor · |m| + MinScale)
//
// 1.4826 · MAD estimates the standard deviation of normal noise; the floor keeps a flat
// reference (MAD = 0) from dividing by zero, so on a flat series only a change larger than
// RelativeFloor of the level (plus MinScale) counts.
//
// Shifted rows. A row x is shifted when its robust deviation d = (x − m) / s satisfies
// |d| ≥ Threshold; it extends the current run of shifted rows if it lies on the same side
// of m as the run, or starts a new run of one otherwise; an unshifted row ends the run.
// Rows are tested only while the reference holds at least MinReference rows (a warm-up at
// the start and after every re-baseline, long enough for a daily cycle not to look like a
// shift).
//
// Confirmation and score. When the run reaches Window rows, the whole recent window has
// stayed shifted to one side and the shift is confirmed. With M the median of the recent
// window and
//
//	z = |M − m| / s,   score = 1 − exp(−(z / ZScale)²)
//
// the confirming row scores (z = ZScale scores 1 − 1/e ≈ 0.63, z = 2·ZScale 0.98; a
// confirmed shift has z ≥ Threshold). Every other row scores 0: a spike, or a burst shorter
// than Window, never fires, and a new level fires once, Window − 1 rows after its first row.
//
// Re-baseline. At a confirmation the reference is restarted from the recent rows (the new
// level) and the recent window is emptied, so the new level is what later rows are measured
// against; rows are tested again once the reference holds MinReference rows.
//
// Numbers. Update ignores a non-finite value (it scores 0 and is not learned). Medians
// average their two middle values as a/2 + b/2, which cannot overflow; a robust deviation
// that is undefined (an infinite difference over an infinite scale, only possible with
// values near ±MaxFloat64) counts as not shifted, so scores are never NaN.
type LevelShift struct {
	cfg    LevelShiftConfig
	recent sortedWindow
	ref    sortedWindow
	run    int     // length of the current run of shifted rows
	side   float64 // +1 or −1: the side of the reference median the run lies on
}

// LevelShiftConfig configures LevelShift; DefaultLevelShiftConfig gives the defaults. All
// sizes are in rows.
type LevelShiftConfig struct {
	// Window is the short recent window: a shift is confirmed when Window consecutive rows
	// are shifted to the same side, and the confirming row scores the median of these rows.
	Window int
	// Reference is the longest reference (the rows before the recent window) the level and
	// scale are measured on.
	Reference int
	// MinReference is the number of rows the reference must hold before rows are tested,
	// at the start and after a re-baseline. At least one seasonal period keeps a daily
	// cycle from looking like a shift (288 rows: one day at 5-minute rows).
	MinReference int
	// Threshold is the robust deviation |x − m| / s from which a row counts as shifted.
	Threshold float64
	// ZScale is the robust shift z that scores 1 − 1/e ≈ 0.63: score = 1 − exp(−(z/ZScale)²).
	ZScale float64
	// RelativeFloor is the fraction of the reference's |median| below which the scale s
	// never falls (with MinScale); it is what a flat reference is measured with.
	RelativeFloor float64
	// MinScale is added to the floor of s so that a flat reference at 0 does not divide by
	// zero.
	MinScale float64
}

// DefaultLevelShiftConfig returns the default configuration: a 12-row recent window
// against a reference of up to 500 rows, tested once it holds 288 rows.
func DefaultLevelShiftConfig() LevelShiftConfig {
	return LevelShiftConfig{
		Window:        12,
		Reference:     500,
		MinReference:  288,
		Threshold:     3,
		ZScale:        4,
		RelativeFloor: 1e-3,
		MinScale:      1e-9,
	}
}

// lsPositive reports whether v is positive and finite.
func lsPositive(v float64) bool { return v > 0 && !math.IsInf(v, 1) }

// Validate reports the first invalid field.
func (c LevelShiftConfig) Validate() error {
	switch {
	case c.Window < 2 || c.Window > 1<<16:
		return fmt.Errorf("invalid Window %d: must be in [2, 2^16]", c.Window)
	case c.Reference < c.Window || c.Reference > 1<<20:
		return fmt.Errorf("invalid Reference %d: must be in [Window (%d), 2^20]", c.Reference, c.Window)
	case c.MinReference < 1 || c.MinReference > c.Reference:
		return fmt.Errorf("invalid MinReference %d: must be in [1, Reference (%d)]", c.MinReference, c.Reference)
	case !lsPositive(c.Threshold):
		return fmt.Errorf("invalid Threshold %v: must be positive and finite", c.Threshold)
	case !lsPositive(c.ZScale):
		return fmt.Errorf("invalid ZScale %v: must be positive and finite", c.ZScale)
	case !(c.RelativeFloor >= 0) || math.IsInf(c.RelativeFloor, 1):
		return fmt.Errorf("invalid RelativeFloor %v: must be >= 0 and finite", c.RelativeFloor)
	case !lsPositive(c.MinScale):
		return fmt.Errorf("invalid MinScale %v: must be positive and finite", c.MinScale)
	}
	return nil
}

// NewLevelShift returns a LevelShift with an empty state. It panics if cfg is invalid (see
// Validate).
func NewLevelShift(cfg LevelShiftConfig) *LevelShift {
	if err := cfg.Validate(); err != nil {
		panic("research.NewLevelShift: " + err.Error())
	}
	return &LevelShift{
		cfg:    cfg,
		recent: newSortedWindow(cfg.Window),
		ref:    newSortedWindow(cfg.Reference),
	}
}

// Update scores the row (ts unix seconds, value finite) from rows 0..i only (causal), then
// learns it; it returns a score in [0, 1], above 0 only at the row that confirms a level
// shift (see the type's doc). ts is not used: the method counts rows. A non-finite x
// scores 0 and is not learned.
func (d *LevelShift) Update(ts, x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	var m, s float64
	if d.ref.len() >= d.cfg.MinReference {
		m = d.ref.median()
		s = max(1.4826*d.ref.mad(m), d.cfg.RelativeFloor*math.Abs(m)+d.cfg.MinScale)
		dev := (x - m) / s // NaN only for ±Inf / Inf
		switch {
		case !(math.Abs(dev) >= d.cfg.Threshold):
			d.run = 0
		case d.run > 0 && math.Signbit(dev) == math.Signbit(d.side):
			d.run++
		default:
			d.run, d.side = 1, math.Copysign(1, dev)
		}
	} else {
		d.run = 0
	}
	if old, ok := d.recent.push(x); ok {
		d.ref.push(old)
	}
	if d.run < d.cfg.Window {
		return 0
	}
	// Confirmed: the recent window holds exactly the run's rows.
	z := math.Abs(d.recent.median()-m) / s
	score := 0.0
	if !math.IsNaN(z) {
		score = 1 - math.Exp(-(z/d.cfg.ZScale)*(z/d.cfg.ZScale))
	}
	d.rebaseline()
	return score
}

// rebaseline restarts the reference from the recent rows and empties the recent window.
func (d *LevelShift) rebaseline() {
	d.ref.reset()
	for i := range d.recent.len() {
		d.ref.push(d.recent.at(i))
	}
	d.recent.reset()
	d.run = 0
}
