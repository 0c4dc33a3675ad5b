package memstore_test

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/inventory/memstore"
)

func benchEvent(b *testing.B, s *memstore.Store, rows, seats int) inventory.Event {
	b.Helper()
	sec := inventory.Section{ID: "A", Kind: inventory.Seated, Price: 100}
	for r := range rows {
		sec.Rows = append(sec.Rows, inventory.Row{Row: strconv.Itoa(r + 1), Seats: seats})
	}
	ev := inventory.Event{ID: "bench", Currency: "EUR", HoldTTL: time.Hour, MaxPerFan: 1 << 30,
		Sections: []inventory.Section{{ID: "GA", Kind: inventory.General, Capacity: 10_000_000, Price: 100}, sec}}
	if err := s.CreateEvent(b.Context(), ev); err != nil {
		b.Fatal(err)
	}
	return ev
}

// BenchmarkHoldRelease is a general-admission hold and its release, one goroutine.
func BenchmarkHoldRelease(b *testing.B) {
	s := memstore.New(memstore.Options{})
	benchEvent(b, s, 1, 1)
	req := inventory.HoldRequest{Event: "bench", Fan: "f", Items: []inventory.Item{{Section: "GA", Quantity: 2}}}
	b.ReportAllocs()
	for b.Loop() {
		h, err := s.Hold(b.Context(), req)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Release(b.Context(), h.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHoldParallel is general-admission holds from every core on one event (the on-sale's hot spot); the
// holds pile up, as in a sale.
func BenchmarkHoldParallel(b *testing.B) {
	s := memstore.New(memstore.Options{})
	benchEvent(b, s, 1, 1)
	var fan atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := inventory.HoldRequest{Event: "bench", Fan: "f" + strconv.FormatInt(fan.Add(1), 10),
			Items: []inventory.Item{{Section: "GA", Quantity: 1}}}
		for pb.Next() {
			if _, err := s.Hold(b.Context(), req); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkBestAvailable holds 4 adjacent seats of a 20,000-seat section that fills up as it goes (released once
// it is nearly full), so the scan of full rows is part of the cost.
func BenchmarkBestAvailable(b *testing.B) {
	s := memstore.New(memstore.Options{})
	benchEvent(b, s, 200, 100)
	req := inventory.HoldRequest{Event: "bench", Fan: "f", Items: []inventory.Item{{Section: "A", Quantity: 4, Adjacent: true}}}
	var held []string
	b.ReportAllocs()
	for b.Loop() {
		h, err := s.Hold(b.Context(), req)
		if err != nil {
			b.StopTimer()
			for _, id := range held {
				if _, err := s.Release(b.Context(), id); err != nil {
					b.Fatal(err)
				}
			}
			held = held[:0]
			b.StartTimer()
			continue
		}
		held = append(held, h.ID)
	}
}
