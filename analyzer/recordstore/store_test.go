package recordstore

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/utils/redistest"
)

var now = time.Unix(1_700_000_000, 0).UTC()

func TestEmptyStore(t *testing.T) {
	s := New(redistest.Start(t).Client())
	ctx := context.Background()
	cur, err := s.Current(ctx)
	require.NoError(t, err)
	require.Equal(t, Current{Anomalies: []Record{}}, cur)
	b, err := s.CurrentJSON(ctx)
	require.NoError(t, err)
	require.Equal(t, EmptyCurrent, string(b))
	b, err = s.AnomalyDump(ctx)
	require.NoError(t, err)
	require.Equal(t, "handle_data([])", string(b))
	_, ok, err := s.LastCycle(ctx)
	require.NoError(t, err)
	require.False(t, ok)
	h, err := s.History(ctx, "", 0, 0, 0)
	require.NoError(t, err)
	require.Empty(t, h)
}

func TestSaveAndRead(t *testing.T) {
	srv := redistest.Start(t)
	s, rdb := New(srv.Client()), srv.Client()
	ctx := context.Background()
	rec := func(m string, ts int64, v float64) Record {
		return Record{Metric: m, Value: Float(v), Timestamp: ts, Triggered: []string{"grubbs"}, Score: 1}
	}
	st := CycleStats{Started: now, Metrics: 3, Analysed: 3, Anomalies: 2, Exceptions: map[string]int{}, Triggers: map[string]int{"grubbs": 2},
		Assigned: 3, Instance: "a"}
	old := rec("b", now.Add(-3*time.Hour).Unix(), 1)
	_, err := s.Save(ctx, "a", Current{Anomalies: []Record{old}, Cycle: CycleStats{Started: now.Add(-3 * time.Hour)}}, []string{"a"}, time.Hour)
	require.NoError(t, err)
	doc := Current{Anomalies: []Record{rec("a", now.Unix(), math.NaN()), rec("b", now.Unix()-60, 2)}, Cycle: st}
	merged, err := s.Save(ctx, "a", doc, []string{"a"}, time.Hour)
	require.NoError(t, err)
	require.Equal(t, doc.Anomalies, merged.Anomalies)

	raw, err := s.CurrentJSON(ctx)
	require.NoError(t, err)
	require.Contains(t, string(raw), `"value":null`)
	part, err := rdb.Get(ctx, KeyCurrentPrefix+"a").Bytes()
	require.NoError(t, err)
	require.Equal(t, raw, part, "alone, the merged document is the analyzer's part")
	dump, err := s.AnomalyDump(ctx)
	require.NoError(t, err)
	require.Equal(t, `handle_data([[null, "a"], [2, "b"]])`, string(dump))
	cyc, ok, err := s.LastCycle(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, 2, cyc.Anomalies)
	require.True(t, cyc.Started.Equal(now))

	all, err := s.History(ctx, "", 0, 0, 0)
	require.NoError(t, err)
	require.Len(t, all, 2, "the record older than the history was dropped")
	require.Equal(t, "b", all[0].Metric, "oldest first")
	b, err := s.History(ctx, "b", float64(now.Unix()-60), float64(now.Unix()-60), 1)
	require.NoError(t, err)
	require.Len(t, b, 1)
	require.Equal(t, Float(2), b[0].Value)
	ttl, err := rdb.TTL(ctx, KeyMetricPrefix+"b").Result()
	require.NoError(t, err)
	require.InDelta(t, time.Hour.Seconds(), ttl.Seconds(), 5)
}

func TestMergeOfMembers(t *testing.T) {
	s := New(redistest.Start(t).Client())
	ctx := context.Background()
	cyc := func(id string, n int) CycleStats {
		return CycleStats{Started: now, Metrics: 10, Assigned: n, Analysed: n, Anomalies: 1, Instance: id,
			AnomaliesNew: n % 2, AnomaliesCarried: 1 - n%2,
			Exceptions: map[string]int{"Stale": 1}, Triggers: map[string]int{"kale": 1}}
	}
	_, err := s.Save(ctx, "b", Current{Anomalies: []Record{{Metric: "y", Triggered: []string{}}}, Cycle: cyc("b", 4)}, []string{"a", "b"}, time.Hour)
	require.NoError(t, err)
	merged, err := s.Save(ctx, "a", Current{Anomalies: []Record{{Metric: "x", Triggered: []string{}}}, Cycle: cyc("a", 6)}, []string{"a", "b"}, time.Hour)
	require.NoError(t, err)
	require.Len(t, merged.Anomalies, 2)
	require.Equal(t, 10, merged.Cycle.Assigned)
	require.Equal(t, 2, merged.Cycle.Exceptions["Stale"])
	require.Equal(t, 2, merged.Cycle.Instances)
	require.Equal(t, 2, merged.Cycle.Anomalies)
	require.Equal(t, 2, merged.Cycle.AnomaliesCarried, "new and carried are summed like the anomalies")
	require.Zero(t, merged.Cycle.AnomaliesNew)
	require.Equal(t, map[string]int{"kale": 2}, merged.Cycle.Triggers)
	cur, err := s.Current(ctx)
	require.NoError(t, err)
	require.Equal(t, "x", cur.Anomalies[0].Metric)
	require.Equal(t, "y", cur.Anomalies[1].Metric)
}

func TestFeedback(t *testing.T) {
	srv := redistest.Start(t)
	s := New(srv.Client())
	ctx := context.Background()
	for i := range MaxFeedback + 5 {
		require.NoError(t, s.AddFeedback(ctx, "m", Feedback{Timestamp: int64(1000 + i), Value: Float(i), Triggered: []string{}}))
	}
	all, err := s.Feedback(ctx, "m")
	require.NoError(t, err)
	require.Len(t, all, MaxFeedback, "the oldest are dropped")
	require.Equal(t, int64(1005), all[0].Timestamp)
	require.NoError(t, srv.Client().ZAdd(ctx, KeyFeedbackPrefix+"m", redisZ(3000, "not json")).Err())
	since, err := s.FeedbackSince(ctx, []string{"m", "none"}, 2005)
	require.NoError(t, err)
	require.Equal(t, [][]Feedback{{}, {}}, since, "undecodable entries are skipped")
	since, err = s.FeedbackSince(ctx, []string{"m"}, 2004)
	require.NoError(t, err)
	require.Len(t, since[0], 1)
	require.Equal(t, int64(2004), since[0][0].Timestamp)
	b, _ := json.Marshal(since[0][0])
	require.JSONEq(t, `{"timestamp":2004,"value":1004,"triggered":[],"created":0}`, string(b))
}

func TestMembers(t *testing.T) {
	srv := redistest.Start(t)
	s := New(srv.Client())
	ctx := context.Background()
	lease := 3 * time.Second
	for _, id := range []string{"b", "a"} {
		require.NoError(t, s.Join(ctx, MemberInfo{ID: id, Started: now, Expires: time.Now().Add(lease).UTC()}, lease))
	}
	ids, err := s.Members(ctx, lease)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, ids)
	infos, err := s.MemberInfos(ctx, lease)
	require.NoError(t, err)
	require.Len(t, infos, 2)
	require.Equal(t, "a", infos[0].ID)
	require.NoError(t, srv.Client().Set(ctx, KeyCurrentPrefix+"b", "{}", 0).Err())
	require.NoError(t, s.Leave(ctx, "b"))
	ids, err = s.Members(ctx, lease)
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, ids)
	require.Zero(t, srv.Client().Exists(ctx, KeyCurrentPrefix+"b").Val(), "its part is gone")
	// A lease key that expired leaves a stale index entry: not a member.
	require.NoError(t, srv.Client().Del(ctx, KeyMemberPrefix+"a").Err())
	ids, err = s.Members(ctx, lease)
	require.NoError(t, err)
	require.Empty(t, ids)
}

func redisZ(score float64, member string) redis.Z { return redis.Z{Score: score, Member: member} }
