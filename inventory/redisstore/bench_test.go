package redisstore

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onsale/onsale/inventory"
)

// benchEvent creates an event whose general section the benchmark cannot sell out.
func benchEvent(b *testing.B, bb *bundle) inventory.Event {
	ev := testEvent(gaSection("GA", inventory.MaxGeneralCapacity, 100))
	ev.HoldTTL = time.Hour
	ev.MaxPerFan = 1 << 30
	return bb.create(b, ev)
}

func benchHolds(b *testing.B, opts Options, parallelism int) {
	bb := newBundle(b, opts)
	ev := benchEvent(b, bb)
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.SetParallelism(parallelism)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if i%(inventory.MaxGeneralCapacity-1) == 0 { // never reached in practice; keeps the section from selling out
				b.Fatal("section sold out")
			}
			_, err := bb.s.Hold(bb.ctx, inventory.HoldRequest{Event: ev.ID, Fan: "f" + strconv.FormatInt(i%4096, 10),
				Items: []inventory.Item{{Section: "GA", Quantity: 1}}})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "holds/s")
	if trips := bb.s.batch.trips.Load(); trips > 0 {
		b.ReportMetric(float64(bb.s.batch.sent.Load())/float64(trips), "holds/roundtrip")
	}
}

// BenchmarkHoldOneRoundTrip sends every hold on its own (batching off).
func BenchmarkHoldOneRoundTrip(b *testing.B) { benchHolds(b, Options{MaxBatch: 1}, 32) }

// BenchmarkHoldBatched gathers concurrent holds into pipelines.
func BenchmarkHoldBatched(b *testing.B) { benchHolds(b, Options{}, 64) }

// BenchmarkHoldSeated measures best-available on a 2,000-seat section (batched), re-creating the event as it fills.
func BenchmarkHoldSeated(b *testing.B) {
	bb := newBundle(b, Options{})
	mk := func() inventory.Event {
		rows := make([]int, 40)
		for i := range rows {
			rows[i] = 50
		}
		ev := testEvent(seatedSection("S", 100, rows...))
		ev.HoldTTL = time.Hour
		ev.MaxPerFan = 1 << 30
		return bb.create(b, ev)
	}
	var cur atomic.Pointer[inventory.Event]
	ev := mk()
	cur.Store(&ev)
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e := cur.Load()
			_, err := bb.s.Hold(bb.ctx, inventory.HoldRequest{Event: e.ID, Fan: "f" + strconv.FormatInt(n.Add(1), 10),
				Items: []inventory.Item{{Section: "S", Quantity: 2}}})
			if err != nil {
				next := mk()
				cur.CompareAndSwap(e, &next)
			}
		}
	})
	b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "holds/s")
}
