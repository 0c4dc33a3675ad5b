package core_test

import (
	"strings"
	"testing"
)

func TestHappyPath(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.createEvent(eventDef("happy", 10, 4, 6))
	tok := e.admit("happy", "alice")
	r := e.do("POST", "/v1/events/happy/holds", `{"items":[{"section":"GA","quantity":2}]}`, bearer(tok)...)
	if r.status != 201 || r.str("hold_id") == "" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("hold: %v", r)
	}
	hold := r.str("hold_id")
	r = e.do("POST", "/v1/holds/"+hold+"/checkout", `{"payment_method":"pm_card_visa"}`, bearer(tok)...)
	if r.status != 202 || r.str("status") != "pending" {
		t.Fatalf("checkout: %v", r)
	}
	o := e.waitOrder(r.str("order_id"), tok)
	if o.str("status") != "paid" || o.str("hold_id") != hold {
		t.Fatalf("order: %v", o)
	}
	st := e.do("GET", "/v1/admin/events/happy/stats", nil, e.adminAuth()...)
	if st.status != 200 || st.body["sold"] != float64(2) || st.body["capacity"] != float64(14) {
		t.Fatalf("stats: %v", st)
	}
	if rev := st.body["revenue"].(map[string]any); rev["amount"] != float64(9000) || rev["currency"] != "EUR" {
		t.Fatalf("revenue: %v", st)
	}
}
