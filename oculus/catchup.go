package oculus

import (
	"context"
	"time"
)

// Catching up with new metrics between full syncs.
//
// A full sync (every --oculus-interval, 2 min by default) probes every metric; new metrics
// written in between (kale import, kale seed, a new sender) would wait for it. Instead Run
// polls the size of the unique set (SCARD: O(1) in Redis, one round trip, whatever the number
// of metrics) every pollInterval. When it changed, a quick pass lists the set (SMEMBERS),
// probes and reads only the metrics the index does not know yet, indexes them, drops the
// metrics that left the set, and publishes them to searches. Debounced: the quick pass runs
// once the size has stopped changing for one poll, or maxPending after the first change
// under a steady stream of new names, so a burst costs one pass and a stream one per
// maxPending.
//
// A metric discovered this way may still be being written (an import in progress): it stays
// on a watch list, probed (STRLEN + GETRANGE of its tail) by every poll and read again once
// its bytes stop changing for one poll (or maxPending after its last read), until its indexed
// copy has been current for watchQuiet or one --oculus-interval has passed; the full sync
// takes over from there.
const (
	pollInterval = 2 * time.Second  // SCARD poll (at most --oculus-interval)
	maxPending   = 10 * time.Second // longest wait of a change under a steady stream
	watchQuiet   = 10 * time.Second // a discovered metric unchanged this long is left alone
)

// watched is a metric discovered by a quick pass.
type watched struct {
	marker string    // change marker at the last probe
	since  time.Time // discovered
	read   time.Time // last read and indexed
	quiet  time.Time // first of the consecutive probes whose marker equalled the searchable one
}

// pollState is Run's debounce state between polls.
type pollState struct {
	last    int64     // set size at the previous poll
	pending time.Time // first poll that saw the change not yet caught up (zero: none)
	primed  bool      // last is set
}

// poll checks the unique set's size and runs a quick pass when it changed (debounced) or
// when discovered metrics are still watched.
func (s *Service) poll(ctx context.Context, ps *pollState, now time.Time) {
	if !s.synced.Load() {
		return // the full sync at the next tick reads everything anyway
	}
	n, err := s.series.MemberCount(ctx, s.ns)
	if err != nil {
		s.log.Debug("cannot poll the unique set for new metrics", "err", err)
		return
	}
	s.seen.Store(n)
	prev := ps.last
	if !ps.primed {
		prev, ps.primed = s.listed.Load(), true
	}
	ps.last = n
	changed := n != s.listed.Load()
	switch {
	case !changed:
		ps.pending = time.Time{}
	case ps.pending.IsZero():
		ps.pending = now
	}
	due := s.watching.Load() > 0 ||
		(changed && (n == prev || now.Sub(ps.pending) >= maxPending))
	if !due {
		return
	}
	st, err := s.catchUp(ctx)
	switch {
	case ctx.Err() != nil:
	case err != nil:
		s.log.Warn("oculus catch-up pass failed; retrying at the next poll", "err", err)
	default:
		ps.pending = time.Time{}
		if st.Indexed > 0 || st.Deleted > 0 {
			s.log.Info("oculus caught up with new metrics", st.logAttrs()...)
		}
	}
}

// catchUp runs a quick pass: new metrics read and indexed, watched ones read again when their
// bytes changed, vanished ones deleted; other metrics are neither probed nor read.
func (s *Service) catchUp(ctx context.Context) (SyncStats, error) {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	return s.syncLocked(ctx, passQuick)
}

// probeNew returns the change markers of the listed metrics the snapshot does not hold and of
// the watched ones ("" when missing), unprobed for the others.
func (s *Service) probeNew(ctx context.Context, names []string, old *snapshot) ([]string, error) {
	out := make([]string, len(names))
	var sel []string
	var at []int
	for i, n := range names {
		if old.get(n) != nil && s.watch[n] == nil {
			out[i] = unprobed
			continue
		}
		sel = append(sel, n)
		at = append(at, i)
	}
	probed, err := s.probe(ctx, sel)
	if err != nil {
		return nil, err
	}
	for j, m := range probed {
		out[at[j]] = m
	}
	return out, nil
}

// fetchNow decides, in a quick pass, whether metric n (marker m from probeNew) is read now,
// and keeps its watch entry.
func (s *Service) fetchNow(n, m string, old *snapshot, now time.Time) bool {
	if m == unprobed {
		return false
	}
	if m == "" {
		delete(s.watch, n)
		return true // vanished: the pass deletes it
	}
	cur, known := "", false
	if e := old.get(n); e != nil {
		cur, known = e.marker, true
	} else if sm, ok := s.short[n]; ok {
		cur, known = sm, true
	}
	w := s.watch[n]
	if w == nil {
		if known && cur == m {
			return false // a short series seen before, unchanged
		}
		s.watch[n] = &watched{marker: m, since: now, read: now}
		return true
	}
	defer func() { w.marker = m }()
	if known && m == cur {
		if w.quiet.IsZero() {
			w.quiet = now
		}
		if now.Sub(w.quiet) >= watchQuiet {
			delete(s.watch, n)
		}
		return false
	}
	w.quiet = time.Time{}
	if !known || m == w.marker || now.Sub(w.read) >= maxPending {
		w.read = now
		return true
	}
	return false // still being written: read again once it pauses
}

// expireWatch ends the watch of metrics discovered more than one --oculus-interval ago (the
// full sync covers them) and of those no longer listed.
func (s *Service) expireWatch(now time.Time, present map[string]bool) {
	for n, w := range s.watch {
		if _, short := s.short[n]; now.Sub(w.since) > s.cfg.Interval || (!present[n] && !short) {
			delete(s.watch, n)
		}
	}
}
