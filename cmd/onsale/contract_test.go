package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// contractWalk is the project's own end-to-end walk of the HTTP contract (docs/payments.md and the OpenAPI
// document describe the same), run against a whole `onsale serve`: the organizer creates an event, a fan queues,
// is admitted, holds, releases, holds seats, and pays both ways, by the server and in the page with 3-D Secure;
// every error on the way is the problem the contract names.
type contractWalk struct {
	t     *testing.T
	base  string
	admin []string
	hc    *http.Client
}

type answer struct {
	status int
	ctype  string
	body   map[string]any
	raw    string
}

func (a answer) str(k string) string { v, _ := a.body[k].(string); return v }

func (a answer) has(keys ...string) bool {
	for _, k := range keys {
		if _, ok := a.body[k]; !ok {
			return false
		}
	}
	return true
}

func (w *contractWalk) call(method, path string, body any, hdr ...string) answer {
	w.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, w.base+path, rd)
	if err != nil {
		w.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := w.hc.Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

// expect reports a broken promise of the contract; ok says whether it held.
func (w *contractWalk) expect(what string, ok bool, a answer) bool {
	w.t.Helper()
	if !ok {
		w.t.Errorf("%s: got %d %s %s", what, a.status, a.ctype, a.raw)
	}
	return ok
}

func (w *contractWalk) problem(what string, a answer, status int, typ string) {
	w.t.Helper()
	w.expect(what, a.status == status && strings.HasPrefix(a.ctype, "application/problem+json") && a.str("type") == typ, a)
}

// until polls f every 50 ms for up to d.
func (w *contractWalk) until(what string, d time.Duration, f func() (bool, answer)) answer {
	w.t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, a := f()
		if ok {
			return a
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("%s: not within %s; last %d %s", what, d, a.status, a.raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (w *contractWalk) order(id string, fan []string) answer {
	return w.call("GET", "/v1/orders/"+id, nil, fan...)
}

func (w *contractWalk) settled(id string, fan []string) answer {
	w.t.Helper()
	return w.until("order "+id+" settled", 20*time.Second, func() (bool, answer) {
		a := w.order(id, fan)
		st := a.str("status")
		return st == "paid" || st == "failed" || st == "refunded", a
	})
}

func (w *contractWalk) run() {
	t := w.t
	w.expect("GET /healthz 200", w.call("GET", "/healthz", nil).status == 200, answer{})
	r := w.call("GET", "/readyz", nil)
	w.expect("GET /readyz 200", r.status == 200, r)
	r = w.call("GET", "/metrics", nil)
	w.expect("GET /metrics prometheus text", r.status == 200 && strings.Contains(r.raw, "# TYPE"), r)

	ev := fmt.Sprintf("walk%d", time.Now().UnixNano()%1e9)
	event := map[string]any{"id": ev, "name": "Contract walk", "currency": "EUR", "hold_ttl_s": 60, "max_per_fan": 8,
		"checkout_ttl_s": 120,
		"sections": []any{
			map[string]any{"id": "GA", "kind": "general", "capacity": 10, "price": 4500},
			map[string]any{"id": "A", "kind": "seated", "price": 9000, "rows": []any{map[string]any{"row": "1", "seats": 4}}}},
		"waves": []any{map[string]any{"id": "all", "starts_at": time.Now().UTC().Add(-time.Second).Format(time.RFC3339),
			"admit_per_min": 6000, "max_active": 100}}}
	w.problem("create event without auth", w.call("POST", "/v1/admin/events", event), 401, "unauthorized")
	r = w.call("POST", "/v1/admin/events", event, w.admin...)
	if !w.expect("create event → 201 with checkout_ttl_s", r.status == 201 && r.body["checkout_ttl_s"] == float64(120), r) {
		t.FailNow()
	}
	w.problem("same event id again", w.call("POST", "/v1/admin/events", event, w.admin...), 409, "conflict")
	w.problem("malformed JSON", w.call("POST", "/v1/admin/events", `{"id": `, w.admin...), 400, "bad-request")
	bad := map[string]any{}
	for k, v := range event {
		bad[k] = v
	}
	bad["id"], bad["checkout_ttl_s"] = ev+"x", 4000
	w.problem("checkout_ttl_s out of range", w.call("POST", "/v1/admin/events", bad, w.admin...), 400, "bad-request")
	w.problem("unknown admin event", w.call("GET", "/v1/admin/events/nope-"+ev, nil, w.admin...), 404, "not-found")
	r = w.call("GET", "/v1/admin/events/"+ev+"/stats", nil, w.admin...)
	w.expect("stats fields", r.status == 200 && r.has("queued", "admitted", "active", "held", "sold", "available", "capacity", "revenue", "sections"), r)
	r = w.call("GET", "/e/"+ev, nil)
	w.expect("fan page is HTML", r.status == 200 && strings.HasPrefix(r.ctype, "text/html"), r)

	r = w.call("POST", "/v1/events/"+ev+"/queue", map[string]any{"fan": "walker"})
	if !w.expect("join → 201", r.status == 201 && r.has("queue_token", "state", "position", "poll_after_ms"), r) {
		t.FailNow()
	}
	qt := r.str("queue_token")
	w.problem("altered queue token", w.call("GET", "/v1/events/"+ev+"/queue", nil, "Queue-Token", qt+"x"), 401, "unauthorized")
	r = w.until("admitted", 10*time.Second, func() (bool, answer) {
		a := w.call("GET", "/v1/events/"+ev+"/queue", nil, "Queue-Token", qt)
		return a.str("state") == "admitted" && a.str("access_token") != "", a
	})
	fan := []string{"Authorization", "Bearer " + r.str("access_token")}
	holds := "/v1/events/" + ev + "/holds"
	ga := func(n int) map[string]any {
		return map[string]any{"items": []any{map[string]any{"section": "GA", "quantity": n}}}
	}
	w.problem("hold without access", w.call("POST", holds, ga(1)), 403, "not-admitted")
	h := w.call("POST", holds, ga(2), append(fan, "Idempotency-Key", "walk-1")...)
	w.expect("hold GA → 201", h.status == 201 && h.has("hold_id", "expires_at", "items", "total"), h)
	w.problem("same key, other body", w.call("POST", holds, ga(1), append(fan, "Idempotency-Key", "walk-1")...), 409, "conflict")
	w.expect("release → 204", w.call("DELETE", "/v1/holds/"+h.str("hold_id"), nil, fan...).status == 204, answer{})
	w.problem("checkout a released hold", w.call("POST", "/v1/holds/"+h.str("hold_id")+"/checkout", map[string]any{"payment_method": "pm_card_visa"}, fan...), 410, "hold-expired")
	seats := w.call("POST", holds, map[string]any{"seats": []any{"A-1-1", "A-1-2"}}, fan...)
	w.expect("hold named seats", seats.status == 201, seats)
	w.problem("taken seat", w.call("POST", holds, map[string]any{"seats": []any{"A-1-2"}}, fan...), 409, "seats-unavailable")
	w.problem("over max_per_fan", w.call("POST", holds, ga(7), fan...), 429, "limit-exceeded")

	// Paid by the server: authorized, seats sold, captured.
	co := w.call("POST", "/v1/holds/"+seats.str("hold_id")+"/checkout", map[string]any{"payment_method": "pm_card_visa"}, fan...)
	w.expect("checkout → 202 pending", co.status == 202 && co.str("status") == "pending", co)
	o := w.settled(co.str("order_id"), fan)
	w.expect("server-confirmed order paid", o.str("status") == "paid" && o.has("order_id", "hold_id", "seats", "items", "total", "payment_intent"), o)

	// Paid in the page, with 3-D Secure.
	h = w.call("POST", holds, ga(1), fan...)
	w.problem("empty payment method", w.call("POST", "/v1/holds/"+h.str("hold_id")+"/checkout", map[string]any{"payment_method": ""}, fan...), 400, "bad-request")
	co = w.call("POST", "/v1/holds/"+h.str("hold_id")+"/checkout", map[string]any{}, fan...)
	w.expect("checkout without a payment method → 202", co.status == 202, co)
	o = w.until("requires_action with a client secret", 10*time.Second, func() (bool, answer) {
		a := w.order(co.str("order_id"), fan)
		p, _ := a.body["payment"].(map[string]any)
		return a.str("status") == "requires_action" && p["provider"] == "test" && p["client_secret"] != nil && a.has("pay_by"), a
	})
	pi := o.str("payment_intent")
	w.problem("confirm an unknown payment", w.call("POST", "/v1/test-payments/pi_nope/confirm", map[string]any{"payment_method": "pm_card_visa"}), 404, "not-found")
	w.problem("authenticate before confirming", w.call("POST", "/v1/test-payments/"+pi+"/authenticate", map[string]any{"outcome": "succeed"}), 409, "conflict")
	c := w.call("POST", "/v1/test-payments/"+pi+"/confirm", map[string]any{"payment_method": "4000 0027 6000 3184"})
	next, _ := c.body["next_action"].(map[string]any)
	w.expect("a 3-D Secure card needs authentication", c.status == 200 && c.str("status") == "requires_action" && next["url"] != nil, c)
	page := w.call("GET", fmt.Sprint(next["url"]), nil)
	w.expect("the 3-D Secure page", page.status == 200 && strings.Contains(page.raw, "45.00 EUR"), page)
	w.problem("authenticate with no outcome", w.call("POST", "/v1/test-payments/"+pi+"/authenticate", map[string]any{"outcome": "maybe"}), 400, "bad-request")
	a := w.call("POST", "/v1/test-payments/"+pi+"/authenticate", map[string]any{"outcome": "succeed"})
	w.expect("authenticate → 200", a.status == 200, a)
	o = w.settled(co.str("order_id"), fan)
	w.expect("3-D Secure order paid", o.str("status") == "paid", o)

	// Declined in the page: failed with the reason, the seats back on sale.
	h = w.call("POST", holds, ga(1), fan...)
	co = w.call("POST", "/v1/holds/"+h.str("hold_id")+"/checkout", map[string]any{}, fan...)
	o = w.until("requires_action", 10*time.Second, func() (bool, answer) {
		a := w.order(co.str("order_id"), fan)
		return a.str("status") == "requires_action", a
	})
	w.call("POST", "/v1/test-payments/"+o.str("payment_intent")+"/confirm", map[string]any{"payment_method": "pm_card_chargeDeclined"})
	o = w.settled(co.str("order_id"), fan)
	w.expect("declined order failed with card_declined", o.str("status") == "failed" && o.str("failure_reason") == "card_declined", o)

	w.problem("unknown order", w.call("GET", "/v1/orders/nope", nil, fan...), 404, "not-found")
	w.problem("webhook with a bad signature", w.call("POST", "/v1/webhooks/stripe", `{"id":"evt_1","type":"payment_intent.succeeded"}`, "Stripe-Signature", "t=1,v1=bad"), 400, "bad-request")
	st := w.until("stats agree", 10*time.Second, func() (bool, answer) {
		a := w.call("GET", "/v1/admin/events/"+ev+"/stats", nil, w.admin...)
		return a.body["sold"] == float64(3) && a.body["held"] == float64(0), a
	})
	w.expect("sold: two seats and one GA", st.body["sold"] == float64(3), st)
	w.expect("leave → 204", w.call("DELETE", "/v1/events/"+ev+"/queue", nil, "Queue-Token", qt).status == 204, answer{})
}

func walkContract(t *testing.T, s started) {
	t.Helper()
	w := &contractWalk{t: t, base: s.base, admin: []string{"Authorization", "Bearer " + s.admin},
		hc: &http.Client{Timeout: 15 * time.Second}}
	w.run()
}
