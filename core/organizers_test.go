package core_test

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// orgs is a service with an OIDC issuer and the organizers the isolation tests use: acme (two people carrying
// the org claim, and door staff), globex (one person), and a person with no org claim whose subject is "acme",
// who must not pass for the acme organization.
type orgs struct {
	*env
	is                                     *issuer
	acme, acme2, globex, subAcme, fan      []string
	acmeDoor, globexDoor, operator, badOrg []string
}

func setupOrgs(t *testing.T, opts ...func(*options)) *orgs {
	t.Helper()
	is := newIssuer(t)
	e := setup(t, append([]func(*options){func(o *options) { o.cfg.OIDCIssuer = is.srv.URL; o.cfg.OIDCClientID = "onsale" }}, opts...)...)
	tok := func(claims map[string]any) []string { return bearer(is.token(nil, claims)) }
	org := []string{"organizer"}
	return &orgs{env: e, is: is,
		acme:       tok(map[string]any{"sub": "u-alice", "org": "acme", "roles": org}),
		acme2:      tok(map[string]any{"sub": "u-bob", "org": "acme", "realm_access": map[string]any{"roles": org}}),
		globex:     tok(map[string]any{"sub": "u-carol", "org": "globex", "roles": org}),
		subAcme:    tok(map[string]any{"sub": "acme", "roles": org}),
		fan:        tok(map[string]any{"sub": "u-fan"}),
		acmeDoor:   tok(map[string]any{"sub": "gate-acme", "org": "acme", "roles": []string{"door"}}),
		globexDoor: tok(map[string]any{"sub": "gate-globex", "org": "globex", "roles": []string{"door"}}),
		operator:   e.adminAuth(),
		badOrg:     tok(map[string]any{"sub": "u-eve", "org": map[string]any{"id": "acme"}, "roles": org}),
	}
}

// create makes an event as who.
func (o *orgs) create(who []string, id string) {
	o.t.Helper()
	if r := o.do("POST", "/v1/admin/events", eventDef(id, 20, 4, 4), who...); r.status != 201 {
		o.t.Fatalf("create %s: %v", id, r)
	}
}

// buy pays for n general-admission units of event as the OIDC fan sub; it returns the order and its token.
func (o *orgs) buy(event, sub string, n int) (order, orderToken string, codes []string) {
	o.t.Helper()
	fan := bearer(o.is.token(nil, map[string]any{"sub": sub}))
	r := o.do("POST", "/v1/events/"+event+"/queue", nil, fan...)
	if r.status != 201 && r.status != 200 {
		o.t.Fatalf("join: %v", r)
	}
	qt, access := r.str("queue_token"), ""
	for deadline := time.Now().Add(20 * time.Second); access == ""; {
		r = o.do("GET", "/v1/events/"+event+"/queue", nil, "Queue-Token", qt)
		if t := r.str("queue_token"); t != "" {
			qt = t
		}
		access = r.str("access_token")
		if time.Now().After(deadline) {
			o.t.Fatalf("%s not admitted: %v", sub, r)
		}
		if access == "" {
			time.Sleep(10 * time.Millisecond)
		}
	}
	hold := o.do("POST", "/v1/events/"+event+"/holds", map[string]any{"items": []any{map[string]any{"section": "GA", "quantity": n}}}, bearer(access)...)
	if hold.status != 201 {
		o.t.Fatalf("hold: %v", hold)
	}
	co := o.do("POST", "/v1/holds/"+hold.str("hold_id")+"/checkout", map[string]any{"payment_method": "pm_card_visa"}, bearer(access)...)
	if co.status != 202 {
		o.t.Fatalf("checkout: %v", co)
	}
	paid := o.waitOrder(co.str("order_id"), co.str("order_token"))
	if paid.str("status") != "paid" {
		o.t.Fatalf("order: %v", paid)
	}
	ts, _ := paid.body["tickets"].([]any)
	for _, x := range ts {
		codes = append(codes, x.(map[string]any)["code"].(string))
	}
	return co.str("order_id"), co.str("order_token"), codes
}

// eventIDs lists the ids GET /v1/admin/events answers who.
func (o *orgs) eventIDs(who []string) []string {
	o.t.Helper()
	r := o.do("GET", "/v1/admin/events", nil, who...)
	if r.status != 200 {
		o.t.Fatalf("list events: %v", r)
	}
	var ids []string
	evs, _ := r.body["events"].([]any)
	for _, x := range evs {
		ev := x.(map[string]any)
		if ev["name"] == "" || ev["status"] == "" {
			o.t.Errorf("listed event without name or status: %v", ev)
		}
		ids = append(ids, ev["id"].(string))
	}
	slices.Sort(ids)
	return ids
}

// notFound checks that r is the answer an unknown resource gets, byte for byte (nothing is revealed).
func notFound(t *testing.T, name string, r, unknown reply) {
	t.Helper()
	problem(t, name, r, 404, "not-found")
	if r.raw != unknown.raw {
		t.Errorf("%s: answered %s, an unknown one %s", name, r.raw, unknown.raw)
	}
}

// TestOrganizerIsolation runs every organizer and door endpoint as the event's organizer, another organizer, the
// operator and door staff: each organizer sees and changes only its own events, another's answer as unknown ones,
// the operator sees all, and door staff only check in at their own organization's events.
func TestOrganizerIsolation(t *testing.T) {
	t.Parallel()
	o := setupOrgs(t)
	o.create(o.acme, "acme-1")
	o.create(o.acme2, "acme-2") // another person of acme
	o.create(o.globex, "globex-1")
	o.create(o.subAcme, "sub-acme-1")
	o.create(o.operator, "op-1")
	problem(t, "an unreadable org claim", o.do("POST", "/v1/admin/events", eventDef("eve-1", 1, 1, 1), o.badOrg...), 403, "forbidden")
	problem(t, "the door role creates nothing", o.do("POST", "/v1/admin/events", eventDef("door-1", 1, 1, 1), o.acmeDoor...), 403, "forbidden")
	// A retry of another organizer's create is a conflict, not a way in.
	problem(t, "globex recreates acme-1", o.do("POST", "/v1/admin/events", eventDef("acme-1", 20, 4, 4), o.globex...), 409, "conflict")

	for _, c := range []struct {
		name string
		who  []string
		want []string
	}{
		{"acme", o.acme, []string{"acme-1", "acme-2"}},
		{"acme, another person", o.acme2, []string{"acme-1", "acme-2"}},
		{"globex", o.globex, []string{"globex-1"}},
		{"subject acme", o.subAcme, []string{"sub-acme-1"}},
		{"operator", o.operator, []string{"acme-1", "acme-2", "globex-1", "op-1", "sub-acme-1"}},
	} {
		if got := o.eventIDs(c.who); !slices.Equal(got, c.want) {
			t.Errorf("%s lists %v, want %v", c.name, got, c.want)
		}
	}
	problem(t, "door staff list events", o.do("GET", "/v1/admin/events", nil, o.acmeDoor...), 403, "forbidden")
	problem(t, "a fan lists events", o.do("GET", "/v1/admin/events", nil, o.fan...), 403, "forbidden")
	problem(t, "no token lists events", o.do("GET", "/v1/admin/events", nil), 401, "unauthorized")

	acmeOrder, _, acmeCodes := o.buy("acme-1", "u-fan", 2)
	globexOrder, globexToken, globexCodes := o.buy("globex-1", "u-fan", 1)
	for ev, want := range map[string]string{"acme-1": acmeOrder, "globex-1": globexOrder} {
		for _, who := range [][]string{o.operator, map[string][]string{"acme-1": o.acme, "globex-1": o.globex}[ev]} {
			r := o.do("GET", "/v1/admin/events/"+ev+"/orders", nil, who...)
			if os, _ := r.body["orders"].([]any); len(os) != 1 || os[0].(map[string]any)["order_id"] != want {
				t.Errorf("orders of %s: %v, want %s alone", ev, r, want)
			}
		}
	}

	// Every organizer call on an event, in an order that ends with the ones that change most.
	type call struct {
		name, method, path string
		body               any
		ok                 int
	}
	calls := func(ev string) []call {
		a := "/v1/admin/events/" + ev
		return []call{
			{"read", "GET", a, nil, 200},
			{"stats", "GET", a + "/stats", nil, 200},
			{"seat states", "GET", a + "/seats", nil, 200},
			{"edit the listing", "PATCH", a, map[string]any{"city": "Lyon"}, 200},
			{"admission", "PATCH", a + "/admission", map[string]any{"paused": false}, 200},
			{"rotate the ticket key", "POST", a + "/ticket-keys", nil, 201},
			{"door keys", "GET", "/v1/events/" + ev + "/checkin/keys", nil, 200},
			{"revoked list", "GET", "/v1/events/" + ev + "/checkin/revoked", nil, 200},
			{"orders", "GET", a + "/orders?limit=5", nil, 200},
			{"orders by fan and status", "GET", a + "/orders?fan=u-fan&status=paid", nil, 200},
			{"orders as CSV", "GET", a + "/orders.csv", nil, 200},
		}
	}
	unknown := map[string]reply{}
	for _, c := range calls("no-such-event") {
		unknown[c.name] = o.do(c.method, c.path, c.body, o.operator...)
	}
	for _, ev := range []struct {
		id          string
		owners      [][]string
		other       [][]string
		otherNames  []string
		ownerDoor   []string
		foreignDoor []string
	}{
		{"acme-1", [][]string{o.acme, o.acme2, o.operator}, [][]string{o.globex, o.subAcme}, []string{"globex", "subject acme"}, o.acmeDoor, o.globexDoor},
		{"globex-1", [][]string{o.globex, o.operator}, [][]string{o.acme, o.acme2, o.subAcme}, []string{"acme", "acme's other person", "subject acme"}, o.globexDoor, o.acmeDoor},
		{"op-1", [][]string{o.operator}, [][]string{o.acme, o.globex}, []string{"acme", "globex"}, nil, o.acmeDoor},
	} {
		for _, c := range calls(ev.id) {
			for i, who := range ev.other {
				notFound(t, ev.otherNames[i]+" "+c.name+" "+ev.id, o.do(c.method, c.path, c.body, who...), unknown[c.name])
			}
			for _, who := range ev.owners {
				if r := o.do(c.method, c.path, c.body, who...); r.status != c.ok {
					t.Errorf("owner %s %s: %v", c.name, ev.id, r)
				}
			}
			door := strings.HasPrefix(c.path, "/v1/events/")
			switch {
			case door && ev.ownerDoor != nil:
				if r := o.do(c.method, c.path, c.body, ev.ownerDoor...); r.status != 200 {
					t.Errorf("own door staff %s %s: %v", c.name, ev.id, r)
				}
			case !door && ev.ownerDoor != nil:
				problem(t, "door staff "+c.name+" "+ev.id, o.do(c.method, c.path, c.body, ev.ownerDoor...), 403, "forbidden")
			}
			if door {
				notFound(t, "foreign door staff "+c.name+" "+ev.id, o.do(c.method, c.path, c.body, ev.foreignDoor...), unknown[c.name])
			}
		}
	}

	// What the others tried changed nothing: the listing edits and admission changes were the owners' own.
	o.do("PATCH", "/v1/admin/events/globex-1", map[string]any{"city": "Geneva"}, o.globex...)
	o.do("PATCH", "/v1/admin/events/globex-1/admission", map[string]any{"paused": true}, o.globex...)
	for _, who := range [][]string{o.acme, o.subAcme} {
		notFound(t, "edit another's listing", o.do("PATCH", "/v1/admin/events/globex-1", map[string]any{"city": "Nowhere"}, who...), unknown["edit the listing"])
		notFound(t, "resume another's admission", o.do("PATCH", "/v1/admin/events/globex-1/admission", map[string]any{"paused": false}, who...), unknown["admission"])
	}
	if r := o.do("GET", "/v1/admin/events/globex-1", nil, o.globex...); r.str("city") != "Geneva" || r.body["paused"] != true {
		t.Errorf("globex-1 after acme's edits: %v", r)
	}

	// Check-in: door staff scan their own organization's tickets only; a foreign scan records nothing.
	scan := func(ev, code, nonce string, who []string) reply {
		return o.do("POST", "/v1/events/"+ev+"/checkin", map[string]any{"code": code, "nonce": nonce}, who...)
	}
	unknownScan := scan("no-such-event", globexCodes[0], "n0", o.operator)
	notFound(t, "acme's door scans globex", scan("globex-1", globexCodes[0], "n1", o.acmeDoor), unknownScan)
	notFound(t, "acme scans globex", scan("globex-1", globexCodes[0], "n2", o.acme), unknownScan)
	notFound(t, "globex's door scans acme", scan("acme-1", acmeCodes[0], "n3", o.globexDoor), unknownScan)
	if r := scan("globex-1", globexCodes[0], "n4", o.globexDoor); r.str("result") != "ok" {
		t.Errorf("globex's door on its own ticket: %v (a foreign scan must not have let it in)", r)
	}
	if r := scan("acme-1", acmeCodes[0], "n5", o.acmeDoor); r.str("result") != "ok" {
		t.Errorf("acme's door on its own ticket: %v", r)
	}
	if r := scan("acme-1", acmeCodes[1], "n6", o.operator); r.str("result") != "ok" {
		t.Errorf("the operator at acme's door: %v", r)
	}

	// Refunds: another organizer's order is unknown and keeps its money.
	unknownRefund := o.do("POST", "/v1/admin/orders/no-such-order/refund", nil, o.operator...)
	notFound(t, "acme refunds globex's order", o.do("POST", "/v1/admin/orders/"+globexOrder+"/refund", nil, o.acme...), unknownRefund)
	problem(t, "acme's door refunds", o.do("POST", "/v1/admin/orders/"+acmeOrder+"/refund", nil, o.acmeDoor...), 403, "forbidden")
	if r := o.do("GET", "/v1/orders/"+globexOrder, nil, bearer(globexToken)...); r.str("status") != "paid" || r.body["refund_reason"] != nil {
		t.Errorf("globex's order after acme's refund: %v", r)
	}
	if r := o.do("POST", "/v1/admin/orders/"+acmeOrder+"/refund", nil, o.acme2...); r.status != 202 {
		t.Errorf("acme refunds its own order: %v", r)
	}

	// Cancellation: another organizer's cancel is unknown and cancels nothing.
	unknownCancel := o.do("POST", "/v1/admin/events/no-such-event/cancel", nil, o.operator...)
	notFound(t, "acme cancels globex-1", o.do("POST", "/v1/admin/events/globex-1/cancel", nil, o.acme...), unknownCancel)
	notFound(t, "subject acme cancels acme-2", o.do("POST", "/v1/admin/events/acme-2/cancel", nil, o.subAcme...), unknownCancel)
	if r := o.do("GET", "/v1/admin/events/globex-1", nil, o.operator...); r.str("status") == "cancelled" {
		t.Errorf("globex-1 cancelled by acme: %v", r)
	}
	if r := o.do("POST", "/v1/admin/events/acme-2/cancel", nil, o.acme...); r.status != 202 || r.str("status") != "cancelled" {
		t.Errorf("acme cancels its own event: %v", r)
	}
	if r := o.do("POST", "/v1/admin/events/globex-1/cancel", nil, o.operator...); r.status != 202 {
		t.Errorf("the operator cancels any event: %v", r)
	}
}
