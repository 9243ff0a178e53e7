// Package shapes generates series with true near neighbours for similarity-search
// benchmarks: members of a few hundred shape families with noise and a random level and
// scale. The oculus benchmarks and `kale searchload` draw from the same families.
package shapes

import (
	"math"
	"math/rand/v2"
)

// Fill writes into x a member of family (sines of several periods and phases, steps,
// spikes, ramps, saw teeth by family % 5) with noise, at a random level and scale drawn
// from rng.
func Fill(rng *rand.Rand, family int, x []float64) {
	n := len(x)
	kind, v := family%5, family/5
	period := float64(8 + v%40*6)
	pos := (v * 37) % max(n, 1)
	for i := range x {
		t := float64(i)
		switch kind {
		case 0:
			x[i] = math.Sin(2*math.Pi*t/period + float64(v%7))
		case 1:
			if i >= pos {
				x[i] = 1
			} else {
				x[i] = 0
			}
		case 2:
			x[i] = math.Exp(-math.Pow(float64(i-pos)/float64(2+v%9), 2))
		case 3:
			x[i] = t / float64(n) * float64(1+v%5)
			if i > pos {
				x[i] = -x[i]
			}
		default:
			x[i] = math.Mod(t, period) / period
		}
	}
	level, scale := rng.NormFloat64()*100, 1+rng.Float64()*10
	for i := range x {
		x[i] = level + scale*(x[i]+rng.NormFloat64()*0.05)
	}
}
