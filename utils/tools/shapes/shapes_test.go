package shapes

import (
	"math/rand/v2"
	"testing"

	"github.com/kale-project/kale/algorithms"

	"github.com/stretchr/testify/require"
)

// Fill is a pure function of the generator's state, family and length, and fills a reused
// buffer as it fills a fresh one.
func TestFillDeterministic(t *testing.T) {
	for family := range 10 {
		a := make([]float64, 256)
		Fill(rand.New(rand.NewPCG(7, 42)), family, a)
		b := make([]float64, 256)
		for i := range b {
			b[i] = 1e9
		}
		Fill(rand.New(rand.NewPCG(7, 42)), family, b)
		require.Equal(t, a, b, "family %d", family)
	}
}

// Members of one family are closer to each other than to another family's, after removing
// level and scale (what a z-normalised search sees).
func TestFillFamiliesAreNeighbours(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	member := func(f int) []float64 {
		x := make([]float64, 256)
		Fill(rng, f, x)
		return algorithms.ZNormalize(nil, x)
	}
	for _, f := range []int{0, 2, 3, 4, 57, 61} { // (family 1 starts its step at 0: a flat line)
		a, b, other := member(f), member(f), member(f+1)
		require.Less(t, algorithms.SquaredEuclidean(a, b), algorithms.SquaredEuclidean(a, other), "family %d", f)
	}
}
