// Package algorithms is Kale's pure math: Skyline's detectors and ensemble, Kale's own
// detectors, and the distances and shape encodings Oculus search uses. It performs no I/O,
// reads no clock (callers pass now), starts no goroutines and imports nothing of Kale's.
package algorithms

// Point is one datapoint of a series: a unix timestamp in seconds and a value.
type Point struct {
	Timestamp float64
	Value     float64
}
