package analyzer

import (
	"context"
	"strings"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/utils/redisstore"
)

// The skyline detector's cycle: each worker reads its chunks whole (MGET) and runs Etsy's
// ensemble over each stored window; the kale detector's is in kaleworker.go.

// worker analyses the chunks of work with the skyline detector.
func (a *Analyzer) worker(ctx context.Context, work <-chan []string, now float64, ns string, out *workerOut) error {
	var buf []algorithms.Point
	for keys := range work {
		raws, err := a.store.RawShared(ctx, keys) // decoded, never modified or kept
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// One failed read costs its keys, counted, not the cycle.
			out.errors++
			out.exceptions[Other] += len(keys)
			a.m.errors.WithLabelValues(errRead).Inc()
			continue
		}
		for i, raw := range raws {
			if i%yieldEvery == 0 && a.cfg.Yield != nil {
				if err := a.cfg.Yield.Wait(ctx); err != nil {
					return err
				}
			}
			if raw == nil {
				out.exceptions[DeletedByRoomba]++
				continue
			}
			var st redisstore.DecodeStats
			buf, st = redisstore.AppendPairs(buf[:0], raw)
			out.corrupt += st.BadBytes
			buf = a.dropFuture(buf, now, out)
			name := strings.TrimPrefix(keys[i], ns)
			a.guarded(name, buf, out, func(series []algorithms.Point) {
				a.analyse(ctx, name, keys[i], series, now, out)
			})
		}
	}
	return nil
}

// analyse runs the Skyline ensemble on one time-ordered series.
func (a *Analyzer) analyse(ctx context.Context, name, key string, series []algorithms.Point, now float64, out *workerOut) {
	res, err := a.ens.Run(series, now)
	if err != nil {
		out.exceptions[exceptionName(err)]++
		return
	}
	out.analysed++
	var triggered []string
	for i, v := range res.Votes {
		if v.Verdict == algorithms.Yes {
			out.triggers[i]++
			triggered = append(triggered, v.Name)
		}
	}
	if !res.Anomalous {
		return
	}
	last := series[len(series)-1]
	if a.cfg.SecondOrder {
		ok, err := a.secondOrder(ctx, key, now, res.Value)
		if err != nil {
			out.errors++
			a.m.errors.WithLabelValues(errSecondOrder).Inc()
		}
		if !ok {
			return
		}
	}
	if triggered == nil {
		triggered = []string{}
	}
	out.fresh++ // the ensemble re-judges the whole window every cycle: every anomaly is new
	out.records = append(out.records, Record{Metric: name, Value: Float(res.Value), Timestamp: int64(last.Timestamp),
		Triggered: triggered, Score: Float(float64(len(triggered)) / float64(len(res.Votes)))})
}
