package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/onsale/onsale/internal/testenv"
	"github.com/onsale/onsale/waitroom"
	"github.com/onsale/onsale/waitroom/redisstore"
	"github.com/onsale/onsale/waitroom/storetest"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// client returns a Redis client for the test and a key prefix of its own; the keys are deleted at the end.
func client(t testing.TB) (*redis.Client, string) {
	t.Helper()
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	prefix := testenv.Unique("wrtest")
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		for len(keys) > 0 {
			n := min(len(keys), 1000)
			rdb.Unlink(ctx, keys[:n]...)
			keys = keys[n:]
		}
		rdb.Close()
	})
	return rdb, prefix
}

func TestConformance(t *testing.T) {
	t.Parallel()
	rdb, prefix := client(t)
	storetest.Run(t, func(*testing.T) waitroom.Store { return redisstore.New(rdb, prefix) })
}

// TestScriptFlush checks that the scripts are loaded again after SCRIPT FLUSH (EVALSHA falls back to EVAL).
func TestScriptFlush(t *testing.T) {
	t.Parallel()
	rdb, prefix := client(t)
	s := redisstore.New(rdb, prefix)
	ctx := context.Background()
	if err := s.PutConfig(ctx, "ev", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.View(ctx, "ev", time.Now()); err != nil {
		t.Fatalf("view after SCRIPT FLUSH: %v", err)
	}
}
