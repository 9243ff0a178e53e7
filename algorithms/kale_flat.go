package algorithms

// kaleFlat is Kale's flat-run detector: a value that stays exactly the same for longer than
// it ever has before (a stuck sensor, a dead service reporting 0, a frozen gauge).
//
// Runs. A run is a maximal stretch of rows with equal values. With R the longest run seen
// before the current one and MinRun the shortest run worth noticing, the current run
// breaks the record at the row where its length reaches max(R, MinRun) + 1.
//
// Score. If the m runs of at least MinRun rows seen before were exchangeable, the newest of
// m + 1 would be the longest with probability 1/(m + 1); the record row therefore scores
//
//	flat(t) = m / (m + 1)
//
// and every other row scores 0. A stream's first long run (m = 0) scores 0, a record after
// one earlier long run 0.5, after many close to 1. Streams whose values never repeat (noisy
// floats) never score.
type kaleFlat struct {
	last    float64
	minRun  int32
	minTime int32 // the run length FlatMinTime asks for at the current interval
	run     int32 // length of the current run; 0 before the first row
	record  int32 // the longest run before the current one
	long    int32 // m: runs of at least minRun rows before the current one
}

// update scores x (see the type's doc) and learns it.
func (f *kaleFlat) update(x float64) float64 {
	if f.run > 0 && x == f.last {
		f.run++
	} else {
		if f.run >= max(f.minRun, f.minTime) {
			f.long++
		}
		f.record = max(f.record, f.run)
		f.run = 1
	}
	f.last = x
	if f.run == max(f.record, f.minRun, f.minTime)+1 && f.long > 0 {
		return float64(f.long) / float64(f.long+1)
	}
	return 0
}
