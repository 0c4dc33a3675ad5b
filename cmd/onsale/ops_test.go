package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/onsale/onsale/internal/testenv"
	"github.com/onsale/onsale/inventory/redisstore"
)

func TestMigrate(t *testing.T) {
	t.Parallel()
	env := map[string]string{"ONSALE_DATABASE_URL": testenv.Database(t)}
	for range 2 { // migrations apply once; running again is harmless
		var out bytes.Buffer
		if err := run(context.Background(), []string{"onsale", "migrate"}, func(k string) string { return env[k] }, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "applied") {
			t.Fatalf("migrate said %q", out.String())
		}
	}
}

// TestReconcileAfterRedisLoss sells some tickets on real backends, wipes the event's inventory from Redis, and has
// `onsale reconcile` rebuild it from the ledger: the sold units come back exactly.
func TestReconcileAfterRedisLoss(t *testing.T) {
	t.Parallel()
	env := realEnv(t)
	s := startServe(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := &crowd{base: s.base, client: &http.Client{Timeout: 20 * time.Second}}
	defer c.client.CloseIdleConnections()
	if st, body, err := c.call(ctx, "POST", "/v1/admin/events", sampleEvent("rec", 20, 1, 10, 60000, 100),
		"Authorization", "Bearer "+s.admin); err != nil || st != 201 {
		t.Fatalf("create: %d %s %v", st, body, err)
	}
	<-c.run(ctx, "rec", 12, 100*time.Millisecond)
	if len(c.orders) == 0 {
		t.Fatal("nobody paid")
	}
	units := 0
	for _, o := range c.orders {
		for _, it := range o.Items {
			units += it.Quantity
		}
	}

	opts, err := redis.ParseURL(env["ONSALE_REDIS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	defer client.Close()
	keys, err := client.Keys(ctx, env["ONSALE_PREFIX"]+":{ev:rec}:*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("event keys: %v %v", keys, err)
	}
	if err := client.Del(ctx, keys...).Err(); err != nil {
		t.Fatal(err)
	}
	store, err := redisstore.New(client, redisstore.Options{Prefix: env["ONSALE_PREFIX"]})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.Stats(ctx, "rec"); err == nil {
		t.Fatal("the inventory survived its wipe")
	}

	var out bytes.Buffer
	if err := run(ctx, []string{"onsale", "reconcile", "--event", "rec"}, func(k string) string { return env[k] }, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Paid int `json:"paid"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.Paid != len(c.orders) {
		t.Fatalf("report %s (%v), want %d paid", out.String(), err, len(c.orders))
	}
	st, err := store.Stats(ctx, "rec")
	if err != nil {
		t.Fatal(err)
	}
	if tot := st.Totals(); tot.Sold != units || tot.Capacity != 30 || tot.Sold+tot.Held+tot.Available+tot.Withheld != tot.Capacity {
		t.Fatalf("after reconcile %+v, want %d sold of 30", tot, units)
	}
}
