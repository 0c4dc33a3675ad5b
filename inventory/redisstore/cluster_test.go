package redisstore

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/onsale/onsale/internal/testenv"
	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/inventory/inventorytest"
)

// TestCluster runs holds, releases, confirms and sweeps on a Redis Cluster across several events, whose keys land
// on different nodes. It needs ONSALE_TEST_REDIS_CLUSTER (scripts/redis-cluster.sh start prints it).
func TestCluster(t *testing.T) {
	t.Parallel()
	b := clusterBundle(t)
	s, c, ctx := b.s, b.c.(*redis.ClusterClient), b.ctx

	// Enough events that they spread over the nodes.
	var events []inventory.Event
	nodes := map[string]bool{}
	for len(events) < 8 {
		ev := testEvent(gaSection("GA", 50, 100), seatedSection("S", 300, 6, 6, 6, 6))
		// Long enough that the checkout and confirm steps below, on a loaded machine, still find their holds live.
		ev.HoldTTL = 4 * time.Second
		ev.MaxPerFan = 20
		events = append(events, b.create(t, ev))
		node, err := c.MasterForKey(ctx, s.evKey(ev.ID)+"meta") // every key of the event is in this slot
		if err != nil {
			t.Fatalf("node of %s: %v", ev.ID, err)
		}
		nodes[node.Options().Addr] = true
	}
	if len(nodes) < 2 {
		t.Fatalf("8 events all landed on %v", nodes)
	}
	ids, err := s.Events(ctx)
	if err != nil || len(ids) != len(events) {
		t.Fatalf("events %v, %v", ids, err)
	}

	// A flushed script cache on every node: the batch reloads and retries.
	if err := c.ForEachShard(ctx, func(ctx context.Context, n *redis.Client) error { return n.ScriptFlush(ctx).Err() }); err != nil {
		t.Fatal(err)
	}

	// Concurrent holds on every event go out in pipelines that span the nodes.
	var wg sync.WaitGroup
	var mu sync.Mutex
	holds := map[string][]inventory.Hold{}
	for _, ev := range events {
		for i := range 10 {
			wg.Go(func() {
				req := inventory.HoldRequest{Event: ev.ID, Fan: "f" + string(rune('a'+i)), Items: []inventory.Item{item("GA", 2), item("S", 2)}}
				h, err := s.Hold(ctx, req)
				if err != nil {
					t.Errorf("hold on %s: %v", ev.ID, err)
					return
				}
				mu.Lock()
				holds[ev.ID] = append(holds[ev.ID], h)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	var lastDeadline time.Time
	for _, ev := range events {
		hs := holds[ev.ID]
		if _, err := s.Release(ctx, hs[0].ID); err != nil {
			t.Fatalf("release: %v", err)
		}
		if _, err := s.BeginCheckout(ctx, hs[1].ID); err != nil {
			t.Fatalf("checkout: %v", err)
		}
		if _, err := s.Confirm(ctx, hs[1].ID); err != nil {
			t.Fatalf("confirm: %v", err)
		}
		if _, err := s.Confirm(ctx, hs[2].ID); err != nil {
			t.Fatalf("confirm held: %v", err)
		}
		if err := s.ReleaseWave(ctx, ev.ID, "w1", map[string]int{"GA": 1}); err != nil {
			t.Fatalf("wave: %v", err)
		}
		for _, h := range hs[3:] {
			if h.ExpiresAt.After(lastDeadline) {
				lastDeadline = h.ExpiresAt
			}
		}
	}
	waitUntil(t, lastDeadline)
	for _, ev := range events {
		n, err := s.Sweep(ctx, ev.ID, 100)
		if err != nil || n != 7 {
			t.Fatalf("sweep %s: %d, %v", ev.ID, n, err)
		}
		if c := b.counts(t, ev.ID, "GA"); c != [4]int{46, 0, 4, 0} {
			t.Fatalf("GA %v", c)
		}
		if c := b.counts(t, ev.ID, "S"); c != [4]int{20, 0, 4, 0} {
			t.Fatalf("S %v", c)
		}
		if _, err := s.Extend(ctx, holds[ev.ID][4].ID); !errors.Is(err, inventory.ErrHoldExpired) {
			t.Fatalf("extend expired: %v", err)
		}
		b.auditClean(t, ev.ID)
	}
}

// TestClusterConformance runs the shared inventory suite on the Redis Cluster.
func TestClusterConformance(t *testing.T) {
	t.Parallel()
	clusterAddrs(t)
	inventorytest.Run(t, func(t *testing.T) inventory.Store { return clusterBundle(t).s })
}

func clusterAddrs(t *testing.T) []string {
	t.Helper()
	addrs := os.Getenv("ONSALE_TEST_REDIS_CLUSTER")
	if addrs == "" {
		if testenv.Required() {
			t.Fatal("ONSALE_TEST_REDIS_CLUSTER is not set (scripts/redis-cluster.sh start)")
		}
		t.Skip("ONSALE_TEST_REDIS_CLUSTER is not set (scripts/redis-cluster.sh start)")
	}
	return strings.Split(addrs, ",")
}

// clusterBundle is a store on the Redis Cluster with its own key prefix, removed from every node afterwards.
func clusterBundle(t *testing.T) *bundle {
	t.Helper()
	ctx := context.Background()
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: clusterAddrs(t)})
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("cluster: %v", err)
	}
	prefix := testenv.Unique("invc")
	s, err := New(c, Options{Prefix: prefix, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.Close()
		_ = c.ForEachMaster(context.Background(), func(ctx context.Context, node *redis.Client) error {
			dropPrefix(t, node, prefix)
			return nil
		})
		_ = c.Close()
	})
	return &bundle{s: s, c: c, prefix: prefix, ctx: ctx}
}
