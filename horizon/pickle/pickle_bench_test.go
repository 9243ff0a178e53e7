package pickle

import (
	"os"
	"testing"

	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/utils/metric"
)

// BenchmarkDecode decodes carbon-like frames of 500 datapoints, as Python 2 carbon
// (protocol 2) and Python 3 carbon (protocols 2 and 4) send them; see testdata/gen.py.
func BenchmarkDecode(b *testing.B) {
	for _, name := range []string{"py2-p2-carbon500", "py3-p2-carbon500", "py3-p4-carbon500"} {
		payload, err := os.ReadFile("testdata/" + name + ".pickle")
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			lim := ingest.DefaultLimits()
			n := 0
			emit := func(metric.Point) { n++ }
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				if err := Decode(payload, lim, emit); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "points/s")
		})
	}
}
