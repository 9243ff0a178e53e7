// Package roomba keeps horizon's series bounded: every pass visits each key of a namespace's
// unique set once, sorts its points by timestamp, keeps one point per timestamp, drops points
// older than the namespace window plus the grace time or stamped beyond now + MaxFuture, and
// purges metrics whose newest point fell out of the window. It replaces Skyline's roomba.py without its defects: a rewrite never
// loses points appended meanwhile (a Lua script compares what was read and keeps the appended
// tail), a decode error never deletes a metric (the corrupt bytes are dropped and counted),
// no key is skipped by a partitioning remainder, and a leftover member of the unique set whose
// key is gone is removed without ever dropping a stored key from its set.
package roomba

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/kale-project/kale/horizon/telemetry"
	"github.com/kale-project/kale/utils/metric"
	"github.com/kale-project/kale/utils/redisstore"
)

// Store is the part of redisstore.Store Roomba needs: read a namespace's keys and their
// series, rewrite a series only if unchanged, and move leftover keys out of (and back into)
// their unique sets.
type Store interface {
	Members(ctx context.Context, namespace string) ([]string, error)
	Raw(ctx context.Context, keys []string) ([][]byte, error)
	ReplaceIfUnchanged(ctx context.Context, rws []redisstore.Rewrite) ([]redisstore.Outcome, error)
	RemoveMembers(ctx context.Context, keys []string) error
	Exist(ctx context.Context, keys []string) ([]bool, error)
	AddMembers(ctx context.Context, keys []string) (failed []string, err error)
}

// Namespace is one key prefix and the window its series keep.
type Namespace struct {
	Prefix   string        // "metrics."
	Duration time.Duration // FULL_DURATION (without grace)
}

// Config tunes Roomba.
type Config struct {
	Namespaces []Namespace
	Grace      time.Duration // ROOMBA_GRACE_TIME
	Interval   time.Duration // pause between passes
	Batch      int           // keys read per MGET round trip (200 by default)
	// MaxFuture drops stored points stamped later than now + MaxFuture (--max-future; 0:
	// DefaultMaxFuture). Horizon refuses such points; this removes those stored before it
	// did, or by another writer, which would blind detection on their metric.
	MaxFuture time.Duration
	Now       func() time.Time
}

// DefaultMaxFuture is Config.MaxFuture when it is 0 (--max-future's default).
const DefaultMaxFuture = 10 * time.Minute

// Roomba trims series in the background.
type Roomba struct {
	cfg   Config
	store Store
	stats *telemetry.Stats
	log   *slog.Logger

	afterSRem func(keys []string) // test hook: runs between the SREM and the EXISTS of dropLeftovers
	saddLog   time.Time           // last log of a failed compensating SADD (rate limit)
}

// New returns a Roomba.
func New(cfg Config, store Store, stats *telemetry.Stats, log *slog.Logger) *Roomba {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 200
	}
	if cfg.MaxFuture <= 0 {
		cfg.MaxFuture = DefaultMaxFuture
	}
	return &Roomba{cfg: cfg, store: store, stats: stats, log: log}
}

// PassStats counts what one pass over a namespace did.
type PassStats struct {
	Namespace string
	Keys      int // keys in the unique set at the start
	Unchanged int
	Trimmed   int // rewritten (sorted, deduplicated or trimmed)
	Purged    int // deleted: no point left in the window
	Missing   int // in the set but not stored when read
	// PurgedMissing counts the Missing members removed from the set (a Roomba that died
	// between its DEL and its SREM, a key deleted by hand). Missing-PurgedMissing were
	// re-created by a writer meanwhile and stay.
	PurgedMissing int
	Conflicts     int // changed by someone else and retried later in the pass
	CorruptBytes  int
	FuturePoints  int // points stamped beyond now + MaxFuture, dropped
	// SAddFailed counts members taken out of their unique set that could not be put back
	// (see dropLeftovers); until their writer's next append they are not analysed.
	SAddFailed int
	Duration   time.Duration
}

// Run makes a pass over every namespace, pauses Interval, and repeats until ctx ends.
func (r *Roomba) Run(ctx context.Context) error {
	for {
		for _, ns := range r.cfg.Namespaces {
			st, err := r.Pass(ctx, ns)
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				r.log.Warn("roomba pass failed; retrying after the interval", "namespace", ns.Prefix, "err", err)
				continue
			}
			level := slog.LevelDebug
			if st.Purged > 0 || st.PurgedMissing > 0 || st.CorruptBytes > 0 || st.FuturePoints > 0 {
				level = slog.LevelInfo
			}
			r.log.Log(ctx, level, "roomba pass", "namespace", st.Namespace, "keys", st.Keys,
				"trimmed", st.Trimmed, "purged", st.Purged, "unchanged", st.Unchanged, "missing", st.Missing,
				"purged_missing", st.PurgedMissing, "conflicts", st.Conflicts, "corrupt_bytes", st.CorruptBytes, "future_points", st.FuturePoints,
				"seconds", st.Duration.Seconds())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(r.cfg.Interval):
		}
	}
}

// maxConflicts bounds how often one key is retried within a pass.
const maxConflicts = 3

// Pass visits every key of the namespace's unique set exactly once (a key changed under it
// is retried later in the same pass, up to maxConflicts times).
func (r *Roomba) Pass(ctx context.Context, ns Namespace) (PassStats, error) {
	start := time.Now()
	st := PassStats{Namespace: ns.Prefix}
	keys, err := r.store.Members(ctx, ns.Prefix)
	if err != nil {
		return st, err
	}
	st.Keys = len(keys)
	now := r.cfg.Now()
	cutoff := float64(now.Add(-(ns.Duration + r.cfg.Grace)).Unix())
	ceiling := float64(now.Add(r.cfg.MaxFuture).Unix())
	tries := map[string]int{}
	enc := redisstore.NewEncoder()
	for len(keys) > 0 {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		n := min(r.cfg.Batch, len(keys))
		batch := keys[:n]
		raws, err := r.store.Raw(ctx, batch)
		if err != nil {
			return st, err
		}
		var rws []redisstore.Rewrite
		var missing []string
		for i, raw := range raws {
			if raw == nil {
				st.Missing++
				missing = append(missing, batch[i])
				continue
			}
			out, bad, future := Vacuum(raw, cutoff, ceiling, enc)
			st.CorruptBytes += bad
			st.FuturePoints += future
			if bytes.Equal(out, raw) {
				st.Unchanged++
				continue
			}
			rws = append(rws, redisstore.Rewrite{Key: batch[i], Old: raw, New: out})
		}
		outcomes, err := r.store.ReplaceIfUnchanged(ctx, rws)
		if err != nil {
			return st, err
		}
		removed, unset, err := r.dropLeftovers(ctx, missing)
		st.PurgedMissing += removed
		st.SAddFailed += unset
		if err != nil {
			r.stats.RoombaKeys.WithLabelValues("sadd_failed").Add(float64(st.SAddFailed))
			return st, err
		}
		keys = keys[n:]
		for i, o := range outcomes {
			switch o {
			case redisstore.Replaced:
				st.Trimmed++
			case redisstore.Deleted:
				st.Purged++
			case redisstore.Changed:
				st.Conflicts++
				if k := rws[i].Key; tries[k] < maxConflicts {
					tries[k]++
					keys = append(keys, k)
				}
			}
		}
	}
	st.Duration = time.Since(start)
	r.stats.RoombaPasses.WithLabelValues(ns.Prefix).Inc()
	r.stats.RoombaKeys.WithLabelValues("unchanged").Add(float64(st.Unchanged))
	r.stats.RoombaKeys.WithLabelValues("trimmed").Add(float64(st.Trimmed))
	r.stats.RoombaKeys.WithLabelValues("purged").Add(float64(st.Purged))
	r.stats.RoombaKeys.WithLabelValues("purged_missing").Add(float64(st.PurgedMissing))
	r.stats.RoombaKeys.WithLabelValues("conflict").Add(float64(st.Conflicts))
	r.stats.RoombaKeys.WithLabelValues("sadd_failed").Add(float64(st.SAddFailed))
	r.stats.RoombaBad.Add(float64(st.CorruptBytes))
	r.stats.RoombaSecs.Set(st.Duration.Seconds())
	return st, nil
}

// dropLeftovers removes from their unique sets the keys that were read as missing, and
// returns how many it removed for good and how many it took out but could not put back
// (counted sadd_failed and logged, rate-limited). The order keeps "a stored key is always in
// its set"
// against writers, who APPEND before they SADD: 1. SREM every key; 2. EXISTS each key, after
// the SREM; 3. SADD back those a writer re-created meanwhile. If a writer's last APPEND came
// after our EXISTS, its SADD also comes after our SREM and stands; if it came before, EXISTS
// sees the key and step 3 puts it back. Only if this Roomba dies between steps 1 and 3 can a
// re-created key stay outside its set, until its writer's next APPEND+SADD. Every command is
// single-key, so this works on a Redis Cluster as on one Redis.
func (r *Roomba) dropLeftovers(ctx context.Context, keys []string) (removed, unset int, err error) {
	if len(keys) == 0 {
		return 0, 0, nil
	}
	// 1. SREM.
	if err := r.store.RemoveMembers(ctx, keys); err != nil {
		return 0, 0, fmt.Errorf("cannot remove leftover members: %w", err)
	}
	if r.afterSRem != nil {
		r.afterSRem(keys)
	}
	// 2. EXISTS, after the SREM.
	exists, err := r.store.Exist(ctx, keys)
	if err != nil {
		// Some keys may have been re-created and are now outside their set: put every one
		// back rather than guess (a leftover member is harmless, a lost member is not).
		if failed, serr := r.store.AddMembers(ctx, keys); serr != nil {
			unset += len(failed)
			r.logSAddFailed(failed, serr)
		}
		return 0, unset, fmt.Errorf("cannot check %d leftover members: %w", len(keys), err)
	}
	// 3. SADD back the re-created keys.
	var back []string
	for i, k := range keys {
		if exists[i] {
			back = append(back, k)
		} else {
			removed++
		}
	}
	if len(back) > 0 {
		if failed, err := r.store.AddMembers(ctx, back); err != nil {
			unset += len(failed)
			return removed, unset, fmt.Errorf("cannot re-add %d re-created keys to their unique sets: %w", len(failed), err)
		}
	}
	return removed, unset, nil
}

// logSAddFailed reports members that left their unique set and could not be put back, at most
// once a minute: the error that made dropLeftovers give up is returned (and logged) as well,
// but this one says which stored series the analyzer no longer lists.
func (r *Roomba) logSAddFailed(keys []string, err error) {
	if len(keys) == 0 || time.Since(r.saddLog) < time.Minute {
		return
	}
	r.saddLog = time.Now()
	r.log.Warn("cannot put leftover members back into their unique set; a series among them that a writer re-created is not analysed until its next append",
		"members", len(keys), "first", keys[0], "err", err)
}

type typedPair struct{ ts, v metric.Number }

// Vacuum returns the rewritten series: good pairs sorted by (timestamp, value) as Python sorts
// tuples, the first pair of each timestamp kept (so of duplicates the smallest value
// survives, as in Skyline), pairs with timestamp <= cutoff or > ceiling dropped, and every
// kept pair re-encoded with its original int/float type. It also returns the number of corrupt
// bytes and of pairs beyond the ceiling dropped. An empty result means nothing is left.
func Vacuum(raw []byte, cutoff, ceiling float64, enc *redisstore.Encoder) (out []byte, corrupt, future int) {
	pairs := make([]typedPair, 0, len(raw)/12)
	st := redisstore.DecodeNumbers(raw, func(ts, v metric.Number) {
		pairs = append(pairs, typedPair{ts, v})
	})
	slices.SortStableFunc(pairs, func(a, b typedPair) int {
		if c := cmp.Compare(a.ts.Float64(), b.ts.Float64()); c != 0 {
			return c
		}
		return cmp.Compare(a.v.Float64(), b.v.Float64())
	})
	out = make([]byte, 0, len(raw))
	last, have := 0.0, false
	for _, p := range pairs {
		ts := p.ts.Float64()
		if !(ts <= ceiling) { // NaN included
			future++
			continue
		}
		if ts <= cutoff || (have && ts == last) {
			continue
		}
		out = enc.AppendPair(out, p.ts, p.v)
		last, have = ts, true
	}
	return out, st.BadBytes, future
}

// String summarises a pass for logs and tests.
func (s PassStats) String() string {
	return fmt.Sprintf("%s: %d keys, %d trimmed, %d purged, %d unchanged, %d missing (%d removed from the set, %d not put back), %d conflicts, %d corrupt bytes, %d future points",
		s.Namespace, s.Keys, s.Trimmed, s.Purged, s.Unchanged, s.Missing, s.PurgedMissing, s.SAddFailed, s.Conflicts, s.CorruptBytes, s.FuturePoints)
}
