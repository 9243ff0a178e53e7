package redistest

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of redis-server child processes on loopback ports.
type Cluster struct {
	t     testing.TB
	Nodes []*Server // every node; which are masters changes with failovers
	// Replicas is the number of replicas per master.
	Replicas int
	URL      string // redis+cluster://host:port,… naming every node
}

// Addrs lists the nodes' addresses.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr
	}
	return out
}

// StartCluster launches masters*(1+replicasPerMaster) redis-server processes with
// --cluster-enabled yes on free 127.0.0.1 ports (each with its bus port, port+10000, free
// too), joins them with redis-cli --cluster create, waits until every node reports
// cluster_state:ok with all 16384 slots assigned and every replica in sync, and stops them
// all when the test ends. Outside CI a missing redis-server or redis-cli skips the test.
func StartCluster(t testing.TB, masters, replicasPerMaster int) *Cluster {
	t.Helper()
	if masters < 3 {
		t.Fatalf("a Redis Cluster needs at least 3 masters, not %d", masters)
	}
	bin := lookPath(t, "redis-server")
	cli := lookPath(t, "redis-cli")
	c := &Cluster{t: t, Replicas: replicasPerMaster}
	n := masters * (1 + replicasPerMaster)
	for range n {
		s := &Server{t: t, Addr: clusterPort(t), dir: t.TempDir()}
		s.args = []string{"--cluster-enabled", "yes", "--cluster-config-file", s.dir + "/nodes.conf",
			"--cluster-node-timeout", "3000", "--cluster-require-full-coverage", "yes",
		}
		s.start(bin)
		t.Cleanup(s.Stop)
		c.Nodes = append(c.Nodes, s)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicasPerMaster), "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create failed: %v\n%s", err, out)
	}
	c.URL = "redis+cluster://" + strings.Join(c.Addrs(), ",")
	c.WaitHealthy(t, 30*time.Second)
	return c
}

// clusterPort returns a loopback address whose port and bus port (port+10000) are free.
func clusterPort(t testing.TB) string {
	t.Helper()
	for range 200 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("cannot find a free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if port+10000 > 65535 {
			_ = l.Close()
			continue
		}
		bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
		_ = l.Close()
		if err != nil {
			continue
		}
		_ = bus.Close()
		return "127.0.0.1:" + strconv.Itoa(port)
	}
	t.Fatalf("cannot find a free port with a free cluster bus port")
	return ""
}

// nodeClient is a plain client to one node, closed when the test ends.
func (c *Cluster) nodeClient(addr string) *redis.Client {
	rc := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	c.t.Cleanup(func() { _ = rc.Close() })
	return rc
}

// WaitHealthy waits until every node says cluster_state:ok, every slot is assigned, all
// nodes agree on which node serves which slot, and every replica's link to its master is up.
func (c *Cluster) WaitHealthy(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var why string
	for {
		if why = c.health(); why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Redis Cluster did not become healthy within %v: %s", timeout, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *Cluster) health() string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var ref string
	for _, n := range c.Nodes {
		rc := redis.NewClient(&redis.Options{Addr: n.Addr, MaxRetries: -1})
		info, err := rc.ClusterInfo(ctx).Result()
		if err != nil {
			_ = rc.Close()
			return fmt.Sprintf("%s: %v", n.Addr, err)
		}
		if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_ok:16384") {
			_ = rc.Close()
			return fmt.Sprintf("%s: not ok yet", n.Addr)
		}
		slots, err := rc.ClusterSlots(ctx).Result()
		if err != nil {
			_ = rc.Close()
			return fmt.Sprintf("%s: %v", n.Addr, err)
		}
		for _, s := range slots {
			if len(s.Nodes)-1 < c.Replicas {
				_ = rc.Close()
				return fmt.Sprintf("%s: slots %d-%d have %d of %d replicas", n.Addr, s.Start, s.End, len(s.Nodes)-1, c.Replicas)
			}
		}
		if v := slotMap(slots); ref == "" {
			ref = v
		} else if v != ref {
			_ = rc.Close()
			return fmt.Sprintf("%s: slot map differs from the first node's", n.Addr)
		}
		repl, err := rc.Info(ctx, "replication").Result()
		_ = rc.Close()
		if err != nil {
			return fmt.Sprintf("%s: %v", n.Addr, err)
		}
		if strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up") {
			return fmt.Sprintf("%s: replica not in sync yet", n.Addr)
		}
	}
	return ""
}

// slotMap describes slot ranges with their master, to compare the nodes' views.
func slotMap(slots []redis.ClusterSlot) string {
	var b strings.Builder
	for _, s := range slots {
		if len(s.Nodes) == 0 {
			return "incomplete"
		}
		fmt.Fprintf(&b, "%d-%d:%s/%d;", s.Start, s.End, s.Nodes[0].Addr, len(s.Nodes)-1)
	}
	return b.String()
}

// MasterOf returns the address of the master serving key, and of its replicas.
func (c *Cluster) MasterOf(t testing.TB, key string) (master string, replicas []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rc := c.nodeClient(c.Nodes[0].Addr)
	slot, err := rc.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		t.Fatalf("CLUSTER KEYSLOT %q: %v", key, err)
	}
	slots, err := rc.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatalf("CLUSTER SLOTS: %v", err)
	}
	for _, s := range slots {
		if int64(s.Start) <= slot && slot <= int64(s.End) && len(s.Nodes) > 0 {
			for _, r := range s.Nodes[1:] {
				replicas = append(replicas, r.Addr)
			}
			return s.Nodes[0].Addr, replicas
		}
	}
	t.Fatalf("no node serves slot %d of %q", slot, key)
	return "", nil
}

// Failover runs CLUSTER FAILOVER on a replica of the master that serves key (a coordinated
// manual failover: the master stops writes, the replica catches up and takes its slots,
// no acknowledged write is lost), waits until every node sees the replica as the new master
// and the cluster is healthy, and returns the old and new master addresses.
func (c *Cluster) Failover(t testing.TB, key string) (oldMaster, newMaster string) {
	t.Helper()
	oldMaster, replicas := c.MasterOf(t, key)
	if len(replicas) == 0 {
		t.Fatalf("the master %s serving %q has no replica to fail over to", oldMaster, key)
	}
	newMaster = replicas[0]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.nodeClient(newMaster).ClusterFailover(ctx).Err(); err != nil {
		t.Fatalf("CLUSTER FAILOVER on %s: %v", newMaster, err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m, _ := c.MasterOf(t, key); m == newMaster {
			if c.health() == "" {
				return oldMaster, newMaster
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the failover of %q's slot from %s to %s did not complete within 20s: %s", key, oldMaster, newMaster, c.health())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Client returns a go-redis cluster client, closed when the test ends.
func (c *Cluster) Client() *redis.ClusterClient {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	c.t.Cleanup(func() { _ = cc.Close() })
	return cc
}
