package writer

import (
	"hash/maphash"
	"time"
)

// DefaultForgetAfter is how long a silent name stays known when Config.ForgetAfter is 0:
// Skyline's FULL_DURATION (24 h) plus ROOMBA_GRACE_TIME (1 h), after which Roomba has purged
// a metric that received nothing.
const DefaultForgetAfter = 25 * time.Hour

// knownNames is the set of metric names the writer has accepted, for --max-metrics and
// --max-new-metrics-per-minute. It keeps 64-bit hashes (maphash, seeded at random per
// process, so no sender can craft collisions), not names, in an open-addressing table
// (hashSet): 8 bytes a slot, 11-21 bytes a name, where a map[uint64]struct{} takes about 30
// (its slots are padded to 16 bytes) and a map of names the name plus about 40. Two different names colliding (odds about n²/2⁶⁵:
// 3·10⁻⁸ at a million names) only means the second is taken for known and admitted, never
// that a known metric is refused.
//
// Names age out: the set is two generations, rotated every forgetAfter; a name seen in the
// previous generation moves to the current one, so a name silent for between forgetAfter and
// twice that is forgotten. Roomba has purged such a metric from Redis by then (when
// forgetAfter is at least FULL_DURATION + ROOMBA_GRACE_TIME), so the set follows what Redis
// holds without reading it, and its size stays bounded by --max-metrics when one is set.
// Names already in Redis from before a restart are seeded from the unique set at start (see
// Writer.seed); until then they count when they first arrive.
//
// Only Run's goroutine uses it.
type knownNames struct {
	seed        maphash.Seed
	cur, prev   hashSet
	moved       int // names of prev also in cur (touched this generation)
	rotated     time.Time
	forgetAfter time.Duration

	max     int     // distinct names (0: no ceiling)
	perMin  int     // new names per minute (0: no limit)
	tokens  float64 // token bucket of new names: refills perMin per minute, holds at most perMin
	refill  time.Time
	enabled bool
}

func newKnownNames(maxNames, perMin int, forgetAfter time.Duration, now time.Time) *knownNames {
	if forgetAfter <= 0 {
		forgetAfter = DefaultForgetAfter
	}
	return &knownNames{
		seed: maphash.MakeSeed(), rotated: now, forgetAfter: forgetAfter,
		max: maxNames, perMin: perMin, tokens: float64(perMin), refill: now,
		enabled: maxNames > 0 || perMin > 0,
	}
}

func (k *knownNames) hash(name string) uint64 { return maphash.String(k.seed, name) }

// len is the number of distinct names known.
func (k *knownNames) len() int { return k.cur.n + k.prev.n - k.moved }

// admit reports whether points of name may be accepted, and records a newly admitted name.
// A known name is always admitted; a new one only under --max-metrics and while the
// per-minute bucket has a token.
func (k *knownNames) admit(name string, now time.Time) bool {
	if !k.enabled {
		return true
	}
	k.rotate(now)
	h := k.hash(name)
	if k.touch(h) {
		return true
	}
	if k.max > 0 && k.len() >= k.max {
		return false
	}
	if k.perMin > 0 {
		if dt := now.Sub(k.refill); dt > 0 {
			k.tokens = min(float64(k.perMin), k.tokens+dt.Minutes()*float64(k.perMin))
			k.refill = now
		}
		if k.tokens < 1 {
			return false
		}
		k.tokens--
	}
	k.cur.add(h)
	return true
}

// touch reports whether h is known, copying it into the current generation.
func (k *knownNames) touch(h uint64) bool {
	if k.cur.has(h) {
		return true
	}
	if k.prev.has(h) {
		k.cur.add(h)
		k.moved++
		return true
	}
	return false
}

// add records names that are in Redis already (the start-up seed): known, without using a
// token of the per-minute bucket.
func (k *knownNames) add(hashes []uint64) {
	if !k.enabled {
		return
	}
	for _, h := range hashes {
		if !k.touch(h) {
			k.cur.add(h)
		}
	}
}

// rotate starts a new generation every forgetAfter, forgetting the names of the oldest.
func (k *knownNames) rotate(now time.Time) {
	if now.Sub(k.rotated) < k.forgetAfter {
		return
	}
	k.prev = k.cur
	if now.Sub(k.rotated) >= 2*k.forgetAfter {
		k.prev = hashSet{} // no admit for two generations: nothing is still known
	}
	k.rotated, k.cur, k.moved = now, hashSet{}, 0
}

// hashSet is a set of 64-bit hashes with linear probing, 0 marking an empty slot (the hash 0
// is stored as 1), grown by doubling at 3/4 load. Nothing is ever removed: a generation is
// dropped whole.
type hashSet struct {
	slots []uint64
	n     int
}

func (s *hashSet) has(h uint64) bool {
	if s.n == 0 {
		return false
	}
	h = max(h, 1)
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case h:
			return true
		case 0:
			return false
		}
	}
}

func (s *hashSet) add(h uint64) {
	if 4*(s.n+1) > 3*len(s.slots) {
		old := s.slots
		s.slots, s.n = make([]uint64, max(2*len(old), 1024)), 0
		for _, o := range old {
			if o != 0 {
				s.insert(o)
			}
		}
	}
	s.insert(max(h, 1))
}

func (s *hashSet) insert(h uint64) {
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case h:
			return
		case 0:
			s.slots[i] = h
			s.n++
			return
		}
	}
}
