package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/onsale/onsale/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// bundle is what a test gets: a store on its own key prefix, its client and the prefix.
type bundle struct {
	s      *Store
	c      redis.UniversalClient
	prefix string
	ctx    context.Context
}

func setup(t testing.TB, opts Options) *bundle {
	t.Helper()
	if tt, ok := t.(*testing.T); ok {
		tt.Parallel()
	}
	return newBundle(t, opts)
}

// newBundle makes a store without marking the test parallel (for suites that do it themselves).
func newBundle(t testing.TB, opts Options) *bundle {
	t.Helper()
	u := testenv.RedisURL(t)
	o, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("parse %s: %v", u, err)
	}
	c := redis.NewClient(o)
	if opts.Prefix == "" {
		opts.Prefix = testenv.Unique("invt")
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	s, err := New(c, opts)
	if err != nil {
		t.Fatalf("new store: %v", err)
	}
	t.Cleanup(func() {
		_ = s.Close()
		dropPrefix(t, c, opts.Prefix)
		_ = c.Close()
	})
	return &bundle{s: s, c: c, prefix: opts.Prefix, ctx: context.Background()}
}

// dropPrefix deletes the keys a test made.
func dropPrefix(t testing.TB, c redis.UniversalClient, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, prefix+":*", 1000).Result()
		if err != nil {
			t.Logf("clean up %s: %v", prefix, err)
			return
		}
		if len(keys) > 0 {
			_ = c.Unlink(ctx, keys...).Err()
		}
		if next == 0 {
			return
		}
		cursor = next
	}
}
