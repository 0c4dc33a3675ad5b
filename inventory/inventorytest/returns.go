package inventorytest

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/onsale/onsale/inventory"
)

// sell holds and confirms, failing the test on error, and returns the confirmed hold.
func (f *fixture) sell(ev inventory.Event, fan string, it []inventory.Item, seats ...string) inventory.Hold {
	f.t.Helper()
	h := f.hold(ev, fan, it, seats...)
	c, err := f.s.Confirm(f.ctx, h.ID)
	mustOK(f.t, "confirm", err)
	return c
}

// giveBack returns a hold, failing the test on error, and checks that it came back released and otherwise intact.
func (f *fixture) giveBack(h inventory.Hold) inventory.Hold {
	f.t.Helper()
	r, err := f.s.Return(f.ctx, h.ID)
	mustOK(f.t, "return", err)
	want := h
	want.State = inventory.Released
	sameHold(f, r, want)
	sameHold(f, f.get(h.ID), want)
	return r
}

var returnCases = []testCase{
	{"Return/GeneralAdmission", func(f *fixture) {
		def := newEvent(ga("GA", 10, 2500))
		def.MaxPerFan = 4
		ev := f.create(def)
		h := f.sell(ev, "alice", items(qty("GA", 4)))
		f.wantCounts(ev.ID, "GA", counts{Available: 6, Sold: 4})
		f.holdFails(inventory.HoldRequest{Event: ev.ID, Fan: "alice", Items: items(qty("GA", 1))}, inventory.ErrLimitExceeded)
		v := f.section(ev.ID, "GA").Version
		f.giveBack(h)
		s := f.section(ev.ID, "GA")
		if s.Version <= v {
			f.t.Fatal("return did not bump the section's version")
		}
		if s.Revenue != 0 {
			f.t.Fatalf("revenue %d after the only sale was returned", s.Revenue)
		}
		f.wantCounts(ev.ID, "GA", counts{Available: 10})
		f.auditClean(ev.ID)
		// A returned hold is over: it can be neither sold again nor released.
		_, err := f.s.Confirm(f.ctx, h.ID)
		wantErr(f.t, "confirm returned", err, inventory.ErrHoldExpired)
		_, err = f.s.BeginCheckout(f.ctx, h.ID)
		wantErr(f.t, "checkout returned", err, inventory.ErrHoldExpired)
		_, err = f.s.Extend(f.ctx, h.ID)
		wantErr(f.t, "extend returned", err, inventory.ErrHoldExpired)
		before := f.stats(ev.ID)
		r, err := f.s.Release(f.ctx, h.ID)
		mustOK(f.t, "release returned", err)
		if r.State != inventory.Released {
			f.t.Fatalf("release of a returned hold: %+v", r)
		}
		f.sameStats(before, f.stats(ev.ID))
		// The fan may buy up to the limit again, and no further.
		again := f.sell(ev, "alice", items(qty("GA", 4)))
		f.holdFails(inventory.HoldRequest{Event: ev.ID, Fan: "alice", Items: items(qty("GA", 1))}, inventory.ErrLimitExceeded)
		f.wantCounts(ev.ID, "GA", counts{Available: 6, Sold: 4})
		if again.ID == h.ID {
			f.t.Fatal("the new sale reuses the returned hold's id")
		}
		f.auditClean(ev.ID)
	}},
	{"Return/Seated", func(f *fixture) {
		ev := f.create(newEvent(ga("GA", 10, 100), seated("A", 500, 4, 4)))
		h := f.sell(ev, "alice", items(qty("GA", 1)), "A-2-3", "A-1-2", "A-1-3")
		f.holdFails(inventory.HoldRequest{Event: ev.ID, Fan: "bob", Seats: []string{"A-1-2"}}, inventory.ErrSeatsUnavailable)
		f.wantCounts(ev.ID, "A", counts{Available: 5, Sold: 3})
		f.giveBack(h)
		f.wantCounts(ev.ID, "A", counts{Available: 8})
		f.wantCounts(ev.ID, "GA", counts{Available: 10})
		f.auditClean(ev.ID)
		// Those exact seats can be held by another fan, by name and by best available.
		wantSeats(f, f.hold(ev, "bob", nil, "A-1-3", "A-2-3"), "A-1-3", "A-2-3")
		wantSeats(f, f.hold(ev, "carol", items(adj("A", 2))), "A-1-1", "A-1-2")
		f.wantCounts(ev.ID, "A", counts{Available: 4, Held: 4})
		f.auditClean(ev.ID)
	}},
	{"Return/Twice", func(f *fixture) {
		def := newEvent(ga("GA", 10, 100), seated("A", 500, 4))
		def.MaxPerFan = 3
		ev := f.create(def)
		h := f.sell(ev, "alice", items(qty("GA", 1)), "A-1-1")
		r := f.giveBack(h)
		before := f.stats(ev.ID)
		for range 2 {
			again, err := f.s.Return(f.ctx, h.ID)
			mustOK(f.t, "return again", err)
			sameHold(f, again, r)
			f.sameStats(before, f.stats(ev.ID))
		}
		f.wantCounts(ev.ID, "GA", counts{Available: 10})
		f.wantCounts(ev.ID, "A", counts{Available: 4})
		// The fan got its units back once: the limit still binds at 3.
		f.holdFails(inventory.HoldRequest{Event: ev.ID, Fan: "alice", Items: items(qty("GA", 4))}, inventory.ErrLimitExceeded)
		f.hold(ev, "alice", items(qty("GA", 3)))
		f.holdFails(inventory.HoldRequest{Event: ev.ID, Fan: "alice", Items: items(qty("GA", 1))}, inventory.ErrLimitExceeded)
		f.auditClean(ev.ID)
	}},
	{"Return/Live", func(f *fixture) {
		ev := f.create(newEvent(ga("GA", 10, 100), seated("A", 500, 4)))
		held := f.hold(ev, "alice", items(qty("GA", 2)), "A-1-1")
		paying := f.hold(ev, "bob", items(qty("A", 2)))
		paying, err := f.s.BeginCheckout(f.ctx, paying.ID)
		mustOK(f.t, "checkout", err)
		before := f.stats(ev.ID)
		for _, h := range []inventory.Hold{held, paying} {
			got, err := f.s.Return(f.ctx, h.ID)
			wantErr(f.t, "return "+string(h.State), err, inventory.ErrInvalidState)
			if got.ID != "" {
				f.t.Fatalf("failed return answered a hold: %+v", got)
			}
			sameHold(f, f.get(h.ID), h)
			f.sameStats(before, f.stats(ev.ID))
		}
		// The failed returns left both holds as they were: they can still be sold.
		for _, h := range []inventory.Hold{held, paying} {
			c, err := f.s.Confirm(f.ctx, h.ID)
			mustOK(f.t, "confirm after a refused return", err)
			if c.State != inventory.Confirmed {
				f.t.Fatalf("confirm: %+v", c)
			}
		}
		f.wantCounts(ev.ID, "GA", counts{Available: 8, Sold: 2})
		f.wantCounts(ev.ID, "A", counts{Available: 1, Sold: 3})
		f.auditClean(ev.ID)
	}},
	{"Return/Ended", func(f *fixture) {
		var released, expired inventory.Hold
		ev := f.shortLived(func(ttl time.Duration) inventory.Event {
			ev := newEvent(ga("GA", 10, 100), seated("A", 500, 4))
			ev.HoldTTL = ttl
			return ev
		}, func(ev inventory.Event) bool {
			released = f.hold(ev, "alice", items(qty("GA", 1)), "A-1-1")
			expired = f.hold(ev, "bob", items(qty("GA", 2)), "A-1-2")
			r, err := f.s.Release(f.ctx, released.ID)
			if err != nil || r.State != inventory.Released {
				return false
			}
			released = r
			return f.heldIs(ev, "GA", 2)
		})
		f.waitState(expired.ID, inventory.Expired, expiryWait)
		_, err := f.s.Sweep(f.ctx, ev.ID, 10)
		mustOK(f.t, "sweep", err)
		f.wantCounts(ev.ID, "GA", counts{Available: 10})
		before := f.stats(ev.ID)
		for _, h := range []inventory.Hold{released, f.get(expired.ID)} {
			got, err := f.s.Return(f.ctx, h.ID)
			mustOK(f.t, "return "+string(h.State), err)
			sameHold(f, got, h)
			f.sameStats(before, f.stats(ev.ID))
		}
		f.auditClean(ev.ID)
	}},
	{"Return/NotFound", func(f *fixture) {
		ev := f.create(newEvent(ga("GA", 3, 100)))
		f.sell(ev, "alice", items(qty("GA", 1)))
		before := f.stats(ev.ID)
		ids := []string{"", "nonsense", ev.ID, ev.ID + ".", inventory.NewHoldID(ev.ID), inventory.NewHoldID(uniqueID("none"))}
		for _, id := range ids {
			_, err := f.s.Return(f.ctx, id)
			wantErr(f.t, "return "+id, err, inventory.ErrNotFound)
		}
		f.sameStats(before, f.stats(ev.ID))
	}},
	{"Return/Audit", func(f *fixture) {
		def := newEvent(ga("GA", 20, 100), seated("A", 500, 5, 5), seated("B", 300, 3))
		def.MaxPerFan = 8
		ev := f.create(def)
		a := f.sell(ev, "alice", items(qty("GA", 2), qty("A", 3), qty("B", 1)))
		b := f.sell(ev, "bob", items(qty("GA", 1)), "A-2-5", "A-2-1")
		c := f.sell(ev, "carol", items(adj("A", 2)))
		live := f.hold(ev, "alice", items(qty("GA", 1), qty("B", 1)))
		f.giveBack(a)
		f.auditClean(ev.ID)
		f.giveBack(b)
		f.auditClean(ev.ID)
		// A returned hold's seats sold again to someone else.
		d := f.sell(ev, "dan", nil, a.Seats...)
		f.auditClean(ev.ID)
		f.wantCounts(ev.ID, "GA", counts{Available: 19, Held: 1})
		f.wantCounts(ev.ID, "A", counts{Available: 5, Sold: 5})
		f.wantCounts(ev.ID, "B", counts{Available: 1, Held: 1, Sold: 1})
		for _, h := range []inventory.Hold{c, d} {
			f.giveBack(h)
		}
		_, err := f.s.Release(f.ctx, live.ID)
		mustOK(f.t, "release", err)
		for _, sec := range []string{"GA", "A", "B"} {
			s := f.section(ev.ID, sec)
			f.wantCounts(ev.ID, sec, counts{Available: s.Capacity})
		}
		f.auditClean(ev.ID)
	}},
	{"Return/Concurrent", func(f *fixture) { f.concurrentReturns() }},
}

// concurrentReturns has goroutines hold on a small event and confirm, return and release the holds just made (the
// same hold often by several at once). Afterwards the counters balance, no seat is in two holds, no fan
// is over the limit and Audit is clean; then with every hold ended everything is available and every fan may hold
// up to the limit again, so no return credited a section or a fan twice.
func (f *fixture) concurrentReturns() {
	def := newEvent(ga("GA", 12, 100), seated("S", 500, 4, 4))
	def.MaxPerFan = 4
	ev := f.create(def)
	const fans, workers, rounds = 8, 32, 40

	var mu sync.Mutex
	var ids []string // every hold made
	var sold, returned atomic.Int64
	// recent picks one of the last holds made: those are the likeliest to be live or sold, and to be picked by
	// several workers at once.
	recent := func(rng *rand.Rand) (string, bool) {
		mu.Lock()
		defer mu.Unlock()
		if len(ids) == 0 {
			return "", false
		}
		return ids[len(ids)-1-rng.IntN(min(len(ids), 16))], true
	}
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), uint64(workers)))
			for range rounds {
				op := rng.IntN(8)
				if op < 3 {
					req := inventory.HoldRequest{Event: ev.ID, Fan: "fan" + strconv.Itoa(rng.IntN(fans))}
					switch rng.IntN(3) {
					case 0:
						req.Items = items(qty("GA", 1+rng.IntN(2)))
					case 1:
						req.Items = items(qty("S", 1+rng.IntN(2)))
					default:
						req.Seats = []string{inventory.SeatID("S", strconv.Itoa(1+rng.IntN(2)), 1+rng.IntN(4))}
					}
					h, err := f.s.Hold(f.ctx, req)
					if f.unexpected("hold", err) || err != nil {
						continue
					}
					mu.Lock()
					ids = append(ids, h.ID)
					mu.Unlock()
					continue
				}
				id, ok := recent(rng)
				if !ok {
					continue
				}
				var err error
				switch op {
				case 3, 4:
					if _, err = f.s.Confirm(f.ctx, id); err == nil {
						sold.Add(1)
					}
				case 5, 6:
					if _, err = f.s.Return(f.ctx, id); err == nil {
						returned.Add(1)
					}
				default: // a refund right after the sale, or a failed payment
					if _, err = f.s.Confirm(f.ctx, id); err == nil {
						sold.Add(1)
						if _, err = f.s.Return(f.ctx, id); err == nil {
							returned.Add(1)
						}
					} else if errors.Is(err, inventory.ErrHoldExpired) {
						_, err = f.s.Release(f.ctx, id)
					}
				}
				f.unexpected("confirm, return or release", err)
			}
		})
	}
	wg.Wait()
	if f.t.Failed() {
		return
	}

	// The invariants with the holds as the traffic left them.
	st := f.stats(ev.ID)
	owner := make(map[string]string)
	perFan := make(map[string]int)
	perSection := make(map[string][2]int) // held, sold
	holds := make([]inventory.Hold, 0, len(ids))
	for _, id := range ids {
		h := f.get(id)
		holds = append(holds, h)
		if !h.State.Live() && h.State != inventory.Confirmed {
			continue
		}
		for _, s := range h.Seats {
			if other, ok := owner[s]; ok {
				f.t.Errorf("seat %s is in holds %s and %s", s, other, id)
			}
			owner[s] = id
		}
		perFan[h.Fan] += h.Units
		for _, l := range h.Lines {
			n := perSection[l.Section]
			if h.State.Live() {
				n[0] += l.Quantity
			} else {
				n[1] += l.Quantity
			}
			perSection[l.Section] = n
		}
	}
	for fan, units := range perFan {
		if units > ev.MaxPerFan {
			f.t.Errorf("fan %s has %d units live or bought, limit %d", fan, units, ev.MaxPerFan)
		}
	}
	for _, s := range st.Sections {
		if got := perSection[s.ID]; s.Held != got[0] || s.Sold != got[1] {
			f.t.Errorf("section %s: held %d sold %d, holds say %d and %d", s.ID, s.Held, s.Sold, got[0], got[1])
		}
	}
	f.auditClean(ev.ID)

	// End every hold: return the sold ones, release the live ones.
	for _, h := range holds {
		var err error
		switch {
		case h.State == inventory.Confirmed:
			_, err = f.s.Return(f.ctx, h.ID)
		case h.State.Live():
			_, err = f.s.Release(f.ctx, h.ID)
		}
		mustOK(f.t, "end "+h.ID, err)
	}
	for _, s := range f.stats(ev.ID).Sections {
		if s.Available != s.Capacity {
			f.t.Errorf("section %s with every hold ended: %+v", s.ID, s)
		}
	}
	f.auditClean(ev.ID)
	for i := range fans {
		fan := "fan" + strconv.Itoa(i)
		h, err := f.s.Hold(f.ctx, inventory.HoldRequest{Event: ev.ID, Fan: fan, Items: items(qty("GA", ev.MaxPerFan))})
		if err != nil {
			f.t.Fatalf("fan %s, every hold ended, holds %d: %v", fan, ev.MaxPerFan, err)
		}
		_, err = f.s.Hold(f.ctx, inventory.HoldRequest{Event: ev.ID, Fan: fan, Items: items(qty("GA", 1))})
		if !errors.Is(err, inventory.ErrLimitExceeded) {
			f.t.Fatalf("fan %s past the limit: %v", fan, err)
		}
		_, err = f.s.Release(f.ctx, h.ID)
		mustOK(f.t, "release", err)
	}
	f.auditClean(ev.ID)
	f.t.Logf("%d holds; %d confirms and %d returns answered", len(ids), sold.Load(), returned.Load())
}
