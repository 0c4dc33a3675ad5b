package core_test

import (
	"context"
	"strings"
	"testing"
	"time"
)

// eventually polls cond until it holds or 10 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLoops: the sweeper expires a hold past its deadline and counts it, and the units gauges follow the inventory.
func TestLoops(t *testing.T) {
	t.Parallel()
	e := setup(t, func(o *options) { o.cfg.StatsEvery = 50 * time.Millisecond })
	e.createEvent(eventDef("loops", 5, 4, 6))
	tok := e.admit("loops", "alice")
	if r := e.do("POST", "/v1/events/loops/holds", `{"items":[{"section":"GA","quantity":3}]}`, bearer(tok)...); r.status != 201 {
		t.Fatalf("hold: %v", r)
	}
	metric := func(line string) bool { return strings.Contains(e.do("GET", "/metrics", nil).raw, line) }
	eventually(t, "held units gauge", func() bool {
		return metric(`onsale_inventory_units{event="loops",section="GA",state="held"} 3`)
	})
	e.clock.Advance(2 * time.Minute) // past the hold's 60 s
	eventually(t, "the sweeper expires the hold", func() bool {
		st, err := e.inv.Stats(context.Background(), "loops")
		return err == nil && st.Totals().Held == 0 && st.Totals().Available == 9
	})
	eventually(t, "expired counter and gauges", func() bool {
		return metric("onsale_inventory_expired_total 1") &&
			metric(`onsale_inventory_units{event="loops",section="GA",state="available"} 5`)
	})
}

// TestPaidFreesActiveSlot: once an order is paid, the fan's active slot in the waiting room is freed.
func TestPaidFreesActiveSlot(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.createEvent(eventDef("slot", 5, 4, 6))
	tok := e.admit("slot", "alice")
	active := func() float64 {
		return e.do("GET", "/v1/admin/events/slot/stats", nil, e.adminAuth()...).body["active"].(float64)
	}
	eventually(t, "the admitted fan counts as active", func() bool { return active() == 1 })
	r := e.do("POST", "/v1/events/slot/holds", `{"items":[{"section":"GA","quantity":1}]}`, bearer(tok)...)
	o := e.do("POST", "/v1/holds/"+r.str("hold_id")+"/checkout", `{"payment_method":"pm_card_visa"}`, bearer(tok)...)
	if paid := e.waitOrder(o.str("order_id"), tok); paid.str("status") != "paid" {
		t.Fatalf("order: %v", paid)
	}
	eventually(t, "the paid fan's slot is freed", func() bool { return active() == 0 })
}
