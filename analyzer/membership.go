package analyzer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strconv"
	"time"
)

// Several analyzers share one cycle: each heartbeats a lease in Redis, reads the live members
// at the start of every cycle and analyses only the metrics it owns by rendezvous hashing.

// Leases tracks the analyzers sharing cycles; *recordstore.Store implements it.
type Leases interface {
	// Join renews info.ID's lease for lease; Leave gives it up with its part of the current
	// document; Members lists the live ids, sorted.
	Join(ctx context.Context, info MemberInfo, lease time.Duration) error
	Leave(ctx context.Context, id string) error
	Members(ctx context.Context, lease time.Duration) ([]string, error)
}

// DefaultLease is how long an analyzer's membership outlives its last heartbeat.
const DefaultLease = 15 * time.Second

// NewID returns an analyzer id unique across hosts and restarts: hostname-pid-random.
func NewID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "analyzer"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
}

// ID is this analyzer's member id.
func (a *Analyzer) ID() string { return a.cfg.ID }

// Join renews this analyzer's lease. Run calls it every lease/3; Cycle calls it at the start
// of each cycle.
func (a *Analyzer) Join(ctx context.Context) error {
	info := MemberInfo{ID: a.cfg.ID, Started: a.joined, Expires: time.Now().Add(a.cfg.Lease).UTC()}
	return a.leases.Join(ctx, info, a.cfg.Lease)
}

// Leave gives up this analyzer's lease and its part of the current document, so the other
// members take over its share at their next cycle instead of after the lease expires.
func (a *Analyzer) Leave(ctx context.Context) error { return a.leases.Leave(ctx, a.cfg.ID) }

// Members returns the ids of the live analyzers, sorted.
func (a *Analyzer) Members(ctx context.Context) ([]string, error) {
	return a.leases.Members(ctx, a.cfg.Lease)
}

// heartbeat renews the lease every lease/3 until ctx ends. A failed renewal is logged; the
// next cycle's Join retries, and the share is re-balanced by whoever is live then.
func (a *Analyzer) heartbeat(ctx context.Context) {
	t := time.NewTicker(a.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := a.Join(ctx); err != nil && ctx.Err() == nil {
			a.m.errors.WithLabelValues(errLease).Inc()
			a.log.Warn("cannot renew the analyzer lease; other analyzers take over this share if it expires", "err", err)
		}
	}
}

// share returns the keys this analyzer owns among members by rendezvous (highest random
// weight) hashing: a key belongs to the member whose mix(hash(key) ^ hash(member)) is
// highest. Every process computes the same owner (FNV-1a, no per-process seed), and when a
// member joins or leaves only the keys it gains or loses move (about 1/N of them), unlike
// hash-mod-N where most keys move.
func share(keys, members []string, self string) []string {
	if len(members) <= 1 {
		return keys
	}
	mh := make([]uint64, len(members))
	me := -1
	for i, m := range members {
		mh[i] = hash64(m)
		if m == self {
			me = i
		}
	}
	if me < 0 {
		return nil
	}
	out := make([]string, 0, len(keys)/len(members)+len(keys)/20)
	for _, k := range keys {
		if owner(hash64(k), mh) == me {
			out = append(out, k)
		}
	}
	return out
}

// owner is the index of the member with the highest weight for a key hash (ties, which need
// a 64-bit collision, go to the lowest index, i.e. the smallest id).
func owner(kh uint64, mh []uint64) int {
	best, bestW := 0, uint64(0)
	for i, h := range mh {
		if w := mix64(kh ^ h); i == 0 || w > bestW {
			best, bestW = i, w
		}
	}
	return best
}

// hash64 is 64-bit FNV-1a (hash/fnv's New64a, inlined: it runs once per metric per cycle).
func hash64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// mix64 is SplitMix64's finaliser: it spreads the XOR of two FNV hashes over all 64 bits,
// so each member's weights are independent of the others'.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
