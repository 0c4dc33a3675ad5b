package redisstore

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/onsale/onsale/internal/testenv"
	"github.com/onsale/onsale/inventory"
)

func gaSection(id string, capacity int, price int64) inventory.Section {
	return inventory.Section{ID: id, Kind: inventory.General, Capacity: capacity, Price: price}
}

func seatedSection(id string, price int64, rows ...int) inventory.Section {
	sec := inventory.Section{ID: id, Kind: inventory.Seated, Price: price}
	for i, n := range rows {
		sec.Rows = append(sec.Rows, inventory.Row{Row: strconv.Itoa(i + 1), Seats: n})
	}
	return sec
}

func testEvent(sections ...inventory.Section) inventory.Event {
	return inventory.Event{ID: testenv.Unique("ev"), Name: "Test", Currency: "EUR", HoldTTL: 10 * time.Minute,
		MaxPerFan: 10, Sections: sections}
}

func (b *bundle) create(t testing.TB, ev inventory.Event) inventory.Event {
	t.Helper()
	if err := ev.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	if err := b.s.CreateEvent(b.ctx, ev); err != nil {
		t.Fatalf("create event: %v", err)
	}
	return ev
}

func (b *bundle) hold(t testing.TB, req inventory.HoldRequest) inventory.Hold {
	t.Helper()
	h, err := b.s.Hold(b.ctx, req)
	if err != nil {
		t.Fatalf("hold %+v: %v", req, err)
	}
	return h
}

func (b *bundle) counts(t testing.TB, event, section string) [4]int {
	t.Helper()
	st, err := b.s.Stats(b.ctx, event)
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	for _, s := range st.Sections {
		if s.ID == section {
			return [4]int{s.Available, s.Held, s.Sold, s.Withheld}
		}
	}
	t.Fatalf("no section %s", section)
	return [4]int{}
}

func (b *bundle) auditClean(t testing.TB, event string) {
	t.Helper()
	rep, err := b.s.Audit(b.ctx, event)
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	if len(rep.Differences) > 0 {
		t.Fatalf("audit: %v", rep.Differences)
	}
}

func item(sec string, q int) inventory.Item { return inventory.Item{Section: sec, Quantity: q} }

func adjacent(sec string, q int) inventory.Item {
	return inventory.Item{Section: sec, Quantity: q, Adjacent: true}
}

func TestBestAvailable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		rows  []int
		taken []string // held first by another fan
		wh    int
		ask   inventory.Item
		want  []string // nil: sold out
	}{
		{"clean run in first row", []int{5, 5}, nil, 0, item("A", 2), []string{"A-1-1", "A-1-2"}},
		{"exact run is clean", []int{6}, []string{"A-1-3"}, 0, item("A", 2), []string{"A-1-1", "A-1-2"}},
		{"skip run leaving a single", []int{6}, []string{"A-1-4"}, 0, item("A", 2), []string{"A-1-5", "A-1-6"}},
		{"clean in a later row wins", []int{4, 3}, nil, 0, item("A", 3), []string{"A-2-1", "A-2-2", "A-2-3"}},
		{"no clean: first placement", []int{4}, nil, 0, item("A", 3), []string{"A-1-1", "A-1-2", "A-1-3"}},
		{"one seat avoids a pair", []int{2, 3}, nil, 0, item("A", 1), []string{"A-2-1"}},
		{"split when no run", []int{3, 3}, []string{"A-1-2", "A-2-2"}, 0, item("A", 3), []string{"A-1-1", "A-1-3", "A-2-1"}},
		{"adjacent refuses a split", []int{3, 3}, []string{"A-1-2", "A-2-2"}, 0, adjacent("A", 3), nil},
		{"adjacent takes a run", []int{3, 3}, []string{"A-1-2"}, 0, adjacent("A", 3), []string{"A-2-1", "A-2-2", "A-2-3"}},
		{"withheld are the last seats", []int{3, 3}, nil, 2, item("A", 4), []string{"A-1-1", "A-1-2", "A-1-3", "A-2-1"}},
		{"withheld not sold", []int{3, 3}, nil, 2, item("A", 5), nil},
	}
	b := newBundle(t, Options{})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ev := testEvent(seatedSection("A", 100, c.rows...))
			if c.wh > 0 {
				ev.Withheld = map[string]int{"A": c.wh}
			}
			ev = b.create(t, ev)
			if len(c.taken) > 0 {
				b.hold(t, inventory.HoldRequest{Event: ev.ID, Fan: "other", Seats: c.taken})
			}
			h, err := b.s.Hold(b.ctx, inventory.HoldRequest{Event: ev.ID, Fan: "fan", Items: []inventory.Item{c.ask}})
			if c.want == nil {
				if !errors.Is(err, inventory.ErrSoldOut) {
					t.Fatalf("got %+v, %v; want sold out", h, err)
				}
			} else if err != nil || !slices.Equal(h.Seats, c.want) {
				t.Fatalf("got seats %v, %v; want %v", h.Seats, err, c.want)
			}
			b.auditClean(t, ev.ID)
		})
	}
}

func TestHoldNamedSeatsAndLines(t *testing.T) {
	b := setup(t, Options{})
	ev := b.create(t, testEvent(gaSection("GA", 10, 1000), seatedSection("A", 5000, 5, 5)))
	h := b.hold(t, inventory.HoldRequest{Event: ev.ID, Fan: "alice",
		Items: []inventory.Item{item("GA", 2), item("A", 2)}, Seats: []string{"A-1-1"}})
	if want := []string{"A-1-1", "A-1-2", "A-1-3"}; !slices.Equal(h.Seats, want) {
		t.Fatalf("seats %v, want %v", h.Seats, want)
	}
	wantLines := []inventory.Line{{Section: "A", Quantity: 3, UnitPrice: 5000, Amount: 15000},
		{Section: "GA", Quantity: 2, UnitPrice: 1000, Amount: 2000}}
	if !slices.Equal(h.Lines, wantLines) || h.Total != 17000 || h.Units != 5 || h.Currency != "EUR" {
		t.Fatalf("hold %+v", h)
	}
	got, err := b.s.Get(b.ctx, h.ID)
	if err != nil || !slices.Equal(got.Lines, h.Lines) || !slices.Equal(got.Seats, h.Seats) || got.State != inventory.Held {
		t.Fatalf("get %+v, %v", got, err)
	}
	if c := b.counts(t, ev.ID, "A"); c != [4]int{7, 3, 0, 0} {
		t.Fatalf("A counts %v", c)
	}
	_, err = b.s.Hold(b.ctx, inventory.HoldRequest{Event: ev.ID, Fan: "bob", Seats: []string{"A-1-4", "A-1-2"}})
	if !errors.Is(err, inventory.ErrSeatsUnavailable) {
		t.Fatalf("taken seat: %v", err)
	}
	b.auditClean(t, ev.ID)
}

func TestHoldErrors(t *testing.T) {
	b := setup(t, Options{})
	ev := testEvent(gaSection("GA", 5, 100), seatedSection("A", 100, 4))
	ev.MaxPerFan = 4
	ev = b.create(t, ev)
	b.hold(t, inventory.HoldRequest{Event: ev.ID, Fan: "alice", Items: []inventory.Item{item("GA", 3)}})
	for _, c := range []struct {
		name string
		req  inventory.HoldRequest
		want error
	}{
		{"unknown event", inventory.HoldRequest{Event: "nope-" + ev.ID, Fan: "x", Items: []inventory.Item{item("GA", 1)}}, inventory.ErrNotFound},
		{"bad event id", inventory.HoldRequest{Event: "a}b", Fan: "x", Items: []inventory.Item{item("GA", 1)}}, inventory.ErrNotFound},
		{"unknown section", inventory.HoldRequest{Event: ev.ID, Fan: "x", Items: []inventory.Item{item("B", 1)}}, inventory.ErrInvalid},
		{"bad section id", inventory.HoldRequest{Event: ev.ID, Fan: "x", Items: []inventory.Item{item("B:x", 1)}}, inventory.ErrInvalid},
		{"seat of general", inventory.HoldRequest{Event: ev.ID, Fan: "x", Seats: []string{"GA-1-1"}}, inventory.ErrInvalid},
		{"seat out of row", inventory.HoldRequest{Event: ev.ID, Fan: "x", Seats: []string{"A-1-5"}}, inventory.ErrInvalid},
		{"unknown row", inventory.HoldRequest{Event: ev.ID, Fan: "x", Seats: []string{"A-2-1"}}, inventory.ErrInvalid},
		{"adjacent general", inventory.HoldRequest{Event: ev.ID, Fan: "x", Items: []inventory.Item{adjacent("GA", 2)}}, inventory.ErrInvalid},
		{"limit", inventory.HoldRequest{Event: ev.ID, Fan: "alice", Items: []inventory.Item{item("A", 2)}}, inventory.ErrLimitExceeded},
		{"sold out", inventory.HoldRequest{Event: ev.ID, Fan: "bob", Items: []inventory.Item{item("GA", 3)}}, inventory.ErrSoldOut},
		{"sold out in second item", inventory.HoldRequest{Event: ev.ID, Fan: "bob", Items: []inventory.Item{item("GA", 1), item("GA", 2)}}, inventory.ErrSoldOut},
	} {
		before, _ := b.s.Stats(b.ctx, ev.ID)
		_, err := b.s.Hold(b.ctx, c.req)
		if !errors.Is(err, c.want) {
			t.Fatalf("%s: got %v, want %v", c.name, err, c.want)
		}
		after, _ := b.s.Stats(b.ctx, ev.ID)
		if !slices.Equal(before.Sections, after.Sections) {
			t.Fatalf("%s: stats changed %+v → %+v", c.name, before, after)
		}
	}
	b.auditClean(t, ev.ID)
}

func TestIdempotency(t *testing.T) {
	b := setup(t, Options{})
	ev := b.create(t, testEvent(gaSection("GA", 10, 100)))
	req := inventory.HoldRequest{Event: ev.ID, Fan: "alice", Items: []inventory.Item{item("GA", 2)},
		IdempotencyKey: "k1", Fingerprint: "f1"}
	h1 := b.hold(t, req)
	h2 := b.hold(t, req)
	if h1.ID != h2.ID {
		t.Fatalf("replay made another hold: %s, %s", h1.ID, h2.ID)
	}
	req.Fingerprint = "f2"
	if _, err := b.s.Hold(b.ctx, req); !errors.Is(err, inventory.ErrIdempotencyReused) {
		t.Fatalf("reused key: %v", err)
	}
	// The key is scoped to the fan.
	req.Fan, req.Fingerprint = "bob", "f1"
	if h3 := b.hold(t, req); h3.ID == h1.ID {
		t.Fatal("another fan got alice's hold")
	}
	if c := b.counts(t, ev.ID, "GA"); c != [4]int{6, 4, 0, 0} {
		t.Fatalf("counts %v", c)
	}
	b.auditClean(t, ev.ID)
}

func TestLifecycle(t *testing.T) {
	b := setup(t, Options{})
	ev := b.create(t, testEvent(seatedSection("A", 100, 10)))
	h := b.hold(t, inventory.HoldRequest{Event: ev.ID, Fan: "alice", Items: []inventory.Item{item("A", 2)}})

	x, err := b.s.Extend(b.ctx, h.ID)
	if err != nil || x.ExpiresAt.Before(h.ExpiresAt) || x.ExpiresAt.After(h.CreatedAt.Add(ev.MaxHoldLife)) {
		t.Fatalf("extend: %+v, %v", x, err)
	}
	co, err := b.s.BeginCheckout(b.ctx, h.ID)
	if err != nil || co.State != inventory.Checkout || time.Until(co.ExpiresAt) < 14*time.Minute {
		t.Fatalf("checkout: %+v, %v", co, err)
	}
	if again, err := b.s.BeginCheckout(b.ctx, h.ID); err != nil || !again.ExpiresAt.Equal(co.ExpiresAt) {
		t.Fatalf("checkout again: %+v, %v", again, err)
	}
	if _, err := b.s.Extend(b.ctx, h.ID); !errors.Is(err, inventory.ErrInvalidState) {
		t.Fatalf("extend in checkout: %v", err)
	}
	c, err := b.s.Confirm(b.ctx, h.ID)
	if err != nil || c.State != inventory.Confirmed {
		t.Fatalf("confirm: %+v, %v", c, err)
	}
	if _, err := b.s.Confirm(b.ctx, h.ID); err != nil {
		t.Fatalf("confirm again: %v", err)
	}
	if _, err := b.s.Release(b.ctx, h.ID); !errors.Is(err, inventory.ErrInvalidState) {
		t.Fatalf("release confirmed: %v", err)
	}
	if _, err := b.s.BeginCheckout(b.ctx, h.ID); !errors.Is(err, inventory.ErrInvalidState) {
		t.Fatalf("checkout confirmed: %v", err)
	}
	if got := b.counts(t, ev.ID, "A"); got != [4]int{8, 0, 2, 0} {
		t.Fatalf("counts %v", got)
	}

	r := b.hold(t, inventory.HoldRequest{Event: ev.ID, Fan: "bob", Items: []inventory.Item{item("A", 3)}})
	rel, err := b.s.Release(b.ctx, r.ID)
	if err != nil || rel.State != inventory.Released {
		t.Fatalf("release: %+v, %v", rel, err)
	}
	if again, err := b.s.Release(b.ctx, r.ID); err != nil || again.State != inventory.Released {
		t.Fatalf("release again: %+v, %v", again, err)
	}
	for name, op := range map[string]func() error{
		"confirm":  func() error { _, err := b.s.Confirm(b.ctx, r.ID); return err },
		"checkout": func() error { _, err := b.s.BeginCheckout(b.ctx, r.ID); return err },
		"extend":   func() error { _, err := b.s.Extend(b.ctx, r.ID); return err },
	} {
		if err := op(); !errors.Is(err, inventory.ErrHoldExpired) {
			t.Fatalf("%s released: %v", name, err)
		}
	}
	if got := b.counts(t, ev.ID, "A"); got != [4]int{8, 0, 2, 0} {
		t.Fatalf("counts %v", got)
	}
	missing := inventory.NewHoldID(ev.ID)
	if _, err := b.s.Get(b.ctx, missing); !errors.Is(err, inventory.ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	if _, err := b.s.Release(b.ctx, missing); !errors.Is(err, inventory.ErrNotFound) {
		t.Fatalf("release missing: %v", err)
	}
	if _, err := b.s.Confirm(b.ctx, "not-a-hold"); !errors.Is(err, inventory.ErrNotFound) {
		t.Fatalf("confirm bad id: %v", err)
	}
	b.auditClean(t, ev.ID)
}

func TestExpiry(t *testing.T) {
	b := setup(t, Options{})
	ev := testEvent(gaSection("GA", 3, 100), seatedSection("A", 100, 4))
	ev.HoldTTL = 200 * time.Millisecond
	ev = b.create(t, ev)
	co := b.hold(t, inventory.HoldRequest{Event: ev.ID, Fan: "bob", Seats: []string{"A-1-4"}})
	if _, err := b.s.BeginCheckout(b.ctx, co.ID); err != nil {
		t.Fatalf("checkout: %v", err)
	}
	// The last mutating call before the counters are read: nothing reclaims h until the Confirm below.
	h := b.hold(t, inventory.HoldRequest{Event: ev.ID, Fan: "alice", Items: []inventory.Item{item("GA", 3), item("A", 2)}})
	waitUntil(t, h.ExpiresAt)
	got, err := b.s.Get(b.ctx, h.ID)
	if err != nil || got.State != inventory.Expired {
		t.Fatalf("get after deadline: %+v, %v", got, err)
	}
	// Read-only view: the counters move only when the hold is reclaimed.
	if c := b.counts(t, ev.ID, "GA"); c != [4]int{0, 3, 0, 0} {
		t.Fatalf("counts before sweep %v", c)
	}
	if _, err := b.s.Confirm(b.ctx, h.ID); !errors.Is(err, inventory.ErrHoldExpired) {
		t.Fatalf("confirm expired: %v", err)
	}
	if c := b.counts(t, ev.ID, "GA"); c != [4]int{3, 0, 0, 0} {
		t.Fatalf("counts after reclaim %v", c)
	}
	if n, err := b.s.Sweep(b.ctx, ev.ID, 100); err != nil || n != 0 {
		t.Fatalf("sweep: %d, %v", n, err)
	}
	// The hold in checkout keeps its seat past the hold deadline.
	if c := b.counts(t, ev.ID, "A"); c != [4]int{3, 1, 0, 0} {
		t.Fatalf("A counts %v", c)
	}
	if r, err := b.s.Release(b.ctx, h.ID); err != nil || r.State != inventory.Expired {
		t.Fatalf("release expired: %+v, %v", r, err)
	}
	// Lazy reclaim: a new hold reclaims expired ones first.
	h2 := b.hold(t, inventory.HoldRequest{Event: ev.ID, Fan: "carol", Items: []inventory.Item{item("GA", 1)}})
	waitUntil(t, h2.ExpiresAt)
	b.hold(t, inventory.HoldRequest{Event: ev.ID, Fan: "dave", Items: []inventory.Item{item("GA", 3)}})
	if g, _ := b.s.Get(b.ctx, h2.ID); g.State != inventory.Expired {
		t.Fatalf("h2 %+v", g)
	}
	b.auditClean(t, ev.ID)
}

// waitUntil blocks until the wall clock has passed at (holds expire at millisecond resolution).
func waitUntil(t testing.TB, at time.Time) {
	t.Helper()
	<-time.After(time.Until(at) + 2*time.Millisecond)
}

func TestSweep(t *testing.T) {
	b := setup(t, Options{})
	ev := testEvent(gaSection("GA", 1000, 100))
	ev.HoldTTL = 300 * time.Millisecond
	ev.MaxPerFan = 1000
	ev = b.create(t, ev)
	holds := make(chan inventory.Hold, 300)
	var wg sync.WaitGroup
	for i := 0; i < 300; i++ {
		wg.Go(func() {
			h, err := b.s.Hold(b.ctx, inventory.HoldRequest{Event: ev.ID, Fan: "f" + strconv.Itoa(i%7), Items: []inventory.Item{item("GA", 1)}})
			if err != nil {
				t.Errorf("hold: %v", err)
			}
			holds <- h
		})
	}
	wg.Wait()
	close(holds)
	var last time.Time
	for h := range holds {
		if h.ExpiresAt.After(last) {
			last = h.ExpiresAt
		}
	}
	waitUntil(t, last)
	// Holds made after others expired reclaimed some of them already; the rest wait for the sweep.
	held := b.counts(t, ev.ID, "GA")[1]
	if held < 20 {
		t.Fatalf("only %d units still held", held)
	}
	if n, err := b.s.Sweep(b.ctx, ev.ID, 10); err != nil || n != 10 {
		t.Fatalf("sweep 10: %d, %v", n, err)
	}
	if n, err := b.s.Sweep(b.ctx, ev.ID, 1000); err != nil || n != held-10 {
		t.Fatalf("sweep rest: %d, %v, want %d", n, err, held-10)
	}
	if c := b.counts(t, ev.ID, "GA"); c != [4]int{1000, 0, 0, 0} {
		t.Fatalf("counts %v", c)
	}
	if _, err := b.s.Sweep(b.ctx, "nope"+ev.ID, 10); !errors.Is(err, inventory.ErrNotFound) {
		t.Fatalf("sweep unknown: %v", err)
	}
	b.auditClean(t, ev.ID)
}

func TestReleaseWave(t *testing.T) {
	b := setup(t, Options{})
	ev := testEvent(gaSection("GA", 10, 100), seatedSection("A", 100, 3, 3))
	ev.Withheld = map[string]int{"GA": 6, "A": 4}
	ev = b.create(t, ev)
	if err := b.s.ReleaseWave(b.ctx, ev.ID, "w1", map[string]int{"GA": 2, "A": 3}); err != nil {
		t.Fatal(err)
	}
	if err := b.s.ReleaseWave(b.ctx, ev.ID, "w1", map[string]int{"GA": 2, "A": 3}); err != nil {
		t.Fatal(err)
	}
	if c := b.counts(t, ev.ID, "GA"); c != [4]int{6, 0, 0, 4} {
		t.Fatalf("GA %v", c)
	}
	if c := b.counts(t, ev.ID, "A"); c != [4]int{5, 0, 0, 1} {
		t.Fatalf("A %v", c)
	}
	h := b.hold(t, inventory.HoldRequest{Event: ev.ID, Fan: "x", Items: []inventory.Item{item("A", 5)}})
	if want := []string{"A-1-1", "A-1-2", "A-1-3", "A-2-1", "A-2-2"}; !slices.Equal(h.Seats, want) {
		t.Fatalf("seats %v", h.Seats)
	}
	if err := b.s.ReleaseWave(b.ctx, ev.ID, "w2", map[string]int{"GA": 100}); err != nil {
		t.Fatal(err)
	}
	if c := b.counts(t, ev.ID, "GA"); c != [4]int{10, 0, 0, 0} {
		t.Fatalf("GA capped %v", c)
	}
	if err := b.s.ReleaseWave(b.ctx, ev.ID, "w3", map[string]int{"B": 1}); !errors.Is(err, inventory.ErrInvalid) {
		t.Fatalf("unknown section: %v", err)
	}
	if err := b.s.ReleaseWave(b.ctx, "x"+ev.ID, "w3", map[string]int{"A": 1}); !errors.Is(err, inventory.ErrNotFound) {
		t.Fatalf("unknown event: %v", err)
	}
	b.auditClean(t, ev.ID)
}

func TestScriptFlush(t *testing.T) {
	for _, maxBatch := range []int{1, 64} {
		t.Run("MaxBatch"+strconv.Itoa(maxBatch), func(t *testing.T) {
			b := setup(t, Options{MaxBatch: maxBatch})
			ev := b.create(t, testEvent(gaSection("GA", 10, 100)))
			// Forgetting scripts is harmless to other users of the server: they reload or fall back to EVAL.
			if err := b.c.ScriptFlush(b.ctx).Err(); err != nil {
				t.Fatal(err)
			}
			h := b.hold(t, inventory.HoldRequest{Event: ev.ID, Fan: "a", Items: []inventory.Item{item("GA", 1)}})
			if err := b.c.ScriptFlush(b.ctx).Err(); err != nil {
				t.Fatal(err)
			}
			if _, err := b.s.Confirm(b.ctx, h.ID); err != nil {
				t.Fatalf("confirm after flush: %v", err)
			}
			if c := b.counts(t, ev.ID, "GA"); c != [4]int{9, 0, 1, 0} {
				t.Fatalf("counts %v", c)
			}
			if err := b.c.ScriptFlush(b.ctx).Err(); err != nil {
				t.Fatal(err)
			}
			if _, err := b.s.Return(b.ctx, h.ID); err != nil {
				t.Fatalf("return after flush: %v", err)
			}
			if c := b.counts(t, ev.ID, "GA"); c != [4]int{10, 0, 0, 0} {
				t.Fatalf("counts %v", c)
			}
			live := b.hold(t, inventory.HoldRequest{Event: ev.ID, Fan: "b", Items: []inventory.Item{item("GA", 2)}})
			if err := b.c.ScriptFlush(b.ctx).Err(); err != nil {
				t.Fatal(err)
			}
			if n, more, err := b.s.Cancel(b.ctx, ev.ID, 5); err != nil || n != 1 || more {
				t.Fatalf("cancel after flush: %d %t %v", n, more, err)
			}
			if g, err := b.s.Get(b.ctx, live.ID); err != nil || g.State != inventory.Released {
				t.Fatalf("hold after cancel: %+v, %v", g, err)
			}
			if err := b.c.ScriptFlush(b.ctx).Err(); err != nil {
				t.Fatal(err)
			}
			_, err := b.s.Hold(b.ctx, inventory.HoldRequest{Event: ev.ID, Fan: "a", Items: []inventory.Item{item("GA", 1)}})
			if !errors.Is(err, inventory.ErrEventClosed) {
				t.Fatalf("hold after cancel and flush: %v", err)
			}
			b.auditClean(t, ev.ID)
		})
	}
}

// TestReturnKeepsTheHold: a returned hold leaves the confirmed set but its record stays without expiry, as a sold
// one's, so that Restore keeps knowing it; a released one's expires.
func TestReturnKeepsTheHold(t *testing.T) {
	b := setup(t, Options{})
	ev := b.create(t, testEvent(gaSection("GA", 10, 100), seatedSection("A", 100, 5)))
	sold := b.hold(t, inventory.HoldRequest{Event: ev.ID, Fan: "alice", Items: []inventory.Item{item("GA", 1)}, Seats: []string{"A-1-2"}})
	if _, err := b.s.Confirm(b.ctx, sold.ID); err != nil {
		t.Fatal(err)
	}
	released := b.hold(t, inventory.HoldRequest{Event: ev.ID, Fan: "bob", Items: []inventory.Item{item("GA", 1)}})
	if _, err := b.s.Release(b.ctx, released.ID); err != nil {
		t.Fatal(err)
	}
	r, err := b.s.Return(b.ctx, sold.ID)
	if err != nil || r.State != inventory.Released {
		t.Fatalf("return: %+v, %v", r, err)
	}
	p := b.s.evKey(ev.ID)
	if ttl := b.c.PTTL(b.ctx, p+"hold:"+sold.ID).Val(); ttl != -1 {
		t.Fatalf("returned hold's record expires in %s", ttl)
	}
	if ttl := b.c.PTTL(b.ctx, p+"hold:"+released.ID).Val(); ttl <= 0 {
		t.Fatalf("released hold's record: ttl %s", ttl)
	}
	if b.c.SIsMember(b.ctx, p+"confirmed", sold.ID).Val() {
		t.Fatal("returned hold still in the confirmed set")
	}
	if n := b.c.ZCard(b.ctx, p+"deadline").Val(); n != 0 {
		t.Fatalf("deadline index has %d holds", n)
	}
	f := b.c.MGet(b.ctx, p+"fan:alice", p+"bought:alice").Val()
	if toStr(f[0]) != "0" || toStr(f[1]) != "0" {
		t.Fatalf("alice's units %v", f)
	}
	if seats := b.c.Get(b.ctx, p+"seats:A").Val(); seats != "00000" {
		t.Fatalf("seats %q", seats)
	}
	b.auditClean(t, ev.ID)
}

func TestRestore(t *testing.T) {
	b := setup(t, Options{})
	ev := b.create(t, testEvent(gaSection("GA", 10, 100), seatedSection("A", 100, 5)))
	sold := b.hold(t, inventory.HoldRequest{Event: ev.ID, Fan: "alice", Items: []inventory.Item{item("GA", 2)}, Seats: []string{"A-1-3"}})
	sold, _ = b.s.Confirm(b.ctx, sold.ID)
	paying := b.hold(t, inventory.HoldRequest{Event: ev.ID, Fan: "bob", Items: []inventory.Item{item("A", 2)}})
	paying, _ = b.s.BeginCheckout(b.ctx, paying.ID)
	held := b.hold(t, inventory.HoldRequest{Event: ev.ID, Fan: "carol", Items: []inventory.Item{item("GA", 1)}})

	// A second store on another prefix stands for Redis after losing its data.
	fresh := newBundle(t, Options{})
	if _, err := fresh.s.Restore(b.ctx, ev.ID, nil); !errors.Is(err, inventory.ErrNotFound) {
		t.Fatalf("restore unknown event: %v", err)
	}
	def, err := b.s.Event(b.ctx, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	fresh.create(t, def)
	holds := []inventory.Hold{sold, paying, held}
	if n, err := fresh.s.Restore(b.ctx, ev.ID, holds); err != nil || n != 2 {
		t.Fatalf("restore: %d, %v", n, err)
	}
	if n, err := fresh.s.Restore(b.ctx, ev.ID, holds); err != nil || n != 0 {
		t.Fatalf("restore again: %d, %v", n, err)
	}
	if c := fresh.counts(t, ev.ID, "GA"); c != [4]int{8, 0, 2, 0} {
		t.Fatalf("GA %v", c)
	}
	if c := fresh.counts(t, ev.ID, "A"); c != [4]int{2, 2, 1, 0} {
		t.Fatalf("A %v", c)
	}
	got, err := fresh.s.Get(b.ctx, paying.ID)
	if err != nil || got.State != inventory.Checkout || !slices.Equal(got.Seats, paying.Seats) {
		t.Fatalf("restored hold %+v, %v", got, err)
	}
	// The restored seats are taken; the fan counts are back.
	if _, err := fresh.s.Hold(b.ctx, inventory.HoldRequest{Event: ev.ID, Fan: "x", Seats: []string{"A-1-3"}}); !errors.Is(err, inventory.ErrSeatsUnavailable) {
		t.Fatalf("restored seat: %v", err)
	}
	fresh.auditClean(t, ev.ID)
}

func TestAuditFindsDifferences(t *testing.T) {
	b := setup(t, Options{})
	ev := b.create(t, testEvent(gaSection("GA", 10, 100), seatedSection("A", 100, 5)))
	h := b.hold(t, inventory.HoldRequest{Event: ev.ID, Fan: "alice", Items: []inventory.Item{item("GA", 2), item("A", 2)}})
	b.auditClean(t, ev.ID)
	p := b.s.evKey(ev.ID)
	b.c.HIncrBy(b.ctx, p+"sec:GA", "avail", 1)
	b.c.SetRange(b.ctx, p+"seats:A", 4, "s")
	rep, err := b.s.Audit(b.ctx, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Holds != 1 || len(rep.Differences) < 3 {
		t.Fatalf("audit of a corrupted event: %+v (hold %s)", rep, h.ID)
	}
}

func TestCreateEvent(t *testing.T) {
	b := setup(t, Options{})
	ev := b.create(t, testEvent(gaSection("GA", 10, 100)))
	if err := b.s.CreateEvent(b.ctx, ev); !errors.Is(err, inventory.ErrEventExists) {
		t.Fatalf("twice: %v", err)
	}
	bad := testEvent(gaSection("GA", 0, 100))
	if err := b.s.CreateEvent(b.ctx, bad); !errors.Is(err, inventory.ErrInvalid) {
		t.Fatalf("invalid: %v", err)
	}
	ids, err := b.s.Events(b.ctx)
	if err != nil || !slices.Equal(ids, []string{ev.ID}) {
		t.Fatalf("events %v, %v", ids, err)
	}
	if _, err := New(b.c, Options{Prefix: "a{b"}); err == nil {
		t.Fatal("prefix with a brace accepted")
	}
}

// TestRESP2 runs the main paths on a client speaking RESP2 (the tests above use go-redis's default, RESP3): script
// replies convert differently between the two.
func TestRESP2(t *testing.T) {
	t.Parallel()
	o, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	o.Protocol = 2
	c := redis.NewClient(o)
	prefix := testenv.Unique("invt")
	s, err := New(c, Options{Prefix: prefix, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.Close()
		dropPrefix(t, c, prefix)
		_ = c.Close()
	})
	b := &bundle{s: s, c: c, prefix: prefix, ctx: context.Background()}
	ev := b.create(t, testEvent(gaSection("GA", 10, 100), seatedSection("A", 100, 5)))
	h := b.hold(t, inventory.HoldRequest{Event: ev.ID, Fan: "alice", Items: []inventory.Item{item("GA", 2), item("A", 2)},
		IdempotencyKey: "k", Fingerprint: "f"})
	if again := b.hold(t, inventory.HoldRequest{Event: ev.ID, Fan: "alice", Items: []inventory.Item{item("GA", 2), item("A", 2)},
		IdempotencyKey: "k", Fingerprint: "f"}); again.ID != h.ID || !slices.Equal(again.Seats, h.Seats) {
		t.Fatalf("replay %+v of %+v", again, h)
	}
	if _, err := b.s.Confirm(b.ctx, h.ID); err != nil {
		t.Fatal(err)
	}
	g, err := b.s.Get(b.ctx, h.ID)
	if err != nil || g.State != inventory.Confirmed || g.Total != 400 || !slices.Equal(g.Seats, []string{"A-1-1", "A-1-2"}) {
		t.Fatalf("get %+v, %v", g, err)
	}
	if c := b.counts(t, ev.ID, "A"); c != [4]int{3, 0, 2, 0} {
		t.Fatalf("counts %v", c)
	}
	b.auditClean(t, ev.ID)
}

// TestReturnChecksBeforeWriting: a section whose sold counter cannot cover the hold (a corrupted store) fails the
// return before anything changes, rather than drive a counter negative.
func TestReturnChecksBeforeWriting(t *testing.T) {
	b := setup(t, Options{})
	ev := b.create(t, testEvent(gaSection("GA", 10, 100), seatedSection("A", 100, 5)))
	h := b.hold(t, inventory.HoldRequest{Event: ev.ID, Fan: "alice", Items: []inventory.Item{item("GA", 2)}, Seats: []string{"A-1-2"}})
	if _, err := b.s.Confirm(b.ctx, h.ID); err != nil {
		t.Fatal(err)
	}
	p := b.s.evKey(ev.ID)
	b.c.HSet(b.ctx, p+"sec:GA", "sold", 1)
	before, err := b.s.Stats(b.ctx, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.s.Return(b.ctx, h.ID); err == nil || errors.Is(err, inventory.ErrInvalidState) {
		t.Fatalf("return against a corrupted counter: %v", err)
	}
	after, err := b.s.Stats(b.ctx, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(before.Sections, after.Sections) {
		t.Fatalf("stats changed:\n%+v\n%+v", before.Sections, after.Sections)
	}
	if g, err := b.s.Get(b.ctx, h.ID); err != nil || g.State != inventory.Confirmed {
		t.Fatalf("hold after a refused return: %+v, %v", g, err)
	}
	if seats := b.c.Get(b.ctx, p+"seats:A").Val(); seats != "0s000" {
		t.Fatalf("seats %q", seats)
	}
}
