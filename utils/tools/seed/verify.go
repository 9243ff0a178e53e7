package seed

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kale-project/kale/utils/redisstore"
)

// pollEvery is the pause between two looks at Redis while verifying.
const pollEvery = 200 * time.Millisecond

type pair struct{ ts, v float64 }

// countPairs counts the occurrences of each (timestamp, value) pair in a stored series.
func countPairs(raw []byte) map[pair]int {
	n := map[pair]int{}
	redisstore.DecodeSeries(raw, func(p redisstore.Pair) { n[pair{p.Timestamp, p.Value}]++ })
	return n
}

// verify polls Redis until every metric is in the unique set with all its datapoints, or
// until o.VerifyTimeout, and records the outcome in rep.Stored and rep.Missing. A history
// datapoint counts as stored when it is present; a datapoint sent through a listener only
// when it occurs more often than before the run (before[i] for series[i]), so an earlier
// run's copy does not hide a lost one. It stops early when only metrics of the failed
// listeners are incomplete, and fails only when Redis cannot be read.
//
// A Roomba pass that deduplicates a re-sent datapoint while verification runs can make it
// look missing; that needs a repeated run within MAX_RESOLUTION and a pass in that second.
func verify(ctx context.Context, o Options, series []Series, cutoff int64, before []map[pair]int,
	share map[string][]Series, failed map[string]bool, rep *Report) error {
	via := map[string]string{}
	for proto, ss := range share {
		for _, s := range ss {
			via[s.Name] = proto
		}
	}
	keys := make([]string, len(series))
	for i, s := range series {
		keys[i] = o.Store.FullKey(s.Name)
	}
	ns := o.Store.Options().FullNamespace
	deadline := time.Now().Add(o.VerifyTimeout)
	for {
		members, err := o.Store.Members(ctx, ns)
		if err != nil {
			return fmt.Errorf("cannot verify the seed data: %w", err)
		}
		inSet := make(map[string]bool, len(members))
		for _, m := range members {
			inSet[m] = true
		}
		raws, err := o.Store.Raw(ctx, keys)
		if err != nil {
			return fmt.Errorf("cannot verify the seed data: %w", err)
		}
		rep.Stored, rep.Missing = 0, nil
		settled := true // nothing missing that could still arrive
		for i, s := range series {
			stored := countPairs(raws[i])
			var lostHistory, history, lostRecent, recent int
			for _, p := range s.Points {
				k := pair{float64(p.Timestamp), p.Value.Float64()}
				if p.Timestamp <= cutoff {
					history++
					if stored[k] == 0 {
						lostHistory++
					}
					continue
				}
				recent++
				if stored[k] > before[i][k] {
					rep.Stored++
				} else {
					lostRecent++
				}
			}
			var what []string
			if !inSet[keys[i]] {
				what = append(what, "not in "+ns+redisstore.UniqueSuffix)
			}
			if lostRecent > 0 {
				what = append(what, fmt.Sprintf("%d of %d recent datapoints (%s) missing", lostRecent, recent, via[s.Name]))
			}
			if lostHistory > 0 {
				what = append(what, fmt.Sprintf("%d of %d history datapoints missing", lostHistory, history))
			}
			if len(what) > 0 {
				rep.Missing = append(rep.Missing, s.Name+": "+strings.Join(what, ", "))
				if !failed[via[s.Name]] {
					settled = false
				}
			}
		}
		if settled || time.Now().After(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cannot verify the seed data: %w", ctx.Err())
		case <-time.After(pollEvery):
		}
	}
}
