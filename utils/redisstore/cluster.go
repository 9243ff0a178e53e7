package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster URL schemes: the node list is a comma-separated seed list, any reachable node is
// enough (go-redis discovers the others with CLUSTER SLOTS).
const (
	ClusterScheme    = "redis+cluster"
	ClusterTLSScheme = "rediss+cluster"
)

// IsClusterURL reports whether s names a Redis Cluster (redis+cluster:// or rediss+cluster://).
func IsClusterURL(s string) bool {
	return strings.HasPrefix(s, ClusterScheme+"://") || strings.HasPrefix(s, ClusterTLSScheme+"://")
}

// ParseClusterURL parses redis+cluster://[user:password@]h1:p1,h2:p2,…[/0][?option=…] (or
// rediss+cluster:// for TLS) into go-redis cluster options. The password may also come as
// ?password=; the other query options are go-redis's (dial_timeout, read_timeout,
// pool_size, max_redirects, …). A port defaults to 6379. A cluster has only database 0.
func ParseClusterURL(raw string) (*redis.ClusterOptions, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok || (scheme != ClusterScheme && scheme != ClusterTLSScheme) {
		return nil, fmt.Errorf("scheme must be %s:// or %s://", ClusterScheme, ClusterTLSScheme)
	}
	rest, query, _ := strings.Cut(rest, "?")
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		if db := rest[i+1:]; db != "" && db != "0" {
			return nil, fmt.Errorf("a Redis Cluster has only database 0, not %q", db)
		}
		rest = rest[:i]
	}
	userinfo := ""
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		userinfo, rest = rest[:i+1], rest[i+1:]
	}
	var addrs []string
	for _, h := range strings.Split(rest, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		host, port, err := net.SplitHostPort(h)
		if err != nil {
			host, port = h, "6379"
			if strings.Contains(h, ":") && !strings.HasPrefix(h, "[") {
				return nil, fmt.Errorf("node %q is not host:port", h)
			}
			host = strings.Trim(host, "[]")
		}
		if host == "" {
			return nil, fmt.Errorf("node %q has no host", h)
		}
		addrs = append(addrs, net.JoinHostPort(host, port))
	}
	if len(addrs) == 0 {
		return nil, errors.New("no cluster node given (redis+cluster://host1:port1,host2:port2)")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("bad query: %w", err)
	}
	for _, a := range addrs[1:] {
		q.Add("addr", a)
	}
	// go-redis's cluster URL takes credentials only as user info; accept ?password= and
	// ?username= as its single-node URLs do.
	password, username := q.Get("password"), q.Get("username")
	q.Del("password")
	q.Del("username")
	base := "redis"
	if scheme == ClusterTLSScheme {
		base = "rediss"
	}
	u := base + "://" + userinfo + addrs[0]
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	o, err := redis.ParseClusterURL(u)
	if err != nil {
		return nil, err
	}
	if password != "" {
		o.Password = password
	}
	if username != "" {
		o.Username = username
	}
	if o.TLSConfig != nil {
		// Nodes differ in host name: verify each against its own name, not the first seed's.
		o.TLSConfig.ServerName = ""
	}
	return o, nil
}

// Slot is the Redis Cluster hash slot of key (CRC16/XMODEM of the key or of its {hash tag},
// modulo 16384), as the server computes it.
func Slot(key string) int {
	if s := strings.IndexByte(key, '{'); s >= 0 {
		if e := strings.IndexByte(key[s+1:], '}'); e > 0 {
			key = key[s+1 : s+1+e]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) & 16383
}

// isMoved reports a MOVED redirection: the command did not run on that node.
func isMoved(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "MOVED ")
}

// appendCluster runs one chunk of Append against a cluster in two ordered phases: every
// APPEND first, then the SADDs of the keys whose APPEND succeeded (plus alsoSet). A cluster
// pipeline runs each node's commands concurrently, so one pipeline would not keep "data
// before membership", which the Roomba argument in README.md needs. Commands answered with
// MOVED (a failover or resharding moved the slot; they did not run) are re-sent to the new
// owner a few times; every other failure goes back to the caller, which retries: the
// writer client never re-sends a command by itself, so an APPEND is never doubled by a retry
// of a batch that had partly succeeded.
func (s *Store) appendCluster(ctx context.Context, data map[string][]byte, chunk []string, res *AppendResult) {
	var toAppend []string
	for _, k := range chunk {
		if _, ok := data[k]; ok {
			toAppend = append(toAppend, k)
		}
	}
	failedAppend := map[string]error{}
	dropped := map[string]bool{}
	for attempt := 0; len(toAppend) > 0; attempt++ {
		pipe := s.writer.Pipeline()
		cmds := make([]*redis.IntCmd, len(toAppend))
		for i, k := range toAppend {
			cmds[i] = pipe.Append(ctx, k, string(data[k]))
		}
		_, _ = pipe.Exec(ctx)
		var moved []string
		for i, c := range cmds {
			err := c.Err()
			switch {
			case err == nil:
				delete(failedAppend, toAppend[i])
			case Permanent(err):
				delete(failedAppend, toAppend[i])
				res.Dropped = append(res.Dropped, DroppedKey{Key: toAppend[i], Err: err})
				dropped[toAppend[i]] = true
			case isMoved(err) && attempt < 5:
				moved = append(moved, toAppend[i])
				failedAppend[toAppend[i]] = err
			default:
				failedAppend[toAppend[i]] = err
			}
		}
		toAppend = moved
		if len(moved) > 0 {
			// The MOVED reply made go-redis schedule a slot-map reload; give it a moment.
			s.writer.ReloadState(ctx)
			select {
			case <-ctx.Done():
				toAppend = nil
			case <-time.After(time.Duration(attempt+1) * 20 * time.Millisecond):
			}
		}
	}
	for _, k := range chunk {
		if err, ok := failedAppend[k]; ok {
			res.FailedAppend = append(res.FailedAppend, k)
			res.Err = cmp(res.Err, err)
		}
	}
	sets := map[string][]any{}
	for _, k := range chunk {
		if _, failed := failedAppend[k]; !failed && !dropped[k] {
			set := s.UniqueSet(k)
			sets[set] = append(sets[set], k)
		}
	}
	for set, members := range sets {
		var err error
		for attempt := 0; attempt < 5; attempt++ {
			// SADD is idempotent: retrying it, even after it ran, is harmless.
			if err = s.rdb.SAdd(ctx, set, members...).Err(); err == nil {
				break
			}
			if ctx.Err() != nil {
				break
			}
			time.Sleep(time.Duration(attempt+1) * 20 * time.Millisecond)
		}
		if err != nil {
			res.Err = cmp(res.Err, err)
			for _, m := range members {
				res.FailedSet = append(res.FailedSet, m.(string))
			}
		}
	}
}

// rawCluster reads keys with one GET each in a pipeline: go-redis splits it per node, and
// no command spans two slots.
func (s *Store) rawCluster(ctx context.Context, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.Get(ctx, k)
	}
	_, _ = pipe.Exec(ctx)
	for i, c := range cmds {
		b, err := c.Bytes()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return nil, fmt.Errorf("cannot read %d series: %w", len(keys), err)
		default:
			out[i] = b
		}
	}
	return out, nil
}

// replaceCluster is ReplaceIfUnchanged on a cluster, where a key and its unique set live in
// different slots, so one script cannot touch both. The script rewrites or deletes the key
// alone (KEYS[1]); the deleted keys then leave their set in three ordered round trips: SREM,
// EXISTS, and SADD again for a key that a writer re-created meanwhile. README.md shows why
// this order keeps every stored key in its set.
func (s *Store) replaceCluster(ctx context.Context, rws []Rewrite, out []Outcome) error {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(rws))
	for i, rw := range rws {
		// EVAL, not EVALSHA: a replica promoted by a failover has an empty script cache.
		cmds[i] = pipe.Eval(ctx, replaceScript, []string{rw.Key}, len(rw.Old), sha1Hex(rw.Old), string(rw.New))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("cannot rewrite %d series: %w", len(rws), err)
	}
	deleted := map[string][]string{} // set → deleted keys
	for i, c := range cmds {
		n, _ := c.Int()
		out[i] = Outcome(n)
		if out[i] == Deleted {
			set := s.UniqueSet(rws[i].Key)
			deleted[set] = append(deleted[set], rws[i].Key)
		}
	}
	if len(deleted) == 0 {
		return nil
	}
	// 1. SREM the deleted keys from their sets.
	for set, keys := range deleted {
		if err := s.rdb.SRem(ctx, set, toAny(keys)...).Err(); err != nil {
			return fmt.Errorf("cannot remove %d purged keys from %s: %w", len(keys), set, err)
		}
	}
	// 2. After the SREM: which of them did a writer re-create since the delete?
	epipe := s.rdb.Pipeline()
	exists := map[string][]*redis.IntCmd{}
	for set, keys := range deleted {
		for _, k := range keys {
			exists[set] = append(exists[set], epipe.Exists(ctx, k))
		}
	}
	if _, err := epipe.Exec(ctx); err != nil {
		return fmt.Errorf("cannot check %d purged keys: %w", len(exists), err)
	}
	// 3. Put those back: their writer's own SADD may have run before our SREM.
	for set, keys := range deleted {
		var back []any
		for i, c := range exists[set] {
			if c.Val() > 0 {
				back = append(back, keys[i])
			}
		}
		if len(back) > 0 {
			if err := s.rdb.SAdd(ctx, set, back...).Err(); err != nil {
				return fmt.Errorf("cannot re-add %d re-created keys to %s: %w", len(back), set, err)
			}
		}
	}
	return nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// pingCluster pings every master, so a reachable seed with an unreachable shard is not "up".
func (s *Store) pingCluster(ctx context.Context) error {
	return s.cluster.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		if err := c.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("%s: %w", c.Options().Addr, err)
		}
		return nil
	})
}
