package inventorytest

import (
	"slices"
	"strings"
	"time"

	"github.com/onsale/onsale/inventory"
)

var holdCases = []testCase{
	{"Hold/GeneralAdmission", func(f *fixture) {
		ev := f.create(newEvent(ga("GA", 10, 2500)))
		start := time.Now()
		h := f.hold(ev, "alice", items(qty("GA", 3)))
		if ev2, ok := inventory.EventOfHold(h.ID); !ok || ev2 != ev.ID || !strings.HasPrefix(h.ID, ev.ID+".") {
			f.t.Fatalf("hold id %q does not name event %s", h.ID, ev.ID)
		}
		if h.Event != ev.ID || h.Fan != "alice" || h.State != inventory.Held || h.Units != 3 || h.Total != 7500 ||
			h.Currency != "EUR" || len(h.Seats) != 0 {
			f.t.Fatalf("hold: %+v", h)
		}
		if !slices.Equal(h.Lines, []inventory.Line{{Section: "GA", Quantity: 3, UnitPrice: 2500, Amount: 7500}}) {
			f.t.Fatalf("lines: %+v", h.Lines)
		}
		if h.CreatedAt.Before(start.Add(-time.Second)) || h.CreatedAt.After(time.Now().Add(time.Second)) {
			f.t.Fatalf("created at %s, test started %s", h.CreatedAt, start)
		}
		if !near(h.ExpiresAt, h.CreatedAt.Add(ev.HoldTTL)) {
			f.t.Fatalf("expires at %s, want created %s + %s", h.ExpiresAt, h.CreatedAt, ev.HoldTTL)
		}
		got := f.get(h.ID)
		sameHold(f, got, h)
		f.wantCounts(ev.ID, "GA", counts{Available: 7, Held: 3})
		f.auditClean(ev.ID)
	}},
	{"Hold/SoldOut", func(f *fixture) {
		ev := f.create(newEvent(ga("GA", 5, 100)))
		f.hold(ev, "alice", items(qty("GA", 4)))
		f.holdFails(inventory.HoldRequest{Event: ev.ID, Fan: "bob", Items: items(qty("GA", 2))}, inventory.ErrSoldOut)
		f.hold(ev, "bob", items(qty("GA", 1)))
		f.holdFails(inventory.HoldRequest{Event: ev.ID, Fan: "carol", Items: items(qty("GA", 1))}, inventory.ErrSoldOut)
		f.wantCounts(ev.ID, "GA", counts{Held: 5})
		f.auditClean(ev.ID)
	}},
	{"Hold/Invalid", func(f *fixture) {
		ev := f.create(newEvent(ga("GA", 500, 100), seated("A", 100, 5, 5)))
		f.hold(ev, "alice", items(qty("GA", 1))) // so there is state that must not change
		bad := map[string]inventory.HoldRequest{
			"no fan":             {Items: items(qty("GA", 1))},
			"nothing":            {Fan: "bob"},
			"zero quantity":      {Fan: "bob", Items: items(qty("GA", 0))},
			"negative quantity":  {Fan: "bob", Items: items(qty("GA", -1))},
			"unknown section":    {Fan: "bob", Items: items(qty("B", 1))},
			"unknown section 2":  {Fan: "bob", Items: items(qty("GA", 1), qty("B", 1))},
			"bad seat id":        {Fan: "bob", Seats: []string{"A-1"}},
			"bad seat number":    {Fan: "bob", Seats: []string{"A-1-01"}},
			"unknown seat row":   {Fan: "bob", Seats: []string{"A-3-1"}},
			"unknown seat":       {Fan: "bob", Seats: []string{"A-1-6"}},
			"seat zero":          {Fan: "bob", Seats: []string{"A-1-0"}},
			"seat of unknown":    {Fan: "bob", Seats: []string{"B-1-1"}},
			"seat of general":    {Fan: "bob", Seats: []string{"GA-1-1"}},
			"same seat twice":    {Fan: "bob", Seats: []string{"A-1-1", "A-1-2", "A-1-1"}},
			"adjacent general":   {Fan: "bob", Items: items(adj("GA", 2))},
			"over 100 units":     {Fan: "bob", Items: items(qty("GA", 101))},
			"over 100 in total":  {Fan: "bob", Items: items(qty("GA", 60), qty("GA", 41))},
			"over 100 with seat": {Fan: "bob", Items: items(qty("GA", 100)), Seats: []string{"A-1-1"}},
		}
		for name, req := range bad {
			req.Event = ev.ID
			f.t.Log(name)
			f.holdFails(req, inventory.ErrInvalid)
		}
		f.wantCounts(ev.ID, "GA", counts{Available: 499, Held: 1})
		f.wantCounts(ev.ID, "A", counts{Available: 10})
	}},
	{"Hold/LimitPerFan", func(f *fixture) {
		ev := newEvent(ga("GA", 100, 100), seated("A", 100, 10))
		ev.MaxPerFan = 4
		ev = f.create(ev)
		h1 := f.hold(ev, "alice", items(qty("GA", 2)))
		f.holdFails(inventory.HoldRequest{Event: ev.ID, Fan: "alice", Items: items(qty("GA", 3))}, inventory.ErrLimitExceeded)
		f.holdFails(inventory.HoldRequest{Event: ev.ID, Fan: "alice", Items: items(qty("GA", 1)), Seats: []string{"A-1-1", "A-1-2"}}, inventory.ErrLimitExceeded)
		f.holdFails(inventory.HoldRequest{Event: ev.ID, Fan: "bob", Items: items(qty("GA", 5))}, inventory.ErrLimitExceeded)
		h2 := f.hold(ev, "alice", nil, "A-1-5", "A-1-6") // 2 + 2 = 4: at the limit
		f.holdFails(inventory.HoldRequest{Event: ev.ID, Fan: "alice", Items: items(qty("GA", 1))}, inventory.ErrLimitExceeded)
		// Released units leave the fan's count; bought units stay in it.
		_, err := f.s.Release(f.ctx, h1.ID)
		mustOK(f.t, "release", err)
		_, err = f.s.Confirm(f.ctx, h2.ID)
		mustOK(f.t, "confirm", err)
		f.hold(ev, "alice", items(qty("GA", 2)))
		f.holdFails(inventory.HoldRequest{Event: ev.ID, Fan: "alice", Items: items(qty("A", 1))}, inventory.ErrLimitExceeded)
		// Other fans are not affected.
		f.hold(ev, "bob", items(qty("GA", 4)))
		f.auditClean(ev.ID)
	}},
	{"Hold/LimitBeforeAvailability", func(f *fixture) {
		ev := newEvent(ga("GA", 3, 100), seated("A", 100, 2))
		ev.MaxPerFan = 4
		ev = f.create(ev)
		f.hold(ev, "alice", items(qty("GA", 3)), "A-1-1")
		// Over the limit and sold out: the limit decides; the same for a taken seat.
		f.holdFails(inventory.HoldRequest{Event: ev.ID, Fan: "alice", Items: items(qty("GA", 1)), Seats: []string{"A-1-2"}}, inventory.ErrLimitExceeded)
		f.holdFails(inventory.HoldRequest{Event: ev.ID, Fan: "alice", Seats: []string{"A-1-1", "A-1-2"}}, inventory.ErrLimitExceeded)
		f.holdFails(inventory.HoldRequest{Event: ev.ID, Fan: "bob", Items: items(qty("GA", 1))}, inventory.ErrSoldOut)
		f.holdFails(inventory.HoldRequest{Event: ev.ID, Fan: "bob", Seats: []string{"A-1-1"}}, inventory.ErrSeatsUnavailable)
	}},
}

// sameHold fails unless two views of one hold agree (times to the millisecond).
func sameHold(f *fixture, got, want inventory.Hold) {
	f.t.Helper()
	if got.ID != want.ID || got.Event != want.Event || got.Fan != want.Fan || got.State != want.State ||
		!slices.Equal(got.Lines, want.Lines) || !slices.Equal(got.Seats, want.Seats) || got.Total != want.Total ||
		got.Currency != want.Currency || got.Units != want.Units ||
		!near(got.CreatedAt, want.CreatedAt) || !near(got.ExpiresAt, want.ExpiresAt) {
		f.t.Fatalf("hold differs:\ngot  %+v\nwant %+v", got, want)
	}
}
