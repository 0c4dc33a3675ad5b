package core_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// headerOf is a header value that makes a request's header fields about n bytes.
func headerOf(n int) string { return strings.Repeat("a", n-len("X-Big: \r\n")) }

// Requests with up to 16 KiB of header fields are served; more is 431 too-large, whether or not the server's read
// buffer holds them.
func TestHeaderLimit(t *testing.T) {
	t.Parallel()
	e := setup(t)
	// Go's client adds Host, User-Agent and Accept-Encoding (about 80 bytes).
	if r := e.do("GET", "/healthz", nil, "X-Big", headerOf(16<<10-200)); r.status != 200 {
		t.Fatalf("16 KiB of headers: %v", r)
	}
	problem(t, "just over 16 KiB", e.do("GET", "/healthz", nil, "X-Big", headerOf(16<<10+100)), 431, "too-large")
	problem(t, "64 KiB", e.do("GET", "/healthz", nil, "X-Big", headerOf(64<<10)), 431, "too-large")

	// A raw client sending far more than the buffer holds reads the answer, not a reset.
	c, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		_, _ = io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "+headerOf(200<<10)+"\r\n\r\n")
	}()
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read the answer: %v", err)
	}
	defer res.Body.Close()
	var p map[string]any
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil || res.StatusCode != 431 || p["type"] != "too-large" ||
		res.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("200 KiB of headers: %d %v %v", res.StatusCode, p, err)
	}
}

// The fan API answers the origins it is configured with, preflights included; the organizer API and the door
// never do.
func TestCORS(t *testing.T) {
	t.Parallel()
	e := setup(t, func(o *options) { o.cfg.CORSOrigins = []string{"https://fans.example", "https://Other.example/"} })
	e.createEvent(eventDef("cors", 4, 4, 2))
	const origin = "https://fans.example"
	pre := e.do("OPTIONS", "/v1/events/cors/queue", nil, "Origin", origin, "Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "content-type,queue-token")
	if pre.status != 204 || pre.header.Get("Access-Control-Allow-Origin") != origin ||
		!strings.Contains(pre.header.Get("Access-Control-Allow-Methods"), "POST") ||
		pre.header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("preflight: %v %v", pre, pre.header)
	}
	for _, h := range []string{"Authorization", "Idempotency-Key", "Queue-Token", "Content-Type"} {
		if !strings.Contains(pre.header.Get("Access-Control-Allow-Headers"), h) {
			t.Errorf("preflight does not allow %s: %v", h, pre.header)
		}
	}
	if r := e.do("OPTIONS", "/v1/holds/x.y/checkout", nil, "Origin", "https://other.example"); r.status != 204 ||
		r.header.Get("Access-Control-Allow-Origin") != "https://other.example" {
		t.Errorf("second origin, case and slash aside: %v %v", r, r.header)
	}
	if r := e.do("OPTIONS", "/v1/events/cors/queue", nil, "Origin", "https://evil.example", "Access-Control-Request-Method", "POST"); r.header.Get("Access-Control-Allow-Origin") != "" ||
		r.header.Get("Access-Control-Allow-Methods") != "" {
		t.Errorf("preflight of another origin: %v", r.header)
	}
	join := e.do("POST", "/v1/events/cors/queue", map[string]any{"fan": "alice"}, "Origin", origin)
	if join.status != 201 || join.header.Get("Access-Control-Allow-Origin") != origin || !slices.Contains(join.header.Values("Vary"), "Origin") {
		t.Errorf("join from the origin: %v %v", join, join.header)
	}
	if r := e.do("GET", "/v1/holds/nope.nope", nil, "Origin", origin); r.status != 403 || r.header.Get("Access-Control-Allow-Origin") != origin {
		t.Errorf("an error answer is readable by the origin too: %v %v", r, r.header)
	}
	if r := e.do("GET", "/v1/events?q=cors", nil, "Origin", origin); r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != origin {
		t.Errorf("the public search from the origin: %v %v", r, r.header)
	}
	for _, p := range []string{"/v1/admin/events/cors", "/v1/events/cors/checkin/keys", "/metrics"} {
		if r := e.do("OPTIONS", p, nil, "Origin", origin, "Access-Control-Request-Method", "GET"); r.status != 405 || r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight of %s: %v %v", p, r, r.header)
		}
		if r := e.do("GET", p, nil, append(e.adminAuth(), "Origin", origin)...); r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("GET %s from another origin: %d %v", p, r.status, r.header)
		}
	}

	// Without origins configured nothing is offered.
	plain := setup(t)
	if r := plain.do("OPTIONS", "/v1/events/cors/queue", nil, "Origin", origin, "Access-Control-Request-Method", "POST"); r.status != 405 || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight without CORS: %v %v", r, r.header)
	}
}

// A body that is not declared JSON is refused before it has any effect: a cross-origin page can send text/plain
// without a preflight.
func TestJSONBodyRequired(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.createEvent(eventDef("ctype", 4, 4, 2))
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", ""} {
		r := e.do("POST", "/v1/events/ctype/queue", `{"fan":"alice"}`, "Content-Type", ct)
		problem(t, "join as "+ct, r, 415, "bad-request")
	}
	problem(t, "an unknown path", e.do("POST", "/v1/nowhere", `{}`, "Content-Type", "text/plain"), 404, "not-found")
	if r := e.do("PATCH", "/v1/events/ctype/queue", `{}`, "Content-Type", "text/plain"); r.status != 405 {
		t.Errorf("a method the path lacks: %v", r)
	}
	problem(t, "create an event as text", e.do("POST", "/v1/admin/events", `{}`, append(e.adminAuth(), "Content-Type", "text/plain")...), 415, "bad-request")
	// The refused joins had no effect: this is alice's first.
	if r := e.do("POST", "/v1/events/ctype/queue", `{"fan":"alice"}`, "Content-Type", "application/json; charset=utf-8"); r.status != 201 {
		t.Errorf("join as JSON: %v", r)
	}
}

// dialHealthz opens a connection and asks /healthz on it, returning the status (0 when the connection failed).
func dialHealthz(t *testing.T, base string) (net.Conn, int) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return c, 0
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return c, 0
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return c, res.StatusCode
}

// One address holds at most MaxConnsPerIP connections; the next is answered 429 and closed, and a closed one makes
// room again. Trusted proxies are not capped.
func TestConnsPerIP(t *testing.T) {
	t.Parallel()
	e := setup(t, func(o *options) { o.cfg.MaxConnsPerIP = 3 })
	var open []net.Conn
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	for i := range 3 {
		c, st := dialHealthz(t, e.base)
		open = append(open, c)
		if st != 200 {
			t.Fatalf("connection %d: %d", i+1, st)
		}
	}
	c, st := dialHealthz(t, e.base)
	c.Close()
	if st != 429 {
		t.Errorf("a fourth connection: %d, want 429", st)
	}
	open[0].Close()
	open = open[1:]
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, st := dialHealthz(t, e.base)
		if st == 200 {
			open = append(open, c)
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("a closed connection made no room")
		}
		time.Sleep(10 * time.Millisecond)
	}

	proxied := setup(t, func(o *options) {
		o.cfg.MaxConnsPerIP = 3
		o.cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	for i := range 6 {
		c, st := dialHealthz(t, proxied.base)
		open = append(open, c)
		if st != 200 {
			t.Fatalf("connection %d from a trusted proxy: %d", i+1, st)
		}
	}
}
