// Package redisstore is the Skyline key layout and series codec that every Kale component
// reads and writes through: metrics.<name> holds the concatenation of msgpack [ts, value]
// pairs (APPENDed), metrics.unique_metrics the set of full keys, and mini.<name> /
// mini.unique_metrics the same for the short window when enabled. A Skyline or Oculus tool
// can read what Kale writes, and Kale can read a Skyline Redis. It replaces the redis-py calls
// scattered through Skyline's worker.py, roomba.py and analyzer.py.
package redisstore

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/kale-project/kale/utils/secret"
)

// UniqueSuffix is appended to a namespace to name its set of keys.
const UniqueSuffix = "unique_metrics"

// Options name the namespaces (with their trailing dot, as Skyline's settings do).
type Options struct {
	FullNamespace string // "metrics."
	MiniNamespace string // "mini."
}

// Store is a connection to Redis speaking the Skyline layout. It is safe for concurrent use.
type Store struct {
	rdb      redis.UniversalClient
	cluster  *redis.ClusterClient // the same client as rdb in cluster mode, else nil
	writer   *redis.ClusterClient // cluster mode: a client that never re-runs a command itself
	opts     Options
	embedded *miniredis.Miniredis
	desc     string
	replace  *redis.Script
}

// Open connects to rawURL: redis://, rediss://, unix://, redis+cluster://h1:p1,h2:p2,…
// (rediss+cluster:// with TLS; see ParseClusterURL) or "embedded", which starts an
// in-process Redis-compatible server (miniredis) on a loopback port, in memory only. Open
// does not ping; call Ping to check reachability.
func Open(rawURL string, o Options) (*Store, error) {
	if o.FullNamespace == "" {
		o.FullNamespace = "metrics."
	}
	if o.MiniNamespace == "" {
		o.MiniNamespace = "mini."
	}
	s := &Store{opts: o, replace: redis.NewScript(replaceScript)}
	if IsClusterURL(rawURL) {
		copts, err := ParseClusterURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("cannot parse Redis Cluster URL %q: %w", redactURL(rawURL), err)
		}
		s.desc = redactURL(rawURL)
		copts.PoolSize = max(copts.PoolSize, 16)
		// Kale's own keys (Client) follow MOVED/ASK redirections as go-redis does by default;
		// transient failures surface to the caller, which retries on its next cycle.
		copts.MaxRetries = -1
		copts.ContextTimeoutEnabled = true // a caller's deadline bounds socket reads too
		s.cluster = redis.NewClusterClient(copts)
		s.rdb = s.cluster
		// The writer's client never re-runs a command on its own: a go-redis cluster pipeline
		// that meets a retryable error re-sends the whole node batch, which would APPEND twice
		// what had already been stored. Append follows MOVED itself (a MOVED command surely
		// did not run) and reports everything else to the horizon writer, which retries.
		wopts := *copts
		wopts.MaxRedirects = -1 // no redirects inside go-redis
		s.writer = redis.NewClusterClient(&wopts)
		return s, nil
	}
	var ropts *redis.Options
	if rawURL == "embedded" {
		m := miniredis.NewMiniRedis()
		if err := m.StartAddr("127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("cannot start the embedded Redis: %w", err)
		}
		s.embedded = m
		s.desc = "embedded (in-memory, " + m.Addr() + ")"
		ropts = &redis.Options{Addr: m.Addr()}
	} else {
		var err error
		ropts, err = redis.ParseURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("cannot parse Redis URL %q: %w", redactURL(rawURL), err)
		}
		s.desc = redactURL(rawURL)
	}
	ropts.PoolSize = max(ropts.PoolSize, 16)
	ropts.MaxRetries = -1              // the writer retries itself and must know what failed
	ropts.ContextTimeoutEnabled = true // a caller's deadline bounds socket reads too (health probes, searches)
	s.rdb = redis.NewClient(ropts)
	return s, nil
}

// redactURL hides the password of a Redis URL for logs and errors.
func redactURL(s string) string { return secret.Userinfo(s) }

// String describes the connection without secrets.
func (s *Store) String() string { return s.desc }

// Embedded reports whether the store runs the in-process server.
func (s *Store) Embedded() bool { return s.embedded != nil }

// EmbeddedAddr is the embedded server's address ("" when not embedded), so other processes
// (Skyline tools, redis-cli) can look at it while kale runs.
func (s *Store) EmbeddedAddr() string {
	if s.embedded == nil {
		return ""
	}
	return s.embedded.Addr()
}

// Client exposes the go-redis client for Kale's own kale.* keys: a *redis.Client, or a
// *redis.ClusterClient in cluster mode, where a multi-key command or transaction must keep
// its keys in one hash slot (see README.md in this folder).
func (s *Store) Client() redis.UniversalClient { return s.rdb }

// Cluster reports whether the store talks to a Redis Cluster.
func (s *Store) Cluster() bool { return s.cluster != nil }

// Options returns the namespaces.
func (s *Store) Options() Options { return s.opts }

// Close closes the connection pool and stops the embedded server.
func (s *Store) Close() error {
	err := s.rdb.Close()
	if s.writer != nil {
		err = errors.Join(err, s.writer.Close())
	}
	if s.embedded != nil {
		s.embedded.Close()
	}
	return err
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if s.cluster != nil {
		if err := s.pingCluster(ctx); err != nil {
			return fmt.Errorf("cannot reach every master of the Redis Cluster at %s: %w", s.desc, err)
		}
		return nil
	}
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("cannot reach Redis at %s: %w", s.desc, err)
	}
	return nil
}

// FullKey is the full-namespace key of a metric: "metrics.<name>".
func (s *Store) FullKey(name string) string { return s.opts.FullNamespace + name }

// MiniKey is the mini-namespace key of a metric: "mini.<name>".
func (s *Store) MiniKey(name string) string { return s.opts.MiniNamespace + name }

// UniqueSet is the set of keys of the namespace that key belongs to.
func (s *Store) UniqueSet(key string) string {
	if strings.HasPrefix(key, s.opts.MiniNamespace) && !strings.HasPrefix(key, s.opts.FullNamespace) {
		return s.opts.MiniNamespace + UniqueSuffix
	}
	return s.opts.FullNamespace + UniqueSuffix
}

// appendChunk bounds the commands of one pipeline round trip.
const appendChunk = 4096

// AppendResult lists what Append could not do: FailedAppend and FailedSet for the caller to
// retry, Dropped for it to give up on.
type AppendResult struct {
	FailedAppend []string // keys whose APPEND failed: their data was not (or not surely) stored
	FailedSet    []string // keys appended whose unique-set membership could not be recorded
	// Dropped lists keys whose APPEND Redis refused for good (the key holds another type:
	// WRONGTYPE); a retry cannot succeed, so their data should be dropped and counted. They are
	// neither in FailedAppend nor left in their unique set.
	Dropped []DroppedKey
	Err     error // the first error: a transient one if any, else the first permanent one
}

// DroppedKey is a key whose APPEND failed permanently, with Redis's reply.
type DroppedKey struct {
	Key string
	Err error
}

// Retry reports whether something failed that a later retry can fix (a transient error).
func (r AppendResult) Retry() bool { return len(r.FailedAppend) > 0 || len(r.FailedSet) > 0 }

// Permanent reports whether err is a Redis reply that refuses a command on this key for good,
// whatever is retried: WRONGTYPE (the key holds a set, hash, ...). Connection errors, timeouts,
// OOM, LOADING, READONLY, MOVED and the like are transient.
func Permanent(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "WRONGTYPE")
}

// Append appends data[key] to every key and adds each key, plus every key of alsoSet, to its
// namespace's unique set, in pipelined chunks (one round trip per chunk, not per datapoint).
// Keys are full Redis keys ("metrics.x", "mini.x"). Set members are added after the data is
// appended: Roomba deletes a key and removes it from its set atomically, so this order never
// leaves a stored key outside its set. A key refused for good (see Permanent) is reported in
// Dropped and removed again from the set its pipeline added it to.
func (s *Store) Append(ctx context.Context, data map[string][]byte, alsoSet []string) AppendResult {
	var res AppendResult
	keys := make([]string, 0, len(data)+len(alsoSet))
	for k := range data {
		keys = append(keys, k)
	}
	for _, k := range alsoSet {
		if _, ok := data[k]; !ok {
			keys = append(keys, k)
		}
	}
	for start := 0; start < len(keys); start += appendChunk {
		chunk := keys[start:min(start+appendChunk, len(keys))]
		if s.cluster != nil {
			s.appendCluster(ctx, data, chunk, &res)
			continue
		}
		sets := map[string][]any{}
		for _, k := range chunk {
			set := s.UniqueSet(k)
			sets[set] = append(sets[set], k)
		}
		pipe := s.rdb.Pipeline()
		appendCmds := make([]*redis.IntCmd, 0, len(chunk))
		appended := make([]string, 0, len(chunk))
		for _, k := range chunk {
			if b, ok := data[k]; ok {
				appendCmds = append(appendCmds, pipe.Append(ctx, k, string(b)))
				appended = append(appended, k)
			}
		}
		saddCmds := map[string]*redis.IntCmd{}
		for set, members := range sets {
			saddCmds[set] = pipe.SAdd(ctx, set, members...)
		}
		_, _ = pipe.Exec(ctx) // per-command errors are inspected below
		failedSets := map[string]bool{}
		for set, c := range saddCmds {
			if err := c.Err(); err != nil {
				failedSets[set] = true
				res.Err = cmp(res.Err, err)
			}
		}
		dropped := map[string][]any{} // set → keys refused for good, to take out of it again
		for i, c := range appendCmds {
			k := appended[i]
			if err := c.Err(); err != nil {
				if Permanent(err) {
					res.Dropped = append(res.Dropped, DroppedKey{Key: k, Err: err})
					dropped[s.UniqueSet(k)] = append(dropped[s.UniqueSet(k)], k)
					continue
				}
				res.FailedAppend = append(res.FailedAppend, k)
				res.Err = cmp(res.Err, err)
				continue
			}
			if failedSets[s.UniqueSet(k)] {
				res.FailedSet = append(res.FailedSet, k)
			}
		}
		for _, k := range chunk {
			if _, ok := data[k]; !ok && failedSets[s.UniqueSet(k)] {
				res.FailedSet = append(res.FailedSet, k)
			}
		}
		// A refused key is not a series: the SADD above must not leave it listed. Best effort;
		// Roomba removes what is left (a key that a writer re-creates as a string meanwhile
		// goes back into its set with that writer's next flush).
		for set, keys := range dropped {
			_ = s.rdb.SRem(ctx, set, keys...).Err()
		}
	}
	for _, d := range res.Dropped {
		res.Err = cmp(res.Err, d.Err)
	}
	if res.Err != nil {
		res.Err = fmt.Errorf("cannot append to Redis at %s: %w", s.desc, res.Err)
	}
	return res
}

func cmp(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// Members returns every key of a namespace's unique set, e.g. Members(ctx, "metrics.").
func (s *Store) Members(ctx context.Context, namespace string) ([]string, error) {
	keys, err := s.rdb.SMembers(ctx, namespace+UniqueSuffix).Result()
	if err != nil {
		return nil, fmt.Errorf("cannot read %s%s: %w", namespace, UniqueSuffix, err)
	}
	return keys, nil
}

// mgetChunk bounds the keys of one MGET.
const mgetChunk = 500

// Raw returns the stored bytes of each key (nil for a missing key), reading with MGET in
// pipelined chunks (one GET per key in a pipeline on a cluster).
func (s *Store) Raw(ctx context.Context, keys []string) ([][]byte, error) {
	return s.raw(ctx, keys, false)
}

// RawShared is Raw without the copy of each value: the slices share the memory of the
// reply's strings, so the caller MUST NOT modify them. The analyzer's hot path (it reads
// every series, decodes it and keeps nothing of it) saves a copy of every byte it reads.
func (s *Store) RawShared(ctx context.Context, keys []string) ([][]byte, error) {
	return s.raw(ctx, keys, true)
}

func (s *Store) raw(ctx context.Context, keys []string, shared bool) ([][]byte, error) {
	if s.cluster != nil {
		return s.rawCluster(ctx, keys)
	}
	out := make([][]byte, len(keys))
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, 0, len(keys)/mgetChunk+1)
	for start := 0; start < len(keys); start += mgetChunk {
		cmds = append(cmds, pipe.MGet(ctx, keys[start:min(start+mgetChunk, len(keys))]...))
	}
	if len(cmds) == 0 {
		return out, nil
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("cannot read %d series: %w", len(keys), err)
	}
	for i, c := range cmds {
		for j, v := range c.Val() {
			switch str, ok := v.(string); {
			case !ok:
			case shared:
				out[i*mgetChunk+j] = unsafe.Slice(unsafe.StringData(str), len(str))[:len(str):len(str)]
				if len(str) == 0 {
					out[i*mgetChunk+j] = []byte{} // present but empty, not missing
				}
			default:
				out[i*mgetChunk+j] = []byte(str)
			}
		}
	}
	return out, nil
}

// Series reads and decodes one metric of the full namespace. A missing metric is an
// ErrNoMetric; a corrupt tail is skipped and reported in DecodeStats.
func (s *Store) Series(ctx context.Context, name string) ([]Pair, DecodeStats, error) {
	b, err := s.rdb.Get(ctx, s.FullKey(name)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, DecodeStats{}, fmt.Errorf("%w: %q", ErrNoMetric, name)
	}
	if err != nil {
		return nil, DecodeStats{}, fmt.Errorf("cannot read %q: %w", s.FullKey(name), err)
	}
	pairs, st := Series(b)
	return pairs, st, nil
}

// ErrNoMetric reports a metric that is not stored.
var ErrNoMetric = errors.New("no metric by that name")

// replaceScript swaps a key's content for a rewritten version only if the key still starts
// with exactly the bytes that were read (compared by length and SHA-1). Bytes appended since
// the read are kept after the rewrite, so a concurrent APPEND is never lost. An empty
// rewrite with nothing appended deletes the key and, when its unique set is passed as KEYS[2],
// removes it from the set in the same atomic step (on Redis Cluster the set lives in another
// slot, so only KEYS[1] is passed and the caller removes the member; see cluster.go). Returns
// 1 replaced, 2 deleted, 0 changed.
const replaceScript = `
local n = tonumber(ARGV[1])
local cur = redis.call('STRLEN', KEYS[1])
if n == 0 or cur < n then return 0 end
if redis.sha1hex(redis.call('GETRANGE', KEYS[1], 0, n - 1)) ~= ARGV[2] then return 0 end
local tail = ''
if cur > n then tail = redis.call('GETRANGE', KEYS[1], n, -1) end
if ARGV[3] == '' and tail == '' then
  redis.call('DEL', KEYS[1])
  if #KEYS > 1 then redis.call('SREM', KEYS[2], KEYS[1]) end
  return 2
end
redis.call('SET', KEYS[1], ARGV[3] .. tail)
return 1
`

// Outcome is the result of a conditional rewrite.
type Outcome int

// Rewrite outcomes.
const (
	Changed  Outcome = iota // the key changed since it was read (other than by appends): not touched
	Replaced                // content replaced, appended bytes kept
	Deleted                 // key deleted (and removed from its unique set)
)

// Rewrite is one conditional replacement: Old is what was read, New the replacement (empty
// to delete the key when nothing was appended meanwhile).
type Rewrite struct {
	Key      string
	Old, New []byte
}

// ReplaceIfUnchanged applies rewrites in one pipeline, each atomically (a Lua script): a key
// is rewritten only if it still starts with Old; bytes appended after Old are preserved;
// a deleted key leaves its unique set in the same step.
func (s *Store) ReplaceIfUnchanged(ctx context.Context, rws []Rewrite) ([]Outcome, error) {
	out := make([]Outcome, len(rws))
	if len(rws) == 0 {
		return out, nil
	}
	if s.cluster != nil {
		if err := s.replaceCluster(ctx, rws, out); err != nil {
			return nil, err
		}
		return out, nil
	}
	if err := s.replace.Load(ctx, s.rdb).Err(); err != nil {
		return nil, fmt.Errorf("cannot load the rewrite script: %w", err)
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(rws))
	for i, rw := range rws {
		cmds[i] = s.replace.EvalSha(ctx, pipe, []string{rw.Key, s.UniqueSet(rw.Key)}, len(rw.Old), sha1Hex(rw.Old), string(rw.New))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("cannot rewrite %d series: %w", len(rws), err)
	}
	for i, c := range cmds {
		n, _ := c.Int()
		out[i] = Outcome(n)
	}
	return out, nil
}

func sha1Hex(b []byte) string {
	sum := sha1.Sum(b)
	return hex.EncodeToString(sum[:])
}
