package inventorytest

import (
	"errors"
	"slices"

	"github.com/onsale/onsale/inventory"
)

// wantSeats fails unless a hold has exactly these seats, in this order.
func wantSeats(f *fixture, h inventory.Hold, want ...string) {
	f.t.Helper()
	if !slices.Equal(h.Seats, want) {
		f.t.Fatalf("seats: got %v, want %v", h.Seats, want)
	}
}

var seatCases = []testCase{
	{"Seats/Map", func(f *fixture) {
		ev := newEvent(ga("GA", 10, 100), seated("A", 9000, 3, 4), seated("B", 5000, 2))
		ev.Withheld = map[string]int{"A": 2}
		ev = f.create(ev)
		seats := func() map[string]string {
			f.t.Helper()
			ms, err := f.s.Seats(f.ctx, ev.ID)
			if err != nil {
				f.t.Fatal(err)
			}
			out := map[string]string{}
			var order []string
			for _, m := range ms {
				out[m.Section] = string(m.States)
				order = append(order, m.Section)
			}
			if !slices.Equal(order, []string{"A", "B"}) {
				f.t.Fatalf("seat maps of sections %v, want the seated ones in order", order)
			}
			return out
		}
		if got := seats(); got["A"] != "00000ww" || got["B"] != "00" {
			f.t.Fatalf("fresh seat maps %q", got)
		}
		sold := f.hold(ev, "alice", nil, "A-1-2", "B-1-1")
		if _, err := f.s.Confirm(f.ctx, sold.ID); err != nil {
			f.t.Fatal(err)
		}
		f.hold(ev, "bob", nil, "A-2-1")
		released := f.hold(ev, "carol", nil, "A-1-3")
		if _, err := f.s.Release(f.ctx, released.ID); err != nil {
			f.t.Fatal(err)
		}
		if got := seats(); got["A"] != "0s0h0ww" || got["B"] != "s0" {
			f.t.Fatalf("seat maps after a sale, a hold and a release %q, want A 0s0h0ww, B s0", got)
		}
		if _, err := f.s.Seats(f.ctx, "nope-"+ev.ID); !errors.Is(err, inventory.ErrNotFound) {
			f.t.Fatalf("seats of an unknown event: %v", err)
		}
		f.auditClean(ev.ID)
	}},
	{"Seats/Named", func(f *fixture) {
		ev := f.create(newEvent(seated("A", 9000, 4, 4)))
		h := f.hold(ev, "alice", nil, "A-2-3", "A-1-1")
		wantSeats(f, h, "A-2-3", "A-1-1")
		if !slices.Equal(h.Lines, []inventory.Line{{Section: "A", Quantity: 2, UnitPrice: 9000, Amount: 18000}}) || h.Total != 18000 || h.Units != 2 {
			f.t.Fatalf("hold: %+v", h)
		}
		f.wantCounts(ev.ID, "A", counts{Available: 6, Held: 2})
		// One taken seat fails the whole request.
		f.holdFails(inventory.HoldRequest{Event: ev.ID, Fan: "bob", Seats: []string{"A-1-2", "A-1-1"}}, inventory.ErrSeatsUnavailable)
		f.holdFails(inventory.HoldRequest{Event: ev.ID, Fan: "alice", Seats: []string{"A-2-3"}}, inventory.ErrSeatsUnavailable)
		// A-1-2 was not taken by the failed request.
		wantSeats(f, f.hold(ev, "bob", nil, "A-1-2"), "A-1-2")
		// Best available sees the named seats taken.
		wantSeats(f, f.hold(ev, "carol", items(qty("A", 2))), "A-1-3", "A-1-4")
		f.auditClean(ev.ID)
	}},
	{"Seats/BestAvailableInOrder", func(f *fixture) {
		ev := f.create(newEvent(seated("A", 100, 6, 6)))
		wantSeats(f, f.hold(ev, "a", items(qty("A", 2))), "A-1-1", "A-1-2")
		wantSeats(f, f.hold(ev, "b", items(qty("A", 2))), "A-1-3", "A-1-4")
		wantSeats(f, f.hold(ev, "c", items(adj("A", 2))), "A-1-5", "A-1-6")
		wantSeats(f, f.hold(ev, "d", items(qty("A", 3))), "A-2-1", "A-2-2", "A-2-3")
		f.wantCounts(ev.ID, "A", counts{Available: 3, Held: 9})
		f.auditClean(ev.ID)
	}},
	{"Seats/NoLoneSingle", func(f *fixture) {
		// Row 1 has 3 seats: 2 of them would strand one; row 2 has 4: 2 leave 2.
		ev := f.create(newEvent(seated("A", 100, 3, 4)))
		wantSeats(f, f.hold(ev, "a", items(qty("A", 2))), "A-2-1", "A-2-2")
		// Row 1 (3 free) still strands one, row 2 has an exact run of 2: exact is clean.
		wantSeats(f, f.hold(ev, "b", items(qty("A", 2))), "A-2-3", "A-2-4")
		// Nothing clean is left for 2: the first placement at all.
		wantSeats(f, f.hold(ev, "c", items(qty("A", 2))), "A-1-1", "A-1-2")
		wantSeats(f, f.hold(ev, "d", items(qty("A", 1))), "A-1-3")
		f.holdFails(inventory.HoldRequest{Event: ev.ID, Fan: "e", Items: items(qty("A", 1))}, inventory.ErrSoldOut)
		f.auditClean(ev.ID)
	}},
	{"Seats/RunOrderWithinRow", func(f *fixture) {
		ev := f.create(newEvent(seated("A", 100, 10, 10)))
		f.hold(ev, "x", nil, "A-1-3")
		// Row 1 runs: 1-2 (2 seats), 4-10 (7 seats).
		wantSeats(f, f.hold(ev, "a", items(qty("A", 3))), "A-1-4", "A-1-5", "A-1-6") // 1-2 too short
		// Runs now 1-2 (2), 7-10 (4): 2 fits 1-2 exactly.
		wantSeats(f, f.hold(ev, "b", items(qty("A", 2))), "A-1-1", "A-1-2")
		// Row 1 run 7-10 (4): 3 would strand one; row 2 (10) is clean.
		wantSeats(f, f.hold(ev, "c", items(qty("A", 3))), "A-2-1", "A-2-2", "A-2-3")
		// 4 fits row 1's 7-10 exactly.
		wantSeats(f, f.hold(ev, "d", items(qty("A", 4))), "A-1-7", "A-1-8", "A-1-9", "A-1-10")
		f.auditClean(ev.ID)
	}},
	{"Seats/SplitAndAdjacent", func(f *fixture) {
		ev := f.create(newEvent(seated("A", 100, 5, 3)))
		f.hold(ev, "x", nil, "A-1-2", "A-1-4", "A-2-2")
		// Free: 1-1, 1-3, 1-5, 2-1, 2-3: no run of 2 anywhere.
		f.holdFails(inventory.HoldRequest{Event: ev.ID, Fan: "a", Items: items(adj("A", 2))}, inventory.ErrSoldOut)
		wantSeats(f, f.hold(ev, "a", items(qty("A", 2))), "A-1-1", "A-1-3")
		f.holdFails(inventory.HoldRequest{Event: ev.ID, Fan: "b", Items: items(qty("A", 4))}, inventory.ErrSoldOut)
		wantSeats(f, f.hold(ev, "b", items(qty("A", 3))), "A-1-5", "A-2-1", "A-2-3")
		f.wantCounts(ev.ID, "A", counts{Held: 8})
		f.auditClean(ev.ID)
	}},
	{"Seats/AdjacentUsesPlacement", func(f *fixture) {
		ev := f.create(newEvent(seated("A", 100, 3, 2)))
		f.hold(ev, "x", nil, "A-1-2")
		wantSeats(f, f.hold(ev, "a", items(adj("A", 2))), "A-2-1", "A-2-2")
		f.holdFails(inventory.HoldRequest{Event: ev.ID, Fan: "b", Items: items(adj("A", 2))}, inventory.ErrSoldOut)
		wantSeats(f, f.hold(ev, "b", items(qty("A", 2))), "A-1-1", "A-1-3")
	}},
	{"Seats/SeveralItemsInOrder", func(f *fixture) {
		ev := newEvent(ga("GA", 10, 1000), seated("A", 5000, 4, 6), seated("B", 3000, 4))
		ev.MaxPerFan = 20
		ev = f.create(ev)
		h := f.holdReq(inventory.HoldRequest{Event: ev.ID, Fan: "alice",
			Items: items(qty("B", 2), qty("GA", 2), qty("A", 2), adj("A", 3), qty("GA", 1)),
			Seats: []string{"A-1-2"}})
		// Named seats first; items in order, each seeing the seats of the ones before.
		wantSeats(f, h, "A-1-2", "B-1-1", "B-1-2", "A-1-3", "A-1-4", "A-2-1", "A-2-2", "A-2-3")
		want := []inventory.Line{
			{Section: "A", Quantity: 6, UnitPrice: 5000, Amount: 30000},
			{Section: "B", Quantity: 2, UnitPrice: 3000, Amount: 6000},
			{Section: "GA", Quantity: 3, UnitPrice: 1000, Amount: 3000},
		}
		if !slices.Equal(h.Lines, want) || h.Total != 39000 || h.Units != 11 {
			f.t.Fatalf("hold: lines %+v total %d units %d; want %+v", h.Lines, h.Total, h.Units, want)
		}
		f.wantCounts(ev.ID, "GA", counts{Available: 7, Held: 3})
		f.wantCounts(ev.ID, "A", counts{Available: 4, Held: 6})
		f.wantCounts(ev.ID, "B", counts{Available: 2, Held: 2})
		f.auditClean(ev.ID)
	}},
	{"Seats/AllOrNothing", func(f *fixture) {
		ev := f.create(newEvent(ga("GA", 5, 100), seated("A", 100, 4)))
		f.hold(ev, "x", nil, "A-1-4")
		cases := []struct {
			req  inventory.HoldRequest
			want error
		}{
			{inventory.HoldRequest{Items: items(qty("GA", 2)), Seats: []string{"A-1-1", "A-1-4"}}, inventory.ErrSeatsUnavailable},
			{inventory.HoldRequest{Items: items(qty("GA", 2), qty("A", 4)), Seats: []string{"A-1-1"}}, inventory.ErrSoldOut},
			{inventory.HoldRequest{Items: items(qty("A", 2), qty("GA", 6))}, inventory.ErrSoldOut},
			{inventory.HoldRequest{Items: items(qty("GA", 3), qty("GA", 3))}, inventory.ErrSoldOut},
			{inventory.HoldRequest{Items: items(qty("A", 2), adj("A", 2))}, inventory.ErrSoldOut},
		}
		for _, c := range cases {
			c.req.Event, c.req.Fan = ev.ID, "alice"
			f.holdFails(c.req, c.want)
		}
		// Everything the failed requests touched is still free.
		wantSeats(f, f.hold(ev, "bob", items(qty("A", 3), qty("GA", 5))), "A-1-1", "A-1-2", "A-1-3")
		f.auditClean(ev.ID)
	}},
	{"Seats/Withheld", func(f *fixture) {
		ev := newEvent(seated("A", 100, 4, 4))
		ev.Withheld = map[string]int{"A": 3}
		ev = f.create(ev)
		f.wantCounts(ev.ID, "A", counts{Available: 5, Withheld: 3})
		// The last 3 seats (A-2-2..4) are withheld: not free, by name or by best available.
		f.holdFails(inventory.HoldRequest{Event: ev.ID, Fan: "a", Seats: []string{"A-2-4"}}, inventory.ErrSeatsUnavailable)
		f.holdFails(inventory.HoldRequest{Event: ev.ID, Fan: "a", Items: items(adj("A", 2)), Seats: []string{"A-1-1", "A-1-2", "A-1-3"}}, inventory.ErrSoldOut)
		wantSeats(f, f.hold(ev, "a", items(qty("A", 5))), "A-1-1", "A-1-2", "A-1-3", "A-1-4", "A-2-1")
		f.holdFails(inventory.HoldRequest{Event: ev.ID, Fan: "b", Items: items(qty("A", 1))}, inventory.ErrSoldOut)
		// A release frees withheld seats from the front.
		mustOK(f.t, "wave", f.s.ReleaseWave(f.ctx, ev.ID, "w1", map[string]int{"A": 2}))
		f.wantCounts(ev.ID, "A", counts{Available: 2, Held: 5, Withheld: 1})
		f.holdFails(inventory.HoldRequest{Event: ev.ID, Fan: "b", Seats: []string{"A-2-4"}}, inventory.ErrSeatsUnavailable)
		wantSeats(f, f.hold(ev, "b", items(adj("A", 2))), "A-2-2", "A-2-3")
		f.auditClean(ev.ID)
	}},
}
