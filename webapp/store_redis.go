package webapp

import (
	"context"

	"github.com/kale-project/kale/utils/redisstore"
)

// redisStats implements RedisStats on a series store's client: the few
// Redis reads of the webapp that utils/redisstore does not offer yet. It is the one file of
// the webapp that sends Redis commands; once the store has these methods, New takes the store
// itself and this file goes.
type redisStats struct {
	store *redisstore.Store
}

func (r redisStats) Ping(ctx context.Context) error {
	return r.store.Client().Ping(ctx).Err()
}

func (r redisStats) MetricCount(ctx context.Context) (int64, error) {
	return r.store.Client().SCard(ctx, r.store.Options().FullNamespace+redisstore.UniqueSuffix).Result()
}

func (r redisStats) ServerInfo(ctx context.Context) (ServerInfo, error) {
	pipe := r.store.Client().Pipeline()
	info := pipe.Info(ctx, "memory", "server")
	dbsize := pipe.DBSize(ctx)
	_, err := pipe.Exec(ctx)
	return ServerInfo{Info: info.Val(), Keys: dbsize.Val()}, err
}
