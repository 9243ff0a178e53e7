package algorithms

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Settings are the analyzer settings Skyline's algorithms.py reads (settings.py names in
// the field comments), plus switches that choose between Etsy's original behaviour and
// Kale's fixes. DefaultSettings fixes the known defects; SkylineCompatSettings reproduces
// Etsy's code exactly.
type Settings struct {
	// FullDuration is FULL_DURATION: the length of a full series. first_hour_average looks
	// at the points older than now - (FullDuration - 1 h).
	FullDuration time.Duration
	// StalePeriod is STALE_PERIOD: a series whose last point is more than this older than
	// now is skipped with ErrStale.
	StalePeriod time.Duration
	// MinTolerableLength is MIN_TOLERABLE_LENGTH: shorter series are skipped with
	// ErrTooShort. An empty series is always too short.
	MinTolerableLength int
	// MaxTolerableBoredom is MAX_TOLERABLE_BOREDOM: how many trailing values the boredom
	// check looks at.
	MaxTolerableBoredom int
	// BoredomSetSize is BOREDOM_SET_SIZE: a series whose last MaxTolerableBoredom values hold
	// this many distinct values (at most this many, unless BoringEquality) is skipped with
	// ErrBoring.
	BoredomSetSize int
	// Consensus is CONSENSUS: how many votes make a series anomalous.
	Consensus int
	// Algorithms is ALGORITHMS: the detectors of the ensemble, by Skyline name, in order.
	// Every name must be in Registry().
	Algorithms []string
	// RejectIncomplete skips series spanning less than FullDuration with ErrIncomplete, as
	// Skyline did before 2013-10-31 (off in both presets).
	RejectIncomplete bool

	// MADNoneVotes counts every vote that is not No as a vote for "anomalous", as Etsy's
	// ensemble.count(False) did: median_absolute_deviation's None (deviation not extreme
	// but non-zero) then votes yes. Off: only Yes votes count.
	MADNoneVotes bool
	// TailAvgIntDiv floors tail_avg when the last three values are all integers, as Python
	// 2's integer division did for integer-typed datapoints (Skyline's own unit test
	// expects (1000+1+1)/3 = 334). Off in both presets: a Point cannot tell 1 from 1.0,
	// and Etsy's Python divided floats normally (the golden data hold float values).
	TailAvgIntDiv bool
	// BoringEquality makes the boredom check `distinct == BoredomSetSize` (Etsy) instead of
	// `distinct <= BoredomSetSize`.
	BoringEquality bool
	// HistogramEdgeCompat keeps histogram_bins' edge quirks: bin 0 matches only a tail
	// average <= min, and a tail average equal to max matches no bin. Off: the tail average
	// is looked up in the bin np.histogram would count it in.
	HistogramEdgeCompat bool
	// OneSidedGrubbs makes grubbs flag only upward deviations (z > G, Etsy). Off: |z| > G.
	OneSidedGrubbs bool
	// AlgorithmErrorVetoes makes any detector error turn the whole ensemble "not anomalous",
	// like Skyline's bare except around the ensemble (`return False, [], 1`). Off: an
	// erroring detector only loses its own vote.
	AlgorithmErrorVetoes bool
	// EWMLegacyBias makes stddev_from_moving_average use pandas <= 0.14's bias correction of
	// the EW variance, a constant factor (1+2com)/(2com), instead of the weight-based
	// sum_w^2/(sum_w^2 - sum(w^2)) of current pandas. Off in both presets: the golden
	// verdicts were produced with current pandas.
	EWMLegacyBias bool
}

// SkylineAlgorithms returns Etsy's default ALGORITHMS, in Skyline's order.
func SkylineAlgorithms() []string {
	return []string{
		"first_hour_average",
		"mean_subtraction_cumulation",
		"stddev_from_average",
		"stddev_from_moving_average",
		"least_squares",
		"grubbs",
		"histogram_bins",
		"median_absolute_deviation",
		"ks_test",
	}
}

// DefaultSettings returns Skyline's default settings (settings.py.example) with the known
// defects of Etsy's code fixed: MAD's None is a "no", boredom is `<=`, histogram_bins looks
// the tail average up in its own bin, grubbs is two-sided, and a failing detector only
// loses its own vote.
func DefaultSettings() Settings {
	return Settings{
		FullDuration:        86400 * time.Second,
		StalePeriod:         500 * time.Second,
		MinTolerableLength:  1,
		MaxTolerableBoredom: 100,
		BoredomSetSize:      1,
		Consensus:           6,
		Algorithms:          SkylineAlgorithms(),
	}
}

// SkylineCompatSettings returns Skyline's default settings with the compat switches set
// so that the ensemble behaves exactly like Etsy's algorithms.py on float data. The golden
// verdicts in shared/golden were produced by that code and are checked against these
// settings. TailAvgIntDiv and EWMLegacyBias stay off (see their comments).
func SkylineCompatSettings() Settings {
	s := DefaultSettings()
	s.MADNoneVotes = true
	s.BoringEquality = true
	s.HistogramEdgeCompat = true
	s.OneSidedGrubbs = true
	s.AlgorithmErrorVetoes = true
	return s
}

// WithEtsySemantics returns s with every switch that SkylineCompatSettings turns on turned
// on too, so that s behaves like Etsy's algorithms.py (what the golden files record); the
// numeric settings, the algorithm list and the other switches stay as they are.
func (s Settings) WithEtsySemantics() Settings {
	etsy := SkylineCompatSettings()
	s.MADNoneVotes = s.MADNoneVotes || etsy.MADNoneVotes
	s.TailAvgIntDiv = s.TailAvgIntDiv || etsy.TailAvgIntDiv
	s.BoringEquality = s.BoringEquality || etsy.BoringEquality
	s.HistogramEdgeCompat = s.HistogramEdgeCompat || etsy.HistogramEdgeCompat
	s.OneSidedGrubbs = s.OneSidedGrubbs || etsy.OneSidedGrubbs
	s.AlgorithmErrorVetoes = s.AlgorithmErrorVetoes || etsy.AlgorithmErrorVetoes
	s.EWMLegacyBias = s.EWMLegacyBias || etsy.EWMLegacyBias
	return s
}

// CompatAll, in a list of compat switch names, turns on every switch.
const CompatAll = "all"

// compatSwitch is a compat switch: its name (Kale's --skyline-compat) and the field of a
// Settings it turns on.
type compatSwitch struct {
	name string
	on   *bool
}

// compatSwitches lists the compat switches of s, in CompatSwitches' order. This is the one
// place a switch is named.
func (s *Settings) compatSwitches() []compatSwitch {
	return []compatSwitch{
		{"mad-none-votes", &s.MADNoneVotes},
		{"tail-avg-int-div", &s.TailAvgIntDiv},
		{"boring-equality", &s.BoringEquality},
		{"histogram-edges", &s.HistogramEdgeCompat},
		{"one-sided-grubbs", &s.OneSidedGrubbs},
		{"algorithm-error-vetoes", &s.AlgorithmErrorVetoes},
	}
}

// CompatSwitches returns the names of the Etsy defects a Settings can reproduce by name
// (Kale's --skyline-compat), each turning on one switch: mad-none-votes (MADNoneVotes),
// tail-avg-int-div (TailAvgIntDiv), boring-equality (BoringEquality), histogram-edges
// (HistogramEdgeCompat), one-sided-grubbs (OneSidedGrubbs) and algorithm-error-vetoes
// (AlgorithmErrorVetoes). EWMLegacyBias has no name.
func CompatSwitches() []string {
	var s Settings
	sw := s.compatSwitches()
	names := make([]string, len(sw))
	for i, c := range sw {
		names[i] = c.name
	}
	return names
}

// ValidateCompat reports a name that is neither one of CompatSwitches nor CompatAll.
func ValidateCompat(name string) error {
	if name == CompatAll {
		return nil
	}
	var s Settings
	for _, c := range s.compatSwitches() {
		if c.name == name {
			return nil
		}
	}
	return fmt.Errorf("%q is not one of %s or %s", name, strings.Join(CompatSwitches(), ", "), CompatAll)
}

// ApplyCompat turns on the compat switches named in names (CompatAll turns on every one)
// and leaves the other switches as they are. A name that ValidateCompat rejects is an
// error, and s is then unchanged.
func (s *Settings) ApplyCompat(names []string) error {
	for _, name := range names {
		if err := ValidateCompat(name); err != nil {
			return err
		}
	}
	for _, c := range s.compatSwitches() {
		for _, name := range names {
			if name == c.name || name == CompatAll {
				*c.on = true
			}
		}
	}
	return nil
}

// ErrUnknownAlgorithm is wrapped by Validate and the ensemble for an algorithm name that is
// not in Registry().
var ErrUnknownAlgorithm = errors.New("unknown algorithm")

// Validate reports the first invalid field.
func (s *Settings) Validate() error {
	switch {
	case s.FullDuration <= time.Hour:
		return fmt.Errorf("invalid FullDuration %v: must be longer than 1h", s.FullDuration)
	case s.StalePeriod < 0:
		return fmt.Errorf("invalid StalePeriod %v: must not be negative", s.StalePeriod)
	case s.MinTolerableLength < 0:
		return fmt.Errorf("invalid MinTolerableLength %d: must not be negative", s.MinTolerableLength)
	case s.MaxTolerableBoredom < 1:
		return fmt.Errorf("invalid MaxTolerableBoredom %d: must be at least 1", s.MaxTolerableBoredom)
	case s.BoredomSetSize < 0:
		return fmt.Errorf("invalid BoredomSetSize %d: must not be negative", s.BoredomSetSize)
	case len(s.Algorithms) == 0:
		return errors.New("invalid Algorithms: the list is empty")
	case s.Consensus < 1 || s.Consensus > len(s.Algorithms):
		return fmt.Errorf("invalid Consensus %d: must be between 1 and the %d configured algorithms",
			s.Consensus, len(s.Algorithms))
	}
	registry := Registry()
	seen := make(map[string]bool, len(s.Algorithms))
	for _, name := range s.Algorithms {
		if _, ok := registry[name]; !ok {
			return fmt.Errorf("invalid Algorithms: %w %q", ErrUnknownAlgorithm, name)
		}
		if seen[name] {
			return fmt.Errorf("invalid Algorithms: %q is listed twice", name)
		}
		seen[name] = true
	}
	return nil
}

// The accessors below let a detector run with a nil *Settings (Skyline's defaults, bugs
// fixed).

func (s *Settings) fullDurationSeconds() float64 {
	if s == nil {
		return 86400
	}
	return s.FullDuration.Seconds()
}

func (s *Settings) tailAvgIntDiv() bool { return s != nil && s.TailAvgIntDiv }

func (s *Settings) histogramEdgeCompat() bool { return s != nil && s.HistogramEdgeCompat }

func (s *Settings) oneSidedGrubbs() bool { return s != nil && s.OneSidedGrubbs }

func (s *Settings) ewmLegacyBias() bool { return s != nil && s.EWMLegacyBias }
