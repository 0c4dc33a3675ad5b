package memstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/inventory/memstore"
)

// Released and expired holds and idempotency keys are forgotten a day after they end; sold and returned holds
// never are.
func TestForgetsEndedHolds(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := &clock{now: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)}
	s := memstore.New(memstore.Options{Now: c.Now})
	ev := inventory.Event{ID: "ev", Currency: "EUR", HoldTTL: time.Minute, MaxPerFan: 10,
		Sections: []inventory.Section{{ID: "GA", Kind: inventory.General, Capacity: 10}}}
	if err := s.CreateEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	hold := func(fan, key string) inventory.Hold {
		t.Helper()
		h, err := s.Hold(ctx, inventory.HoldRequest{Event: "ev", Fan: fan, Items: []inventory.Item{{Section: "GA", Quantity: 1}},
			IdempotencyKey: key, Fingerprint: "fp"})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	released, expired, sold, returned := hold("a", "k"), hold("b", ""), hold("c", ""), hold("d", "")
	if _, err := s.Release(ctx, released.ID); err != nil {
		t.Fatal(err)
	}
	for _, h := range []inventory.Hold{sold, returned} {
		if _, err := s.Confirm(ctx, h.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Return(ctx, returned.ID); err != nil {
		t.Fatal(err)
	}
	c.advance(2 * time.Minute) // expired's deadline passes
	if n, err := s.Sweep(ctx, "ev", 10); err != nil || n != 1 {
		t.Fatalf("sweep: %d, %v", n, err)
	}
	c.advance(23 * time.Hour)
	if again := hold("a", "k"); again.ID != released.ID {
		t.Fatalf("within a day the key replays: got %s, want %s", again.ID, released.ID)
	}
	c.advance(time.Hour)
	if _, err := s.Sweep(ctx, "ev", 10); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{released.ID, expired.ID} {
		if _, err := s.Get(ctx, id); !errors.Is(err, inventory.ErrNotFound) {
			t.Fatalf("get %s a day after it ended: %v", id, err)
		}
	}
	if h, err := s.Get(ctx, sold.ID); err != nil || h.State != inventory.Confirmed {
		t.Fatalf("sold hold: %+v, %v", h, err)
	}
	if h, err := s.Get(ctx, returned.ID); err != nil || h.State != inventory.Released {
		t.Fatalf("returned hold: %+v, %v", h, err)
	}
	if fresh := hold("a", "k"); fresh.ID == released.ID {
		t.Fatal("a day-old idempotency key still replays")
	}
	rep, err := s.Audit(ctx, "ev")
	if err != nil || len(rep.Differences) > 0 {
		t.Fatalf("audit: %v %v", err, rep.Differences)
	}
}
