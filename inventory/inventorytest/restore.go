package inventorytest

import (
	"time"

	"github.com/onsale/onsale/inventory"
)

// sold makes a confirmed hold as a ledger would hand it to Restore.
func sold(ev inventory.Event, fan string, lines []inventory.Line, seats ...string) inventory.Hold {
	h := inventory.Hold{ID: inventory.NewHoldID(ev.ID), Event: ev.ID, Fan: fan, State: inventory.Confirmed,
		Lines: lines, Seats: seats, Currency: ev.Currency, CreatedAt: time.Now().Add(-time.Minute),
		ExpiresAt: time.Now().Add(ev.HoldTTL)}
	for _, l := range lines {
		h.Total += l.Amount
		h.Units += l.Quantity
	}
	return h
}

var restoreCases = []testCase{
	{"Restore", func(f *fixture) {
		def := newEvent(ga("GA", 10, 100), seated("A", 500, 6))
		def.MaxPerFan = 6
		ev := f.create(def)
		confirmed := f.hold(ev, "alice", items(qty("GA", 2)), "A-1-1")
		confirmed, err := f.s.Confirm(f.ctx, confirmed.ID)
		mustOK(f.t, "confirm", err)
		paying := f.hold(ev, "alice", items(qty("A", 2)))
		paying, err = f.s.BeginCheckout(f.ctx, paying.ID)
		mustOK(f.t, "checkout", err)
		held := f.hold(ev, "bob", items(qty("GA", 1)))
		released := f.hold(ev, "carol", items(qty("GA", 1)))
		released, err = f.s.Release(f.ctx, released.ID)
		mustOK(f.t, "release", err)
		holds := []inventory.Hold{confirmed, paying, held, released}

		// Restoring into the store that has them changes nothing.
		before := f.stats(ev.ID)
		n, err := f.s.Restore(f.ctx, ev.ID, holds)
		mustOK(f.t, "restore known", err)
		if n != 0 {
			f.t.Fatalf("restore of known holds re-applied %d", n)
		}
		f.sameStats(before, f.stats(ev.ID))

		// A store that lost everything gets the confirmed and in-checkout holds back.
		lost := &fixture{t: f.t, ctx: f.ctx, s: f.newStore(f.t), newStore: f.newStore}
		lost.create(def)
		n, err = lost.s.Restore(f.ctx, ev.ID, holds)
		mustOK(f.t, "restore", err)
		if n != 2 {
			f.t.Fatalf("restore re-applied %d holds, want 2", n)
		}
		lost.wantCounts(ev.ID, "GA", counts{Available: 8, Sold: 2})
		lost.wantCounts(ev.ID, "A", counts{Available: 3, Held: 2, Sold: 1})
		sameHold(lost, lost.get(confirmed.ID), confirmed)
		sameHold(lost, lost.get(paying.ID), paying)
		for _, h := range []inventory.Hold{held, released} {
			_, err := lost.s.Get(f.ctx, h.ID)
			wantErr(f.t, "get of a hold not restored", err, inventory.ErrNotFound)
		}
		before = lost.stats(ev.ID)
		n, err = lost.s.Restore(f.ctx, ev.ID, holds)
		mustOK(f.t, "restore again", err)
		if n != 0 {
			f.t.Fatalf("second restore re-applied %d", n)
		}
		lost.sameStats(before, lost.stats(ev.ID))
		lost.auditClean(ev.ID)

		// Restored holds count: seats, the fan's limit, and the saga can finish the one in checkout.
		lost.holdFails(inventory.HoldRequest{Event: ev.ID, Fan: "bob", Seats: []string{"A-1-1"}}, inventory.ErrSeatsUnavailable)
		lost.holdFails(inventory.HoldRequest{Event: ev.ID, Fan: "alice", Items: items(qty("GA", 2))}, inventory.ErrLimitExceeded)
		wantSeats(lost, lost.hold(ev, "bob", items(qty("A", 3))), "A-1-4", "A-1-5", "A-1-6")
		c, err := lost.s.Confirm(f.ctx, paying.ID)
		mustOK(f.t, "confirm restored", err)
		if c.State != inventory.Confirmed {
			f.t.Fatalf("confirm restored: %+v", c)
		}
		lost.wantCounts(ev.ID, "A", counts{Held: 3, Sold: 3})
		lost.auditClean(ev.ID)
	}},
	{"Restore/Returned", func(f *fixture) {
		def := newEvent(ga("GA", 10, 100), seated("A", 500, 6))
		def.MaxPerFan = 6
		ev := f.create(def)
		// The ledger still lists the sale as confirmed: the store knows it returned, and leaves it so.
		sale := f.sell(ev, "alice", items(qty("GA", 2)), "A-1-4", "A-1-2")
		f.giveBack(sale)
		before := f.stats(ev.ID)
		n, err := f.s.Restore(f.ctx, ev.ID, []inventory.Hold{sale})
		mustOK(f.t, "restore of a returned hold", err)
		if n != 0 {
			f.t.Fatalf("restore re-applied %d returned holds", n)
		}
		f.sameStats(before, f.stats(ev.ID))
		if h := f.get(sale.ID); h.State != inventory.Released {
			f.t.Fatalf("returned hold after restore: %+v", h)
		}
		f.auditClean(ev.ID)

		// A restored sale can be returned like any other.
		lost := &fixture{t: f.t, ctx: f.ctx, s: f.newStore(f.t), newStore: f.newStore}
		lost.create(def)
		n, err = lost.s.Restore(f.ctx, ev.ID, []inventory.Hold{sale})
		mustOK(f.t, "restore", err)
		if n != 1 {
			f.t.Fatalf("restore re-applied %d, want 1", n)
		}
		lost.wantCounts(ev.ID, "A", counts{Available: 4, Sold: 2})
		lost.giveBack(sale)
		lost.wantCounts(ev.ID, "GA", counts{Available: 10})
		lost.wantCounts(ev.ID, "A", counts{Available: 6})
		wantSeats(lost, lost.hold(ev, "bob", nil, "A-1-2", "A-1-4"), "A-1-2", "A-1-4")
		lost.auditClean(ev.ID)
		n, err = lost.s.Restore(f.ctx, ev.ID, []inventory.Hold{sale})
		mustOK(f.t, "restore after the return", err)
		if n != 0 {
			f.t.Fatalf("restore re-applied %d returned holds", n)
		}
		lost.auditClean(ev.ID)
	}},
	{"Restore/Conflicts", func(f *fixture) {
		ev := f.create(newEvent(ga("GA", 3, 100), seated("A", 500, 4)))
		f.hold(ev, "bob", items(qty("GA", 2)), "A-1-1")
		before := f.stats(ev.ID)
		one := inventory.Line{Section: "GA", Quantity: 1, UnitPrice: 100, Amount: 100}
		seat := inventory.Line{Section: "A", Quantity: 1, UnitPrice: 500, Amount: 500}
		fits := sold(ev, "alice", []inventory.Line{one})
		cases := []struct {
			name  string
			holds []inventory.Hold
			want  error
		}{
			{"taken seat", []inventory.Hold{fits, sold(ev, "alice", []inventory.Line{seat}, "A-1-1")}, inventory.ErrSeatsUnavailable},
			{"too many units", []inventory.Hold{fits, sold(ev, "carol", []inventory.Line{one})}, inventory.ErrSoldOut},
			{"other event", []inventory.Hold{fits, sold(newEvent(ga("GA", 3, 100)), "dan", []inventory.Line{one})}, inventory.ErrInvalid},
		}
		for _, c := range cases {
			n, err := f.s.Restore(f.ctx, ev.ID, c.holds)
			wantErr(f.t, "restore "+c.name, err, c.want)
			if n != 0 {
				f.t.Fatalf("restore %s: re-applied %d", c.name, n)
			}
			f.sameStats(before, f.stats(ev.ID))
			_, err = f.s.Get(f.ctx, fits.ID)
			wantErr(f.t, "get after a failed restore", err, inventory.ErrNotFound)
		}
		n, err := f.s.Restore(f.ctx, ev.ID, []inventory.Hold{fits})
		mustOK(f.t, "restore", err)
		if n != 1 {
			f.t.Fatalf("restore re-applied %d, want 1", n)
		}
		f.wantCounts(ev.ID, "GA", counts{Held: 2, Sold: 1})
		f.auditClean(ev.ID)
	}},
}
