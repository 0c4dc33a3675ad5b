package core_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/onsale/onsale/core"
	"github.com/onsale/onsale/internal/testenv"
	"github.com/onsale/onsale/tickets"
)

// The API document (openapi.yaml) is checked three ways: it loads and validates with kin-openapi; a strict variant
// of it (no undocumented response field allowed) rejects what it should; and every endpoint of the running server,
// driven through its success and error paths, answers exactly as the document says.

const openAPIFile = "openapi.yaml"

// loadDoc loads and validates the API document.
func loadDoc(t testing.TB) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(openAPIFile)
	if err != nil {
		t.Fatalf("load %s: %v", openAPIFile, err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("validate %s: %v", openAPIFile, err)
	}
	return doc
}

// strictResponses forbids, in every object schema a response uses, the fields the document does not list. The
// contract lets responses carry more fields than it names; the server must not send any the document lacks.
func strictResponses(doc *openapi3.T) {
	seen := map[*openapi3.Schema]bool{}
	var walk func(ref *openapi3.SchemaRef)
	walk = func(ref *openapi3.SchemaRef) {
		if ref == nil {
			return
		}
		// A $ref with sibling keywords resolves to a merged copy; the validator reads the component itself.
		if name, ok := strings.CutPrefix(ref.Ref, "#/components/schemas/"); ok {
			if c := doc.Components.Schemas[name]; c != nil && c != ref {
				walk(c)
			}
		}
		s := ref.Value
		if s == nil || seen[s] {
			return
		}
		seen[s] = true
		// Only object schemas that list fields: a fragment that narrows one field of another schema (the keywords
		// next to a $ref) must not forbid the rest.
		if s.Type.Is("object") && len(s.Properties) > 0 && s.AdditionalProperties.Has == nil && s.AdditionalProperties.Schema == nil {
			no := false
			s.AdditionalProperties.Has = &no
		}
		for _, p := range s.Properties {
			walk(p)
		}
		walk(s.Items)
		walk(s.AdditionalProperties.Schema)
		for _, group := range []openapi3.SchemaRefs{s.AllOf, s.OneOf, s.AnyOf} {
			for _, x := range group {
				walk(x)
			}
		}
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, r := range op.Responses.Map() {
				if r.Value == nil {
					continue
				}
				for _, mt := range r.Value.Content {
					walk(mt.Schema)
				}
			}
		}
	}
}

func TestOpenAPIDocumentLoads(t *testing.T) {
	t.Parallel()
	doc := loadDoc(t)
	if !doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi = %q, want 3.1", doc.OpenAPI)
	}
	// Every path of the contract is in the document.
	want := []string{"/healthz", "/readyz", "/metrics", "/v1/admin/events", "/v1/admin/events/{event}",
		"/v1/admin/events/{event}/admission", "/v1/admin/events/{event}/stats", "/v1/events/{event}/queue",
		"/v1/events/{event}/queue/stream", "/e/{event}", "/o/{order}", "/admin", "/v1/events/{event}/holds", "/v1/holds/{hold}",
		"/v1/holds/{hold}/checkout", "/v1/orders/{order}", "/v1/events/{event}/availability", "/v1/webhooks/stripe",
		"/openapi.json", "/openapi.yaml", "/docs", "/v1/test-payments/{payment_intent}/confirm",
		"/v1/test-payments/{payment_intent}/authenticate", "/pay/3ds/{payment_intent}", "/v1/admin/orders/{order}/refund",
		"/v1/admin/events/{event}/cancel",
		"/v1/events/{event}/checkin", "/v1/events/{event}/checkin/keys", "/v1/events/{event}/checkin/revoked",
		"/v1/admin/events/{event}/ticket-keys", "/scan/{event}", "/assets/{file}", "/o/{order}/tickets.pdf", "/v1/events", "/", "/v1/holds/{hold}/extend", "/v1/events/{event}/seats",
		"/v1/admin/events/{event}/orders", "/v1/admin/events/{event}/orders.csv", "/v1/me/orders",
		"/v1/events/{event}/seats/layout", "/v1/admin/events/{event}/seats"}
	for _, p := range want {
		if doc.Paths.Value(p) == nil {
			t.Errorf("path %s is missing", p)
		}
	}
	if n := len(doc.Paths.Map()); n != len(want) {
		t.Errorf("%d paths, want %d", n, len(want))
	}
	// Every error response is a problem, and every request body is strict.
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for code, r := range op.Responses.Map() {
				if code[0] != '4' && code[0] != '5' {
					continue
				}
				if r.Value.Content.Get("application/problem+json") == nil || len(r.Value.Content) != 1 {
					t.Errorf("%s %s %s: not application/problem+json", method, path, code)
				}
			}
			if op.RequestBody == nil || op.OperationID == "stripeWebhook" {
				continue
			}
			s := op.RequestBody.Value.Content.Get("application/json").Schema.Value
			if s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has {
				t.Errorf("%s %s: request body allows unknown fields", method, path)
			}
		}
	}
	slugs := doc.Components.Schemas["Problem"].Value.Properties["type"].Value.Enum
	for _, slug := range []string{"bad-request", "unauthorized", "forbidden", "not-admitted", "not-found", "sold-out",
		"seats-unavailable", "limit-exceeded", "hold-expired", "conflict", "rate-limited", "too-large", "unavailable"} {
		if !slices.Contains(slugs, any(slug)) {
			t.Errorf("problem type %q is missing", slug)
		}
	}
}

// TestOpenAPIStrictVariant shows that the strict variant the conformance test uses does catch an undocumented
// field, which the document as published allows.
func TestOpenAPIStrictVariant(t *testing.T) {
	t.Parallel()
	hold := map[string]any{"hold_id": "ev.abcdefghijklmnopqrst", "event": "ev", "state": "held",
		"created_at": "2026-12-01T10:00:00Z", "expires_at": "2026-12-01T10:10:00Z", "seats": []any{"A-1-1"},
		"items": []any{map[string]any{"section": "A", "quantity": 1.0, "unit_price": 9000.0, "amount": 9000.0}},
		"units": 1.0, "total": map[string]any{"amount": 9000.0, "currency": "EUR"}}
	extraTop := maps.Clone(hold)
	extraTop["surprise"] = true
	extraNested := maps.Clone(hold)
	extraNested["total"] = map[string]any{"amount": 9000.0, "currency": "EUR", "surprise": 1.0}
	problem := map[string]any{"type": "not-found", "title": "Not found", "status": 404.0, "detail": "no such hold"}
	extraProblem := maps.Clone(problem)
	extraProblem["surprise"] = "x"
	wrongSlug := maps.Clone(problem)
	wrongSlug["type"] = "sold-out"

	published, strict := loadDoc(t), loadDoc(t)
	strictResponses(strict)
	schemaOf := func(doc *openapi3.T, op, code string) *openapi3.Schema {
		for _, item := range doc.Paths.Map() {
			for _, o := range item.Operations() {
				if o.OperationID == op {
					return o.Responses.Value(code).Value.Content.Get(contentTypeOf(code)).Schema.Value
				}
			}
		}
		t.Fatalf("no operation %s", op)
		return nil
	}
	for _, tc := range []struct {
		name          string
		op, code      string
		value         map[string]any
		published, ok bool // valid against the published document, against the strict one
	}{
		{"documented hold", "getHold", "200", hold, true, true},
		{"extra top-level field", "getHold", "200", extraTop, true, false},
		{"extra nested field", "getHold", "200", extraNested, true, false},
		{"documented problem", "getHold", "404", problem, true, true},
		{"extra problem field", "getHold", "404", extraProblem, true, false},
		{"slug of another status", "getHold", "404", wrongSlug, false, false},
	} {
		for _, v := range []struct {
			doc  *openapi3.T
			want bool
		}{{published, tc.published}, {strict, tc.ok}} {
			err := schemaOf(v.doc, tc.op, tc.code).VisitJSON(any(tc.value), openapi3.EnableJSONSchema2020())
			if (err == nil) != v.want {
				t.Errorf("%s: valid = %v, want %v (%v)", tc.name, err == nil, v.want, err)
			}
		}
	}
}

func contentTypeOf(code string) string {
	if code[0] == '2' {
		return "application/json"
	}
	return "application/problem+json"
}

// registerDocDecoders lets the response validator read the non-JSON bodies the API has.
var registerDocDecoders = sync.OnceFunc(func() {
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/event-stream", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/javascript", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("application/pdf", openapi3filter.FileBodyDecoder)
})

// oaEnv is the embedded service of setup, and the strict document to hold it to.
type oaEnv struct {
	*env
	doc     *openapi3.T
	router  routers.Router
	backend atomic.Bool // what the readiness check reports
	nextIP  atomic.Uint32

	mu        sync.Mutex
	succeeded map[string]bool // operation ids answered with a 2xx
	answered  map[string]bool // "operation status" pairs seen
}

// oaWebhookSecret is the endpoint secret setup gives the settlement.
const oaWebhookSecret = "whsec_test"

func newOAEnv(t *testing.T, extra ...func(*options)) *oaEnv {
	t.Helper()
	registerDocDecoders()
	e := &oaEnv{succeeded: map[string]bool{}, answered: map[string]bool{}}
	e.backend.Store(true)
	e.env = setup(t, func(o *options) {
		// Joins come from a trusted proxy that names a fresh client address per call (freshAddr), so the
		// per-address limit only meets the calls that test it.
		o.cfg.JoinRatePerIP = 0.01 // one join per address, then 100 s to the next
		o.cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		o.checks = append(o.checks, core.Check{Name: "redis", Ping: func(context.Context) error {
			if !e.backend.Load() {
				return errors.New("connection refused")
			}
			return nil
		}})
		for _, f := range extra {
			f(o)
		}
	})
	e.doc = loadDoc(t)
	strictResponses(e.doc)
	e.doc.Servers = openapi3.Servers{{URL: e.base}}
	var err error
	if e.router, err = gorillamux.NewRouter(e.doc); err != nil {
		t.Fatalf("router: %v", err)
	}
	return e
}

// oaCall is one request and what must come of it.
type oaCall struct {
	method, path string
	body         any      // nil, a string sent as is, or a value encoded as JSON
	header       []string // name, value pairs
	// invalid says the request breaks the document on purpose (a missing header, a malformed body): the
	// document must reject it as the server does.
	invalid bool
	status  int
	problem string // the problem type of an error answer
}

// oaReply is a response, its body decoded when it is JSON.
type oaReply struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r oaReply) str(k string) string { s, _ := r.body[k].(string); return s }

func oaBearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// docAuthenticate accepts what has the shape of the credentials the document asks for; whether they are good is
// the server's to say.
func docAuthenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	req := in.RequestValidationInput.Request
	if sc := in.SecurityScheme; sc != nil && sc.Type == "apiKey" {
		var v string
		switch sc.In {
		case "header":
			v = req.Header.Get(sc.Name)
		case "query":
			v = req.URL.Query().Get(sc.Name)
		}
		if v == "" {
			return fmt.Errorf("%s needs %s in the %s", in.SecuritySchemeName, sc.Name, sc.In)
		}
		return nil
	}
	h := req.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(h, "Bearer "); !ok || tok == "" {
		return fmt.Errorf("%s needs Authorization: Bearer", in.SecuritySchemeName)
	}
	return nil
}

// check sends c, checks the request against the document (valid unless c.invalid), the response against the
// strict document (a status it does not declare, a field it does not list, a body where it declares none all
// fail), and the status and problem type c expects.
func (e *oaEnv) check(t *testing.T, c oaCall) oaReply {
	t.Helper()
	var raw []byte
	switch b := c.body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(c.method, e.base+c.path, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(c.header); i += 2 {
		req.Header.Set(c.header[i], c.header[i+1])
	}
	if req.Header.Get("X-Forwarded-For") == "" {
		req.Header.Set("X-Forwarded-For", e.freshAddr())
	}
	name := c.method + " " + c.path
	route, params, err := e.router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s: not in the document: %v", name, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: docAuthenticate}}
	verr := openapi3filter.ValidateRequest(context.Background(), in)
	switch {
	case c.invalid && verr == nil:
		t.Errorf("%s: the document accepts a request the server must refuse", name)
	case !c.invalid && verr != nil:
		t.Errorf("%s: request does not match the document: %v", name, verr)
	}
	req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(raw)), int64(len(raw))

	send := e.send
	if len(raw) > oaMaxReadBody {
		send = sendHeadersOnly
	}
	resp, body, err := send(req)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	r := oaReply{status: resp.StatusCode, header: resp.Header, raw: body}
	if ct := resp.Header.Get("Content-Type"); strings.Contains(ct, "json") {
		_ = json.Unmarshal(body, &r.body)
	}
	e.checkResponse(t, name, in, r)
	if r.status != c.status {
		t.Errorf("%s: status %d, want %d: %s", name, r.status, c.status, clipBody(body))
	}
	if c.problem != "" && r.str("type") != c.problem {
		t.Errorf("%s: problem type %q, want %q", name, r.str("type"), c.problem)
	}
	return r
}

// oaMaxReadBody is the largest request body the server reads: it answers a body over 64 KiB (API.md) with a 413
// problem after reading it, and refuses one over 1 MiB from its Content-Length, closing the connection.
const oaMaxReadBody = 1 << 20

func (e *oaEnv) send(req *http.Request) (*http.Response, []byte, error) {
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// sendHeadersOnly sends a request with an oversized body as its headers alone. The server refuses such a body
// from its Content-Length and closes the connection without reading it; sending the body would race that close
// (a broken pipe, or a reset that loses the answer), which a client waiting for "100 Continue" avoids the same way.
func sendHeadersOnly(req *http.Request) (*http.Response, []byte, error) {
	conn, err := net.DialTimeout("tcp", req.URL.Host, 5*time.Second)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return nil, nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nConnection: close\r\n",
		req.Method, req.URL.RequestURI(), req.URL.Host, req.ContentLength)
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return nil, nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// checkResponse holds a response to the strict document.
func (e *oaEnv) checkResponse(t *testing.T, name string, in *openapi3filter.RequestValidationInput, r oaReply) {
	t.Helper()
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: r.status, Header: r.header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	out.SetBodyBytes(r.raw)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s: response %d does not match the document: %v\n%s", name, r.status, err, clipBody(r.raw))
		return
	}
	if def := in.Route.Operation.Responses.Status(r.status); def != nil && len(def.Value.Content) == 0 && len(r.raw) > 0 {
		t.Errorf("%s: response %d has a body the document does not declare: %s", name, r.status, clipBody(r.raw))
	}
	e.mu.Lock()
	e.answered[fmt.Sprint(in.Route.Operation.OperationID, " ", r.status)] = true
	if r.status < 300 {
		e.succeeded[in.Route.Operation.OperationID] = true
	}
	e.mu.Unlock()
}

// freshAddr is a client address of its own, so the per-address join limit only meets the calls that test it.
func (e *oaEnv) freshAddr() string {
	n := e.nextIP.Add(1)
	return netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)}).String()
}

func clipBody(b []byte) string {
	if len(b) > 400 {
		return string(b[:400]) + "…"
	}
	return string(b)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// stream reads a queue event stream to its end, checking it against the document and each event's data
// against the status schema; it returns the events' data.
func (e *oaEnv) stream(t *testing.T, event, token string) []map[string]any {
	t.Helper()
	path := "/v1/events/" + event + "/queue/stream?token=" + token
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	route, params, err := e.router.FindRoute(req)
	if err != nil {
		t.Fatalf("stream: not in the document: %v", err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: docAuthenticate}}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		t.Errorf("stream: request does not match the document: %v", err)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	defer resp.Body.Close()
	var raw bytes.Buffer
	var events []map[string]any
	status := e.doc.Components.Schemas["QueueStatus"].Value
	sc := bufio.NewScanner(io.TeeReader(resp.Body, &raw))
	kind := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			kind = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			if kind != "status" {
				t.Errorf("stream: event %q, want status", kind)
			}
			var v map[string]any
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &v); err != nil {
				t.Fatalf("stream: data %q: %v", line, err)
			}
			if err := status.VisitJSON(any(v), openapi3.EnableJSONSchema2020()); err != nil {
				t.Errorf("stream: data does not match QueueStatus: %v\n%s", err, line)
			}
			events = append(events, v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	e.checkResponse(t, "GET "+path, in, oaReply{status: resp.StatusCode, header: resp.Header, raw: raw.Bytes()})
	return events
}

// TestOpenAPIConformance drives every endpoint of the running server through its success and error paths and
// holds each request and response to the document.
func TestOpenAPIConformance(t *testing.T) {
	t.Parallel()
	e := newOAEnv(t)
	admin := oaBearer(e.admin)
	ev := fmt.Sprintf("oa%d", time.Now().UnixNano()%1e9)
	now := time.Now().UTC()
	event := func(id string, starts time.Time, perMin, maxActive int) map[string]any {
		return map[string]any{"id": id, "name": "OpenAPI check", "currency": "EUR", "hold_ttl_s": 60, "max_per_fan": 6,
			"sections": []any{
				map[string]any{"id": "GA", "kind": "general", "capacity": 10, "price": 4500},
				map[string]any{"id": "A", "kind": "seated", "price": 9000,
					"rows": []any{map[string]any{"row": "1", "seats": 4}}}},
			"waves": []any{map[string]any{"id": "all", "starts_at": starts.Format(time.RFC3339),
				"admit_per_min": perMin, "max_active": maxActive, "codes": []any{}}}}
	}
	mainEvent := event(ev, now.Add(-time.Second), 6000, 100)
	mainEvent["name"], mainEvent["venue"], mainEvent["city"] = "Conformance night", "Salle Pleyel", "Paris"
	mainEvent["starts_at"], mainEvent["description"] = now.Add(30*24*time.Hour).UTC().Format(time.RFC3339), "Checked against the document."

	t.Run("operations", func(t *testing.T) {
		e.check(t, oaCall{method: "GET", path: "/healthz", status: 200})
		e.check(t, oaCall{method: "GET", path: "/healthz", header: []string{"X-Big", strings.Repeat("a", 17<<10)}, status: 431, problem: "too-large"})
		e.check(t, oaCall{method: "GET", path: "/readyz", status: 200})
		e.backend.Store(false)
		r := e.check(t, oaCall{method: "GET", path: "/readyz", status: 503, problem: "unavailable"})
		e.backend.Store(true)
		if r.header.Get("Retry-After") == "" {
			t.Errorf("503 without Retry-After")
		}
		r = e.check(t, oaCall{method: "GET", path: "/metrics", status: 200})
		if !bytes.Contains(r.raw, []byte("# TYPE onsale_")) {
			t.Errorf("/metrics has no onsale_ metric")
		}
	})

	t.Run("organizer", func(t *testing.T) {
		e.check(t, oaCall{method: "POST", path: "/v1/admin/events", body: mainEvent, invalid: true, status: 401, problem: "unauthorized"})
		e.check(t, oaCall{method: "POST", path: "/v1/admin/events", body: mainEvent, header: oaBearer("wrong"), status: 401, problem: "unauthorized"})
		r := e.check(t, oaCall{method: "POST", path: "/v1/admin/events", body: mainEvent, header: admin, status: 201})
		if r.str("id") != ev {
			t.Fatalf("created event %q, want %q", r.str("id"), ev)
		}
		e.check(t, oaCall{method: "POST", path: "/v1/admin/events", body: mainEvent, header: admin, status: 409, problem: "conflict"})
		e.check(t, oaCall{method: "POST", path: "/v1/admin/events", body: `{"id": `, header: admin, invalid: true, status: 400, problem: "bad-request"})
		bad := maps.Clone(mainEvent)
		bad["id"], bad["colour"] = ev+"x", "red"
		e.check(t, oaCall{method: "POST", path: "/v1/admin/events", body: bad, header: admin, invalid: true, status: 400, problem: "bad-request"})
		bad = maps.Clone(mainEvent)
		bad["id"], bad["hold_ttl_s"] = ev+"x", "60"
		e.check(t, oaCall{method: "POST", path: "/v1/admin/events", body: bad, header: admin, invalid: true, status: 400, problem: "bad-request"})
		bad = maps.Clone(mainEvent)
		bad["id"], bad["max_per_fan"] = ev+"x", 0
		e.check(t, oaCall{method: "POST", path: "/v1/admin/events", body: bad, header: admin, invalid: true, status: 400, problem: "bad-request"})
		// A well-formed body the server still refuses: a wave releases a section the event does not have.
		bad = event(ev+"x", now, 60, 10)
		bad["waves"] = []any{map[string]any{"id": "w", "starts_at": now.Format(time.RFC3339), "admit_per_min": 60,
			"max_active": 10, "release": map[string]any{"B": 1}}}
		e.check(t, oaCall{method: "POST", path: "/v1/admin/events", body: bad, header: admin, status: 400, problem: "bad-request"})

		e.check(t, oaCall{method: "GET", path: "/v1/admin/events/" + ev, header: admin, status: 200})
		e.check(t, oaCall{method: "GET", path: "/v1/admin/events/" + ev, invalid: true, status: 401, problem: "unauthorized"})
		if r := e.check(t, oaCall{method: "GET", path: "/v1/admin/events", header: admin, status: 200}); !strings.Contains(string(r.raw), `"id":"`+ev+`"`) {
			t.Errorf("the event list lacks %s: %s", ev, clipBody(r.raw))
		}
		e.check(t, oaCall{method: "GET", path: "/v1/admin/events", invalid: true, status: 401, problem: "unauthorized"})
		e.check(t, oaCall{method: "GET", path: "/v1/admin/events/nope-" + ev, header: admin, status: 404, problem: "not-found"})

		adm := "/v1/admin/events/" + ev + "/admission"
		e.check(t, oaCall{method: "PATCH", path: adm, body: map[string]any{"admit_per_min": 6000, "max_active": 100}, header: admin, status: 200})
		e.check(t, oaCall{method: "PATCH", path: adm, body: map[string]any{}, header: admin, invalid: true, status: 400, problem: "bad-request"})
		e.check(t, oaCall{method: "PATCH", path: adm, body: map[string]any{"paused": "yes"}, header: admin, invalid: true, status: 400, problem: "bad-request"})
		e.check(t, oaCall{method: "PATCH", path: adm, body: map[string]any{"max_active": 0}, header: admin, invalid: true, status: 400, problem: "bad-request"})
		e.check(t, oaCall{method: "PATCH", path: adm, body: map[string]any{"paused": false}, invalid: true, status: 401, problem: "unauthorized"})
		e.check(t, oaCall{method: "PATCH", path: "/v1/admin/events/nope-" + ev + "/admission", body: map[string]any{"paused": false}, header: admin, status: 404, problem: "not-found"})

		e.check(t, oaCall{method: "GET", path: "/v1/admin/events/" + ev + "/stats", header: admin, status: 200})
		e.check(t, oaCall{method: "GET", path: "/v1/admin/events/nope-" + ev + "/stats", header: admin, status: 404, problem: "not-found"})
		e.check(t, oaCall{method: "GET", path: "/v1/admin/events/" + ev + "/stats", invalid: true, status: 401, problem: "unauthorized"})

		e.check(t, oaCall{method: "GET", path: "/v1/events/" + ev + "/availability", status: 200})
		e.check(t, oaCall{method: "GET", path: "/v1/events/nope-" + ev + "/availability", status: 404, problem: "not-found"})
	})

	t.Run("pages and documents", func(t *testing.T) {
		for _, p := range []string{"/e/" + ev, "/admin", "/scan/" + ev} {
			e.check(t, oaCall{method: "GET", path: p, status: 200})
		}
		e.check(t, oaCall{method: "GET", path: "/assets/nope.js", status: 404, problem: "not-found"})
		if r := e.check(t, oaCall{method: "GET", path: "/v1/events?q=conformanse+pleyel&limit=5", status: 200}); !strings.Contains(string(r.raw), `"id":"`+ev+`"`) {
			t.Errorf("the search does not find the event: %s", r.raw)
		}
		e.check(t, oaCall{method: "GET", path: "/v1/events?limit=0", invalid: true, status: 400, problem: "bad-request"})
		e.check(t, oaCall{method: "GET", path: "/v1/events?q=" + strings.Repeat("x", 10<<10), invalid: true, status: 400, problem: "bad-request"})
		e.check(t, oaCall{method: "GET", path: "/v1/events?cursor=nope", status: 400, problem: "bad-request"})
		edit := "/v1/admin/events/" + ev
		if r := e.check(t, oaCall{method: "PATCH", path: edit, header: admin, body: map[string]any{"venue": "Salle Pleyel", "starts_at": nil}, status: 200}); r.body["starts_at"] != nil || r.str("city") != "Paris" {
			t.Errorf("the edited event: %s", r.raw)
		}
		e.check(t, oaCall{method: "PATCH", path: edit, header: admin, body: map[string]any{"name": "renamed"}, invalid: true, status: 400, problem: "bad-request"})
		e.check(t, oaCall{method: "PATCH", path: edit, header: admin, body: map[string]any{"starts_at": "tomorrow"}, invalid: true, status: 400, problem: "bad-request"})
		e.check(t, oaCall{method: "PATCH", path: edit, body: map[string]any{}, invalid: true, status: 401, problem: "unauthorized"})
		e.check(t, oaCall{method: "PATCH", path: "/v1/admin/events/nope-" + ev, header: admin, body: map[string]any{}, status: 404, problem: "not-found"})
		landing := e.check(t, oaCall{method: "GET", path: "/?q=pleyel", status: 200})
		if !strings.Contains(string(landing.raw), "Conformance night") {
			t.Errorf("the landing page does not list the event")
		}
		e.check(t, oaCall{method: "GET", path: "/?q=pleyel", header: []string{"If-None-Match", landing.header.Get("ETag")}, status: 304})
		e.check(t, oaCall{method: "GET", path: "/?city=" + strings.Repeat("x", 200), invalid: true, status: 400, problem: "bad-request"})
		// The binary serves these files as they are in the tree.
		for path, file := range map[string]string{"/docs": "web/docs.html", "/openapi.yaml": openAPIFile,
			"/assets/jsqr.js": "web/assets/jsqr.js", "/assets/ed25519.js": "web/assets/ed25519.js"} {
			r := e.check(t, oaCall{method: "GET", path: path, status: 200})
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(r.raw, want) {
				t.Errorf("%s is not %s", path, file)
			}
		}
	})
	t.Run("openapi.json", func(t *testing.T) {
		r := e.check(t, oaCall{method: "GET", path: "/openapi.json", status: 200})
		if r.status == http.StatusNotFound {
			t.Fatal("core must serve the embedded openapi.yaml as JSON at /openapi.json (the /docs page reads it there)")
		}
		// The same document, whichever way it was turned into JSON: both load to the same thing.
		loader := openapi3.NewLoader()
		served, err := loader.LoadFromData(r.raw)
		if err != nil {
			t.Fatalf("/openapi.json does not load: %v", err)
		}
		a, err := json.Marshal(served)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(loadDoc(t))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("/openapi.json is not %s", openAPIFile)
		}
	})

	var access, fan2Access string
	t.Run("waiting room", func(t *testing.T) {
		q := "/v1/events/" + ev + "/queue"
		e.check(t, oaCall{method: "POST", path: "/v1/events/nope-" + ev + "/queue", body: map[string]any{"fan": "f"}, status: 404, problem: "not-found"})
		e.check(t, oaCall{method: "POST", path: q, body: `{"fan": "alice"`, invalid: true, status: 400, problem: "bad-request"})
		e.check(t, oaCall{method: "POST", path: q, body: `{"fan": "alice"}`, header: []string{"Content-Type", "text/plain"}, invalid: true, status: 415, problem: "bad-request"})
		e.check(t, oaCall{method: "POST", path: q, body: map[string]any{"fan": "alice", "seat": "front"}, invalid: true, status: 400, problem: "bad-request"})
		e.check(t, oaCall{method: "POST", path: q, body: map[string]any{"fan": 7}, invalid: true, status: 400, problem: "bad-request"})
		e.check(t, oaCall{method: "POST", path: q, body: map[string]any{}, status: 400, problem: "bad-request"}) // dev mode names the fan
		e.check(t, oaCall{method: "POST", path: q, body: map[string]any{"fan": "alice", "code": "NOPE"}, status: 403, problem: "forbidden"})

		first := e.check(t, oaCall{method: "POST", path: q, body: map[string]any{"fan": "alice"}, status: 201})
		again := e.check(t, oaCall{method: "POST", path: q, body: map[string]any{"fan": "alice"}, status: 200})
		if again.body["position"] != first.body["position"] {
			t.Errorf("rejoin position %v, want %v", again.body["position"], first.body["position"])
		}
		tok := first.str("queue_token")

		// The per-address join limit: the second join from one address within a second is refused.
		addr := e.freshAddr()
		e.check(t, oaCall{method: "POST", path: q, body: map[string]any{"fan": "rl-1"}, header: []string{"X-Forwarded-For", addr}, status: 201})
		r := e.check(t, oaCall{method: "POST", path: q, body: map[string]any{"fan": "rl-2"}, header: []string{"X-Forwarded-For", addr}, status: 429, problem: "rate-limited"})
		if r.header.Get("Retry-After") == "" {
			t.Errorf("429 without Retry-After")
		}

		e.check(t, oaCall{method: "GET", path: q, header: []string{"Queue-Token", tok + "x"}, status: 401, problem: "unauthorized"})
		e.check(t, oaCall{method: "GET", path: q, invalid: true, status: 401, problem: "unauthorized"})
		e.check(t, oaCall{method: "GET", path: "/v1/events/" + ev + "/queue/stream", invalid: true, status: 401, problem: "unauthorized"})
		e.check(t, oaCall{method: "GET", path: "/v1/events/" + ev + "/queue/stream?token=" + tok + "x", status: 401, problem: "unauthorized"})

		events := e.stream(t, ev, tok)
		if len(events) == 0 || events[len(events)-1]["state"] != "admitted" {
			t.Fatalf("stream ended with %v, want admitted last", events)
		}
		st := e.check(t, oaCall{method: "GET", path: q, header: []string{"Queue-Token", tok}, status: 200})
		if access = st.str("access_token"); st.str("state") != "admitted" || access == "" {
			t.Fatalf("status %s, want admitted with an access token", st.raw)
		}

		t2 := e.check(t, oaCall{method: "POST", path: q, body: map[string]any{"fan": "bob"}, status: 201}).str("queue_token")
		waitFor(t, "bob admitted", func() bool {
			st := e.check(t, oaCall{method: "GET", path: q, header: []string{"Queue-Token", t2}, status: 200})
			fan2Access = st.str("access_token")
			return fan2Access != ""
		})

		leaver := e.check(t, oaCall{method: "POST", path: q, body: map[string]any{"fan": "carol"}, status: 201}).str("queue_token")
		e.check(t, oaCall{method: "DELETE", path: q, header: []string{"Queue-Token", leaver + "x"}, status: 401, problem: "unauthorized"})
		e.check(t, oaCall{method: "DELETE", path: q, invalid: true, status: 401, problem: "unauthorized"})
		e.check(t, oaCall{method: "DELETE", path: q, header: []string{"Queue-Token", leaver}, status: 204})
	})
	if access == "" || fan2Access == "" {
		t.Fatal("no fan was admitted")
	}

	t.Run("waiting and pre-queue", func(t *testing.T) {
		// One fan at a time, one a minute: the second to join waits.
		slow := ev + "-slow"
		e.check(t, oaCall{method: "POST", path: "/v1/admin/events", body: event(slow, now.Add(-time.Second), 1, 1), header: admin, status: 201})
		q := "/v1/events/" + slow + "/queue"
		e.check(t, oaCall{method: "POST", path: q, body: map[string]any{"fan": "first"}, status: 201})
		tok := e.check(t, oaCall{method: "POST", path: q, body: map[string]any{"fan": "second"}, status: 201}).str("queue_token")
		r := e.check(t, oaCall{method: "GET", path: q, header: []string{"Queue-Token", tok}, status: 200})
		if r.str("state") != "waiting" || r.header.Get("Retry-After") == "" {
			t.Errorf("second fan: %s (Retry-After %q), want waiting with Retry-After", r.raw, r.header.Get("Retry-After"))
		}
		e.check(t, oaCall{method: "PATCH", path: "/v1/admin/events/" + slow + "/admission", body: map[string]any{"paused": true}, header: admin, status: 200})

		// Before the on-sale opens, fans join the pre-queue.
		later := ev + "-later"
		e.check(t, oaCall{method: "POST", path: "/v1/admin/events", body: event(later, now.Add(time.Hour), 600, 10), header: admin, status: 201})
		j := e.check(t, oaCall{method: "POST", path: "/v1/events/" + later + "/queue", body: map[string]any{"fan": "early"}, status: 201})
		if j.str("state") != "prequeue" {
			t.Errorf("join before open: state %q, want prequeue", j.str("state"))
		}
		r = e.check(t, oaCall{method: "GET", path: "/v1/events/" + later + "/queue", header: []string{"Queue-Token", j.str("queue_token")}, status: 200})
		if r.str("state") != "prequeue" {
			t.Errorf("status before open: state %q, want prequeue", r.str("state"))
		}
	})

	var seatsHold, pairHold string
	t.Run("holds", func(t *testing.T) {
		fan, other := oaBearer(access), oaBearer(fan2Access)
		holds := "/v1/events/" + ev + "/holds"
		ga2 := map[string]any{"items": []any{map[string]any{"section": "GA", "quantity": 2}}}
		e.check(t, oaCall{method: "POST", path: holds, body: ga2, invalid: true, status: 403, problem: "not-admitted"})
		e.check(t, oaCall{method: "POST", path: holds, body: ga2, header: oaBearer(access + "x"), status: 403, problem: "not-admitted"})
		e.check(t, oaCall{method: "POST", path: holds, body: `{"items": [`, header: fan, invalid: true, status: 400, problem: "bad-request"})
		e.check(t, oaCall{method: "POST", path: holds, body: map[string]any{"items": []any{}, "note": 1}, header: fan, invalid: true, status: 400, problem: "bad-request"})
		e.check(t, oaCall{method: "POST", path: holds, body: map[string]any{}, header: fan, invalid: true, status: 400, problem: "bad-request"})
		e.check(t, oaCall{method: "POST", path: holds, body: map[string]any{"items": []any{map[string]any{"section": "GA", "quantity": 0}}}, header: fan, invalid: true, status: 400, problem: "bad-request"})
		e.check(t, oaCall{method: "POST", path: holds, body: map[string]any{"items": []any{map[string]any{"section": "GA", "quantity": -1}}}, header: fan, invalid: true, status: 400, problem: "bad-request"})
		e.check(t, oaCall{method: "POST", path: holds, body: map[string]any{"items": []any{map[string]any{"section": "ZZ", "quantity": 1}}}, header: fan, status: 400, problem: "bad-request"})
		e.check(t, oaCall{method: "POST", path: holds, body: strings.Repeat(" ", 70<<10) + "{}", header: fan, invalid: true, status: 413, problem: "too-large"})

		key := []string{"Idempotency-Key", "oa-1"}
		h := e.check(t, oaCall{method: "POST", path: holds, body: ga2, header: append(fan, key...), status: 201})
		ga := h.str("hold_id")
		if r := e.check(t, oaCall{method: "POST", path: holds, body: ga2, header: append(fan, key...), status: 201}); r.str("hold_id") != ga {
			t.Errorf("replay answered hold %q, want %q", r.str("hold_id"), ga)
		}
		e.check(t, oaCall{method: "POST", path: holds, body: map[string]any{"items": []any{map[string]any{"section": "GA", "quantity": 1}}}, header: append(fan, key...), status: 409, problem: "conflict"})

		if r := e.check(t, oaCall{method: "GET", path: "/v1/holds/" + ga, header: fan, status: 200}); r.str("state") != "held" {
			t.Errorf("hold state %q, want held", r.str("state"))
		}
		e.check(t, oaCall{method: "GET", path: "/v1/holds/" + ga, header: other, status: 404, problem: "not-found"})
		e.check(t, oaCall{method: "GET", path: "/v1/holds/" + ga, invalid: true, status: 403, problem: "not-admitted"})
		e.check(t, oaCall{method: "GET", path: "/v1/holds/" + ev + ".aaaaaaaaaaaaaaaaaaaa", header: fan, status: 404, problem: "not-found"})
		e.check(t, oaCall{method: "DELETE", path: "/v1/holds/" + ga, header: other, status: 404, problem: "not-found"})
		e.check(t, oaCall{method: "DELETE", path: "/v1/holds/" + ga, header: fan, status: 204})
		if r := e.check(t, oaCall{method: "GET", path: "/v1/holds/" + ga, header: fan, status: 200}); r.str("state") != "released" {
			t.Errorf("hold state %q, want released", r.str("state"))
		}
		e.check(t, oaCall{method: "POST", path: "/v1/holds/" + ga + "/checkout", body: map[string]any{"payment_method": "pm_card_visa"}, header: fan, status: 410, problem: "hold-expired"})

		seatsHold = e.check(t, oaCall{method: "POST", path: holds, body: map[string]any{"seats": []any{"A-1-1", "A-1-2"}}, header: fan, status: 201}).str("hold_id")
		e.check(t, oaCall{method: "POST", path: holds, body: map[string]any{"seats": []any{"A-1-2"}}, header: other, status: 409, problem: "seats-unavailable"})
		e.check(t, oaCall{method: "POST", path: holds, body: map[string]any{"seats": []any{"A-1-9"}}, header: other, status: 400, problem: "bad-request"})
		pair := e.check(t, oaCall{method: "POST", path: holds, body: map[string]any{"items": []any{map[string]any{"section": "A", "quantity": 2, "adjacent": true}}}, header: fan, status: 201})
		pairHold = pair.str("hold_id")
		e.check(t, oaCall{method: "POST", path: holds, body: map[string]any{"items": []any{map[string]any{"section": "A", "quantity": 1}}}, header: other, status: 409, problem: "sold-out"})
		e.check(t, oaCall{method: "POST", path: holds, body: map[string]any{"items": []any{map[string]any{"section": "GA", "quantity": 3}}}, header: fan, status: 429, problem: "limit-exceeded"})

		ext := e.check(t, oaCall{method: "POST", path: "/v1/holds/" + pairHold + "/extend", header: fan, status: 200})
		was, _ := time.Parse(time.RFC3339Nano, pair.str("expires_at"))
		if now, err := time.Parse(time.RFC3339Nano, ext.str("expires_at")); err != nil || !now.After(was) {
			t.Errorf("extended to %s from %s", ext.str("expires_at"), pair.str("expires_at"))
		}
		e.check(t, oaCall{method: "POST", path: "/v1/holds/" + ga + "/extend", header: fan, status: 409, problem: "conflict"})
		e.check(t, oaCall{method: "POST", path: "/v1/holds/" + pairHold + "/extend", header: other, status: 404, problem: "not-found"})
		e.check(t, oaCall{method: "POST", path: "/v1/holds/" + pairHold + "/extend", invalid: true, status: 403, problem: "not-admitted"})

		seats := "/v1/events/" + ev + "/seats"
		waitFor(t, "the seat map to show the held seats", func() bool {
			r := e.check(t, oaCall{method: "GET", path: seats + "?section=A", status: 200})
			return strings.Contains(string(r.raw), `{"row":"1","seats":"xxxx"}`)
		})
		if r := e.check(t, oaCall{method: "GET", path: seats, status: 200}); r.header.Get("Cache-Control") != "public, max-age=1" {
			t.Errorf("seats Cache-Control %q", r.header.Get("Cache-Control"))
		}
		e.check(t, oaCall{method: "GET", path: seats + "?section=GA", status: 404, problem: "not-found"})
		lay := e.check(t, oaCall{method: "GET", path: seats + "/layout", status: 200})
		e.check(t, oaCall{method: "GET", path: seats + "/layout", header: []string{"If-None-Match", lay.header.Get("ETag")}, status: 304})
		e.check(t, oaCall{method: "GET", path: "/v1/events/nope-" + ev + "/seats/layout", status: 404, problem: "not-found"})
		st := e.check(t, oaCall{method: "GET", path: seats, status: 200})
		e.check(t, oaCall{method: "GET", path: seats, header: []string{"If-None-Match", st.header.Get("ETag")}, status: 304})
		adminSeats := "/v1/admin/events/" + ev + "/seats"
		if r := e.check(t, oaCall{method: "GET", path: adminSeats, header: admin, status: 200}); !strings.Contains(string(r.raw), `"seats":"hhhh"`) {
			t.Errorf("the organizer's seats: %s", r.raw)
		}
		e.check(t, oaCall{method: "GET", path: adminSeats, invalid: true, status: 401, problem: "unauthorized"})
		e.check(t, oaCall{method: "GET", path: "/v1/admin/events/nope-" + ev + "/seats", header: admin, status: 404, problem: "not-found"})
		e.check(t, oaCall{method: "GET", path: "/v1/events/nope-" + ev + "/seats", status: 404, problem: "not-found"})
	})

	t.Run("checkout and orders", func(t *testing.T) {
		fan, other := oaBearer(access), oaBearer(fan2Access)
		co := "/v1/holds/" + seatsHold + "/checkout"
		e.check(t, oaCall{method: "POST", path: co, body: `{"payment_method": `, header: fan, invalid: true, status: 400, problem: "bad-request"})
		e.check(t, oaCall{method: "POST", path: co, body: map[string]any{"payment_method": "pm_card_visa", "tip": 5}, header: fan, invalid: true, status: 400, problem: "bad-request"})
		e.check(t, oaCall{method: "POST", path: co, body: map[string]any{"payment_method": ""}, header: fan, invalid: true, status: 400, problem: "bad-request"})
		e.check(t, oaCall{method: "POST", path: co, body: map[string]any{"payment_method": "pm_card_visa"}, invalid: true, status: 403, problem: "not-admitted"})
		e.check(t, oaCall{method: "POST", path: co, body: map[string]any{"payment_method": "pm_card_visa"}, header: other, status: 404, problem: "not-found"})
		e.check(t, oaCall{method: "POST", path: "/v1/holds/" + ev + ".aaaaaaaaaaaaaaaaaaaa/checkout", body: map[string]any{"payment_method": "pm_card_visa"}, header: fan, status: 404, problem: "not-found"})
		o := e.check(t, oaCall{method: "POST", path: co, body: map[string]any{"payment_method": "pm_card_visa"}, header: fan, status: 202})
		order := o.str("order_id")
		if o.str("status") != "pending" || order == "" {
			t.Fatalf("checkout answered %s, want a pending order", o.raw)
		}
		if r := e.check(t, oaCall{method: "POST", path: co, body: map[string]any{"payment_method": "pm_card_visa"}, header: fan, status: 202}); r.str("order_id") != order {
			t.Errorf("second checkout answered order %q, want %q", r.str("order_id"), order)
		}
		e.check(t, oaCall{method: "POST", path: co, body: map[string]any{"payment_method": "pm_card_mastercard"}, header: fan, status: 409, problem: "conflict"})

		path := "/v1/orders/" + order
		waitFor(t, "the order paid", func() bool {
			return e.check(t, oaCall{method: "GET", path: path, header: fan, status: 200}).str("status") == "paid"
		})
		e.check(t, oaCall{method: "GET", path: path, header: other, status: 404, problem: "not-found"})
		e.check(t, oaCall{method: "GET", path: path, invalid: true, status: 403, problem: "not-admitted"})
		e.check(t, oaCall{method: "GET", path: "/v1/orders/nope", header: fan, status: 404, problem: "not-found"})
		if r := e.check(t, oaCall{method: "GET", path: "/v1/holds/" + seatsHold, header: fan, status: 200}); r.str("state") != "confirmed" {
			t.Errorf("paid hold state %q, want confirmed", r.str("state"))
		}
		e.check(t, oaCall{method: "DELETE", path: "/v1/holds/" + seatsHold, header: fan, status: 409, problem: "conflict"})

		refund := "/v1/admin/orders/" + order + "/refund"
		e.check(t, oaCall{method: "POST", path: refund, invalid: true, status: 401, problem: "unauthorized"})
		e.check(t, oaCall{method: "POST", path: "/v1/admin/orders/ord_nope/refund", header: admin, status: 404, problem: "not-found"})
		e.check(t, oaCall{method: "POST", path: refund, header: admin, status: 202})
		waitFor(t, "the order refunded", func() bool {
			return e.check(t, oaCall{method: "GET", path: path, header: fan, status: 200}).str("status") == "refunded"
		})
		if r := e.check(t, oaCall{method: "POST", path: refund, header: admin, status: 202}); r.str("status") != "refunded" {
			t.Errorf("refund again answered %s", r.raw)
		}
		if r := e.check(t, oaCall{method: "GET", path: "/v1/holds/" + seatsHold, header: fan, status: 200}); r.str("state") != "released" {
			t.Errorf("refunded hold state %q, want released", r.str("state"))
		}

		declined := e.check(t, oaCall{method: "POST", path: "/v1/holds/" + pairHold + "/checkout", body: map[string]any{"payment_method": "pm_card_chargeDeclined"}, header: fan, status: 202}).str("order_id")
		waitFor(t, "the declined order failed", func() bool {
			return e.check(t, oaCall{method: "GET", path: "/v1/orders/" + declined, header: fan, status: 200}).str("status") == "failed"
		})
		e.check(t, oaCall{method: "POST", path: "/v1/admin/orders/" + declined + "/refund", header: admin, status: 409, problem: "conflict"})

		orders := "/v1/admin/events/" + ev + "/orders"
		page := e.check(t, oaCall{method: "GET", path: orders + "?limit=1", header: admin, status: 200})
		if os, _ := page.body["orders"].([]any); len(os) != 1 || page.str("next_cursor") == "" {
			t.Errorf("a page of one of several orders: %s", clipBody(page.raw))
		}
		e.check(t, oaCall{method: "GET", path: orders + "?status=refunded&cursor=" + page.str("next_cursor"), header: admin, status: 200})
		e.check(t, oaCall{method: "GET", path: orders + "?cursor=not-a-cursor", header: admin, status: 400, problem: "bad-request"})
		e.check(t, oaCall{method: "GET", path: orders + "?limit=0", header: admin, invalid: true, status: 400, problem: "bad-request"})
		e.check(t, oaCall{method: "GET", path: orders, invalid: true, status: 401, problem: "unauthorized"})
		e.check(t, oaCall{method: "GET", path: "/v1/admin/events/nope-" + ev + "/orders", header: admin, status: 404, problem: "not-found"})
		csv := e.check(t, oaCall{method: "GET", path: orders + ".csv?status=refunded", header: admin, status: 200})
		if !bytes.HasPrefix(csv.raw, []byte("order_id,")) || !bytes.Contains(csv.raw, []byte(order)) {
			t.Errorf("the CSV export: %s", clipBody(csv.raw))
		}
		e.check(t, oaCall{method: "GET", path: orders + ".csv?status=sold", header: admin, invalid: true, status: 400, problem: "bad-request"})
		e.check(t, oaCall{method: "GET", path: orders + ".csv", invalid: true, status: 401, problem: "unauthorized"})
		e.check(t, oaCall{method: "GET", path: "/v1/admin/events/nope-" + ev + "/orders.csv", header: admin, status: 404, problem: "not-found"})
		// A fan's own list needs an OIDC sign-in, which this server has not.
		e.check(t, oaCall{method: "GET", path: "/v1/me/orders", header: fan, status: 401, problem: "unauthorized"})
	})

	t.Run("pay in the page", func(t *testing.T) {
		fan := oaBearer(fan2Access)
		holds := "/v1/events/" + ev + "/holds"
		hold := e.check(t, oaCall{method: "POST", path: holds, body: map[string]any{"items": []any{map[string]any{"section": "GA", "quantity": 1}}}, header: fan, status: 201}).str("hold_id")
		order := e.check(t, oaCall{method: "POST", path: "/v1/holds/" + hold + "/checkout", body: map[string]any{}, header: fan, status: 202}).str("order_id")
		var pi string
		waitFor(t, "the order waits for the fan", func() bool {
			r := e.check(t, oaCall{method: "GET", path: "/v1/orders/" + order, header: fan, status: 200})
			pay, _ := r.body["payment"].(map[string]any)
			pi = r.str("payment_intent")
			return r.str("status") == "requires_action" && pay["provider"] == "test" && pay["client_secret"] != nil
		})
		tp := "/v1/test-payments/" + pi
		e.check(t, oaCall{method: "POST", path: tp + "/confirm", body: `{"payment_method": `, invalid: true, status: 400, problem: "bad-request"})
		e.check(t, oaCall{method: "POST", path: tp + "/confirm", body: map[string]any{"payment_method": ""}, invalid: true, status: 400, problem: "bad-request"})
		e.check(t, oaCall{method: "POST", path: tp + "/confirm", body: map[string]any{"payment_method": "pm_card_visa", "cvc": "123"}, invalid: true, status: 400, problem: "bad-request"})
		e.check(t, oaCall{method: "POST", path: "/v1/test-payments/pi_nope/confirm", body: map[string]any{"payment_method": "pm_card_visa"}, status: 404, problem: "not-found"})
		e.check(t, oaCall{method: "POST", path: tp + "/authenticate", body: map[string]any{"outcome": "succeed"}, status: 409, problem: "conflict"})
		r := e.check(t, oaCall{method: "POST", path: tp + "/confirm", body: map[string]any{"payment_method": "pm_card_threeDSecure2Required"}, status: 200})
		next, _ := r.body["next_action"].(map[string]any)
		if r.str("status") != "requires_action" || next["url"] == nil {
			t.Fatalf("confirm with a 3-D Secure card answered %s", r.raw)
		}
		waitFor(t, "the order shows the 3-D Secure step", func() bool {
			r := e.check(t, oaCall{method: "GET", path: "/v1/orders/" + order, header: fan, status: 200})
			pay, _ := r.body["payment"].(map[string]any)
			na, _ := pay["next_action"].(map[string]any)
			return na["type"] == "redirect" && na["url"] == next["url"]
		})
		e.check(t, oaCall{method: "GET", path: "/pay/3ds/" + pi + "?return=/e/" + ev, status: 200})
		e.check(t, oaCall{method: "GET", path: "/pay/3ds/pi_nope", status: 404, problem: "not-found"})
		e.check(t, oaCall{method: "POST", path: tp + "/authenticate", body: map[string]any{"outcome": "maybe"}, invalid: true, status: 400, problem: "bad-request"})
		if r := e.check(t, oaCall{method: "POST", path: tp + "/authenticate", body: map[string]any{"outcome": "succeed"}, status: 200}); r.str("status") != "succeeded" && r.str("status") != "requires_capture" {
			t.Errorf("authenticate answered %s", r.raw)
		}
		waitFor(t, "the order paid", func() bool {
			return e.check(t, oaCall{method: "GET", path: "/v1/orders/" + order, header: fan, status: 200}).str("status") == "paid"
		})
		e.check(t, oaCall{method: "POST", path: tp + "/confirm", body: map[string]any{"payment_method": "pm_card_visa"}, status: 409, problem: "conflict"})
		e.check(t, oaCall{method: "POST", path: "/v1/test-payments/pi_nope/authenticate", body: map[string]any{"outcome": "fail"}, status: 404, problem: "not-found"})
	})

	t.Run("too large", func(t *testing.T) {
		big := strings.Repeat(" ", 70<<10) + "{}"
		for _, c := range []oaCall{
			{method: "POST", path: "/v1/admin/events", header: admin},
			{method: "PATCH", path: "/v1/admin/events/" + ev + "/admission", header: admin},
			{method: "POST", path: "/v1/events/" + ev + "/queue"},
			{method: "POST", path: "/v1/holds/" + pairHold + "/checkout", header: oaBearer(access)},
			{method: "POST", path: "/v1/webhooks/stripe", header: []string{"Stripe-Signature", "t=1,v1=bad"}},
			{method: "POST", path: "/v1/test-payments/pi_big/confirm"},
			{method: "POST", path: "/v1/test-payments/pi_big/authenticate"},
		} {
			// The document cannot bound a body's size: a big body is invalid to it only when it also lacks fields.
			optional := c.path == "/v1/events/"+ev+"/queue" || strings.HasSuffix(c.path, "/checkout")
			c.body, c.invalid, c.status, c.problem = big, !optional, 413, "too-large"
			e.check(t, c)
		}
	})

	t.Run("token of another event", func(t *testing.T) {
		// A queue token names its event: used on another one, or on one that does not exist, it does not verify.
		tok := e.check(t, oaCall{method: "POST", path: "/v1/events/" + ev + "/queue", body: map[string]any{"fan": "dave"}, status: 201}).str("queue_token")
		for _, other := range []string{ev + "-later", "nope-" + ev} {
			q := "/v1/events/" + other + "/queue"
			e.check(t, oaCall{method: "GET", path: q, header: []string{"Queue-Token", tok}, status: 401, problem: "unauthorized"})
			e.check(t, oaCall{method: "GET", path: q + "/stream?token=" + tok, status: 401, problem: "unauthorized"})
			e.check(t, oaCall{method: "DELETE", path: q, header: []string{"Queue-Token", tok}, status: 401, problem: "unauthorized"})
		}
		e.check(t, oaCall{method: "POST", path: "/v1/events/" + ev + "-later/holds", body: map[string]any{"seats": []any{"A-1-1"}}, header: oaBearer(access), status: 403, problem: "not-admitted"})
		e.check(t, oaCall{method: "DELETE", path: "/v1/holds/" + pairHold, invalid: true, status: 403, problem: "not-admitted"})
	})

	t.Run("webhooks", func(t *testing.T) {
		payload := []byte(`{"id":"evt_openapi_1","object":"event","type":"charge.succeeded","data":{"object":{"id":"ch_1","object":"charge"}}}`)
		signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: oaWebhookSecret})
		e.check(t, oaCall{method: "POST", path: "/v1/webhooks/stripe", body: string(payload), header: []string{"Stripe-Signature", "t=1,v1=bad"}, status: 400, problem: "bad-request"})
		e.check(t, oaCall{method: "POST", path: "/v1/webhooks/stripe", body: string(payload), invalid: true, status: 400, problem: "bad-request"})
		e.check(t, oaCall{method: "POST", path: "/v1/webhooks/stripe", body: string(payload), header: []string{"Stripe-Signature", signed.Header}, status: 200})
		e.check(t, oaCall{method: "POST", path: "/v1/webhooks/stripe", body: string(payload), header: []string{"Stripe-Signature", signed.Header}, status: 200})
	})

	t.Run("tickets and the door", func(t *testing.T) {
		fan := oaBearer(access)
		holds := "/v1/events/" + ev + "/holds"
		hold := e.check(t, oaCall{method: "POST", path: holds, body: map[string]any{"items": []any{map[string]any{"section": "GA", "quantity": 2}}}, header: fan, status: 201}).str("hold_id")
		co := e.check(t, oaCall{method: "POST", path: "/v1/holds/" + hold + "/checkout", body: map[string]any{"payment_method": "pm_card_visa"}, header: fan, status: 202})
		order, otok := co.str("order_id"), co.str("order_token")
		if otok == "" {
			t.Fatalf("checkout without an order token: %s", co.raw)
		}
		path := "/v1/orders/" + order
		var paid oaReply
		waitFor(t, "the order paid", func() bool {
			paid = e.check(t, oaCall{method: "GET", path: path, header: oaBearer(otok), status: 200})
			return paid.str("status") == "paid"
		})
		ts, _ := paid.body["tickets"].([]any)
		if len(ts) != 2 {
			t.Fatalf("paid order's tickets: %s", paid.raw)
		}
		first, _ := ts[0].(map[string]any)
		code, _ := first["code"].(string)
		tid, _ := first["ticket_id"].(string)
		e.check(t, oaCall{method: "GET", path: "/v1/orders/ord_nope", header: oaBearer(otok), status: 404, problem: "not-found"})
		e.check(t, oaCall{method: "GET", path: "/o/" + order + "?t=" + otok, status: 200})
		e.check(t, oaCall{method: "GET", path: "/o/" + order + "?t=" + otok + "x", status: 404, problem: "not-found"})
		if r := e.check(t, oaCall{method: "GET", path: "/o/" + order + "/tickets.pdf?t=" + otok, status: 200}); !strings.HasPrefix(string(r.raw), "%PDF-") {
			t.Errorf("the tickets' PDF starts %.8q", r.raw)
		}
		e.check(t, oaCall{method: "GET", path: "/o/" + order + "/tickets.pdf?t=" + otok + "x", status: 404, problem: "not-found"})

		door := "/v1/events/" + ev + "/checkin"
		keys := e.check(t, oaCall{method: "GET", path: door + "/keys", header: admin, status: 200})
		if ks, _ := keys.body["keys"].([]any); len(ks) == 0 {
			t.Fatalf("no keys: %s", keys.raw)
		}
		e.check(t, oaCall{method: "GET", path: door + "/keys", invalid: true, status: 401, problem: "unauthorized"})
		e.check(t, oaCall{method: "GET", path: "/v1/events/nope-" + ev + "/checkin/keys", header: admin, status: 404, problem: "not-found"})
		e.check(t, oaCall{method: "POST", path: door, body: map[string]any{"code": code, "nonce": "n1"}, invalid: true, status: 401, problem: "unauthorized"})
		e.check(t, oaCall{method: "POST", path: door, body: map[string]any{"code": code}, header: admin, invalid: true, status: 400, problem: "bad-request"})
		e.check(t, oaCall{method: "POST", path: door, body: map[string]any{"code": code, "nonce": "n0", "direction": "sideways"}, header: admin, invalid: true, status: 400, problem: "bad-request"})
		e.check(t, oaCall{method: "POST", path: "/v1/events/nope-" + ev + "/checkin", body: map[string]any{"code": code, "nonce": "n1"}, header: admin, status: 404, problem: "not-found"})
		if r := e.check(t, oaCall{method: "POST", path: door, body: map[string]any{"code": code, "nonce": "n1", "gate": "north"}, header: admin, status: 200}); r.str("result") != "ok" || r.str("ticket_id") != tid {
			t.Fatalf("first scan %s", r.raw)
		}
		if r := e.check(t, oaCall{method: "POST", path: door, body: map[string]any{"code": code, "nonce": "n2"}, header: admin, status: 200}); r.str("result") != "already-used" {
			t.Errorf("second scan %s", r.raw)
		}
		if r := e.check(t, oaCall{method: "POST", path: door, body: map[string]any{"code": code, "nonce": "n1"}, header: admin, status: 200}); r.str("result") != "ok" {
			t.Errorf("replayed nonce %s", r.raw)
		}
		forged := code[:len(code)-3] + "AAA"
		if forged == code {
			forged = code[:len(code)-3] + "BBB"
		}
		for _, bad := range []string{forged, "", "not.a.jws", strings.Repeat("x", 5000)} {
			if r := e.check(t, oaCall{method: "POST", path: door, body: map[string]any{"code": bad, "nonce": "bad" + strconv.Itoa(len(bad))}, header: admin, status: 200}); r.str("result") != "invalid" {
				t.Errorf("code %.20q answered %s", bad, r.raw)
			}
		}
		if r := e.check(t, oaCall{method: "GET", path: door + "/revoked", header: admin, status: 200}); r.str("as_of") == "" {
			t.Errorf("revoked %s", r.raw)
		}
		if st := e.check(t, oaCall{method: "GET", path: "/v1/admin/events/" + ev + "/stats", header: admin, status: 200}); st.body["checked_in"] != float64(1) {
			t.Errorf("stats checked_in %v", st.body["checked_in"])
		}

		// A rotation: new codes carry the new key, the old code still verifies at the door.
		rot := "/v1/admin/events/" + ev + "/ticket-keys"
		e.check(t, oaCall{method: "POST", path: rot, invalid: true, status: 401, problem: "unauthorized"})
		e.check(t, oaCall{method: "POST", path: "/v1/admin/events/nope-" + ev + "/ticket-keys", header: admin, status: 404, problem: "not-found"})
		r := e.check(t, oaCall{method: "POST", path: rot, header: admin, status: 201})
		if ks, _ := r.body["keys"].([]any); len(ks) < 2 || r.str("current") == "" {
			t.Fatalf("rotation answered %s", r.raw)
		}
		again := e.check(t, oaCall{method: "GET", path: path, header: oaBearer(otok), status: 200})
		ts2, _ := again.body["tickets"].([]any)
		second, _ := ts2[1].(map[string]any)
		code2, _ := second["code"].(string)
		if kid, _, _ := tickets.Peek(code2); kid != r.str("current") {
			t.Errorf("after the rotation a code is signed by %q, want %q", kid, r.str("current"))
		}
		if r := e.check(t, oaCall{method: "POST", path: door, body: map[string]any{"code": code2, "nonce": "rot1"}, header: admin, status: 200}); r.str("result") != "ok" {
			t.Errorf("the re-signed second ticket answered %s", r.raw)
		}
		if r := e.check(t, oaCall{method: "POST", path: door, body: map[string]any{"code": code, "nonce": "rot2", "direction": "exit"}, header: admin, status: 200}); r.str("result") != "ok" {
			t.Errorf("the first ticket's old code at the exit answered %s", r.raw)
		}
	})

	t.Run("cancel the event", func(t *testing.T) {
		// Last: a cancelled event sells nothing more. A paid order first, to be refunded by the cancellation.
		fan := oaBearer(access)
		holds := "/v1/events/" + ev + "/holds"
		hold := e.check(t, oaCall{method: "POST", path: holds, body: map[string]any{"items": []any{map[string]any{"section": "GA", "quantity": 1}}}, header: fan, status: 201}).str("hold_id")
		order := e.check(t, oaCall{method: "POST", path: "/v1/holds/" + hold + "/checkout", body: map[string]any{"payment_method": "pm_card_visa"}, header: fan, status: 202}).str("order_id")
		waitFor(t, "the order paid", func() bool {
			return e.check(t, oaCall{method: "GET", path: "/v1/orders/" + order, header: fan, status: 200}).str("status") == "paid"
		})
		tok := e.check(t, oaCall{method: "POST", path: "/v1/events/" + ev + "/queue", body: map[string]any{"fan": "erin"}, status: 201}).str("queue_token")

		cancel := "/v1/admin/events/" + ev + "/cancel"
		e.check(t, oaCall{method: "POST", path: cancel, invalid: true, status: 401, problem: "unauthorized"})
		e.check(t, oaCall{method: "POST", path: "/v1/admin/events/nope-" + ev + "/cancel", header: admin, status: 404, problem: "not-found"})
		if r := e.check(t, oaCall{method: "POST", path: cancel, header: admin, status: 202}); r.str("status") != "cancelled" {
			t.Fatalf("cancel answered %s", r.raw)
		}
		waitFor(t, "every refund done", func() bool {
			r := e.check(t, oaCall{method: "GET", path: "/v1/admin/events/" + ev, header: admin, status: 200})
			refunds, _ := r.body["refunds"].(map[string]any)
			return r.str("status") == "cancelled" && refunds["total"] != float64(0) && refunds["total"] == refunds["done"]
		})
		if r := e.check(t, oaCall{method: "GET", path: "/v1/orders/" + order, header: fan, status: 200}); r.str("status") != "refunded" {
			t.Errorf("the paid order is %s after the cancellation, want refunded", r.str("status"))
		}
		e.check(t, oaCall{method: "POST", path: holds, body: map[string]any{"items": []any{map[string]any{"section": "GA", "quantity": 1}}}, header: fan, status: 409, problem: "conflict"})
		if r := e.check(t, oaCall{method: "GET", path: "/v1/events/" + ev + "/queue", header: []string{"Queue-Token", tok}, status: 200}); r.str("state") != "closed" {
			t.Errorf("a waiting fan's state %q, want closed", r.str("state"))
		}
		e.check(t, oaCall{method: "POST", path: "/v1/events/" + ev + "/queue", body: map[string]any{"fan": "frank"}, status: 409, problem: "conflict"})
		if r := e.check(t, oaCall{method: "POST", path: cancel, header: admin, status: 202}); r.str("status") != "cancelled" {
			t.Errorf("cancel again answered %s", r.raw)
		}
	})

	t.Run("a fan's own orders", func(t *testing.T) {
		// A fan's list needs an OIDC sign-in: a server with an issuer of its own, whose answers count here.
		iss := newOIDCIssuer(t)
		f := newOAEnv(t, func(o *options) { o.cfg.OIDCIssuer = iss.url })
		fan := oaBearer(iss.token(t, "fan-9"))
		f.check(t, oaCall{method: "POST", path: "/v1/admin/events", body: event("me"+ev, now.Add(-time.Second), 6000, 100), header: oaBearer(f.admin), status: 201})
		qt := f.check(t, oaCall{method: "POST", path: "/v1/events/me" + ev + "/queue", body: map[string]any{}, header: fan, status: 201}).str("queue_token")
		var access string
		waitFor(t, "admission", func() bool {
			access = f.check(t, oaCall{method: "GET", path: "/v1/events/me" + ev + "/queue", header: []string{"Queue-Token", qt}, status: 200}).str("access_token")
			return access != ""
		})
		hold := f.check(t, oaCall{method: "POST", path: "/v1/events/me" + ev + "/holds", body: map[string]any{"items": []any{map[string]any{"section": "GA", "quantity": 1}}}, header: oaBearer(access), status: 201}).str("hold_id")
		order := f.check(t, oaCall{method: "POST", path: "/v1/holds/" + hold + "/checkout", body: map[string]any{"payment_method": "pm_card_visa"}, header: oaBearer(access), status: 202}).str("order_id")
		waitFor(t, "the order paid", func() bool {
			return f.check(t, oaCall{method: "GET", path: "/v1/orders/" + order, header: oaBearer(access), status: 200}).str("status") == "paid"
		})
		r := f.check(t, oaCall{method: "GET", path: "/v1/me/orders?limit=10", header: fan, status: 200})
		if os, _ := r.body["orders"].([]any); len(os) != 1 || os[0].(map[string]any)["order_id"] != order {
			t.Errorf("the fan's orders: %s", clipBody(r.raw))
		}
		f.check(t, oaCall{method: "GET", path: "/v1/me/orders?cursor=x", header: fan, status: 400, problem: "bad-request"})
		f.check(t, oaCall{method: "GET", path: "/v1/me/orders", invalid: true, status: 401, problem: "unauthorized"})
		f.mu.Lock()
		defer f.mu.Unlock()
		e.mu.Lock()
		defer e.mu.Unlock()
		for k := range f.succeeded {
			e.succeeded[k] = true
		}
		for k := range f.answered {
			e.answered[k] = true
		}
	})

	// Every operation of the document was answered with a success at least once.
	var declared, unseen []string
	for _, item := range e.doc.Paths.Map() {
		for method, op := range item.Operations() {
			if !e.succeeded[op.OperationID] {
				t.Errorf("%s %s (%s) was never answered with a success", method, op.OperationID, op.Summary)
			}
			for code := range op.Responses.Map() {
				k := op.OperationID + " " + code
				if declared = append(declared, k); !e.answered[k] {
					unseen = append(unseen, k)
				}
			}
		}
	}
	slices.Sort(unseen)
	t.Logf("%d of %d declared responses seen; not driven here: %s", len(declared)-len(unseen), len(declared),
		strings.Join(unseen, ", "))
}

// oidcIssuer is a minimal OpenID provider: discovery, a key set, and tokens signed with its key.
type oidcIssuer struct {
	url    string
	signer jose.Signer
}

func newOIDCIssuer(t *testing.T) *oidcIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	iss := &oidcIssuer{signer: signer}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"issuer": iss.url, "jwks_uri": iss.url + "/keys",
			"authorization_endpoint": iss.url + "/auth", "token_endpoint": iss.url + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	iss.url = srv.URL
	return iss
}

// token signs a token for subject with the given realm roles.
func (iss *oidcIssuer) token(t *testing.T, subject string, roles ...string) string {
	t.Helper()
	now := time.Now()
	claims := map[string]any{"iss": iss.url, "sub": subject, "aud": "onsale", "iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(), "realm_access": map[string]any{"roles": roles}}
	tok, err := jwt.Signed(iss.signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestOpenAPIConformanceOIDC drives the calls whose answers depend on an OIDC issuer: organizers by role, fans
// by their token instead of a name.
func TestOpenAPIConformanceOIDC(t *testing.T) {
	t.Parallel()
	iss := newOIDCIssuer(t)
	e := newOAEnv(t, func(o *options) { o.cfg.OIDCIssuer = iss.url })
	organizer, fan := oaBearer(iss.token(t, "org-1", "organizer")), oaBearer(iss.token(t, "fan-1"))
	ev := fmt.Sprintf("oidc%d", time.Now().UnixNano()%1e9)
	def := map[string]any{"id": ev, "name": "OIDC check", "currency": "EUR", "hold_ttl_s": 60, "max_per_fan": 2,
		"sections": []any{map[string]any{"id": "GA", "kind": "general", "capacity": 5, "price": 1000}},
		"waves":    []any{map[string]any{"id": "all", "admit_per_min": 6000, "max_active": 100}}}

	e.check(t, oaCall{method: "POST", path: "/v1/admin/events", body: def, header: fan, status: 403, problem: "forbidden"})
	e.check(t, oaCall{method: "POST", path: "/v1/admin/events", body: def, header: oaBearer(iss.token(t, "org-1", "organizer") + "x"), status: 401, problem: "unauthorized"})
	e.check(t, oaCall{method: "POST", path: "/v1/admin/events", body: def, header: organizer, status: 201})
	e.check(t, oaCall{method: "GET", path: "/v1/admin/events/" + ev + "/stats", header: fan, status: 403, problem: "forbidden"})
	e.check(t, oaCall{method: "GET", path: "/v1/admin/events/" + ev, header: fan, status: 403, problem: "forbidden"})
	e.check(t, oaCall{method: "PATCH", path: "/v1/admin/events/" + ev + "/admission", body: map[string]any{"paused": true}, header: fan, status: 403, problem: "forbidden"})
	e.check(t, oaCall{method: "PATCH", path: "/v1/admin/events/" + ev + "/admission", body: map[string]any{"paused": false}, header: organizer, status: 200})
	e.check(t, oaCall{method: "GET", path: "/v1/admin/events/" + ev + "/stats", header: organizer, status: 200})
	e.check(t, oaCall{method: "GET", path: "/v1/admin/events", header: fan, status: 403, problem: "forbidden"})
	e.check(t, oaCall{method: "GET", path: "/v1/admin/events/" + ev + "/orders", header: fan, status: 403, problem: "forbidden"})
	e.check(t, oaCall{method: "GET", path: "/v1/admin/events/" + ev + "/orders.csv", header: fan, status: 403, problem: "forbidden"})
	e.check(t, oaCall{method: "GET", path: "/v1/admin/events/" + ev + "/orders", header: organizer, status: 200})
	e.check(t, oaCall{method: "GET", path: "/v1/admin/events/" + ev + "/orders.csv", header: organizer, status: 200})
	if r := e.check(t, oaCall{method: "GET", path: "/v1/me/orders", header: fan, status: 200}); len(r.body["orders"].([]any)) != 0 {
		t.Errorf("a fan who bought nothing: %s", r.raw)
	}
	e.check(t, oaCall{method: "GET", path: "/v1/me/orders?cursor=x", header: fan, status: 400, problem: "bad-request"})
	e.check(t, oaCall{method: "GET", path: "/v1/me/orders", invalid: true, status: 401, problem: "unauthorized"})
	e.check(t, oaCall{method: "GET", path: "/v1/admin/events", header: organizer, status: 200})
	e.check(t, oaCall{method: "GET", path: "/v1/admin/events/" + ev, header: oaBearer(iss.token(t, "org-2", "organizer")), status: 404, problem: "not-found"})

	q := "/v1/events/" + ev + "/queue"
	e.check(t, oaCall{method: "POST", path: q, body: map[string]any{}, status: 401, problem: "unauthorized"})
	e.check(t, oaCall{method: "POST", path: q, body: map[string]any{}, header: oaBearer("not-a-token"), status: 401, problem: "unauthorized"})
	first := e.check(t, oaCall{method: "POST", path: q, body: map[string]any{}, header: fan, status: 201})
	// The token names the fan: joining again with it, whatever the body says, is the same place.
	again := e.check(t, oaCall{method: "POST", path: q, body: map[string]any{"fan": "someone-else"}, header: fan, status: 200})
	if again.body["position"] != first.body["position"] {
		t.Errorf("rejoin position %v, want %v", again.body["position"], first.body["position"])
	}
}

// chromium finds a Chromium to drive; without one the page test is skipped on a developer's machine and fails
// where the services are required.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium to run the page test (apt-get install -y chromium)"
	if testenv.Required() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// TestDocsPage renders the server's /docs in headless Chromium over the /openapi.json it serves, and checks that
// a person sees every operation, its schemas, its examples and the problem types.
func TestDocsPage(t *testing.T) {
	t.Parallel()
	browser := chromium(t)
	doc := loadDoc(t)
	srv := setup(t)

	actx, cancel := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(browser), chromedp.Headless,
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true))
	defer cancel()
	var mu sync.Mutex
	var problems []string
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				problems = append(problems, "console error")
			}
		}
	}))
	defer cancelCtx()
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTimeout()

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.base+"/docs"), chromedp.WaitReady(`body[data-rendered]`)); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	eval := func(expr string, v any) {
		t.Helper()
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr))
		if err == nil {
			err = json.Unmarshal(raw, v)
		}
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
	}
	var rendered, text string
	var ops, navLinks, errorRows int
	var slugs, resources []string
	eval(`document.body.dataset.rendered`, &rendered)
	eval(`document.querySelectorAll("section.op").length`, &ops)
	eval(`document.querySelectorAll("nav a[href^='#op-']").length`, &navLinks)
	eval(`document.querySelectorAll("#tag-errors table:last-of-type tr").length - 1`, &errorRows)
	eval(`[...document.querySelectorAll("#tag-errors table:last-of-type td:nth-child(2) code")].map(c => c.textContent)`, &slugs)
	eval(`performance.getEntriesByType("resource").map(e => e.name)`, &resources)
	eval(`document.querySelectorAll("details").forEach(d => d.open = true); document.body.innerText`, &text)
	if rendered != "true" {
		t.Fatalf("page state %q, want rendered: %s", rendered, clipBody([]byte(text)))
	}
	want := 0
	for _, item := range doc.Paths.Map() {
		want += len(item.Operations())
	}
	if ops != want || navLinks != want {
		t.Errorf("%d operations and %d links rendered, want %d", ops, navLinks, want)
	}
	if errorRows != len(doc.Components.Responses) {
		t.Errorf("%d error responses listed, want %d", errorRows, len(doc.Components.Responses))
	}
	for _, slug := range doc.Components.Schemas["Problem"].Value.Properties["type"].Value.Enum {
		if !slices.Contains(slugs, slug.(string)) {
			t.Errorf("problem type %q is not listed", slug)
		}
	}
	// Tags, paths, a resolved request schema with its fields and bounds, a response schema, the examples,
	// the headers and the credentials all reach the reader.
	for _, s := range []string{"waiting-room", "/v1/events/{event}/holds", "HoldRequest", "HoldItem", "adjacent",
		"≤ 100", "Hold", "expires_at", `"pm_card_visa"`, "A-1-5", "Queue-Token", "Idempotency-Key", "Retry-After",
		"accessToken", "organizerOIDC", "hold-expired", "no other fields allowed",
		"when kind = \"seated\": rows required"} {
		if !strings.Contains(text, s) {
			t.Errorf("the page does not show %q", s)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("page: %s", p)
	}
	for _, r := range resources {
		if r != srv.base+"/openapi.json" {
			t.Errorf("the page loaded %s; it must need nothing but /openapi.json", r)
		}
	}
}
