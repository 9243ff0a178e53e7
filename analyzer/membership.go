package analyzer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Several analyzers share one cycle: each heartbeats a lease in Redis, reads the live members
// at the start of every cycle and analyses only the metrics it owns by rendezvous hashing.
// Every command touches one key, so the layout works unchanged on a Redis Cluster.
const (
	// KeyMembers is a sorted set of analyzer ids scored by their lease expiry (unix ms):
	// the index of the lease keys, pruned of expired entries.
	KeyMembers = "kale.analyzer.members"
	// KeyMemberPrefix prefixes each analyzer's lease key (string, JSON MemberInfo, EX lease):
	// a member is live while its lease key exists.
	KeyMemberPrefix = "kale.analyzer.members."
	// KeyCurrentPrefix prefixes each analyzer's own part of the current document (string, JSON
	// Current of its share); kale.anomalies.current is the merge of the live members' parts.
	KeyCurrentPrefix = KeyCurrent + "."
)

// DefaultLease is how long an analyzer's membership outlives its last heartbeat.
const DefaultLease = 15 * time.Second

// partTTL bounds how long a crashed analyzer's part of the current document lingers; the
// merge reads only live members' parts, so the TTL only collects garbage.
const partTTL = 24 * time.Hour

// MemberInfo is the value of an analyzer's lease key (for operators: who is sharing cycles).
type MemberInfo struct {
	ID      string    `json:"id"`
	Started time.Time `json:"started"`
	Expires time.Time `json:"expires"`
}

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

// Join renews this analyzer's lease (SET EX on its lease key, ZADD to the member index). Run
// calls it every lease/3; Cycle calls it at the start of each cycle.
func (a *Analyzer) Join(ctx context.Context) error {
	exp := time.Now().Add(a.cfg.Lease)
	info, err := json.Marshal(MemberInfo{ID: a.cfg.ID, Started: a.joined, Expires: exp.UTC()})
	if err != nil {
		return fmt.Errorf("cannot encode the analyzer lease: %w", err)
	}
	pipe := a.rdb.Pipeline()
	pipe.Set(ctx, KeyMemberPrefix+a.cfg.ID, info, a.cfg.Lease)
	pipe.ZAdd(ctx, KeyMembers, redis.Z{Score: float64(exp.UnixMilli()), Member: a.cfg.ID})
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("cannot renew the analyzer lease %s: %w", KeyMemberPrefix+a.cfg.ID, err)
	}
	return nil
}

// Leave gives up this analyzer's lease and its part of the current document, so the other
// members take over its share at their next cycle instead of after the lease expires.
func (a *Analyzer) Leave(ctx context.Context) error {
	pipe := a.rdb.Pipeline()
	pipe.Del(ctx, KeyMemberPrefix+a.cfg.ID)
	pipe.ZRem(ctx, KeyMembers, a.cfg.ID)
	pipe.Del(ctx, KeyCurrentPrefix+a.cfg.ID)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("cannot give up the analyzer lease: %w", err)
	}
	return nil
}

// Members returns the ids of the live analyzers, sorted: those in the member index whose
// lease key still exists (the key's TTL is kept by Redis, so hosts' clocks do not matter).
// Index entries whose lease expired more than a lease ago are pruned.
func (a *Analyzer) Members(ctx context.Context) ([]string, error) {
	prune := time.Now().Add(-a.cfg.Lease).UnixMilli()
	if err := a.rdb.ZRemRangeByScore(ctx, KeyMembers, "-inf", "("+strconv.FormatInt(prune, 10)).Err(); err != nil {
		return nil, fmt.Errorf("cannot prune %s: %w", KeyMembers, err)
	}
	ids, err := a.rdb.ZRange(ctx, KeyMembers, 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", KeyMembers, err)
	}
	pipe := a.rdb.Pipeline()
	exists := make([]*redis.IntCmd, len(ids))
	for i, id := range ids {
		exists[i] = pipe.Exists(ctx, KeyMemberPrefix+id)
	}
	if len(ids) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("cannot read the analyzer leases: %w", err)
		}
	}
	live := make([]string, 0, len(ids))
	for i, id := range ids {
		if exists[i].Val() == 1 {
			live = append(live, id)
		}
	}
	slices.Sort(live)
	return live, nil
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
			a.m.errors.WithLabelValues("lease").Inc()
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
