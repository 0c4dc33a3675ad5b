package settlement_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/onsale/onsale/internal/testenv"
	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/inventory/memstore"
	"github.com/onsale/onsale/settlement"
)

// splitStock is an inventory gone wrong: several stores that each believe they hold the whole event (as after
// Redis lost its keys and the event was created again), so the same seat, and more units than the venue has, can
// be held and confirmed once in each. A hold is served by the store that made it.
type splitStock struct{ stores []*memstore.Store }

func (s splitStock) find(ctx context.Context, id string, op func(*memstore.Store) (inventory.Hold, error)) (inventory.Hold, error) {
	for _, st := range s.stores {
		h, err := op(st)
		if !errors.Is(err, inventory.ErrNotFound) {
			return h, err
		}
	}
	return inventory.Hold{}, fmt.Errorf("hold %s: %w", id, inventory.ErrNotFound)
}

func (s splitStock) Get(ctx context.Context, id string) (inventory.Hold, error) {
	return s.find(ctx, id, func(st *memstore.Store) (inventory.Hold, error) { return st.Get(ctx, id) })
}

func (s splitStock) BeginCheckout(ctx context.Context, id string) (inventory.Hold, error) {
	return s.find(ctx, id, func(st *memstore.Store) (inventory.Hold, error) { return st.BeginCheckout(ctx, id) })
}

func (s splitStock) Confirm(ctx context.Context, id string) (inventory.Hold, error) {
	return s.find(ctx, id, func(st *memstore.Store) (inventory.Hold, error) { return st.Confirm(ctx, id) })
}

func (s splitStock) Release(ctx context.Context, id string) (inventory.Hold, error) {
	return s.find(ctx, id, func(st *memstore.Store) (inventory.Hold, error) { return st.Release(ctx, id) })
}

func (s splitStock) Return(ctx context.Context, id string) (inventory.Hold, error) {
	return s.find(ctx, id, func(st *memstore.Store) (inventory.Hold, error) { return st.Return(ctx, id) })
}

func (s splitStock) Cancel(ctx context.Context, event string, limit int) (int, bool, error) {
	return 0, false, nil
}

// TestLedgerRefusesOversell forces what a wrong inventory would let through into the ledger, all at once: the
// same seat confirmed in four orders, and general admission confirmed past its capacity. The ledger sells the
// seat once and the section up to its capacity; every other order has its money given back, its hold given back
// and ends refunded with ReasonOversold, with no ticket.
func TestLedgerRefusesOversell(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{Workers: 8})
		f.stop() // the fixture's service runs on a sane inventory; this test's runs on a split one
		ctx := context.Background()
		const copies, gaCapacity = 4, 5
		ev := inventory.Event{ID: testenv.Unique("split"), Name: "Split", Currency: "EUR", HoldTTL: 10 * time.Minute,
			MaxPerFan: 10, Sections: []inventory.Section{
				{ID: "A", Kind: inventory.Seated, Price: 9000, Rows: []inventory.Row{{Row: "1", Seats: 2}}},
				{ID: "GA", Kind: inventory.General, Capacity: gaCapacity, Price: 4500},
			}}
		if err := ev.Validate(); err != nil {
			t.Fatal(err)
		}
		stock := splitStock{}
		for range copies {
			st := memstore.New(memstore.Options{Now: f.clock.Now})
			if err := st.CreateEvent(ctx, ev); err != nil {
				t.Fatal(err)
			}
			stock.stores = append(stock.stores, st)
		}
		svc, _ := f.startStoppable(t, f.opts, stock)
		f.svc = svc
		if err := svc.RegisterEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
		// Each copy of the inventory sells seat A-1-1, and 2 of the 5 general admission units: 8 in all.
		type want struct {
			order settlement.Order
			seat  bool
		}
		var (
			mu     sync.Mutex
			orders []want
			wg     sync.WaitGroup
		)
		for i, st := range stock.stores {
			for _, seat := range []bool{true, false} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					fan := fmt.Sprintf("fan-%d-%v", i, seat)
					req := inventory.HoldRequest{Event: ev.ID, Fan: fan, Items: []inventory.Item{{Section: "GA", Quantity: 2}}}
					if seat {
						req = inventory.HoldRequest{Event: ev.ID, Fan: fan, Seats: []string{"A-1-1"}}
					}
					h, err := st.Hold(ctx, req)
					if err != nil {
						t.Error(err)
						return
					}
					o, err := svc.Checkout(ctx, settlement.CheckoutRequest{HoldID: h.ID, Fan: fan, PaymentMethod: "pm_card_visa"})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					orders = append(orders, want{order: o, seat: seat})
					mu.Unlock()
				}()
			}
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		var seatSold, gaSold, refused int
		for _, w := range orders {
			o := f.await(t, w.order.ID)
			h, err := stock.Get(ctx, o.HoldID)
			if err != nil {
				t.Fatal(err)
			}
			tks := must(f.ledger.Tickets(ctx, o.ID))(t)
			switch o.Status {
			case settlement.Paid:
				if h.State != inventory.Confirmed || len(tks) == 0 || !f.pay.Captured(o.PaymentIntent) || f.pay.Refunded(o.PaymentIntent) {
					t.Errorf("paid order %s: hold %s, %d tickets, captured %v, refunded %v", o.ID, h.State, len(tks),
						f.pay.Captured(o.PaymentIntent), f.pay.Refunded(o.PaymentIntent))
				}
				if w.seat {
					seatSold++
				} else {
					gaSold += 2
				}
			case settlement.Refunded:
				refused++
				if o.FailureReason != settlement.ReasonOversold || !f.pay.Refunded(o.PaymentIntent) {
					t.Errorf("order %s: %s %q, refunded %v; want refunded with %s", o.ID, o.Status, o.FailureReason,
						f.pay.Refunded(o.PaymentIntent), settlement.ReasonOversold)
				}
				if h.State.Live() || h.State == inventory.Confirmed {
					t.Errorf("refused order %s kept its hold: %s", o.ID, h.State)
				}
				for _, tk := range tks {
					if tk.Status != settlement.TicketRevoked {
						t.Errorf("refused order %s has a valid ticket %s", o.ID, tk.ID)
					}
				}
			default:
				t.Errorf("order %s ended %s (%s)", o.ID, o.Status, o.FailureReason)
			}
		}
		// Whichever orders won: the seat once, general admission up to its capacity (2 orders of 2 of 5 units).
		if seatSold != 1 || gaSold != 4 || refused != len(orders)-3 {
			t.Fatalf("seat sold %d times, %d GA units sold of %d, %d refused of %d orders", seatSold, gaSold,
				gaCapacity, refused, len(orders))
		}
		if v := f.counter(t, "onsale_settlement_oversold_refused_total", nil); int(v) != refused {
			t.Fatalf("oversold_refused_total = %v, want %d", v, refused)
		}
	})
}
