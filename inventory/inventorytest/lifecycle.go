package inventorytest

import (
	"time"

	"github.com/onsale/onsale/inventory"
)

var lifecycleCases = []testCase{
	{"Idempotency", func(f *fixture) {
		ev := newEvent(ga("GA", 10, 100))
		ev.MaxPerFan = 4
		ev = f.create(ev)
		other := f.create(newEvent(ga("GA", 10, 100)))
		req := inventory.HoldRequest{Event: ev.ID, Fan: "alice", Items: items(qty("GA", 4)), IdempotencyKey: "k1", Fingerprint: "fp1"}
		h := f.holdReq(req)
		before := f.stats(ev.ID)
		// A replay returns the first hold, even though the fan is at the limit now, and changes nothing.
		sameHold(f, f.holdReq(req), h)
		f.sameStats(before, f.stats(ev.ID))
		// The same key with another request is refused.
		reused := req
		reused.Fingerprint = "fp2"
		reused.Items = items(qty("GA", 1))
		f.holdFails(reused, inventory.ErrIdempotencyReused)
		// Keys are scoped by fan and by event.
		bob := req
		bob.Fan = "bob"
		if hb := f.holdReq(bob); hb.ID == h.ID || hb.Fan != "bob" {
			f.t.Fatalf("bob's hold %+v reuses alice's key", hb)
		}
		inOther := req
		inOther.Event = other.ID
		if ho := f.holdReq(inOther); ho.Event != other.ID {
			f.t.Fatalf("hold in other event: %+v", ho)
		}
		// After a release a replay still returns the (released) hold.
		_, err := f.s.Release(f.ctx, h.ID)
		mustOK(f.t, "release", err)
		if got := f.holdReq(req); got.ID != h.ID || got.State != inventory.Released {
			f.t.Fatalf("replay after release: %+v", got)
		}
		f.wantCounts(ev.ID, "GA", counts{Available: 6, Held: 4})
		f.auditClean(ev.ID)
	}},
	{"Idempotency/FailureIsNotRemembered", func(f *fixture) {
		ev := f.create(newEvent(ga("GA", 3, 100)))
		first := f.hold(ev, "bob", items(qty("GA", 2)))
		req := inventory.HoldRequest{Event: ev.ID, Fan: "alice", Items: items(qty("GA", 2)), IdempotencyKey: "k", Fingerprint: "fp"}
		f.holdFails(req, inventory.ErrSoldOut)
		_, err := f.s.Release(f.ctx, first.ID)
		mustOK(f.t, "release", err)
		h := f.holdReq(req)
		if h.Units != 2 || h.State != inventory.Held {
			f.t.Fatalf("retry: %+v", h)
		}
	}},
	{"NotFound", func(f *fixture) {
		ev := f.create(newEvent(ga("GA", 3, 100)))
		ids := []string{"", "nonsense", ev.ID, ev.ID + ".", inventory.NewHoldID(ev.ID), inventory.NewHoldID(uniqueID("none"))}
		for _, id := range ids {
			_, err := f.s.Get(f.ctx, id)
			wantErr(f.t, "get "+id, err, inventory.ErrNotFound)
			_, err = f.s.Extend(f.ctx, id)
			wantErr(f.t, "extend "+id, err, inventory.ErrNotFound)
			_, err = f.s.Release(f.ctx, id)
			wantErr(f.t, "release "+id, err, inventory.ErrNotFound)
			_, err = f.s.BeginCheckout(f.ctx, id)
			wantErr(f.t, "checkout "+id, err, inventory.ErrNotFound)
			_, err = f.s.Confirm(f.ctx, id)
			wantErr(f.t, "confirm "+id, err, inventory.ErrNotFound)
			_, err = f.s.Return(f.ctx, id)
			wantErr(f.t, "return "+id, err, inventory.ErrNotFound)
		}
	}},
	{"Release", func(f *fixture) {
		ev := f.create(newEvent(ga("GA", 10, 100), seated("A", 100, 4)))
		h := f.hold(ev, "alice", items(qty("GA", 3)), "A-1-1", "A-1-2")
		v := f.section(ev.ID, "GA").Version
		r, err := f.s.Release(f.ctx, h.ID)
		mustOK(f.t, "release", err)
		if f.section(ev.ID, "GA").Version <= v {
			f.t.Fatal("release did not bump the section's version")
		}
		if r.State != inventory.Released || r.ID != h.ID {
			f.t.Fatalf("released: %+v", r)
		}
		f.wantCounts(ev.ID, "GA", counts{Available: 10})
		f.wantCounts(ev.ID, "A", counts{Available: 4})
		before := f.stats(ev.ID)
		again, err := f.s.Release(f.ctx, h.ID)
		mustOK(f.t, "release again", err)
		sameHold(f, again, r)
		f.sameStats(before, f.stats(ev.ID))
		sameHold(f, f.get(h.ID), r)
		// The seats are free at once.
		wantSeats(f, f.hold(ev, "bob", nil, "A-1-1", "A-1-2"), "A-1-1", "A-1-2")
		// Released holds do not come back.
		_, err = f.s.BeginCheckout(f.ctx, h.ID)
		wantErr(f.t, "checkout released", err, inventory.ErrHoldExpired)
		_, err = f.s.Confirm(f.ctx, h.ID)
		wantErr(f.t, "confirm released", err, inventory.ErrHoldExpired)
		_, err = f.s.Extend(f.ctx, h.ID)
		wantErr(f.t, "extend released", err, inventory.ErrHoldExpired)
		// A hold in checkout can be released (a failed payment).
		c := f.hold(ev, "carol", items(qty("GA", 2)))
		_, err = f.s.BeginCheckout(f.ctx, c.ID)
		mustOK(f.t, "checkout", err)
		rc, err := f.s.Release(f.ctx, c.ID)
		mustOK(f.t, "release checkout", err)
		if rc.State != inventory.Released {
			f.t.Fatalf("released checkout: %+v", rc)
		}
		f.wantCounts(ev.ID, "GA", counts{Available: 10})
		f.auditClean(ev.ID)
	}},
	{"CheckoutAndConfirm", func(f *fixture) {
		ev := newEvent(ga("GA", 10, 1500), seated("A", 4000, 4))
		ev.CheckoutTTL = 5 * time.Minute
		ev = f.create(ev)
		h := f.hold(ev, "alice", items(qty("GA", 2)), "A-1-3")
		c, err := f.s.BeginCheckout(f.ctx, h.ID)
		mustOK(f.t, "checkout", err)
		if c.State != inventory.Checkout {
			f.t.Fatalf("checkout: %+v", c)
		}
		if d := time.Until(c.ExpiresAt); d < ev.CheckoutTTL-5*time.Second || d > ev.CheckoutTTL+time.Second {
			f.t.Fatalf("checkout deadline in %s, want about %s", d, ev.CheckoutTTL)
		}
		before := f.stats(ev.ID)
		again, err := f.s.BeginCheckout(f.ctx, h.ID)
		mustOK(f.t, "checkout again", err)
		sameHold(f, again, c)
		f.sameStats(before, f.stats(ev.ID))
		_, err = f.s.Extend(f.ctx, h.ID)
		wantErr(f.t, "extend in checkout", err, inventory.ErrInvalidState)
		f.wantCounts(ev.ID, "GA", counts{Available: 8, Held: 2})

		done, err := f.s.Confirm(f.ctx, h.ID)
		mustOK(f.t, "confirm", err)
		if done.State != inventory.Confirmed || done.Units != 3 || done.Total != 7000 {
			f.t.Fatalf("confirmed: %+v", done)
		}
		f.wantCounts(ev.ID, "GA", counts{Available: 8, Sold: 2})
		f.wantCounts(ev.ID, "A", counts{Available: 3, Sold: 1})
		if s := f.section(ev.ID, "A"); s.Revenue != 4000 {
			f.t.Fatalf("revenue %d", s.Revenue)
		}
		before = f.stats(ev.ID)
		again, err = f.s.Confirm(f.ctx, h.ID)
		mustOK(f.t, "confirm again", err)
		sameHold(f, again, done)
		f.sameStats(before, f.stats(ev.ID))
		sameHold(f, f.get(h.ID), done)

		_, err = f.s.Release(f.ctx, h.ID)
		wantErr(f.t, "release confirmed", err, inventory.ErrInvalidState)
		_, err = f.s.BeginCheckout(f.ctx, h.ID)
		wantErr(f.t, "checkout confirmed", err, inventory.ErrInvalidState)
		_, err = f.s.Extend(f.ctx, h.ID)
		wantErr(f.t, "extend confirmed", err, inventory.ErrHoldExpired)
		f.sameStats(before, f.stats(ev.ID))
		f.holdFails(inventory.HoldRequest{Event: ev.ID, Fan: "bob", Seats: []string{"A-1-3"}}, inventory.ErrSeatsUnavailable)

		// A held hold can be confirmed without checkout.
		h2 := f.hold(ev, "bob", items(qty("A", 1)))
		c2, err := f.s.Confirm(f.ctx, h2.ID)
		mustOK(f.t, "confirm held", err)
		if c2.State != inventory.Confirmed {
			f.t.Fatalf("confirm held: %+v", c2)
		}
		f.wantCounts(ev.ID, "A", counts{Available: 2, Sold: 2})
		f.auditClean(ev.ID)
	}},
	{"Extend", func(f *fixture) {
		ev := newEvent(ga("GA", 10, 100))
		ev.HoldTTL = time.Hour
		ev.MaxHoldLife = 3 * time.Hour
		ev = f.create(ev)
		h := f.hold(ev, "alice", items(qty("GA", 1)))
		// Extending pushes the deadline to now + HoldTTL: poll until the clock has moved.
		var x inventory.Hold
		f.waitFor("extend to move the deadline", 2*time.Second, func() bool {
			var err error
			x, err = f.s.Extend(f.ctx, h.ID)
			mustOK(f.t, "extend", err)
			return x.ExpiresAt.After(h.ExpiresAt)
		})
		if x.State != inventory.Held || !near(x.CreatedAt, h.CreatedAt) || x.ExpiresAt.After(time.Now().Add(ev.HoldTTL+time.Second)) {
			f.t.Fatalf("extended: %+v (was %+v)", x, h)
		}
		sameHold(f, f.get(h.ID), x)
		f.wantCounts(ev.ID, "GA", counts{Available: 9, Held: 1})
	}},
	{"Extend/CappedAtMaxHoldLife", func(f *fixture) {
		ev := newEvent(ga("GA", 10, 100))
		ev.HoldTTL = time.Hour
		ev.MaxHoldLife = time.Hour + 20*time.Millisecond
		ev = f.create(ev)
		h := f.hold(ev, "alice", items(qty("GA", 1)))
		limit := h.CreatedAt.Add(ev.MaxHoldLife)
		f.waitFor("the cap to bind", 2*time.Second, func() bool {
			x, err := f.s.Extend(f.ctx, h.ID)
			mustOK(f.t, "extend", err)
			if x.ExpiresAt.After(limit.Add(time.Millisecond)) {
				f.t.Fatalf("extended to %s, past the cap %s", x.ExpiresAt, limit)
			}
			return near(x.ExpiresAt, limit)
		})
	}},
}
