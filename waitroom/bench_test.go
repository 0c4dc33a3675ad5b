package waitroom_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onsale/onsale/internal/testenv"
	"github.com/onsale/onsale/waitroom"
	"github.com/onsale/onsale/waitroom/memstore"
	"github.com/onsale/onsale/waitroom/redisstore"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkStatus measures status polls answered in process (token check + snapshot), the hottest request.
func BenchmarkStatus(b *testing.B) {
	ctx := context.Background()
	room, err := waitroom.New(memstore.New(), newStock(1000), waitroom.Options{Secret: secret, Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	if err := room.Configure(ctx, waitroom.Config{Event: "bench", Waves: []waitroom.Wave{{ID: "g",
		StartsAt: time.Now().Add(-time.Minute), AdmitPerMin: 600, MaxActive: 100}}}); err != nil {
		b.Fatal(err)
	}
	tokens := make([]string, 10000)
	for i := range tokens {
		tk, err := room.Join(ctx, "bench", fmt.Sprintf("fan-%d", i), "")
		if err != nil {
			b.Fatal(err)
		}
		tokens[i] = tk.Token
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1)) * 7919
		for pb.Next() {
			i++
			if _, err := room.Status(ctx, "bench", tokens[i%len(tokens)]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "polls/s")
}

// BenchmarkJoinRedis measures joins through the room on real Redis, 16 goroutines per core: batched (concurrent
// joins of the event share a script call) and unbatched (one script call each), alternating in one run.
func BenchmarkJoinRedis(b *testing.B) {
	if testing.Short() {
		b.Skip("needs Redis")
	}
	for _, mode := range []struct {
		name  string
		batch int
	}{{"batched", 256}, {"unbatched", 1}} {
		b.Run(mode.name, func(b *testing.B) {
			rdb, prefix := redisClient(b)
			ctx := context.Background()
			store := redisstore.New(rdb, prefix)
			store.SetJoinBatch(mode.batch)
			room, err := waitroom.New(store, newStock(1000), waitroom.Options{Secret: secret,
				Registerer: prometheus.NewRegistry()})
			if err != nil {
				b.Fatal(err)
			}
			ev := testenv.Unique("bench-")
			if err := room.Configure(ctx, waitroom.Config{Event: ev, Waves: []waitroom.Wave{{ID: "g",
				StartsAt: time.Now().Add(-time.Minute), AdmitPerMin: 600, MaxActive: 100}}}); err != nil {
				b.Fatal(err)
			}
			var next atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := room.Join(ctx, ev, fmt.Sprintf("fan-%d", next.Add(1)), ""); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "joins/s")
			if mode.batch > 1 {
				b.ReportMetric(float64(b.N)/float64(max(1, store.JoinCalls(ev))), "joins/call")
			}
		})
	}
}
