package inventorytest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/onsale/onsale/inventory"
)

// NewStore returns a fresh store for one test; the adapter cleans it up with t.Cleanup.
type NewStore func(t *testing.T) inventory.Store

// fixture is what a case needs: a store and a context that ends with the test.
type fixture struct {
	t        *testing.T
	ctx      context.Context
	s        inventory.Store
	newStore NewStore
}

func setup(t *testing.T, newStore NewStore) *fixture {
	t.Helper()
	t.Parallel()
	return &fixture{t: t, ctx: t.Context(), s: newStore(t), newStore: newStore}
}

// uniqueID returns an event id no other test uses, even against a shared Redis.
func uniqueID(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

func ga(id string, capacity int, price int64) inventory.Section {
	return inventory.Section{ID: id, Kind: inventory.General, Capacity: capacity, Price: price}
}

// seated makes a seated section with rows labelled "1", "2", … of the given sizes.
func seated(id string, price int64, rows ...int) inventory.Section {
	sec := inventory.Section{ID: id, Kind: inventory.Seated, Price: price}
	for i, n := range rows {
		sec.Rows = append(sec.Rows, inventory.Row{Row: strconv.Itoa(i + 1), Seats: n})
	}
	return sec
}

// newEvent returns a valid event definition with a unique id: the given sections, 10 per fan, 10 min holds.
func newEvent(sections ...inventory.Section) inventory.Event {
	return inventory.Event{
		ID:        uniqueID("ev"),
		Name:      "Conformance",
		Currency:  "EUR",
		HoldTTL:   10 * time.Minute,
		MaxPerFan: 10,
		Sections:  sections,
	}
}

// create validates and creates an event, failing the test on error, and returns it with its defaults.
func (f *fixture) create(ev inventory.Event) inventory.Event {
	f.t.Helper()
	if err := ev.Validate(); err != nil {
		f.t.Fatalf("validate %s: %v", ev.ID, err)
	}
	if err := f.s.CreateEvent(f.ctx, ev); err != nil {
		f.t.Fatalf("create event %s: %v", ev.ID, err)
	}
	return ev
}

func (f *fixture) hold(ev inventory.Event, fan string, items []inventory.Item, seats ...string) inventory.Hold {
	f.t.Helper()
	h, err := f.s.Hold(f.ctx, inventory.HoldRequest{Event: ev.ID, Fan: fan, Items: items, Seats: seats})
	if err != nil {
		f.t.Fatalf("hold %v %v for %s: %v", items, seats, fan, err)
	}
	return h
}

func (f *fixture) holdReq(req inventory.HoldRequest) inventory.Hold {
	f.t.Helper()
	h, err := f.s.Hold(f.ctx, req)
	if err != nil {
		f.t.Fatalf("hold %+v: %v", req, err)
	}
	return h
}

// holdFails asks for a hold that must fail with want and must change nothing.
func (f *fixture) holdFails(req inventory.HoldRequest, want error) {
	f.t.Helper()
	var before inventory.Stats
	known := req.Event != "" && f.known(req.Event)
	if known {
		before = f.stats(req.Event)
	}
	h, err := f.s.Hold(f.ctx, req)
	if !errors.Is(err, want) {
		f.t.Fatalf("hold %+v: got hold %+v, err %v; want %v", req, h, err, want)
	}
	if known {
		f.sameStats(before, f.stats(req.Event))
	}
}

func (f *fixture) known(event string) bool {
	_, err := f.s.Event(f.ctx, event)
	return err == nil
}

func (f *fixture) get(id string) inventory.Hold {
	f.t.Helper()
	h, err := f.s.Get(f.ctx, id)
	if err != nil {
		f.t.Fatalf("get %s: %v", id, err)
	}
	return h
}

func (f *fixture) stats(event string) inventory.Stats {
	f.t.Helper()
	st, err := f.s.Stats(f.ctx, event)
	if err != nil {
		f.t.Fatalf("stats %s: %v", event, err)
	}
	checkBalance(f.t, st)
	return st
}

// section returns one section's counters.
func (f *fixture) section(event, id string) inventory.SectionStats {
	f.t.Helper()
	for _, s := range f.stats(event).Sections {
		if s.ID == id {
			return s
		}
	}
	f.t.Fatalf("stats %s: no section %s", event, id)
	return inventory.SectionStats{}
}

// counts is the part of a section's counters a case states.
type counts struct{ Available, Held, Sold, Withheld int }

func (f *fixture) wantCounts(event, section string, want counts) {
	f.t.Helper()
	s := f.section(event, section)
	got := counts{s.Available, s.Held, s.Sold, s.Withheld}
	if got != want {
		f.t.Fatalf("section %s/%s: got %+v, want %+v", event, section, got, want)
	}
}

// sameStats fails when anything but nothing changed between two Stats, versions included.
func (f *fixture) sameStats(before, after inventory.Stats) {
	f.t.Helper()
	if fmt.Sprint(before) != fmt.Sprint(after) {
		f.t.Fatalf("stats changed:\nbefore %+v\nafter  %+v", before, after)
	}
}

func (f *fixture) auditClean(event string) {
	f.t.Helper()
	rep, err := f.s.Audit(f.ctx, event)
	if err != nil {
		f.t.Fatalf("audit %s: %v", event, err)
	}
	if len(rep.Differences) > 0 {
		f.t.Fatalf("audit %s: %d differences:\n%v", event, len(rep.Differences), rep.Differences)
	}
}

// checkBalance checks the invariant every Stats must show.
func checkBalance(t testing.TB, st inventory.Stats) {
	t.Helper()
	for _, s := range st.Sections {
		if s.Available < 0 || s.Held < 0 || s.Sold < 0 || s.Withheld < 0 {
			t.Errorf("section %s: negative counter %+v", s.ID, s)
		}
		if s.Available+s.Held+s.Sold+s.Withheld != s.Capacity {
			t.Errorf("section %s: available %d + held %d + sold %d + withheld %d != capacity %d",
				s.ID, s.Available, s.Held, s.Sold, s.Withheld, s.Capacity)
		}
		if s.Revenue != int64(s.Sold)*s.Price {
			t.Errorf("section %s: revenue %d != sold %d × price %d", s.ID, s.Revenue, s.Sold, s.Price)
		}
	}
}

// waitFor polls cond until it holds or the deadline passes. Only cases about expiry use it.
func (f *fixture) waitFor(what string, within time.Duration, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			f.t.Fatalf("waited %s for %s", within, what)
		}
		select {
		case <-f.ctx.Done():
			f.t.Fatalf("waiting for %s: %v", what, f.ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// waitState polls Get until the hold reports the state.
func (f *fixture) waitState(id string, want inventory.State, within time.Duration) inventory.Hold {
	f.t.Helper()
	var h inventory.Hold
	f.waitFor(fmt.Sprintf("hold %s to be %s", id, want), within, func() bool {
		h = f.get(id)
		return h.State == want
	})
	return h
}

func wantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want %v", what, err, want)
	}
}

func mustOK(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// near reports whether two times are within a millisecond (adapters may keep milliseconds only).
func near(a, b time.Time) bool {
	d := a.Sub(b)
	return d <= time.Millisecond && d >= -time.Millisecond
}

func items(it ...inventory.Item) []inventory.Item { return it }

func qty(section string, n int) inventory.Item { return inventory.Item{Section: section, Quantity: n} }

func adj(section string, n int) inventory.Item {
	return inventory.Item{Section: section, Quantity: n, Adjacent: true}
}
