package redisstore_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onsale/onsale/waitroom/redisstore"
	"github.com/redis/go-redis/v9"
)

// BenchmarkMemoryPerFan joins ONSALE_BENCH_FANS fans (default 100,000) with pipelined join script calls and
// reports Redis's used_memory growth per fan. scripts/waitroom-memory.sh runs it with 1,000,000 fans against a
// private Redis, since used_memory is server-wide and other clients of a shared server would blur it.
func BenchmarkMemoryPerFan(b *testing.B) {
	fans := 100_000
	if v := os.Getenv("ONSALE_BENCH_FANS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("ONSALE_BENCH_FANS=%q", v)
		}
		fans = n
	}
	rdb, prefix := client(b)
	s := redisstore.New(rdb, prefix)
	ctx := context.Background()
	if err := s.PutConfig(ctx, "mem", []byte(`{}`)); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	for range b.N {
		before := usedMemory(b, rdb)
		const batch = 1000
		for i := 0; i < fans; i += batch {
			p := rdb.Pipeline()
			for j := i; j < min(i+batch, fans); j++ {
				keys, args := s.JoinArgs("mem", fmt.Sprintf("fan-%d@example.com", j), 0, now, now.Add(time.Hour))
				redisstore.JoinScript().EvalSha(ctx, p, keys, args...)
			}
			if _, err := p.Exec(ctx); err != nil {
				if !strings.Contains(err.Error(), "NOSCRIPT") {
					b.Fatal(err)
				}
				if err := redisstore.JoinScript().Load(ctx, rdb).Err(); err != nil {
					b.Fatal(err)
				}
				i -= batch // the script was not loaded yet: run the batch again (joins are idempotent)
			}
		}
		after := usedMemory(b, rdb)
		b.ReportMetric(float64(after-before)/float64(fans), "bytes/fan")
		v, err := s.View(ctx, "mem", now)
		if err != nil || v.Lanes[0].Seq != int64(fans) {
			b.Fatalf("after joining %d fans: seq %d, %v", fans, v.Lanes[0].Seq, err)
		}
		enc, err := rdb.ObjectEncoding(ctx, prefix+":{ev:mem}:q:fans:0000").Result()
		if err == nil && enc != "listpack" {
			b.Fatalf("bucket encoding %s, want listpack", enc)
		}
		b.StopTimer()
		iter := rdb.Scan(ctx, 0, prefix+":*", 10000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		for len(keys) > 0 {
			n := min(len(keys), 1000)
			rdb.Unlink(ctx, keys[:n]...)
			keys = keys[n:]
		}
		if err := s.PutConfig(ctx, "mem", []byte(`{}`)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

func usedMemory(b *testing.B, rdb *redis.Client) int64 {
	b.Helper()
	info, err := rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatal("no used_memory in INFO memory")
	return 0
}
