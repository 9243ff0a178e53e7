package analyzer

import (
	"bytes"
	"context"
	"math"
	"slices"
	"strings"

	"github.com/kale-project/kale/algorithms"
	"github.com/kale-project/kale/utils/redisstore"
)

// The kale detector's cycle reads each series incrementally. A metric whose detector has
// seen its series keeps the bytes of the last stored pair it read (metricState.sig); the
// next cycle reads only the key's last tailWindow bytes (STRLEN + GETRANGE, pipelined) and
// feeds the pairs after those bytes. Horizon APPENDs whole pairs, so what follows the last
// pair read is exactly what was appended since; Roomba's trims drop points from the front
// and keep the tail, so they do not get in the way. When the pair is not in the window
// (more than tailWindow bytes appended, or the key was rewritten or re-created), the whole
// series is read instead, and the detector is fed the points newer than it has seen, as
// before.
const tailWindow = 512

// DefaultColdRows is Config.ColdRows when it is 0.
const DefaultColdRows = 360

// DefaultColdBudget is Config.ColdBudget when it is 0: about 2 CPU-seconds of learning per
// cycle (some 7,000 metrics of a day at 60 s learn their whole history in the first cycle).
const DefaultColdBudget = 10_000_000

// yieldEvery is how many metrics a worker analyses between two Yield waits.
const yieldEvery = 8

// kaleWorker is one worker's detector, into which each metric's state is unmarshalled.
type kaleWorker struct {
	a     *Analyzer
	det   *algorithms.Kale
	fresh bool // det holds no metric's state (a new detector)
	buf   []algorithms.Point
}

// fetched is one chunk read from Redis: raws[i] is the series of keys[i] (nil: no such key),
// whole or, when tail[i], only the bytes after the last pair read.
type fetched struct {
	names []string
	mss   []*metricState
	raws  [][]byte
	tail  []bool
}

// kaleWorker analyses the chunks of work. A reader goroutine fetches the next chunk from
// Redis while the current one is analysed, so the worker's core is not idle during reads.
func (a *Analyzer) kaleWorker(ctx context.Context, work <-chan []string, now float64, ns string, cycle uint32, out *workerOut) error {
	w := &kaleWorker{a: a}
	fctx, cancel := context.WithCancel(ctx)
	ready := make(chan *fetched, 1)
	fout := &workerOut{exceptions: map[string]int{}} // the reader's counts, merged at the end
	var yieldErr error                               // the reader's Yield error, read once ready is closed
	go func() {
		defer close(ready)
		for keys := range work {
			if a.cfg.Yield != nil {
				if err := a.cfg.Yield.Wait(fctx); err != nil {
					yieldErr = err
					return
				}
			}
			f := a.fetch(fctx, keys, ns, cycle, fout)
			if f == nil {
				if fctx.Err() != nil {
					return
				}
				continue
			}
			select {
			case ready <- f:
			case <-fctx.Done():
				return
			}
		}
	}()
	defer func() {
		cancel()
		for range ready { // the reader has stopped touching states and fout once ready is closed
		}
		out.merge(fout)
	}()
	for f := range ready {
		if err := w.chunk(ctx, f, now, out); err != nil {
			return err
		}
	}
	if yieldErr != nil { // ready is closed: the reader has returned
		return yieldErr
	}
	return ctx.Err()
}

// merge adds the counts of the reader's o to out.
func (out *workerOut) merge(o *workerOut) {
	out.errors += o.errors
	out.tailReads += o.tailReads
	out.fullReads += o.fullReads
	out.loads.add(o.loads)
	for k, v := range o.exceptions {
		out.exceptions[k] += v
	}
}

// fetch reads one chunk of keys: the tails of the metrics with a known last pair, the whole
// series of the others and of those whose tail did not do. A failed read costs its keys,
// counted, not the cycle (nil).
func (a *Analyzer) fetch(ctx context.Context, keys []string, ns string, cycle uint32, out *workerOut) *fetched {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = strings.TrimPrefix(k, ns)
	}
	mss := a.loadStates(ctx, names, cycle, out)
	raws := make([][]byte, len(keys))
	tail := make([]bool, len(keys)) // raws[i] holds only the bytes after the last pair read
	var tailKeys, fullKeys []string
	var tailAt, fullAt []int
	for i, ms := range mss {
		if ms.blob != nil && ms.sigLen > 0 {
			tailKeys, tailAt = append(tailKeys, keys[i]), append(tailAt, i)
		} else {
			fullKeys, fullAt = append(fullKeys, keys[i]), append(fullAt, i)
		}
	}
	if len(tailKeys) > 0 {
		tails, err := a.store.Tails(ctx, tailKeys, tailWindow)
		if err != nil {
			a.readFailed(ctx, len(keys), out)
			return nil
		}
		for j, t := range tails {
			i := tailAt[j]
			ms := mss[i]
			switch idx := bytes.LastIndex(t.Bytes, ms.sig[:ms.sigLen]); {
			case t.Len == 0: // gone: raws[i] stays nil
			case idx >= 0:
				raws[i], tail[i] = t.Bytes[idx+int(ms.sigLen):], true
				out.tailReads++
			case t.Len <= len(t.Bytes): // the window holds the whole (rewritten) series
				raws[i] = t.Bytes
				out.fullReads++
			default:
				fullKeys, fullAt = append(fullKeys, keys[i]), append(fullAt, i)
			}
		}
	}
	if len(fullKeys) > 0 {
		full, err := a.store.RawShared(ctx, fullKeys) // decoded, never modified or kept
		if err != nil {
			a.readFailed(ctx, len(keys), out)
			return nil
		}
		for j, b := range full {
			raws[fullAt[j]] = b
		}
		out.fullReads += len(fullKeys)
	}
	return &fetched{names: names, mss: mss, raws: raws, tail: tail}
}

// chunk analyses one fetched chunk.
func (w *kaleWorker) chunk(ctx context.Context, f *fetched, now float64, out *workerOut) error {
	a := w.a
	names, mss, tail := f.names, f.mss, f.tail
	for i, raw := range f.raws {
		if i%yieldEvery == 0 && a.cfg.Yield != nil {
			if err := a.cfg.Yield.Wait(ctx); err != nil {
				return err
			}
		}
		ms := mss[i]
		if raw == nil {
			out.exceptions[DeletedByRoomba]++
			ms.sigLen = 0
			continue
		}
		var st redisstore.DecodeStats
		var ls, le int
		w.buf, st, ls, le = redisstore.AppendPairsEnd(w.buf[:0], raw)
		out.corrupt += st.BadBytes
		if ls >= 0 {
			ms.setSig(raw[ls:le])
		} else if !tail[i] {
			ms.sigLen = 0
		}
		series := a.dropFuture(w.buf, now, out)
		if tail[i] {
			ms.points = min(ms.points, math.MaxUint32-uint32(len(series))) + uint32(len(series))
		} else {
			ms.points = uint32(min(len(series), math.MaxUint32))
			ms.newest = math.Inf(-1)
		}
		a.guarded(names[i], series, out, func(series []algorithms.Point) {
			w.analyse(names[i], ms, series, !tail[i], now, out)
		})
	}
	return nil
}

// readFailed counts a chunk whose read failed: its keys, not the cycle.
func (a *Analyzer) readFailed(ctx context.Context, n int, out *workerOut) {
	if ctx.Err() != nil {
		return
	}
	out.errors++
	out.exceptions[Other] += n
	a.m.errors.WithLabelValues(errRead).Inc()
}

// analyse feeds the points of series (time-ordered; the whole stored series when full, else
// the points appended since the last read) newer than the metric's detector has seen, and
// records an anomaly at the first of them, no older than the stale period, that scores at
// least the threshold. Older points (a backlog on first sight) only train the detector: the
// analyzer reports what is anomalous now, as Skyline did. A detector learning from scratch
// is fed only the last ColdRows rows once the cycle's ColdBudget is spent (refine catches up
// on the rest later, and reports what it finds in the recent rows).
func (w *kaleWorker) analyse(name string, ms *metricState, series []algorithms.Point, full bool, now float64, out *workerOut) {
	a := w.a
	if len(series) > 0 {
		ms.newest = max(ms.newest, series[len(series)-1].Timestamp)
	}
	if ms.points == 0 || int(ms.points) < a.cfg.Settings.MinTolerableLength {
		out.exceptions[TooShort]++
		return
	}
	if now-ms.newest > a.cfg.Settings.StalePeriod.Seconds() {
		out.exceptions[Stale]++
		return
	}
	if ms.blob != nil && !(ms.last <= now+a.cfg.MaxFuture.Seconds()) {
		// The state has fed a point stamped far ahead (saved before such points were
		// ignored): every real point is older than it and would be skipped. Start afresh.
		ms.blob, ms.last, ms.flags = nil, math.Inf(-1), ms.flags&^stateLoaded
	}
	out.analysed++
	var best algorithms.KaleScore
	recent := now - a.cfg.Settings.StalePeriod.Seconds()
	if first := w.firstNew(ms, series); first >= 0 {
		if !w.restore(ms, out) {
			if !full {
				// A state that no longer decodes, met on a tail read: learn from the whole
				// series in the next cycle.
				ms.sigLen = 0
				return
			}
			first = 0 // a new detector learns from the start (restore forgot the old one's)
		}
		if n := len(series) - first; ms.blob == nil && a.cfg.ColdRows > 0 && n > a.cfg.ColdRows &&
			a.coldLeft.Add(-int64(n)) < 0 {
			first = len(series) - a.cfg.ColdRows
			ms.flags |= stateYoung
		}
		for _, p := range series[first:] {
			if p.Timestamp <= ms.last || math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
				ms.last = max(ms.last, p.Timestamp)
				continue
			}
			sc := w.det.Update(p.Timestamp, p.Value)
			ms.last = p.Timestamp
			// sc names the anomalous point: a peak is confirmed by the point after it.
			a.onset(&best, sc, recent)
		}
		w.save(ms, out)
	}
	fresh := best.Score > 0
	if fresh {
		ms.anomaly = kaleRecord(name, best)
	} else if ms.flags&stateFound != 0 {
		fresh = ms.anomaly != nil // found by refine since the last cycle: new in this one
	}
	ms.flags &^= stateFound
	// A metric stays anomalous while its anomalous point is recent, new points or not (the
	// streaming detector scores each point once; Skyline re-judged the whole window).
	// It counts as a trigger in every cycle that reports it, as a Skyline anomaly counts in
	// every cycle its detectors vote for it; fresh tells a new one from one carried over.
	if ms.anomaly != nil && float64(ms.anomaly.Timestamp) >= recent {
		out.records = append(out.records, *ms.anomaly)
		out.triggers[0]++
		if fresh {
			out.fresh++
		}
	} else {
		ms.anomaly = nil
	}
}

// firstNew returns the index of the first point of series newer than the detector has seen
// (-1: none), so a cycle without new points neither unmarshals nor marshals the state.
func (w *kaleWorker) firstNew(ms *metricState, series []algorithms.Point) int {
	i, _ := slices.BinarySearchFunc(series, ms.last, func(p algorithms.Point, t float64) int {
		switch {
		case p.Timestamp <= t:
			return -1
		}
		return 1
	})
	if i == len(series) {
		return -1
	}
	return i
}

// restore loads the metric's detector into the worker's: its state, or a new detector when
// it has none or its state does not decode (a counted error, then re-learnt).
func (w *kaleWorker) restore(ms *metricState, out *workerOut) bool {
	a := w.a
	loaded := ms.flags&stateLoaded != 0
	ms.flags &^= stateLoaded
	if ms.blob != nil {
		if w.det == nil {
			w.det = algorithms.NewKale(a.cfg.Kale)
		}
		err := w.det.UnmarshalBinary(ms.blob)
		if err == nil {
			w.fresh = false
			return true
		}
		out.errors++
		a.m.errors.WithLabelValues(errState).Inc()
		if loaded {
			out.loads.loaded--
			out.loads.incompatibleState(err)
		}
		ms.blob, ms.last, ms.flags = nil, math.Inf(-1), ms.flags&^stateYoung
	}
	if w.det == nil || !w.fresh {
		w.det = algorithms.NewKale(a.cfg.Kale)
		w.fresh = true
	}
	return false
}

// save marshals the worker's detector back into the metric's state.
func (w *kaleWorker) save(ms *metricState, out *workerOut) {
	w.fresh = false
	b, err := w.det.MarshalBinary()
	if err != nil { // cannot happen for a valid detector; re-learnt next cycle
		out.errors++
		w.a.m.errors.WithLabelValues(errState).Inc()
		ms.blob, ms.last, ms.sigLen = nil, math.Inf(-1), 0
		return
	}
	ms.setBlob(b)
}

// onset keeps in best the first score, of a row no older than recent, that reaches the
// threshold: the anomaly's onset (later ones are its aftermath).
func (a *Analyzer) onset(best *algorithms.KaleScore, sc algorithms.KaleScore, recent float64) {
	if best.Score == 0 && sc.Timestamp >= recent && sc.Score >= a.cfg.KaleThreshold {
		*best = sc
	}
}

func kaleRecord(name string, best algorithms.KaleScore) *Record {
	return &Record{
		Metric: name, Value: Float(best.Value), Timestamp: int64(best.Timestamp),
		Triggered: []string{"kale:" + best.Component}, Score: Float(best.Score),
		Explanation: &Explanation{Component: best.Component, Expected: Float(best.Expected),
			Lower: Float(best.Lower), Upper: Float(best.Upper), Phase: best.Phase},
	}
}
