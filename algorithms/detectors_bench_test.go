package algorithms

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// benchSeries is a noisy daily sine at 10 s resolution ending at now, with a spike at the
// end: n = 360 is one hour, n = 8640 one day (the STYLE.md 1 h and 24 h lengths).
func benchSeries(n int) ([]Point, float64) {
	const now = 1_400_000_000.0
	rng := rand.New(rand.NewPCG(1, 2))
	s := make([]Point, n)
	for i := range s {
		ts := now - float64(10*(n-1-i))
		s[i] = Point{Timestamp: ts, Value: 100 + 10*math.Sin(ts/86400*2*math.Pi) + rng.NormFloat64()}
	}
	s[n-1].Value += 50
	return s, now
}

func BenchmarkDetectors(b *testing.B) {
	cfg := DefaultSettings()
	registry := Registry()
	for _, name := range SkylineAlgorithms() {
		for _, n := range []int{360, 8640} {
			b.Run(fmt.Sprintf("%s/n=%d", name, n), func(b *testing.B) {
				series, now := benchSeries(n)
				d := registry[name]
				b.ReportAllocs()
				b.SetBytes(int64(n) * 16)
				for b.Loop() {
					d(series, now, &cfg)
				}
			})
		}
	}
}

func BenchmarkEnsemble(b *testing.B) {
	for _, n := range []int{360, 8640} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			series, now := benchSeries(n)
			cfg := DefaultSettings()
			e, err := NewEnsemble(&cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(n) * 16)
			for b.Loop() {
				if _, err := e.Run(series, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkTailAvg(b *testing.B) {
	series, _ := benchSeries(360)
	b.ReportAllocs()
	for b.Loop() {
		TailAvg(series, false)
	}
}
