package algorithms

import "errors"

// The reasons RunSelected skips a series before running any detector (Skyline's
// algorithm_exceptions.py), checked with errors.Is.
var (
	// ErrTooShort: fewer than MinTolerableLength points (an empty series always).
	ErrTooShort = errors.New("series too short")
	// ErrStale: the last point is more than StalePeriod older than now.
	ErrStale = errors.New("series stale")
	// ErrIncomplete: the series spans less than FullDuration (only with RejectIncomplete).
	ErrIncomplete = errors.New("series incomplete")
	// ErrBoring: the last MaxTolerableBoredom values hold BoredomSetSize distinct values.
	ErrBoring = errors.New("series boring")
)
