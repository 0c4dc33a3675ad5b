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

// cancel cancels an event with the limit, failing the test on error, and checks the answer.
func (f *fixture) cancel(event string, limit, wantReleased int, wantMore bool) {
	f.t.Helper()
	n, more, err := f.s.Cancel(f.ctx, event, limit)
	mustOK(f.t, "cancel", err)
	if n != wantReleased || more != wantMore {
		f.t.Fatalf("cancel %s limit %d: released %d more %t; want %d %t", event, limit, n, more, wantReleased, wantMore)
	}
	if !f.stats(event).Cancelled {
		f.t.Fatalf("stats of %s after cancel: not cancelled", event)
	}
}

// refused asks for holds of every kind on a cancelled event: each fails with ErrEventClosed and changes nothing.
func (f *fixture) refused(ev inventory.Event, fan string) {
	f.t.Helper()
	for _, req := range []inventory.HoldRequest{
		{Items: items(qty("GA", 1))},
		{Items: items(adj("A", 2))},
		{Seats: []string{"A-1-1"}},
		{Items: items(qty("GA", 1)), Seats: []string{"A-1-2"}, IdempotencyKey: "k-" + fan},
	} {
		req.Event, req.Fan = ev.ID, fan
		if req.IdempotencyKey != "" {
			req.Fingerprint = inventory.RequestFingerprint(req)
		}
		f.holdFails(req, inventory.ErrEventClosed)
	}
}

// cancelEvent is the events of the cancel cases: a general section and a seated one of two rows of 4.
func cancelEvent() inventory.Event {
	return newEvent(ga("GA", 10, 100), seated("A", 500, 4, 4))
}

var cancelCases = []testCase{
	{"Cancel/RefusesHolds", func(f *fixture) {
		ev := f.create(cancelEvent())
		if f.stats(ev.ID).Cancelled {
			f.t.Fatal("a new event reads as cancelled")
		}
		// A hold made with a key before the cancel is not replayed after it.
		req := inventory.HoldRequest{Event: ev.ID, Fan: "alice", Items: items(qty("GA", 2)), IdempotencyKey: "k1"}
		req.Fingerprint = inventory.RequestFingerprint(req)
		first := f.holdReq(req)
		f.sell(ev, "bob", items(qty("GA", 1)), "A-2-4")
		f.cancel(ev.ID, 10, 1, false)
		f.refused(ev, "alice")
		f.refused(ev, "carol")
		f.holdFails(req, inventory.ErrEventClosed)
		if h := f.get(first.ID); h.State != inventory.Released {
			f.t.Fatalf("hold after cancel: %+v", h)
		}
		f.wantCounts(ev.ID, "GA", counts{Available: 9, Sold: 1})
		f.wantCounts(ev.ID, "A", counts{Available: 7, Sold: 1})
		f.auditClean(ev.ID)
	}},
	{"Cancel/ReleasesLiveHolds", func(f *fixture) {
		def := cancelEvent()
		def.CheckoutTTL = time.Minute
		ev := f.create(def)
		held := f.hold(ev, "alice", items(qty("GA", 2)), "A-1-1")
		paying := f.hold(ev, "bob", items(qty("A", 2)))
		paying, err := f.s.BeginCheckout(f.ctx, paying.ID)
		mustOK(f.t, "checkout", err)
		sale := f.sell(ev, "carol", items(qty("GA", 3)), "A-2-4")
		f.wantCounts(ev.ID, "GA", counts{Available: 5, Held: 2, Sold: 3})
		f.wantCounts(ev.ID, "A", counts{Available: 4, Held: 3, Sold: 1})
		before := f.stats(ev.ID)
		f.cancel(ev.ID, 10, 2, false)
		after := f.stats(ev.ID)
		for i := range after.Sections {
			if after.Sections[i].Version <= before.Sections[i].Version {
				f.t.Fatalf("section %s: the cancel did not bump its version", after.Sections[i].ID)
			}
		}
		f.wantCounts(ev.ID, "GA", counts{Available: 7, Sold: 3})
		f.wantCounts(ev.ID, "A", counts{Available: 7, Sold: 1})
		f.auditClean(ev.ID)
		for _, h := range []inventory.Hold{held, paying} {
			want := h
			want.State = inventory.Released
			sameHold(f, f.get(h.ID), want)
		}
		sameHold(f, f.get(sale.ID), sale)
		// The payment under way must not be kept; nothing else revives a released hold.
		_, err = f.s.Confirm(f.ctx, paying.ID)
		wantErr(f.t, "confirm released by cancel", err, inventory.ErrHoldExpired)
		_, err = f.s.Confirm(f.ctx, held.ID)
		wantErr(f.t, "confirm held released by cancel", err, inventory.ErrHoldExpired)
		_, err = f.s.BeginCheckout(f.ctx, held.ID)
		wantErr(f.t, "checkout released by cancel", err, inventory.ErrHoldExpired)
		_, err = f.s.Extend(f.ctx, held.ID)
		wantErr(f.t, "extend released by cancel", err, inventory.ErrHoldExpired)
		r, err := f.s.Release(f.ctx, paying.ID)
		mustOK(f.t, "release released by cancel", err)
		if r.State != inventory.Released {
			f.t.Fatalf("release after cancel: %+v", r)
		}
		f.sameStats(after, f.stats(ev.ID))
		f.auditClean(ev.ID)
	}},
	{"Cancel/Paging", func(f *fixture) {
		def := newEvent(ga("GA", 20, 100), seated("A", 500, 4, 4))
		ev := f.create(def)
		ids := f.holdEach(ev, 8)
		ids = append(ids, f.hold(ev, "fan8", items(adj("A", 3))).ID, f.hold(ev, "fan9", nil, "A-2-2").ID)
		f.cancel(ev.ID, 3, 3, true)
		f.cancel(ev.ID, 3, 3, true)
		f.cancel(ev.ID, 3, 3, true)
		f.refused(ev, "fan1")
		f.auditClean(ev.ID)
		f.cancel(ev.ID, 3, 1, false)
		for _, id := range ids {
			if h := f.get(id); h.State != inventory.Released {
				f.t.Fatalf("hold after the last cancel: %+v", h)
			}
		}
		f.wantCounts(ev.ID, "GA", counts{Available: 20})
		f.wantCounts(ev.ID, "A", counts{Available: 8})
		f.auditClean(ev.ID)
	}},
	{"Cancel/Twice", func(f *fixture) {
		ev := f.create(cancelEvent())
		f.hold(ev, "alice", items(qty("GA", 1)), "A-1-2")
		f.sell(ev, "bob", items(qty("GA", 2)))
		f.cancel(ev.ID, 5, 1, false)
		before := f.stats(ev.ID)
		for range 2 {
			f.cancel(ev.ID, 5, 0, false)
			f.sameStats(before, f.stats(ev.ID))
		}
		f.refused(ev, "alice")
		f.auditClean(ev.ID)
	}},
	{"Cancel/Returns", func(f *fixture) {
		def := cancelEvent()
		def.MaxPerFan = 6
		ev := f.create(def)
		a := f.sell(ev, "alice", items(qty("GA", 2)), "A-1-1", "A-1-2")
		b := f.sell(ev, "bob", items(qty("A", 3)))
		live := f.hold(ev, "alice", items(qty("GA", 2)))
		f.cancel(ev.ID, 10, 1, false)
		if h := f.get(live.ID); h.State != inventory.Released {
			f.t.Fatalf("live hold after cancel: %+v", h)
		}
		sameHold(f, f.get(a.ID), a)
		sameHold(f, f.get(b.ID), b)
		f.wantCounts(ev.ID, "GA", counts{Available: 8, Sold: 2})
		f.wantCounts(ev.ID, "A", counts{Available: 3, Sold: 5})
		// The refunds come in one by one; the units they free stay unbuyable.
		f.giveBack(a)
		f.wantCounts(ev.ID, "GA", counts{Available: 10})
		f.wantCounts(ev.ID, "A", counts{Available: 5, Sold: 3})
		f.auditClean(ev.ID)
		f.refused(ev, "alice")
		f.holdFails(inventory.HoldRequest{Event: ev.ID, Fan: "dan", Seats: a.Seats}, inventory.ErrEventClosed)
		before := f.stats(ev.ID)
		again, err := f.s.Return(f.ctx, a.ID)
		mustOK(f.t, "return again", err)
		if again.State != inventory.Released {
			f.t.Fatalf("return again: %+v", again)
		}
		f.sameStats(before, f.stats(ev.ID))
		f.giveBack(b)
		f.wantCounts(ev.ID, "A", counts{Available: 8})
		f.cancel(ev.ID, 10, 0, false)
		f.refused(ev, "bob")
		f.auditClean(ev.ID)
	}},
	{"Cancel/Expired", func(f *fixture) {
		var paying, h1, h2 inventory.Hold
		ev := f.shortLived(func(ttl time.Duration) inventory.Event {
			ev := cancelEvent()
			ev.HoldTTL = ttl
			ev.CheckoutTTL = time.Minute
			return ev
		}, func(ev inventory.Event) bool {
			paying = f.hold(ev, "carol", items(qty("GA", 1)))
			if _, err := f.s.BeginCheckout(f.ctx, paying.ID); err != nil {
				wantErr(f.t, "checkout", err, inventory.ErrHoldExpired)
				return false
			}
			h1 = f.hold(ev, "alice", items(qty("GA", 2)), "A-1-1")
			h2 = f.hold(ev, "bob", items(qty("A", 2)))
			return f.heldIs(ev, "GA", 3) && f.heldIs(ev, "A", 3)
		})
		f.waitState(h2.ID, inventory.Expired, expiryWait)
		// The holds past their deadline expire, as a sweep would, and are not counted as released.
		f.cancel(ev.ID, 10, 1, false)
		for id, want := range map[string]inventory.State{h1.ID: inventory.Expired, h2.ID: inventory.Expired,
			paying.ID: inventory.Released} {
			if h := f.get(id); h.State != want {
				f.t.Fatalf("hold after cancel: %+v, want %s", h, want)
			}
		}
		f.wantCounts(ev.ID, "GA", counts{Available: 10})
		f.wantCounts(ev.ID, "A", counts{Available: 8})
		n, err := f.s.Sweep(f.ctx, ev.ID, 10)
		mustOK(f.t, "sweep", err)
		if n != 0 {
			f.t.Fatalf("sweep after cancel expired %d", n)
		}
		f.auditClean(ev.ID)
	}},
	{"Cancel/OtherCalls", func(f *fixture) {
		def := cancelEvent()
		def.Withheld = map[string]int{"GA": 4, "A": 2}
		ev := f.create(def)
		f.hold(ev, "alice", items(qty("GA", 1)))
		f.cancel(ev.ID, 1, 1, false)
		n, err := f.s.Sweep(f.ctx, ev.ID, 10)
		mustOK(f.t, "sweep", err)
		if n != 0 {
			f.t.Fatalf("sweep expired %d", n)
		}
		got, err := f.s.Event(f.ctx, ev.ID)
		mustOK(f.t, "event", err)
		if got.ID != ev.ID {
			f.t.Fatalf("event: %+v", got)
		}
		// A wave still moves the counters; the units stay unbuyable.
		mustOK(f.t, "wave", f.s.ReleaseWave(f.ctx, ev.ID, "w1", map[string]int{"GA": 4, "A": 1}))
		f.wantCounts(ev.ID, "GA", counts{Available: 10})
		f.wantCounts(ev.ID, "A", counts{Available: 7, Withheld: 1})
		f.refused(ev, "bob")
		f.auditClean(ev.ID)
	}},
	{"Cancel/Invalid", func(f *fixture) {
		ev := f.create(cancelEvent())
		h := f.hold(ev, "alice", items(qty("GA", 1)))
		before := f.stats(ev.ID)
		for _, limit := range []int{0, -1} {
			n, more, err := f.s.Cancel(f.ctx, ev.ID, limit)
			wantErr(f.t, "cancel limit "+strconv.Itoa(limit), err, inventory.ErrInvalid)
			if n != 0 || more {
				f.t.Fatalf("refused cancel: %d %t", n, more)
			}
		}
		// A refused cancel closed nothing.
		f.sameStats(before, f.stats(ev.ID))
		sameHold(f, f.get(h.ID), h)
		f.hold(ev, "bob", items(qty("GA", 1)))
		for _, id := range []string{"", "nonsense", "bad id", uniqueID("none"), h.ID} {
			_, _, err := f.s.Cancel(f.ctx, id, 10)
			wantErr(f.t, "cancel "+id, err, inventory.ErrNotFound)
		}
		if f.stats(ev.ID).Cancelled {
			f.t.Fatal("event cancelled by a refused cancel")
		}
		f.auditClean(ev.ID)
	}},
	{"Cancel/Restore", func(f *fixture) {
		def := cancelEvent()
		def.MaxPerFan = 6
		def.CheckoutTTL = time.Minute
		ev := f.create(def)
		sale := f.sell(ev, "alice", items(qty("GA", 2)), "A-1-1")
		paying := f.hold(ev, "bob", items(qty("A", 2)))
		paying, err := f.s.BeginCheckout(f.ctx, paying.ID)
		mustOK(f.t, "checkout", err)
		ledger := []inventory.Hold{sale, paying}
		f.cancel(ev.ID, 10, 1, false)
		// The store that has them knows them all, the released one included.
		before := f.stats(ev.ID)
		n, err := f.s.Restore(f.ctx, ev.ID, ledger)
		mustOK(f.t, "restore known", err)
		if n != 0 {
			f.t.Fatalf("restore re-applied %d", n)
		}
		f.sameStats(before, f.stats(ev.ID))

		// A store that lost everything lost the cancel too: the caller cancels again after Restore.
		lost := &fixture{t: f.t, ctx: f.ctx, s: f.newStore(f.t), newStore: f.newStore}
		lost.create(def)
		n, err = lost.s.Restore(f.ctx, ev.ID, ledger)
		mustOK(f.t, "restore", err)
		if n != 2 {
			f.t.Fatalf("restore re-applied %d, want 2", n)
		}
		lost.cancel(ev.ID, 10, 1, false)
		lost.refused(ev, "carol")
		_, err = lost.s.Confirm(f.ctx, paying.ID)
		wantErr(f.t, "confirm after restore and cancel", err, inventory.ErrHoldExpired)
		lost.wantCounts(ev.ID, "GA", counts{Available: 8, Sold: 2})
		lost.wantCounts(ev.ID, "A", counts{Available: 7, Sold: 1})
		lost.auditClean(ev.ID)
		lost.giveBack(sale)
		lost.wantCounts(ev.ID, "A", counts{Available: 8})
		lost.auditClean(ev.ID)
		// Restoring into the cancelled store breaks nothing, and a second cancel undoes what it re-applied.
		n, err = lost.s.Restore(f.ctx, ev.ID, ledger)
		mustOK(f.t, "restore into the cancelled store", err)
		if n != 0 {
			f.t.Fatalf("restore re-applied %d known holds", n)
		}
		lost.auditClean(ev.ID)
	}},
	{"Cancel/Concurrent", func(f *fixture) { f.concurrentCancel() }},
}

// concurrentCancel has goroutines hold (and check out or confirm some holds) on an event while one Cancel closes
// it, called again until no live hold remains. A hold asked for after the first Cancel returned must be refused;
// afterwards no hold is live, every hold that succeeded and was not sold was released by the Cancel calls (their
// counts add up), the counters balance and Audit is clean; then the sales are returned and everything is available.
func (f *fixture) concurrentCancel() {
	def := newEvent(ga("GA", 300, 100), seated("A", 500, 10, 10, 10))
	def.MaxPerFan = 40
	ev := f.create(def)
	const workers, fans = 24, 12

	var mu sync.Mutex
	var ids []string
	var closed atomic.Bool      // the first Cancel has returned
	made := make(chan struct{}) // closed once some holds exist, so the Cancel meets live ones
	var madeOnce sync.Once
	var count atomic.Int64
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			fan := "fan" + strconv.Itoa(i%fans)
			for {
				after := closed.Load()
				req := inventory.HoldRequest{Event: ev.ID, Fan: fan}
				switch rng.IntN(3) {
				case 0:
					req.Items = items(qty("GA", 1+rng.IntN(2)))
				case 1:
					req.Items = items(qty("A", 1+rng.IntN(2)))
				default:
					req.Seats = []string{inventory.SeatID("A", strconv.Itoa(1+rng.IntN(3)), 1+rng.IntN(10))}
				}
				h, err := f.s.Hold(f.ctx, req)
				if errors.Is(err, inventory.ErrEventClosed) {
					return
				}
				if after && err == nil {
					f.t.Errorf("hold %s made after the cancel returned", h.ID)
					return
				}
				if errors.Is(err, inventory.ErrLimitExceeded) || errors.Is(err, inventory.ErrSoldOut) ||
					errors.Is(err, inventory.ErrSeatsUnavailable) {
					continue
				}
				if err != nil {
					f.t.Errorf("hold: %v", err)
					return
				}
				mu.Lock()
				ids = append(ids, h.ID)
				mu.Unlock()
				if count.Add(1) >= 30 {
					madeOnce.Do(func() { close(made) })
				}
				switch rng.IntN(4) {
				case 0:
					_, err = f.s.BeginCheckout(f.ctx, h.ID)
				case 1:
					_, err = f.s.Confirm(f.ctx, h.ID)
				}
				if err != nil && !errors.Is(err, inventory.ErrHoldExpired) {
					f.t.Errorf("checkout or confirm: %v", err)
				}
			}
		})
	}
	select {
	case <-made:
	case <-time.After(10 * time.Second):
		f.t.Error("no holds made within 10 s")
	}
	released, calls := 0, 0
	for more := true; more; calls++ {
		n, m, err := f.s.Cancel(f.ctx, ev.ID, 7)
		mustOK(f.t, "cancel", err)
		closed.Store(true)
		released += n
		more = m
	}
	wg.Wait()
	if f.t.Failed() {
		return
	}
	if _, more, err := f.s.Cancel(f.ctx, ev.ID, 1); err != nil || more {
		f.t.Fatalf("cancel after the holds stopped: more %t, %v", more, err)
	}

	st := f.stats(ev.ID)
	units := make(map[string]int) // sold, per section
	var sales []inventory.Hold
	ended := 0
	for _, id := range ids {
		h := f.get(id)
		switch h.State {
		case inventory.Confirmed:
			sales = append(sales, h)
			for _, l := range h.Lines {
				units[l.Section] += l.Quantity
			}
		case inventory.Released:
			ended++
		default:
			f.t.Errorf("hold after the cancel: %+v", h)
		}
	}
	if ended != released {
		f.t.Errorf("%d holds released, the cancel calls said %d", ended, released)
	}
	for _, s := range st.Sections {
		if s.Held != 0 || s.Sold != units[s.ID] || s.Available+s.Sold+s.Withheld != s.Capacity {
			f.t.Errorf("section after the cancel: %+v, holds say %d sold", s, units[s.ID])
		}
	}
	f.auditClean(ev.ID)
	for _, h := range sales {
		f.giveBack(h)
	}
	for _, s := range f.stats(ev.ID).Sections {
		if s.Available != s.Capacity {
			f.t.Errorf("section with every sale returned: %+v", s)
		}
	}
	f.refused(ev, "fan0")
	f.auditClean(ev.ID)
	f.t.Logf("%d holds, %d sold, %d released by %d cancel calls", len(ids), len(sales), released, calls)
}
