package inventorytest

import (
	"reflect"
	"slices"
	"time"

	"github.com/onsale/onsale/inventory"
)

var eventCases = []testCase{
	{"CreateEvent/RoundTrip", func(f *fixture) {
		ev := newEvent(ga("GA", 100, 5000), seated("A", 9000, 3, 4))
		ev.Withheld = map[string]int{"GA": 10, "A": 2}
		// A seat map's geometry comes back as it went in.
		ev.Sections[1].Name = "Stalls"
		for i := range ev.Sections[1].Rows {
			r := &ev.Sections[1].Rows[i]
			r.X, r.Y, r.Radius, r.Spacing = -0.5*float64(i), 2+1.2*float64(i), 20+1.2*float64(i), 1.1
		}
		ev.Sections[1].Rows[0].Gaps = []inventory.Gap{{After: 1, Width: 1.5}}
		ev.Sections[1].Rows[0].Accessible, ev.Sections[1].Rows[0].Companion = []int{1}, []int{2}
		ev = f.create(ev)
		got, err := f.s.Event(f.ctx, ev.ID)
		mustOK(f.t, "event", err)
		if got.ID != ev.ID || got.Name != ev.Name || got.Currency != ev.Currency || got.HoldTTL != ev.HoldTTL ||
			got.MaxPerFan != ev.MaxPerFan || got.MaxHoldLife != 2*ev.HoldTTL || got.CheckoutTTL != 15*time.Minute {
			f.t.Fatalf("event: got %+v, want %+v", got, ev)
		}
		if !slices.EqualFunc(got.Sections, ev.Sections, func(a, b inventory.Section) bool {
			return a.ID == b.ID && a.Kind == b.Kind && a.Capacity == b.Capacity && a.Price == b.Price && a.Name == b.Name &&
				reflect.DeepEqual(a.Rows, b.Rows)
		}) {
			f.t.Fatalf("sections: got %+v, want %+v", got.Sections, ev.Sections)
		}
		if got.Sections[1].Capacity != 7 {
			f.t.Fatalf("seated capacity %d, want 7", got.Sections[1].Capacity)
		}
		if len(got.Withheld) != 2 || got.Withheld["GA"] != 10 || got.Withheld["A"] != 2 {
			f.t.Fatalf("withheld: got %v", got.Withheld)
		}
		ids, err := f.s.Events(f.ctx)
		mustOK(f.t, "events", err)
		if !slices.Contains(ids, ev.ID) {
			f.t.Fatalf("events %v lack %s", ids, ev.ID)
		}
		f.wantCounts(ev.ID, "GA", counts{Available: 90, Withheld: 10})
		f.wantCounts(ev.ID, "A", counts{Available: 5, Withheld: 2})
		f.auditClean(ev.ID)
	}},
	{"CreateEvent/Duplicate", func(f *fixture) {
		ev := f.create(newEvent(ga("GA", 10, 100)))
		f.hold(ev, "alice", items(qty("GA", 2)))
		before := f.stats(ev.ID)
		again := ev
		again.Sections = []inventory.Section{ga("GA", 500, 1)}
		wantErr(f.t, "create twice", f.s.CreateEvent(f.ctx, again), inventory.ErrEventExists)
		f.sameStats(before, f.stats(ev.ID))
	}},
	{"CreateEvent/Invalid", func(f *fixture) {
		bad := []func(*inventory.Event){
			func(ev *inventory.Event) { ev.ID = "bad id" },
			func(ev *inventory.Event) { ev.Currency = "eur" },
			func(ev *inventory.Event) { ev.HoldTTL = 0 },
			func(ev *inventory.Event) { ev.MaxPerFan = 0 },
			func(ev *inventory.Event) { ev.Sections[0].Capacity = 0 },
			func(ev *inventory.Event) { ev.Sections[0].Kind = "standing" },
			func(ev *inventory.Event) { ev.Sections[1].Rows = nil },
			func(ev *inventory.Event) { ev.Sections[1].ID = ev.Sections[0].ID },
			func(ev *inventory.Event) { ev.Withheld = map[string]int{"nope": 1} },
			func(ev *inventory.Event) { ev.Withheld = map[string]int{"GA": 11} },
		}
		for i, mut := range bad {
			ev := newEvent(ga("GA", 10, 100), seated("A", 100, 2))
			mut(&ev)
			wantErr(f.t, "create invalid event", f.s.CreateEvent(f.ctx, ev), inventory.ErrInvalid)
			if _, err := f.s.Event(f.ctx, ev.ID); err == nil && inventory.ValidEventID(ev.ID) {
				f.t.Fatalf("case %d: invalid event %s was stored", i, ev.ID)
			}
		}
	}},
	{"UnknownEvent", func(f *fixture) {
		id := uniqueID("none")
		_, err := f.s.Event(f.ctx, id)
		wantErr(f.t, "event", err, inventory.ErrNotFound)
		_, err = f.s.Stats(f.ctx, id)
		wantErr(f.t, "stats", err, inventory.ErrNotFound)
		_, err = f.s.Audit(f.ctx, id)
		wantErr(f.t, "audit", err, inventory.ErrNotFound)
		wantErr(f.t, "release wave", f.s.ReleaseWave(f.ctx, id, "w1", map[string]int{"GA": 1}), inventory.ErrNotFound)
		_, err = f.s.Restore(f.ctx, id, nil)
		wantErr(f.t, "restore", err, inventory.ErrNotFound)
		_, _, err = f.s.Cancel(f.ctx, id, 1)
		wantErr(f.t, "cancel", err, inventory.ErrNotFound)
		f.holdFails(inventory.HoldRequest{Event: id, Fan: "alice", Items: items(qty("GA", 1))}, inventory.ErrNotFound)
	}},
	{"Stats/TotalsAndVersions", func(f *fixture) {
		ev := f.create(newEvent(ga("GA", 50, 1000), seated("A", 3000, 5, 5)))
		before := f.stats(ev.ID)
		f.hold(ev, "alice", items(qty("GA", 3)))
		h := f.hold(ev, "bob", items(qty("A", 2)))
		_, err := f.s.Confirm(f.ctx, h.ID)
		mustOK(f.t, "confirm", err)
		after := f.stats(ev.ID)
		if after.Event != ev.ID || len(after.Sections) != 2 || after.Sections[0].ID != "GA" || after.Sections[1].ID != "A" {
			f.t.Fatalf("stats: %+v", after)
		}
		tot := after.Totals()
		want := inventory.SectionStats{Capacity: 60, Available: 55, Held: 3, Sold: 2, Revenue: 6000}
		if tot != want {
			f.t.Fatalf("totals: got %+v, want %+v", tot, want)
		}
		for i := range after.Sections {
			if after.Sections[i].Version <= before.Sections[i].Version {
				f.t.Fatalf("section %s: version %d did not grow from %d", after.Sections[i].ID, after.Sections[i].Version, before.Sections[i].Version)
			}
			if after.Sections[i].Price != ev.Sections[i].Price || after.Sections[i].Capacity != ev.Sections[i].Capacity {
				f.t.Fatalf("section %+v does not match %+v", after.Sections[i], ev.Sections[i])
			}
		}
		// A change of one section leaves the other's version alone.
		f.hold(ev, "carol", items(qty("GA", 1)))
		again := f.stats(ev.ID)
		if again.Sections[0].Version <= after.Sections[0].Version || again.Sections[1].Version != after.Sections[1].Version {
			f.t.Fatalf("versions: before %+v after %+v", after.Sections, again.Sections)
		}
		f.auditClean(ev.ID)
	}},
}
