package analyzer

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/utils/redisstore"
)

// DefaultCheckpointCycles is Config.CheckpointCycles when it is 0.
const DefaultCheckpointCycles = 4

// DefaultRefineBudget is Config.RefineBudget when it is 0.
const DefaultRefineBudget = 5 * time.Second

// checkpointBudget bounds the time a checkpoint spends beyond its minimum share of states.
const checkpointBudget = 2 * time.Second

// minRefine is the least time given to refinement after a cycle while detectors are young.
const minRefine = time.Second

// refineChunk is the number of young metrics one refine worker reads at a time.
const refineChunk = 32

// between runs the kale detector's background work after a cycle: the checkpoint of a share
// of the changed states (always), then, within the pause before the next cycle and
// RefineBudget, the refinement of young detectors. It returns what is left of wait.
func (a *Analyzer) between(ctx context.Context, wait time.Duration) time.Duration {
	t0 := time.Now()
	all, young, _ := a.states.sweep(a.cycles)
	// At least a CheckpointCycles-th of the states, and more within half the pause (at most
	// checkpointBudget): when cycles leave time, every changed state is written each cycle.
	limit := max((all+a.cfg.CheckpointCycles-1)/a.cfg.CheckpointCycles, checkpointBatch)
	n, err := a.checkpoint(ctx, limit, t0.Add(min(wait/2, checkpointBudget)))
	a.m.checkpointed.Add(float64(n))
	switch {
	case err != nil && ctx.Err() == nil:
		a.m.errors.WithLabelValues(errState).Inc()
		a.log.Warn("cannot checkpoint the kale detector states; retried after the next cycle", "err", err, "written", n)
	case n > 0:
		a.log.Debug("checkpointed kale detector states", "states", n, "seconds", fmt.Sprintf("%.2f", time.Since(t0).Seconds()))
	}
	left := wait - time.Since(t0)
	if young == 0 || a.cfg.RefineBudget < 0 || ctx.Err() != nil {
		return left
	}
	// Within the pause, and at least minRefine even when cycles run back to back: a young
	// detector reports nothing until it is refined.
	t1 := time.Now()
	refined, err := a.refine(ctx, t1.Add(min(max(left, minRefine), a.cfg.RefineBudget)))
	if err != nil && ctx.Err() == nil {
		a.m.errors.WithLabelValues(errState).Inc()
		a.log.Warn("cannot refine the young kale detectors; retried after the next cycle", "err", err)
	}
	a.m.refined.Add(float64(refined))
	if refined > 0 {
		a.log.Info("refined young kale detectors from their whole stored series", "refined", refined,
			"young_left", young-refined, "seconds", fmt.Sprintf("%.2f", time.Since(t1).Seconds()))
	}
	return wait - time.Since(t0)
}

// refine rebuilds young detectors (learnt from their last ColdRows rows only) from the whole
// stored series, up to the point each has seen, until deadline, with the cycle's number of
// workers; the rebuilt state replaces the young one, and is checkpointed like any change.
// It must not run beside a cycle. It returns how many detectors it rebuilt.
func (a *Analyzer) refine(ctx context.Context, deadline time.Time) (int, error) {
	var names []string
	for i := range a.states.shards {
		sh := &a.states.shards[i]
		sh.Lock()
		for name, ms := range sh.m {
			if ms.flags&stateYoung != 0 {
				names = append(names, name)
			}
		}
		sh.Unlock()
	}
	slices.Sort(names) // the same order every time: the ones left are the next ones taken
	// The deadline is checked between chunks, not given to the reads: a read cut short by
	// it would only waste the chunk.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan []string)
	var mu sync.Mutex
	done := 0
	var firstErr error
	var wg sync.WaitGroup
	for range a.cfg.Workers {
		wg.Go(func() {
			det := algorithms.NewKale(a.cfg.Kale)
			var buf []algorithms.Point
			for chunk := range work {
				if !time.Now().Before(deadline) {
					cancel()
					continue
				}
				n, err := a.refineChunk(rctx, chunk, &det, &buf)
				mu.Lock()
				done += n
				if err != nil && firstErr == nil && rctx.Err() == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	for i := 0; i < len(names) && rctx.Err() == nil; i += refineChunk {
		select {
		case work <- names[i:min(i+refineChunk, len(names))]:
		case <-rctx.Done():
		}
	}
	close(work)
	wg.Wait()
	return done, firstErr
}

// refineChunk rebuilds the young detectors of names; det is the worker's (replaced by a new
// one for each metric).
func (a *Analyzer) refineChunk(ctx context.Context, names []string, det **algorithms.Kale, buf *[]algorithms.Point) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, nil
	}
	if a.cfg.Yield != nil {
		if err := a.cfg.Yield.Wait(ctx); err != nil {
			return 0, nil
		}
	}
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = a.store.FullKey(n)
	}
	raws, err := a.store.RawShared(ctx, keys) // decoded, never modified or kept
	if err != nil {
		return 0, err
	}
	done := 0
	recent := float64(a.cfg.Now().UnixNano())/1e9 - a.cfg.Settings.StalePeriod.Seconds()
	for i, raw := range raws {
		if ctx.Err() != nil {
			return done, nil
		}
		ms := a.states.get(names[i])
		if raw == nil || ms == nil || ms.flags&stateYoung == 0 {
			continue
		}
		*buf, _ = redisstore.AppendPairs((*buf)[:0], raw)
		series := *buf
		if !slices.IsSortedFunc(series, byTime) {
			slices.SortStableFunc(series, byTime)
		}
		*det = algorithms.NewKale(a.cfg.Kale)
		fed := 0
		last := math.Inf(-1)
		var best algorithms.KaleScore
		for _, p := range series {
			if p.Timestamp > ms.last {
				break
			}
			if p.Timestamp <= last || math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
				continue
			}
			sc := (*det).Update(p.Timestamp, p.Value)
			last = p.Timestamp
			fed++
			// What the young detector could not see (it was still learning): an anomaly
			// among the recent rows, reported by the next cycle as a new one.
			a.onset(&best, sc, recent)
		}
		if best.Score > 0 && ms.anomaly == nil {
			ms.anomaly = kaleRecord(names[i], best)
			ms.flags |= stateFound
		}
		ms.flags &^= stateYoung
		if fed <= a.cfg.ColdRows {
			continue // no more history than the young detector learnt from: keep it
		}
		b, err := (*det).MarshalBinary()
		if err != nil {
			continue
		}
		ms.setBlob(b)
		done++
	}
	return done, nil
}

// kaleSummary forgets the metrics this cycle did not assign and logs what became of the
// detector states: how many metrics first seen by this process resumed from a saved state
// and how many were re-learnt from their stored series, and why.
func (a *Analyzer) kaleSummary(cycle uint32, loads stateLoads, tails, fulls int) {
	all, young, dirty := a.states.sweep(cycle)
	a.m.reads.WithLabelValues("tail").Add(float64(tails))
	a.m.reads.WithLabelValues("full").Add(float64(fulls))
	a.m.states.WithLabelValues("all").Set(float64(all))
	a.m.states.WithLabelValues("young").Set(float64(young))
	a.m.states.WithLabelValues("unsaved").Set(float64(dirty))
	attrs := []any{"states", all, "young", young, "unsaved", dirty, "tail_reads", tails, "full_reads", fulls}
	if loads.loaded+loads.fresh+loads.incompatible+loads.loadErrors > 0 {
		attrs = append(attrs, "loaded", loads.loaded, "relearnt", loads.fresh+loads.incompatible+loads.loadErrors,
			"no_saved_state", loads.fresh, "incompatible", loads.incompatible, "other_version", loads.otherVersion,
			"unreadable", loads.loadErrors)
		if loads.reason != "" {
			attrs = append(attrs, "reason", loads.reason)
		}
	}
	a.log.Info("kale detector states", attrs...)
}

// kaleWhy is an alert's explanation of a kale detector anomaly; a seasonal or level anomaly
// names its phase ("Mondays 03:00 usually 120 to 180, got 410").
func kaleWhy(r Record, e *Explanation) string {
	if e.Phase != "" {
		return fmt.Sprintf("the kale detector's %s component scored %.2f: %s usually %g to %g, got %g (expected %g)",
			e.Component, float64(r.Score), e.Phase, float64(e.Lower), float64(e.Upper), float64(r.Value), float64(e.Expected))
	}
	return fmt.Sprintf("the kale detector's %s component scored %.2f: value %g, expected %g (normal band %g to %g)",
		e.Component, float64(r.Score), float64(r.Value), float64(e.Expected), float64(e.Lower), float64(e.Upper))
}
