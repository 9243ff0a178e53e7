package plaintext

import (
	"strconv"

	"github.com/kale-project/kale/utils/metric"
)

// Append appends one line "name value timestamp\n" per point to dst. Ints are written as
// decimal integers; floats in the shortest form that parses back to the same float64, with
// ".0" added when that form looks like an integer (as Python's str(2.0) writes "2.0"), so
// Decode returns exactly pts, int/float types included. Names are written as they are: a name
// with whitespace or "\n" would not decode.
func Append(dst []byte, pts []metric.Point) []byte {
	var value [32]byte
	for _, p := range pts {
		dst = AppendLine(dst, p.Name, AppendNumber(value[:0], p.Value), p.Timestamp)
	}
	return dst
}

// The building blocks of Append, for a sender that encodes each name and value once and
// reuses the bytes (the load generator's hot path).

// AppendNumber appends a number as Append writes it.
func AppendNumber(dst []byte, n metric.Number) []byte {
	if n.IsInt {
		return strconv.AppendInt(dst, n.I, 10)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, n.F, 'g', -1, 64)
	if _, ok := parseInt(dst[start:]); ok {
		dst = append(dst, '.', '0')
	}
	return dst
}

// AppendLine appends one line "name value timestamp\n"; value is what AppendNumber wrote.
func AppendLine[S string | []byte](dst []byte, name S, value []byte, ts metric.Number) []byte {
	dst = append(append(dst, name...), ' ')
	dst = append(append(dst, value...), ' ')
	dst = AppendNumber(dst, ts)
	return append(dst, '\n')
}
