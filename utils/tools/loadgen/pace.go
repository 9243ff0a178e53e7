package loadgen

import (
	"math"
	"time"
)

// slice is the pacing period: every slice a sender tops up to the datapoints due so far, so a
// run of any rate is even at a 5 ms scale instead of bursting once per second.
const slice = 5 * time.Millisecond

// unlimited is the quota of a sender without a rate.
const unlimited = math.MaxInt64

// pace is one sender's schedule: quota datapoints spread evenly over the run.
type pace struct {
	rate  float64 // datapoints per second; 0 sends as fast as possible
	quota int64   // datapoints to send in total; unlimited without a rate
}

// plan splits the run's datapoints among senders: with a rate, round(rate × duration)
// datapoints in all, each sender taking an equal share (the first ones one more when it does
// not divide) at a proportional rate; without one, every sender sends as fast as it can.
func plan(rate float64, d time.Duration, senders int) []pace {
	out := make([]pace, senders)
	if rate <= 0 {
		for i := range out {
			out[i] = pace{quota: unlimited}
		}
		return out
	}
	total := int64(math.Round(rate * d.Seconds()))
	for i := range out {
		q := total / int64(senders)
		if int64(i) < total%int64(senders) {
			q++
		}
		out[i] = pace{rate: rate * float64(q) / float64(max(total, 1)), quota: q}
	}
	return out
}

// due is how many datapoints should have been sent after elapsed: rate × elapsed rounded up
// (so the first slice sends at least one), never more than the quota.
func (p pace) due(elapsed time.Duration) int64 {
	if p.rate <= 0 {
		return p.quota
	}
	n := math.Ceil(p.rate * elapsed.Seconds())
	if n >= float64(p.quota) {
		return p.quota
	}
	return max(int64(n), 0)
}

// total is the number of datapoints the plan asks for (0 when unlimited).
func total(ps []pace) int64 {
	var n int64
	for _, p := range ps {
		if p.quota == unlimited {
			return 0
		}
		n += p.quota
	}
	return n
}
