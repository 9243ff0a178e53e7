package plaintext

import (
	"testing"

	"github.com/kale-project/kale/horizon/ingest/ingesttest"
)

func TestAppendRoundTrip(t *testing.T) {
	pts := ingesttest.RoundTripPoints()
	for _, n := range []int{0, 1, 2, 15, 16, len(pts)} {
		ingesttest.RoundTrip(t, Append, Decode, pts[:n])
	}
}

func FuzzAppend(f *testing.F) {
	f.Add("a.b", int64(1_700_000_000), 0.0, true, int64(0), 1.5, false, uint8(3))
	f.Add("x;tag=1", int64(-1), -0.0, false, int64(-129), 0.0, true, uint8(0))
	f.Add("big", int64(1<<40), 1e300, true, int64(-1<<40), 5e-324, false, uint8(7))
	f.Fuzz(func(t *testing.T, name string, tsI int64, tsF float64, tsInt bool, vI int64, vF float64, vInt bool, n uint8) {
		if pts := ingesttest.FuzzPoints(name, tsI, tsF, tsInt, vI, vF, vInt, n); pts != nil {
			ingesttest.RoundTrip(t, Append, Decode, pts)
		}
	})
}
