package redisstore

import "context"

// ServerInfo reads INFO's memory and server sections and DBSIZE in one round trip (on a
// cluster, from whichever node answers), for the status page.
func (s *Store) ServerInfo(ctx context.Context) (info string, keys int64, err error) {
	pipe := s.rdb.Pipeline()
	i := pipe.Info(ctx, "memory", "server")
	n := pipe.DBSize(ctx)
	_, err = pipe.Exec(ctx)
	return i.Val(), n.Val(), err
}

// PingRaw is PING with go-redis's own error, unwrapped, for callers that classify it (the
// webapp's health checks describe failures in stable words).
func (s *Store) PingRaw(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }
