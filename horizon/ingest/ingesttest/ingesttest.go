// Package ingesttest holds the helpers the horizon decoder tests share: building expected
// points, collecting what a decoder emits, and turning expected rejection counts into the
// array an *ingest.Error carries.
package ingesttest

import (
	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/utils/metric"
)

// Pt builds an expected point.
func Pt(name string, ts, value metric.Number) metric.Point {
	return metric.Point{Name: name, Timestamp: ts, Value: value}
}

// DecodeAll runs a decoder and returns every point it emitted with its error.
func DecodeAll(decode func([]byte, ingest.Limits, func(metric.Point)) error, b []byte, lim ingest.Limits) ([]metric.Point, error) {
	var got []metric.Point
	err := decode(b, lim, func(p metric.Point) { got = append(got, p) })
	return got, err
}

// Counts turns {reason: n} into the per-reason array of an *ingest.Error.
func Counts(m map[ingest.Reason]int) (c [ingest.NumReasons]int) {
	for r, n := range m {
		c[r] = n
	}
	return c
}
