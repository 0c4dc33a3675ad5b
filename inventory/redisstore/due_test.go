package redisstore

import (
	"testing"
	"time"

	"github.com/onsale/onsale/inventory"
)

// A hold call skips its lazy reclaim while the meta's due (at most the earliest deadline) is in the future. A
// checkout deadline earlier than every hold's must lower due, or the next hold would miss that the hold in checkout
// has expired and find the section sold out.
func TestLazyReclaimAfterEarlierCheckoutDeadline(t *testing.T) {
	b := setup(t, Options{})
	ev := testEvent(gaSection("GA", 2, 100))
	ev.HoldTTL = time.Hour
	ev.CheckoutTTL = 200 * time.Millisecond
	ev = b.create(t, ev)
	ga := []inventory.Item{item("GA", 1)}
	paying := b.hold(t, inventory.HoldRequest{Event: ev.ID, Fan: "alice", Items: ga})
	b.hold(t, inventory.HoldRequest{Event: ev.ID, Fan: "bob", Items: ga})
	co, err := b.s.BeginCheckout(b.ctx, paying.ID)
	if err != nil {
		t.Fatalf("checkout: %v", err)
	}
	waitUntil(t, co.ExpiresAt)
	// No sweep: the hold call itself must reclaim the expired checkout.
	b.hold(t, inventory.HoldRequest{Event: ev.ID, Fan: "carol", Items: ga})
	if g, err := b.s.Get(b.ctx, paying.ID); err != nil || g.State != inventory.Expired {
		t.Fatalf("hold past its checkout deadline: %+v, %v", g, err)
	}
	if c := b.counts(t, ev.ID, "GA"); c != [4]int{0, 2, 0, 0} {
		t.Fatalf("counts %v", c)
	}
	b.auditClean(t, ev.ID)
}

// Holds made while due is in the future still expire: a later call past their deadline reclaims them.
func TestLazyReclaimAfterSkippedReclaims(t *testing.T) {
	b := setup(t, Options{})
	ev := testEvent(gaSection("GA", 3, 100))
	ev.HoldTTL = 300 * time.Millisecond
	ev = b.create(t, ev)
	ga := []inventory.Item{item("GA", 1)}
	var last inventory.Hold
	for _, fan := range []string{"a", "b", "c"} {
		last = b.hold(t, inventory.HoldRequest{Event: ev.ID, Fan: fan, Items: ga})
	}
	waitUntil(t, last.ExpiresAt)
	b.hold(t, inventory.HoldRequest{Event: ev.ID, Fan: "d", Items: []inventory.Item{item("GA", 3)}})
	if c := b.counts(t, ev.ID, "GA"); c != [4]int{0, 3, 0, 0} {
		t.Fatalf("counts %v", c)
	}
	b.auditClean(t, ev.ID)
}
