package core_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onsale/onsale/core"
)

// problem checks that r is an application/problem+json reply with the status and type.
func problem(t *testing.T, name string, r reply, status int, typ string) {
	t.Helper()
	if r.status != status || r.str("type") != typ || !strings.HasPrefix(r.header.Get("Content-Type"), "application/problem+json") ||
		r.body["status"] != float64(status) || r.str("title") == "" {
		t.Errorf("%s: want %d %s, got %v (%s)", name, status, typ, r, r.header.Get("Content-Type"))
	}
}

// TestProblemTypes walks every problem type of the contract through the endpoints that reply it, and checks that
// none of the refused requests changed the inventory.
func TestProblemTypes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	adm := e.adminAuth()
	def := eventDef("probs", 4, 4, 3)
	e.createEvent(def)
	e.createEvent(eventDef("other", 4, 4, 3))

	// Organizer API.
	problem(t, "create without auth", e.do("POST", "/v1/admin/events", def), 401, "unauthorized")
	problem(t, "create with a wrong token", e.do("POST", "/v1/admin/events", def, "Authorization", "Bearer nope"), 401, "unauthorized")
	problem(t, "create twice", e.do("POST", "/v1/admin/events", def, adm...), 409, "conflict")
	problem(t, "malformed JSON", e.do("POST", "/v1/admin/events", `{"id": `, adm...), 400, "bad-request")
	problem(t, "trailing data", e.do("POST", "/v1/admin/events", `{} {}`, adm...), 400, "bad-request")
	bad := func(name string, mutate func(map[string]any)) {
		d := eventDef("fresh", 4, 4, 3)
		mutate(d)
		problem(t, name, e.do("POST", "/v1/admin/events", d, adm...), 400, "bad-request")
	}
	bad("unknown field", func(d map[string]any) { d["colour"] = "red" })
	bad("wrong type", func(d map[string]any) { d["hold_ttl_s"] = "60" })
	bad("hold_ttl_s 0", func(d map[string]any) { d["hold_ttl_s"] = 0 })
	bad("hold_ttl_s 3601", func(d map[string]any) { d["hold_ttl_s"] = 3601 })
	bad("max_per_fan 0", func(d map[string]any) { d["max_per_fan"] = 0 })
	bad("no waves", func(d map[string]any) { d["waves"] = []any{} })
	bad("admit_per_min 0", func(d map[string]any) { d["waves"].([]any)[0].(map[string]any)["admit_per_min"] = 0 })
	bad("max_active -1", func(d map[string]any) { d["waves"].([]any)[0].(map[string]any)["max_active"] = -1 })
	bad("release of an unknown section", func(d map[string]any) {
		d["waves"].([]any)[0].(map[string]any)["release"] = map[string]any{"ZZ": 1}
	})
	bad("negative capacity", func(d map[string]any) { d["sections"].([]any)[0].(map[string]any)["capacity"] = -5 })
	bad("bad id", func(d map[string]any) { d["id"] = "no spaces" })
	problem(t, "oversized body", e.do("POST", "/v1/admin/events", `{"name":"`+strings.Repeat("x", 70<<10)+`"}`, adm...), 413, "too-large")
	if r := e.do("GET", "/v1/admin/events/fresh", nil, adm...); r.status != 404 {
		t.Errorf("a refused event was created: %v", r)
	}
	problem(t, "unknown event", e.do("GET", "/v1/admin/events/nope", nil, adm...), 404, "not-found")
	problem(t, "stats of an unknown event", e.do("GET", "/v1/admin/events/nope/stats", nil, adm...), 404, "not-found")
	problem(t, "stats without auth", e.do("GET", "/v1/admin/events/probs/stats", nil), 401, "unauthorized")
	problem(t, "empty admission", e.do("PATCH", "/v1/admin/events/probs/admission", `{}`, adm...), 400, "bad-request")
	problem(t, "zero rate", e.do("PATCH", "/v1/admin/events/probs/admission", `{"admit_per_min":0}`, adm...), 400, "bad-request")
	problem(t, "admission of an unknown event", e.do("PATCH", "/v1/admin/events/nope/admission", `{"paused":true}`, adm...), 404, "not-found")

	// Waiting room.
	problem(t, "join without fan", e.do("POST", "/v1/events/probs/queue", `{}`), 400, "bad-request")
	problem(t, "join with an unknown field", e.do("POST", "/v1/events/probs/queue", `{"fan":"x","vip":true}`), 400, "bad-request")
	problem(t, "join an unknown event", e.do("POST", "/v1/events/nope/queue", `{"fan":"x"}`), 404, "not-found")
	problem(t, "status without token", e.do("GET", "/v1/events/probs/queue", nil), 401, "unauthorized")
	problem(t, "status with a forged token", e.do("GET", "/v1/events/probs/queue", nil, "Queue-Token", "forged"), 401, "unauthorized")
	other := e.do("POST", "/v1/events/other/queue", `{"fan":"carol"}`)
	problem(t, "status with another event's token", e.do("GET", "/v1/events/probs/queue", nil, "Queue-Token", other.str("queue_token")), 401, "unauthorized")
	problem(t, "stream with a forged token", e.do("GET", "/v1/events/probs/queue/stream?token=forged", nil), 401, "unauthorized")
	problem(t, "leave without token", e.do("DELETE", "/v1/events/probs/queue", nil), 401, "unauthorized")

	// Holds: access.
	alice := e.admit("probs", "alice")
	bob := e.admit("probs", "bob")
	carol := e.admit("other", "carol")
	ga := `{"items":[{"section":"GA","quantity":1}]}`
	problem(t, "hold without access", e.do("POST", "/v1/events/probs/holds", ga), 403, "not-admitted")
	problem(t, "hold with a forged access token", e.do("POST", "/v1/events/probs/holds", ga, bearer(alice+"x")...), 403, "not-admitted")
	problem(t, "hold with another event's access", e.do("POST", "/v1/events/probs/holds", ga, bearer(carol)...), 403, "not-admitted")

	// Holds: bodies. None of these may change anything.
	for name, body := range map[string]string{
		"malformed":       `{"items":[`,
		"unknown field":   `{"items":[{"section":"GA","quantity":1,"colour":"red"}]}`,
		"wrong type":      `{"items":[{"section":"GA","quantity":"2"}]}`,
		"fraction":        `{"items":[{"section":"GA","quantity":1.5}]}`,
		"zero quantity":   `{"items":[{"section":"GA","quantity":0}]}`,
		"negative":        `{"items":[{"section":"GA","quantity":-1}]}`,
		"nothing asked":   `{}`,
		"empty body":      ``,
		"unknown section": `{"items":[{"section":"ZZ","quantity":1}]}`,
		"bad seat id":     `{"seats":["A-1"]}`,
		"unknown seat":    `{"seats":["A-1-99"]}`,
		"same seat twice": `{"seats":["A-1-1","A-1-1"]}`,
		"adjacent on GA":  `{"items":[{"section":"GA","quantity":2,"adjacent":true}]}`,
		"a JSON array":    `[1,2]`,
	} {
		problem(t, "hold: "+name, e.do("POST", "/v1/events/probs/holds", body, bearer(alice)...), 400, "bad-request")
	}
	problem(t, "hold: oversized", e.do("POST", "/v1/events/probs/holds", `{"seats":["`+strings.Repeat("A", 70<<10)+`"]}`, bearer(alice)...), 413, "too-large")
	if st, err := e.inv.Stats(context.Background(), "probs"); err != nil || st.Totals().Held != 0 || st.Totals().Available != 8 {
		t.Fatalf("refused holds changed the inventory: %+v %v", st.Totals(), err)
	}

	// Holds: the inventory's answers.
	r := e.do("POST", "/v1/events/probs/holds", `{"seats":["A-1-1","A-1-2"]}`, bearer(alice)...)
	if r.status != 201 {
		t.Fatalf("hold seats: %v", r)
	}
	aliceHold := r.str("hold_id")
	problem(t, "taken seat", e.do("POST", "/v1/events/probs/holds", `{"seats":["A-1-2"]}`, bearer(bob)...), 409, "seats-unavailable")
	problem(t, "not enough left", e.do("POST", "/v1/events/probs/holds", `{"items":[{"section":"A","quantity":3}]}`, bearer(bob)...), 409, "sold-out")
	problem(t, "over max_per_fan", e.do("POST", "/v1/events/probs/holds", `{"items":[{"section":"GA","quantity":2}]}`, bearer(alice)...), 429, "limit-exceeded")
	problem(t, "hold in an unknown event", e.do("POST", "/v1/events/nope/holds", ga, bearer(alice)...), 403, "not-admitted")

	// Another fan's hold and order read as not found.
	problem(t, "another fan's hold", e.do("GET", "/v1/holds/"+aliceHold, nil, bearer(bob)...), 404, "not-found")
	problem(t, "release another fan's hold", e.do("DELETE", "/v1/holds/"+aliceHold, nil, bearer(bob)...), 404, "not-found")
	problem(t, "checkout another fan's hold", e.do("POST", "/v1/holds/"+aliceHold+"/checkout", `{"payment_method":"pm_card_visa"}`, bearer(bob)...), 404, "not-found")
	problem(t, "unknown hold", e.do("GET", "/v1/holds/probs.aaaaaaaaaaaaaaaaaaaa", nil, bearer(alice)...), 404, "not-found")
	problem(t, "malformed hold id", e.do("GET", "/v1/holds/whatever", nil, bearer(alice)...), 404, "not-found")
	problem(t, "hold without access", e.do("GET", "/v1/holds/"+aliceHold, nil), 403, "not-admitted")
	problem(t, "checkout with an empty payment method", e.do("POST", "/v1/holds/"+aliceHold+"/checkout", `{"payment_method":""}`, bearer(alice)...), 400, "bad-request")
	problem(t, "checkout with a payment method that is not a string", e.do("POST", "/v1/holds/"+aliceHold+"/checkout", `{"payment_method":42}`, bearer(alice)...), 400, "bad-request")
	problem(t, "checkout with an unknown field", e.do("POST", "/v1/holds/"+aliceHold+"/checkout", `{"payment_method":"pm_card_visa","tip":5}`, bearer(alice)...), 400, "bad-request")
	r = e.do("POST", "/v1/holds/"+aliceHold+"/checkout", `{"payment_method":"pm_card_visa"}`, bearer(alice)...)
	if r.status != 202 {
		t.Fatalf("checkout: %v", r)
	}
	order := r.str("order_id")
	problem(t, "another fan's order", e.do("GET", "/v1/orders/"+order, nil, bearer(bob)...), 404, "not-found")
	problem(t, "order without access", e.do("GET", "/v1/orders/"+order, nil), 403, "not-admitted")
	problem(t, "unknown order", e.do("GET", "/v1/orders/nope", nil, bearer(alice)...), 404, "not-found")
	problem(t, "checkout again with another card", e.do("POST", "/v1/holds/"+aliceHold+"/checkout", `{"payment_method":"pm_card_mastercard"}`, bearer(alice)...), 409, "conflict")

	// An expired hold cannot be checked out.
	r = e.do("POST", "/v1/events/probs/holds", ga, bearer(bob)...)
	if r.status != 201 {
		t.Fatalf("hold: %v", r)
	}
	e.clock.Advance(2 * time.Minute)
	problem(t, "checkout after expiry", e.do("POST", "/v1/holds/"+r.str("hold_id")+"/checkout", `{"payment_method":"pm_card_visa"}`, bearer(bob)...), 410, "hold-expired")

	// Operations.
	problem(t, "webhook with a bad signature", e.do("POST", "/v1/webhooks/stripe", `{"id":"evt_1"}`, "Stripe-Signature", "t=1,v1=bad"), 400, "bad-request")
	problem(t, "unknown path", e.do("GET", "/v1/nothing", nil), 404, "not-found")
	r = e.do("PUT", "/v1/events/probs/holds", ga)
	if r.status != 405 || r.header.Get("Allow") != "POST" {
		t.Errorf("wrong method: %v %v", r, r.header)
	}
}

func TestJoinRateLimited(t *testing.T) {
	t.Parallel()
	e := setup(t, func(o *options) { o.cfg.JoinRatePerIP = 1 })
	e.createEvent(eventDef("rl", 4, 4, 3))
	if r := e.do("POST", "/v1/events/rl/queue", `{"fan":"a"}`); r.status != 201 {
		t.Fatalf("first join: %v", r)
	}
	r := e.do("POST", "/v1/events/rl/queue", `{"fan":"b"}`)
	problem(t, "second join at once", r, 429, "rate-limited")
	if r.header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After: %v", r.header)
	}
}

func TestPresaleCode(t *testing.T) {
	t.Parallel()
	e := setup(t)
	def := eventDef("pre", 4, 4, 3)
	def["waves"].([]any)[0].(map[string]any)["codes"] = []string{"FANCLUB"}
	e.createEvent(def)
	problem(t, "unknown code", e.do("POST", "/v1/events/pre/queue", `{"fan":"a","code":"WRONG"}`), 403, "forbidden")
	if r := e.do("POST", "/v1/events/pre/queue", `{"fan":"a","code":"FANCLUB"}`); r.status != 201 {
		t.Fatalf("join with the code: %v", r)
	}
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	down := errors.New("connection refused")
	e := setup(t, func(o *options) {
		o.checks = []core.Check{{Name: "redis", Ping: func(context.Context) error { return nil }},
			{Name: "postgres", Ping: func(context.Context) error { return down }}}
	})
	problem(t, "readyz with a backend down", e.do("GET", "/readyz", nil), 503, "unavailable")
	if r := e.do("GET", "/healthz", nil); r.status != 200 {
		t.Errorf("healthz: %v", r)
	}
	m := e.do("GET", "/metrics", nil)
	for _, want := range []string{`onsale_backend_up{backend="postgres"} 0`, `onsale_backend_up{backend="redis"} 1`,
		`onsale_http_requests_total{code="201",method="POST",route="/v1/events/{event}/holds"} 0`,
		`onsale_inventory_holds_total{result="sold_out"} 0`, "onsale_http_inflight_requests"} {
		if !strings.Contains(m.raw, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// An optional backend (Stripe) that does not answer is reported, and the process stays ready; its answer is reused
// for its MinInterval, so probes do not spend the provider's rate limit.
func TestReadyzOptionalBackend(t *testing.T) {
	t.Parallel()
	var pings atomic.Int32
	e := setup(t, func(o *options) {
		o.checks = []core.Check{{Name: "redis", Ping: func(context.Context) error { return nil }},
			{Name: "stripe", Optional: true, MinInterval: time.Hour, Ping: func(context.Context) error {
				pings.Add(1)
				return errors.New("stripe: ping: connection refused")
			}}}
	})
	for range 3 {
		r := e.do("GET", "/readyz", nil)
		if r.status != 200 || !strings.Contains(r.raw, `"degraded":["stripe"]`) {
			t.Fatalf("readyz with only an optional backend down: %d %s", r.status, r.raw)
		}
	}
	if n := pings.Load(); n > 2 { // the start-up probe and the first readyz may both ask
		t.Errorf("stripe pinged %d times within its interval, want at most 2", n)
	}
	if m := e.do("GET", "/metrics", nil); !strings.Contains(m.raw, `onsale_backend_up{backend="stripe"} 0`) {
		t.Error("metrics do not report stripe down")
	}
}

// A connection that sends nothing within ReadTimeout (an HTTP client's spare dial) is closed without an answer:
// an answer would reach that client as an unsolicited response, and it counts as no request.
func TestIdleNewConnectionClosedSilently(t *testing.T) {
	t.Parallel()
	e := setup(t, func(o *options) { o.cfg.ReadTimeout = 200 * time.Millisecond })
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(conn)
	if len(got) > 0 {
		t.Fatalf("an idle new connection got an answer: %q", got)
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		t.Fatal("the server kept the idle connection open past its read timeout")
	}
	if m := e.do("GET", "/metrics", nil); strings.Contains(m.raw, `route="unparsed"`) {
		t.Errorf("the idle connection was counted as a request:\n%s", grepLines(m.raw, "unparsed"))
	}
	// A partial request that stalls gets the same: no answer, closed.
	conn2, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	if _, err := conn2.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = conn2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, _ := io.ReadAll(conn2); len(got) > 0 {
		t.Fatalf("a stalled request got an answer: %q", got)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for line := range strings.Lines(s) {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "")
}
