package webapp

import (
	"context"

	"github.com/kale-project/kale/utils/redisstore"
)

// redisStats implements RedisStats on the series store.
type redisStats struct {
	store *redisstore.Store
}

func (r redisStats) Ping(ctx context.Context) error { return r.store.PingRaw(ctx) }

func (r redisStats) MetricCount(ctx context.Context) (int64, error) {
	return r.store.MemberCount(ctx, r.store.Options().FullNamespace)
}

func (r redisStats) ServerInfo(ctx context.Context) (ServerInfo, error) {
	info, keys, err := r.store.ServerInfo(ctx)
	return ServerInfo{Info: info, Keys: keys}, err
}
