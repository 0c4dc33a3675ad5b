package core_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"
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

func TestIdempotency(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.createEvent(eventDef("idem", 10, 4, 6))
	tok := e.admit("idem", "alice")
	auth := append(bearer(tok), "Idempotency-Key", "k-1")
	body := `{"items":[{"section":"GA","quantity":2}]}`
	first := e.do("POST", "/v1/events/idem/holds", body, auth...)
	if first.status != 201 {
		t.Fatalf("hold: %v", first)
	}
	// The same key and body, even spelled differently, replays the first answer.
	again := e.do("POST", "/v1/events/idem/holds", "{ \"items\": [ {\"quantity\": 2, \"section\": \"GA\"} ] }", auth...)
	if again.status != 201 || again.raw != first.raw {
		t.Fatalf("replay: %v, first %v", again, first)
	}
	problem(t, "same key, other body", e.do("POST", "/v1/events/idem/holds", `{"items":[{"section":"GA","quantity":1}]}`, auth...), 409, "conflict")
	if st, _ := e.inv.Stats(context.Background(), "idem"); st.Totals().Held != 2 {
		t.Fatalf("held %d after a replay and a conflict, want 2", st.Totals().Held)
	}
	// Another fan's same key is another request.
	bob := e.admit("idem", "bob")
	if r := e.do("POST", "/v1/events/idem/holds", body, append(bearer(bob), "Idempotency-Key", "k-1")...); r.status != 201 || r.str("hold_id") == first.str("hold_id") {
		t.Fatalf("bob's hold: %v", r)
	}

	hold := first.str("hold_id")
	co := append(bearer(tok), "Idempotency-Key", "pay-1")
	o1 := e.do("POST", "/v1/holds/"+hold+"/checkout", `{"payment_method":"pm_card_visa"}`, co...)
	o2 := e.do("POST", "/v1/holds/"+hold+"/checkout", `{"payment_method":"pm_card_visa"}`, co...)
	if o1.status != 202 || o2.status != 202 || o1.str("order_id") != o2.str("order_id") {
		t.Fatalf("checkout replay: %v then %v", o1, o2)
	}
	problem(t, "checkout, same key, other card", e.do("POST", "/v1/holds/"+hold+"/checkout", `{"payment_method":"pm_card_mastercard"}`, co...), 409, "conflict")
	if o := e.waitOrder(o1.str("order_id"), tok); o.str("status") != "paid" {
		t.Fatalf("order: %v", o)
	}
	if n := e.pay.Intents(o1.str("order_id")); n != 1 {
		t.Fatalf("%d payments taken for one order", n)
	}
}

func TestHoldLifecycle(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.createEvent(eventDef("life", 3, 4, 6))
	tok := e.admit("life", "alice")
	r := e.do("POST", "/v1/events/life/holds", `{"items":[{"section":"A","quantity":2,"adjacent":true}],"seats":[]}`, bearer(tok)...)
	if r.status != 201 || len(r.body["seats"].([]any)) != 2 || r.body["total"].(map[string]any)["amount"] != float64(18000) {
		t.Fatalf("hold: %v", r)
	}
	id := r.str("hold_id")
	if g := e.do("GET", "/v1/holds/"+id, nil, bearer(tok)...); g.status != 200 || g.str("state") != "held" || g.str("hold_id") != id {
		t.Fatalf("get: %v", g)
	}
	if d := e.do("DELETE", "/v1/holds/"+id, nil, bearer(tok)...); d.status != 204 {
		t.Fatalf("release: %v", d)
	}
	if g := e.do("GET", "/v1/holds/"+id, nil, bearer(tok)...); g.str("state") != "released" {
		t.Fatalf("after release: %v", g)
	}
	// Released units are buyable again at once, and the availability endpoint says so (after its short cache).
	a := e.do("GET", "/v1/events/life/availability", nil)
	if a.status != 200 || a.header.Get("Cache-Control") == "" || a.body["available"] != float64(7) {
		t.Fatalf("availability: %v %v", a, a.header)
	}
	problem(t, "availability of an unknown event", e.do("GET", "/v1/events/nope/availability", nil), 404, "not-found")
}

func TestQueueStreamAndLeave(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.createEvent(eventDef("sse", 3, 4, 6))
	j := e.do("POST", "/v1/events/sse/queue", `{"fan":"alice"}`)
	if j.status != 201 || j.str("queue_token") == "" {
		t.Fatalf("join: %v", j)
	}
	res, err := e.client.Get(e.base + "/v1/events/sse/queue/stream?token=" + url.QueryEscape(j.str("queue_token")))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("content type %q", ct)
	}
	// Read events until the admitted one; the stream then ends.
	sc := bufio.NewScanner(res.Body)
	var last map[string]any
	events := 0
	for sc.Scan() {
		line := sc.Text()
		if line == "event: status" {
			events++
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			last = nil
			if err := json.Unmarshal([]byte(data), &last); err != nil {
				t.Fatalf("data %q: %v", data, err)
			}
		}
	}
	if events == 0 || last["state"] != "admitted" || last["access_token"] == "" {
		t.Fatalf("stream ended after %d events with %v", events, last)
	}

	// Leaving answers 204; a forged token cannot make anyone leave.
	l := e.do("POST", "/v1/events/sse/queue", `{"fan":"bob"}`)
	problem(t, "leave with a forged token", e.do("DELETE", "/v1/events/sse/queue", nil, "Queue-Token", l.str("queue_token")+"x"), 401, "unauthorized")
	if r := e.do("DELETE", "/v1/events/sse/queue", nil, "Queue-Token", l.str("queue_token")); r.status != 204 {
		t.Fatalf("leave: %v", r)
	}
}

func TestPages(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, p := range []string{"/e/some-event", "/admin", "/docs"} {
		r := e.do("GET", p, nil)
		if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %s", p, r.status, r.header.Get("Content-Type"))
		}
	}
	if r := e.do("GET", "/openapi.yaml", nil); r.status != 200 || !strings.Contains(r.raw, "openapi:") {
		t.Errorf("openapi.yaml: %d", r.status)
	}
	if r := e.do("GET", "/openapi.json", nil); r.status != 200 || r.str("openapi") == "" || r.body["paths"] == nil {
		t.Errorf("openapi.json: %d %.200s", r.status, r.raw)
	}
}

// TestExtendHold: a fan extends a hold while deciding, up to its longest life (twice the hold time); at the cap,
// and once the hold is in checkout, extending is a conflict that changes nothing.
func TestExtendHold(t *testing.T) {
	t.Parallel()
	e := setup(t)
	def := eventDef("extend", 10, 4, 4)
	def["hold_ttl_s"] = 2
	e.createEvent(def)
	access := e.admit("extend", "fan-extend")
	h := e.do("POST", "/v1/events/extend/holds", map[string]any{"items": []any{map[string]any{"section": "GA", "quantity": 1}}}, bearer(access)...)
	if h.status != 201 {
		t.Fatalf("hold: %v", h)
	}
	id := h.str("hold_id")
	created, _ := time.Parse(time.RFC3339Nano, h.str("expires_at"))
	created = created.Add(-2 * time.Second)
	longest := created.Add(4 * time.Second)
	extend := func() reply {
		time.Sleep(1200 * time.Millisecond) // real time passing is what an extension measures
		return e.do("POST", "/v1/holds/"+id+"/extend", nil, bearer(access)...)
	}
	if r := extend(); r.status != 200 {
		t.Fatalf("first extension: %v", r)
	}
	r := extend() // now + 2 s is past the cap: capped
	got, _ := time.Parse(time.RFC3339Nano, r.str("expires_at"))
	if r.status != 200 || !got.Equal(longest) {
		t.Fatalf("extension near the cap: %v, expires %v, want the cap %v", r, got, longest)
	}
	if c := e.do("POST", "/v1/holds/"+id+"/extend", nil, bearer(access)...); c.status != 409 || c.str("type") != "conflict" {
		t.Fatalf("extension at the cap: %v", c)
	}
	if g := e.do("GET", "/v1/holds/"+id, nil, bearer(access)...); g.str("state") != "held" || g.str("expires_at") != r.str("expires_at") {
		t.Fatalf("the hold after a refused extension: %v, want held until %s", g, r.str("expires_at"))
	}
	h2 := e.do("POST", "/v1/events/extend/holds", map[string]any{"items": []any{map[string]any{"section": "GA", "quantity": 1}}}, bearer(access)...)
	if co := e.do("POST", "/v1/holds/"+h2.str("hold_id")+"/checkout", map[string]any{"payment_method": "pm_card_visa"}, bearer(access)...); co.status != 202 {
		t.Fatalf("checkout: %v", co)
	}
	if r := e.do("POST", "/v1/holds/"+h2.str("hold_id")+"/extend", nil, bearer(access)...); r.status != 409 {
		t.Fatalf("extension in checkout: %v", r)
	}
}
