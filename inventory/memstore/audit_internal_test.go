package memstore

import (
	"strings"
	"testing"
	"time"

	"github.com/onsale/onsale/inventory"
)

// Audit must see each kind of damage; the conformance suite only ever shows it clean stores.
func TestAuditFindsDifferences(t *testing.T) {
	t.Parallel()
	damage := map[string]struct {
		hurt func(e *event, h *hold)
		want string
	}{
		"held counter":   {func(e *event, _ *hold) { e.secs[0].held++; e.secs[0].available-- }, "section GA: held 3, holds say 2"},
		"sold counter":   {func(e *event, _ *hold) { e.secs[1].sold++ }, "!= capacity"},
		"seat state":     {func(e *event, _ *hold) { e.secs[1].seats[0] = seatFree }, "seat A-1-1 of hold"},
		"seat twice":     {func(e *event, h *hold) { e.holds["x"] = &hold{h: h.h, secs: h.secs, seats: h.seats, index: h.index} }, "in holds"},
		"fan count":      {func(e *event, h *hold) { e.fans[h.h.Fan].held = 0 }, "fan alice"},
		"withheld place": {func(e *event, _ *hold) { e.secs[1].seats[5], e.secs[1].seats[2] = seatFree, seatWithheld }, "withheld seats are the last"},
		"row free count": {func(e *event, _ *hold) { e.secs[1].rowFree[0]++ }, "free seats, count says"},
		"deadline index": {func(e *event, h *hold) { e.untrack(h) }, "in the deadline index false"},
	}
	for name, d := range damage {
		s := New(Options{})
		ev := inventory.Event{ID: "ev", Currency: "EUR", HoldTTL: time.Minute, MaxPerFan: 10,
			Sections: []inventory.Section{
				{ID: "GA", Kind: inventory.General, Capacity: 10},
				{ID: "A", Kind: inventory.Seated, Rows: []inventory.Row{{Row: "1", Seats: 6}}},
			},
			Withheld: map[string]int{"A": 1}}
		if err := s.CreateEvent(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
		hv, err := s.Hold(t.Context(), inventory.HoldRequest{Event: "ev", Fan: "alice",
			Items: []inventory.Item{{Section: "GA", Quantity: 2}}, Seats: []string{"A-1-1"}})
		if err != nil {
			t.Fatal(err)
		}
		e := s.events["ev"]
		d.hurt(e, e.holds[hv.ID])
		rep, err := s.Audit(t.Context(), "ev")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(rep.Differences, "\n"), d.want) {
			t.Errorf("%s: audit says %q, want a difference with %q", name, rep.Differences, d.want)
		}
	}
}
