package inventorytest

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/onsale/onsale/inventory"
)

// shortTTL is the hold life of the cases about expiry: long enough for a few calls, short enough to wait for.
const shortTTL = 100 * time.Millisecond

// expiryWait bounds every wait for an expiry.
const expiryWait = 5 * time.Second

// shortLived creates an event whose holds live ttl (shortTTL at first) and runs setup on it, again on a new event
// with twice the ttl when setup reports that it was too slow: on a loaded machine making a few holds can take
// longer than a short hold lives, and a hold that expired during setup is reclaimed by the next call and skews
// what the case counts. setup returns false when a counter shows such a reclaim (or a call met an expired hold).
func (f *fixture) shortLived(def func(ttl time.Duration) inventory.Event, setup func(ev inventory.Event) bool) inventory.Event {
	f.t.Helper()
	for ttl := shortTTL; ; ttl *= 2 {
		ev := f.create(def(ttl))
		if setup(ev) {
			return ev
		}
		if ttl >= 2*time.Second {
			f.t.Fatalf("setup outlived a %s hold", ttl)
		}
		f.t.Logf("setup outlived a %s hold; again with a longer one", ttl)
	}
}

// heldIs reports whether a section's held counter is want (so no hold of the setup was reclaimed yet).
func (f *fixture) heldIs(ev inventory.Event, section string, want int) bool {
	return f.section(ev.ID, section).Held == want
}

var expiryCases = []testCase{
	{"Expiry/Sweep", func(f *fixture) {
		var h1, h2, h3, kept inventory.Hold
		ev := f.shortLived(func(ttl time.Duration) inventory.Event {
			ev := newEvent(ga("GA", 10, 100), seated("A", 100, 4))
			ev.HoldTTL = ttl
			ev.CheckoutTTL = time.Minute
			return ev
		}, func(ev inventory.Event) bool {
			kept = f.hold(ev, "carol", items(qty("GA", 1)))
			if _, err := f.s.BeginCheckout(f.ctx, kept.ID); err != nil {
				wantErr(f.t, "checkout", err, inventory.ErrHoldExpired)
				return false
			}
			h1 = f.hold(ev, "alice", items(qty("GA", 2)), "A-1-1")
			h2 = f.hold(ev, "bob", items(qty("GA", 1)))
			h3 = f.hold(ev, "bob", items(qty("A", 2)))
			return f.heldIs(ev, "GA", 4) && f.heldIs(ev, "A", 3)
		})
		for _, h := range []inventory.Hold{h1, h2, h3} {
			f.waitState(h.ID, inventory.Expired, expiryWait)
		}
		// Reads report expiry but change no counter: the sweeper does.
		f.wantCounts(ev.ID, "GA", counts{Available: 6, Held: 4})
		f.wantCounts(ev.ID, "A", counts{Available: 1, Held: 3})
		n, err := f.s.Sweep(f.ctx, ev.ID, 2)
		mustOK(f.t, "sweep", err)
		if n != 2 {
			f.t.Fatalf("sweep(2) expired %d", n)
		}
		n, err = f.s.Sweep(f.ctx, ev.ID, 10)
		mustOK(f.t, "sweep", err)
		if n != 1 {
			f.t.Fatalf("second sweep expired %d, want 1", n)
		}
		n, err = f.s.Sweep(f.ctx, ev.ID, 10)
		mustOK(f.t, "sweep", err)
		if n != 0 {
			f.t.Fatalf("third sweep expired %d, want 0", n)
		}
		f.wantCounts(ev.ID, "GA", counts{Available: 9, Held: 1})
		f.wantCounts(ev.ID, "A", counts{Available: 4})
		f.auditClean(ev.ID)
		if k := f.get(kept.ID); k.State != inventory.Checkout {
			f.t.Fatalf("hold in checkout swept: %+v", k)
		}
		// Expired holds stay expired.
		before := f.stats(ev.ID)
		r, err := f.s.Release(f.ctx, h1.ID)
		mustOK(f.t, "release expired", err)
		if r.State != inventory.Expired {
			f.t.Fatalf("release expired: %+v", r)
		}
		_, err = f.s.BeginCheckout(f.ctx, h1.ID)
		wantErr(f.t, "checkout expired", err, inventory.ErrHoldExpired)
		_, err = f.s.Confirm(f.ctx, h2.ID)
		wantErr(f.t, "confirm expired", err, inventory.ErrHoldExpired)
		_, err = f.s.Extend(f.ctx, h3.ID)
		wantErr(f.t, "extend expired", err, inventory.ErrHoldExpired)
		f.sameStats(before, f.stats(ev.ID))
		c, err := f.s.Confirm(f.ctx, kept.ID)
		mustOK(f.t, "confirm kept", err)
		if c.State != inventory.Confirmed {
			f.t.Fatalf("confirm kept: %+v", c)
		}
		f.auditClean(ev.ID)
	}},
	{"Expiry/ConcurrentSweepsCountOnce", func(f *fixture) {
		const holds = 20
		var ids []string
		ev := f.shortLived(gaEvent(100), func(ev inventory.Event) bool {
			ids = f.holdEach(ev, holds)
			return f.heldIs(ev, "GA", holds)
		})
		for _, id := range ids {
			f.waitState(id, inventory.Expired, expiryWait)
		}
		var total atomic.Int64
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for {
					n, err := f.s.Sweep(f.ctx, ev.ID, 3)
					if err != nil {
						f.t.Errorf("sweep: %v", err)
						return
					}
					if n == 0 {
						return
					}
					total.Add(int64(n))
				}
			})
		}
		wg.Wait()
		if total.Load() != holds {
			f.t.Fatalf("sweeps expired %d holds, want %d", total.Load(), holds)
		}
		f.wantCounts(ev.ID, "GA", counts{Available: 100})
		f.auditClean(ev.ID)
	}},
	{"Expiry/LazyReclaim", func(f *fixture) {
		ev := newEvent(ga("GA", 2, 100), seated("A", 100, 2))
		ev.HoldTTL = shortTTL
		ev.MaxPerFan = 4
		ev = f.create(ev)
		old := f.hold(ev, "alice", items(qty("GA", 2)), "A-1-1")
		f.waitState(old.ID, inventory.Expired, expiryWait)
		// No sweep: the next hold reclaims the expired one first, units and the fan's count alike (without that it
		// would be sold out and over the limit). Only reads follow, so the new hold may expire meanwhile.
		f.hold(ev, "alice", items(qty("GA", 2)), "A-1-1")
		f.wantCounts(ev.ID, "GA", counts{Held: 2})
		f.wantCounts(ev.ID, "A", counts{Available: 1, Held: 1})
		f.auditClean(ev.ID)
	}},
	{"Expiry/LazyReclaimIsBounded", func(f *fixture) {
		const holds = 20
		var ids []string
		ev := f.shortLived(gaEvent(100), func(ev inventory.Event) bool {
			ids = f.holdEach(ev, holds)
			return f.heldIs(ev, "GA", holds)
		})
		for _, id := range ids {
			f.waitState(id, inventory.Expired, expiryWait)
		}
		// One mutating call reclaims 16 expired holds before it decides; the sweeper gets the rest.
		f.hold(ev, "late", items(qty("GA", 1)))
		f.wantCounts(ev.ID, "GA", counts{Available: 95, Held: 5})
		n, err := f.s.Sweep(f.ctx, ev.ID, 100)
		mustOK(f.t, "sweep", err)
		if n != holds-16 {
			f.t.Fatalf("sweep after a lazy reclaim expired %d, want %d", n, holds-16)
		}
		f.wantCounts(ev.ID, "GA", counts{Available: 99, Held: 1})
		f.auditClean(ev.ID)
	}},
	{"Expiry/Checkout", func(f *fixture) {
		ev := newEvent(ga("GA", 5, 100))
		ev.CheckoutTTL = shortTTL
		ev = f.create(ev)
		h := f.hold(ev, "alice", items(qty("GA", 2)))
		_, err := f.s.BeginCheckout(f.ctx, h.ID)
		mustOK(f.t, "checkout", err)
		f.waitState(h.ID, inventory.Expired, expiryWait)
		// A payment that finishes after the checkout deadline must not be kept.
		_, err = f.s.Confirm(f.ctx, h.ID)
		wantErr(f.t, "confirm after checkout deadline", err, inventory.ErrHoldExpired)
		f.wantCounts(ev.ID, "GA", counts{Available: 5})
		if g := f.get(h.ID); g.State != inventory.Expired {
			f.t.Fatalf("after confirm: %+v", g)
		}
		f.auditClean(ev.ID)
	}},
	{"Expiry/CheckoutOutlivesHoldTTL", func(f *fixture) {
		var paying, idle inventory.Hold
		ev := f.shortLived(func(ttl time.Duration) inventory.Event {
			ev := newEvent(ga("GA", 5, 100))
			ev.HoldTTL = ttl
			ev.CheckoutTTL = time.Minute
			return ev
		}, func(ev inventory.Event) bool {
			paying = f.hold(ev, "alice", items(qty("GA", 1)))
			if _, err := f.s.BeginCheckout(f.ctx, paying.ID); err != nil {
				wantErr(f.t, "checkout", err, inventory.ErrHoldExpired)
				return false
			}
			idle = f.hold(ev, "bob", items(qty("GA", 1)))
			return f.heldIs(ev, "GA", 2)
		})
		f.waitState(idle.ID, inventory.Expired, expiryWait)
		// paying was created before idle, so its hold deadline has passed too; checkout moved it.
		if g := f.get(paying.ID); g.State != inventory.Checkout {
			f.t.Fatalf("hold in checkout: %+v", g)
		}
		n, err := f.s.Sweep(f.ctx, ev.ID, 10)
		mustOK(f.t, "sweep", err)
		if n != 1 {
			f.t.Fatalf("sweep expired %d, want 1", n)
		}
		c, err := f.s.Confirm(f.ctx, paying.ID)
		mustOK(f.t, "confirm", err)
		if c.State != inventory.Confirmed {
			f.t.Fatalf("confirm: %+v", c)
		}
		f.wantCounts(ev.ID, "GA", counts{Available: 4, Sold: 1})
		f.auditClean(ev.ID)
	}},
}

// gaEvent defines an event of one general section whose holds live ttl.
func gaEvent(capacity int) func(ttl time.Duration) inventory.Event {
	return func(ttl time.Duration) inventory.Event {
		ev := newEvent(ga("GA", capacity, 100))
		ev.HoldTTL = ttl
		return ev
	}
}

// holdEach makes n holds of one unit, each for its own fan.
func (f *fixture) holdEach(ev inventory.Event, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = f.hold(ev, "fan"+strconv.Itoa(i), items(qty("GA", 1))).ID
	}
	return ids
}
