package waitroom_test

import (
	"context"
	"fmt"
	"log/slog"
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

// BenchmarkVerifyAccess measures the access token check every hold and checkout makes, on a fixed clock so no
// call is due to keep its fan active in the store.
func BenchmarkVerifyAccess(b *testing.B) {
	ctx := context.Background()
	clk := &clock{now: t0}
	room, err := waitroom.New(memstore.New(), newStock(1000), waitroom.Options{Secret: secret, Now: clk.Now,
		Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	if err := room.Configure(ctx, waitroom.Config{Event: "bench", Waves: []waitroom.Wave{{ID: "g",
		StartsAt: t0.Add(-time.Minute), AdmitPerMin: 60000, MaxActive: 1000}}}); err != nil {
		b.Fatal(err)
	}
	queue := make([]string, 1000)
	for i := range queue {
		tk, err := room.Join(ctx, "bench", fmt.Sprintf("fan-%d", i), "")
		if err != nil {
			b.Fatal(err)
		}
		queue[i] = tk.Token
	}
	for range 2 {
		if err := room.TickForTest(ctx, "bench"); err != nil {
			b.Fatal(err)
		}
		clk.Advance(time.Second)
	}
	tokens := make([]string, len(queue))
	for i, q := range queue {
		st, err := room.Status(ctx, "bench", q)
		if err != nil || st.AccessToken == "" {
			b.Fatalf("fan %d not admitted: %+v %v", i, st, err)
		}
		tokens[i] = st.AccessToken
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1)) * 7919
		for pb.Next() {
			i++
			if _, err := room.VerifyAccess("bench", tokens[i%len(tokens)]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
