package algorithms

import (
	"errors"
	"math"
)

// ErrEmptySeries is the error of a detector given no points (Python raised IndexError).
var ErrEmptySeries = errors.New("series is empty")

// TailAvg is Skyline's tail_avg: the mean of the last three values, evaluated as
// (v[-1] + v[-2] + v[-3]) / 3 from left to right, or the last value when the series has
// fewer than three points. It returns NaN for an empty series (Python raised IndexError).
//
// With intDiv ([BUG-COMPAT] Python 2) and three integral values (|v| < 2^53), the result is
// floor((v[-1] + v[-2] + v[-3]) / 3), Python 2's integer division; the repo's own unit test
// expects (1000+1+1)/3 = 334.
func TailAvg(series []Point, intDiv bool) float64 {
	n := len(series)
	switch {
	case n == 0:
		return math.NaN()
	case n < 3:
		return series[n-1].Value
	}
	a, b, c := series[n-1].Value, series[n-2].Value, series[n-3].Value
	if intDiv && isSmallInt(a) && isSmallInt(b) && isSmallInt(c) {
		sum := int64(a) + int64(b) + int64(c)
		q := sum / 3
		if sum%3 != 0 && sum < 0 {
			q-- // Python floors; Go truncates towards zero
		}
		return float64(q)
	}
	return (a + b + c) / 3
}

// isSmallInt reports whether v is an integer that float64 represents exactly with all its
// neighbours, so that integer arithmetic on it is exact.
func isSmallInt(v float64) bool {
	return v == math.Trunc(v) && math.Abs(v) < 1<<53
}
