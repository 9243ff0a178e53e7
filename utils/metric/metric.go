// Package metric is the data model every wire format decodes into and every writer stores: a
// Point (metric name, timestamp, value) whose numbers keep the int/float distinction the sender
// typed, and the one metric-name rule. It sits at the start of the pipeline, below horizon's
// decoders, the tools that encode (seed, loadgen, import) and the Skyline-layout store, and
// depends on none of them (no Redis, no configuration).
package metric

import "fmt"

// Number is one field of a datapoint as the sender typed it. Skyline stores timestamps and
// values exactly as received, and Python's msgpack writes ints in their most compact form and
// floats as float64, so the int/float distinction is kept to stay byte-compatible.
type Number struct {
	I     int64
	F     float64
	IsInt bool
}

// Int returns an integer Number.
func Int(i int64) Number { return Number{I: i, F: float64(i), IsInt: true} }

// Float returns a floating-point Number.
func Float(f float64) Number { return Number{F: f} }

// Float64 returns the number as a float64 (ints beyond 2^53 lose precision).
func (n Number) Float64() float64 {
	if n.IsInt {
		return float64(n.I)
	}
	return n.F
}

// String formats the number the way Python would print it: ints without a decimal point.
func (n Number) String() string {
	if n.IsInt {
		return fmt.Sprint(n.I)
	}
	return fmt.Sprint(n.F)
}

// Point is one datapoint of one metric. Name is the metric name without namespace prefix.
type Point struct {
	Name      string
	Timestamp Number
	Value     Number
}
