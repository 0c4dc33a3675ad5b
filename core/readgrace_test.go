package core_test

import (
	"testing"
	"time"
)

// TestReadsAfterAccessExpires: once the access token expires, the fan can still read their hold and their pending
// order (within the read grace, 24 h), but can no longer change anything; past the grace reads are refused too.
func TestReadsAfterAccessExpires(t *testing.T) {
	t.Parallel()
	e := setup(t, func(o *options) { o.roomOn = true })
	e.createEvent(eventDef("grace", 5, 4, 6))
	tok := e.admit("grace", "alice")
	h := e.do("POST", "/v1/events/grace/holds", `{"items":[{"section":"GA","quantity":1}]}`, bearer(tok)...)
	if h.status != 201 {
		t.Fatalf("hold: %v", h)
	}
	hold := h.str("hold_id")
	// A card that needs authentication leaves the order waiting for the fan.
	o := e.do("POST", "/v1/holds/"+hold+"/checkout", `{"payment_method":"pm_card_authenticationRequired"}`, bearer(tok)...)
	if o.status != 202 {
		t.Fatalf("checkout: %v", o)
	}
	order := o.str("order_id")
	eventually(t, "the payment is under way", func() bool {
		r := e.do("GET", "/v1/orders/"+order, nil, bearer(tok)...)
		return r.status == 200 && r.str("status") == "requires_action"
	})

	e.clock.Advance(10*time.Minute + time.Second) // the access has expired
	if r := e.do("GET", "/v1/orders/"+order, nil, bearer(tok)...); r.status != 200 || r.str("order_id") != order {
		t.Fatalf("order read after the access expired: %v", r)
	}
	if r := e.do("GET", "/v1/holds/"+hold, nil, bearer(tok)...); r.status != 200 || r.str("hold_id") != hold {
		t.Fatalf("hold read after the access expired: %v", r)
	}
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/events/grace/holds", `{"items":[{"section":"GA","quantity":1}]}`},
		{"DELETE", "/v1/holds/" + hold, ""},
		{"POST", "/v1/holds/" + hold + "/checkout", `{"payment_method":"pm_card_visa"}`},
	} {
		var body any
		if c.body != "" {
			body = c.body
		}
		if r := e.do(c.method, c.path, body, bearer(tok)...); r.status != 403 || r.str("type") == "" {
			t.Errorf("%s %s with an expired access token: %v", c.method, c.path, r)
		}
	}
	// Another fan's expired token reads nothing of alice's.
	bob := e.admit("grace", "bob")
	if r := e.do("GET", "/v1/orders/"+order, nil, bearer(bob)...); r.status != 404 {
		t.Fatalf("another fan's read: %v", r)
	}

	e.clock.Advance(24 * time.Hour) // past the read grace
	if r := e.do("GET", "/v1/orders/"+order, nil, bearer(tok)...); r.status != 403 {
		t.Fatalf("order read past the grace: %v", r)
	}
	if r := e.do("GET", "/v1/holds/"+hold, nil, bearer(tok)...); r.status != 403 {
		t.Fatalf("hold read past the grace: %v", r)
	}
}
