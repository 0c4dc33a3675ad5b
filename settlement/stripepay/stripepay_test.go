package stripepay_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"go.uber.org/goleak"

	"github.com/onsale/onsale/internal/testenv"
	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/settlement/stripepay"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
	)
}

// stripeMock returns the stripe-mock base URL, skipping locally and failing under CI when it is not running.
func stripeMock(t *testing.T) string {
	t.Helper()
	base := os.Getenv("ONSALE_TEST_STRIPE_MOCK")
	if base == "" {
		if !testenv.Required() {
			t.Skip("ONSALE_TEST_STRIPE_MOCK is not set; eval \"$(scripts/stripe-mock.sh start)\" starts stripe-mock")
		}
		base = "http://127.0.0.1:12111" // the script's address; unreachable fails below
	}
	host := strings.TrimPrefix(strings.TrimPrefix(base, "http://"), "https://")
	c, err := net.DialTimeout("tcp", strings.TrimRight(host, "/"), 2*time.Second)
	if err != nil {
		if testenv.Required() {
			t.Fatalf("stripe-mock at %s: %v", base, err)
		}
		t.Skipf("stripe-mock at %s: %v", base, err)
	}
	c.Close()
	return base
}

// call is one request the adapter made, and the status it was answered with.
type call struct {
	method, path string
	query, form  url.Values // the URL's parameters, and the form body's
	key          string     // the Idempotency-Key header
	status       int
}

type recorder struct {
	mu    sync.Mutex
	calls []call
}

func (r *recorder) all() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// record serves h on a test server and records every request with its answer's status.
func record(t *testing.T, h http.Handler) (string, *recorder) {
	t.Helper()
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read request: %v", err)
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			t.Errorf("request body %q: %v", body, err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		rec.mu.Lock()
		rec.calls = append(rec.calls, call{r.Method, r.URL.Path, r.URL.Query(), form, r.Header.Get("Idempotency-Key"), sw.status})
		rec.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv.URL, rec
}

// mockProxy is a recording reverse proxy in front of stripe-mock.
func mockProxy(t *testing.T, mock string) (string, *recorder) {
	t.Helper()
	target, err := url.Parse(mock)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	rp.Transport = tr
	return record(t, rp)
}

// want is what one recorded call must look like: params are read from the query for a GET and from the form
// body otherwise, and key "" means no Idempotency-Key header.
type want struct {
	method, path, key string
	params            map[string]string
	absent            []string
}

func check(t *testing.T, c call, w want) {
	t.Helper()
	if c.method != w.method || c.path != w.path {
		t.Errorf("request %s %s, want %s %s", c.method, c.path, w.method, w.path)
	}
	if c.key != w.key {
		t.Errorf("%s %s: Idempotency-Key %q, want %q", c.method, c.path, c.key, w.key)
	}
	params := c.form
	if c.method == http.MethodGet {
		params = c.query
	}
	for k, v := range w.params {
		if got, ok := params[k]; !ok || len(got) != 1 || got[0] != v {
			t.Errorf("%s %s: %s = %q, want %q (all: %v)", c.method, c.path, k, got, v, params)
		}
	}
	for _, k := range w.absent {
		if _, ok := params[k]; ok {
			t.Errorf("%s %s: %s sent (%q), want it absent", c.method, c.path, k, params[k])
		}
	}
}

// one returns the only recorded call, which stripe-mock must have accepted.
func one(t *testing.T, rec *recorder) call {
	t.Helper()
	calls := rec.all()
	if len(calls) != 1 {
		t.Fatalf("%d requests %+v, want 1", len(calls), calls)
	}
	if c := calls[0]; c.status/100 != 2 {
		t.Fatalf("stripe-mock answered %s %s with %d", c.method, c.path, c.status)
	}
	return calls[0]
}

// TestAgainstStripeMock sends the adapter's real requests through a recording proxy to stripe-mock, which
// validates them against Stripe's OpenAPI description (a wrong parameter is a 400) and answers with canned
// objects: it checks what is sent and that Stripe would take it, not the state machine.
func TestAgainstStripeMock(t *testing.T) {
	t.Parallel()
	mock := stripeMock(t)
	ctx := context.Background()
	created := map[string]string{"amount": "9000", "currency": "eur", "capture_method": "manual",
		"automatic_payment_methods[enabled]": "true", "metadata[order_id]": "ord_1"}
	with := func(extra map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range created {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	for _, c := range []struct {
		name, method, returnURL string
		params                  map[string]string
		absent                  []string
	}{
		{name: "page confirms", params: created,
			absent: []string{"confirm", "payment_method", "return_url", "automatic_payment_methods[allow_redirects]"}},
		{name: "server confirms without redirects", method: "pm_card_visa",
			params: with(map[string]string{"confirm": "true", "payment_method": "pm_card_visa",
				"automatic_payment_methods[allow_redirects]": "never"}),
			absent: []string{"return_url"}},
		{name: "server confirms with a return url", method: "pm_card_authenticationRequired", returnURL: "https://onsale.test/orders/ord_1",
			params: with(map[string]string{"confirm": "true", "payment_method": "pm_card_authenticationRequired",
				"return_url": "https://onsale.test/orders/ord_1"}),
			absent: []string{"automatic_payment_methods[allow_redirects]"}},
	} {
		t.Run("authorize/"+c.name, func(t *testing.T) {
			t.Parallel()
			base, rec := mockProxy(t, mock)
			got, err := stripepay.New("sk_test_123", base).Authorize(ctx, settlement.PaymentRequest{OrderID: "ord_1",
				IdempotencyKey: "pi:ord_1", Amount: 9000, Currency: "EUR", PaymentMethod: c.method, ReturnURL: c.returnURL})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(got.ID, "pi_") || got.ClientSecret == "" || got.Amount != 9000 || got.Currency != "EUR" {
				t.Errorf("payment %+v", got)
			}
			check(t, one(t, rec), want{method: http.MethodPost, path: "/v1/payment_intents", key: "pi:ord_1",
				params: c.params, absent: c.absent})
		})
	}
	t.Run("payment", func(t *testing.T) {
		t.Parallel()
		base, rec := mockProxy(t, mock)
		got, err := stripepay.New("sk_test_123", base).Payment(ctx, "pi_onsale1")
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != "pi_onsale1" || got.ClientSecret == "" {
			t.Errorf("payment %+v", got)
		}
		check(t, one(t, rec), want{method: http.MethodGet, path: "/v1/payment_intents/pi_onsale1",
			params: map[string]string{"expand[0]": "latest_charge"}})
	})
	for _, c := range []struct {
		name string
		do   func(*stripepay.Payments) (settlement.Payment, error)
	}{
		{"capture", func(p *stripepay.Payments) (settlement.Payment, error) {
			return p.Capture(ctx, "pi_onsale1", "capture:pi_onsale1")
		}},
		{"cancel", func(p *stripepay.Payments) (settlement.Payment, error) {
			return p.Cancel(ctx, "pi_onsale1", "cancel:pi_onsale1")
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			base, rec := mockProxy(t, mock)
			got, err := c.do(stripepay.New("sk_test_123", base))
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != "pi_onsale1" {
				t.Errorf("payment %+v", got)
			}
			check(t, one(t, rec), want{method: http.MethodPost, path: "/v1/payment_intents/pi_onsale1/" + c.name,
				key: c.name + ":pi_onsale1", absent: []string{"amount_to_capture", "cancellation_reason"}})
		})
	}
	t.Run("refund", func(t *testing.T) {
		t.Parallel()
		base, rec := mockProxy(t, mock)
		if err := stripepay.New("sk_test_123", base).Refund(ctx, "pi_onsale1", "refund:pi_onsale1"); err != nil {
			t.Fatal(err)
		}
		check(t, one(t, rec), want{method: http.MethodPost, path: "/v1/refunds", key: "refund:pi_onsale1",
			params: map[string]string{"payment_intent": "pi_onsale1"}, absent: []string{"amount"}})
	})
	t.Run("ping", func(t *testing.T) {
		t.Parallel()
		base, rec := mockProxy(t, mock)
		if err := stripepay.New("sk_test_123", base).Ping(ctx); err != nil {
			t.Fatal(err)
		}
		check(t, one(t, rec), want{method: http.MethodGet, path: "/v1/balance"})
	})
}

// reply is a fake Stripe's answer to one route ("POST /v1/payment_intents").
type reply struct {
	status int
	body   string
}

// fakeStripe answers like Stripe for the cases stripe-mock cannot produce (it is stateless and never declines).
// An unknown route fails the test.
func fakeStripe(t *testing.T, routes map[string]reply) (*stripepay.Payments, *recorder) {
	t.Helper()
	base, rec := record(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rp, ok := routes[r.Method+" "+r.URL.Path]
		if !ok {
			t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
			rp = reply{http.StatusNotFound, stripeError("invalid_request_error", "resource_missing", "")}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Stripe-Should-Retry", "false") // one request per call, so the tests can count them
		w.WriteHeader(rp.status)
		_, _ = io.WriteString(w, rp.body)
	}))
	return stripepay.New("sk_test_123", base), rec
}

func intent(id, status, extra string) string {
	return fmt.Sprintf(`{"id":%q,"object":"payment_intent","amount":4500,"currency":"eur","status":%q,
		"client_secret":"%s_secret_x","capture_method":"manual","metadata":{"order_id":"ord_2"}%s}`, id, status, id, extra)
}

func stripeError(typ, code, extra string) string {
	return fmt.Sprintf(`{"error":{"type":%q,"code":%q,"message":"test"%s}}`, typ, code, extra)
}

func paths(calls []call) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.method+" "+c.path)
	}
	return out
}

func TestPing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base, rec := record(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer sk_test_good" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":{"type":"invalid_request_error","message":"Invalid API Key provided"}}`)
			return
		}
		_, _ = io.WriteString(w, `{"object":"balance","available":[],"pending":[],"livemode":false}`)
	}))
	if err := stripepay.New("sk_test_good", base).Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if got := paths(rec.all()); len(got) != 1 || got[0] != "GET /v1/balance" {
		t.Fatalf("requests %v, want one GET /v1/balance", got)
	}
	if err := stripepay.New("sk_test_bad", base).Ping(ctx); err == nil {
		t.Fatal("a refused key pinged fine")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := stripepay.New("sk_test_good", dead).Ping(short); err == nil {
		t.Fatal("an unreachable Stripe pinged fine")
	}
}

// TestAuthorizeRefusals: a refusal Stripe made on purpose is a failed payment (with the intent when one was
// created); anything else is an error, so the saga repeats the call with the same key.
func TestAuthorizeRefusals(t *testing.T) {
	t.Parallel()
	declined := `,"payment_intent":` + intent("pi_declined", "requires_payment_method", "")
	for _, c := range []struct {
		name  string
		reply reply
		want  settlement.Payment // compared when the call must not fail
		fails bool
	}{
		{"card declined", reply{http.StatusPaymentRequired, stripeError("card_error", "card_declined", `,"decline_code":"insufficient_funds"`+declined)},
			settlement.Payment{ID: "pi_declined", OrderID: "ord_2", Status: settlement.PaymentFailed, Amount: 4500, Currency: "EUR",
				FailureReason: "insufficient_funds", ClientSecret: "pi_declined_secret_x"}, false},
		{"card error without a decline code", reply{http.StatusPaymentRequired, stripeError("card_error", "expired_card", declined)},
			settlement.Payment{ID: "pi_declined", OrderID: "ord_2", Status: settlement.PaymentFailed, Amount: 4500, Currency: "EUR",
				FailureReason: "expired_card", ClientSecret: "pi_declined_secret_x"}, false},
		{"unknown payment method", reply{http.StatusBadRequest, stripeError("invalid_request_error", "resource_missing", `,"param":"payment_method"`)},
			settlement.Payment{Status: settlement.PaymentFailed, FailureReason: "resource_missing"}, false},
		{"key in use", reply{http.StatusBadRequest, stripeError("invalid_request_error", "idempotency_key_in_use", "")}, settlement.Payment{}, true},
		{"key in use (409)", reply{http.StatusConflict, stripeError("invalid_request_error", "idempotency_key_in_use", "")}, settlement.Payment{}, true},
		{"key reused with other parameters", reply{http.StatusBadRequest, stripeError("idempotency_error", "", "")}, settlement.Payment{}, true},
		{"server error", reply{http.StatusInternalServerError, stripeError("api_error", "", "")}, settlement.Payment{}, true},
		{"unavailable", reply{http.StatusServiceUnavailable, stripeError("api_error", "", "")}, settlement.Payment{}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p, rec := fakeStripe(t, map[string]reply{"POST /v1/payment_intents": c.reply})
			got, err := p.Authorize(context.Background(), settlement.PaymentRequest{OrderID: "ord_2", IdempotencyKey: "pi:ord_2",
				Amount: 4500, Currency: "EUR", PaymentMethod: "pm_card_visa"})
			if c.fails {
				var se *stripe.Error
				if err == nil || !errors.As(err, &se) {
					t.Fatalf("payment %+v, err %v: want the Stripe error (outcome unknown)", got, err)
				}
			} else if err != nil || got != c.want {
				t.Fatalf("payment %+v, err %v\nwant %+v", got, err, c.want)
			}
			calls := rec.all()
			if len(calls) != 1 {
				t.Fatalf("requests %v, want 1", paths(calls))
			}
			check(t, calls[0], want{method: http.MethodPost, path: "/v1/payment_intents", key: "pi:ord_2",
				params: map[string]string{"amount": "4500", "currency": "eur", "capture_method": "manual", "confirm": "true",
					"payment_method": "pm_card_visa", "automatic_payment_methods[enabled]": "true",
					"automatic_payment_methods[allow_redirects]": "never", "metadata[order_id]": "ord_2"}})
		})
	}
}

// TestCaptureAndCancel: the re-read after payment_intent_unexpected_state decides between done, not possible
// and unknown.
func TestCaptureAndCancel(t *testing.T) {
	t.Parallel()
	const pi = "/v1/payment_intents/pi_1"
	unexpected := reply{http.StatusBadRequest, stripeError("invalid_request_error", "payment_intent_unexpected_state", "")}
	read := func(status, extra string) reply { return reply{http.StatusOK, intent("pi_1", status, extra)} }
	captured := read("succeeded", `,"latest_charge":{"id":"ch_1","object":"charge","amount_refunded":0}`)
	canceled := read("canceled", `,"cancellation_reason":"automatic"`)
	for _, c := range []struct {
		name     string
		capture  bool // else cancel
		routes   map[string]reply
		want     settlement.PaymentStatus // "" when it must fail
		sentinel error                    // the error it must wrap, nil for an unknown outcome
		reason   string
	}{
		{"capture", true, map[string]reply{"POST " + pi + "/capture": read("succeeded", "")}, settlement.PaymentSucceeded, nil, ""},
		{"capture captured", true, map[string]reply{"POST " + pi + "/capture": unexpected, "GET " + pi: captured},
			settlement.PaymentSucceeded, nil, ""},
		{"capture canceled", true, map[string]reply{"POST " + pi + "/capture": unexpected, "GET " + pi: canceled},
			"", settlement.ErrNotCapturable, "automatic"},
		{"capture expired", true, map[string]reply{"POST " + pi + "/capture": {http.StatusBadRequest,
			stripeError("invalid_request_error", "charge_expired_for_capture", "")}, "GET " + pi: read("canceled", "")},
			"", settlement.ErrNotCapturable, "canceled"},
		{"capture never authorized", true, map[string]reply{"POST " + pi + "/capture": unexpected,
			"GET " + pi: read("requires_payment_method", "")}, "", settlement.ErrNotCapturable, ""},
		{"capture still authorized", true, map[string]reply{"POST " + pi + "/capture": unexpected,
			"GET " + pi: read("requires_capture", "")}, "", nil, ""},
		{"capture, re-read fails", true, map[string]reply{"POST " + pi + "/capture": unexpected,
			"GET " + pi: {http.StatusInternalServerError, stripeError("api_error", "", "")}}, "", nil, ""},
		{"capture fails", true, map[string]reply{"POST " + pi + "/capture": {http.StatusInternalServerError,
			stripeError("api_error", "", "")}}, "", nil, ""},
		{"capture unknown", true, map[string]reply{"POST " + pi + "/capture": {http.StatusNotFound,
			stripeError("invalid_request_error", "resource_missing", "")}}, "", settlement.ErrNotFound, ""},
		{"cancel", false, map[string]reply{"POST " + pi + "/cancel": read("canceled", `,"cancellation_reason":"abandoned"`)},
			settlement.PaymentFailed, nil, "abandoned"},
		{"cancel canceled", false, map[string]reply{"POST " + pi + "/cancel": unexpected, "GET " + pi: canceled},
			settlement.PaymentFailed, nil, "automatic"},
		{"cancel captured", false, map[string]reply{"POST " + pi + "/cancel": unexpected, "GET " + pi: captured},
			"", settlement.ErrConflict, ""},
		{"cancel processing", false, map[string]reply{"POST " + pi + "/cancel": unexpected, "GET " + pi: read("processing", "")},
			"", nil, ""},
		{"cancel fails", false, map[string]reply{"POST " + pi + "/cancel": {http.StatusInternalServerError,
			stripeError("api_error", "", "")}}, "", nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p, rec := fakeStripe(t, c.routes)
			op, do := "cancel", p.Cancel
			if c.capture {
				op, do = "capture", p.Capture
			}
			got, err := do(context.Background(), "pi_1", op+":pi_1")
			switch {
			case c.want != "":
				if err != nil || got.ID != "pi_1" || got.Status != c.want || got.FailureReason != c.reason {
					t.Fatalf("payment %+v, err %v: want %s (%q)", got, err, c.want, c.reason)
				}
			case c.sentinel != nil:
				if !errors.Is(err, c.sentinel) {
					t.Fatalf("payment %+v, err %v: want %v", got, err, c.sentinel)
				}
			default:
				if err == nil || errors.Is(err, settlement.ErrNotCapturable) || errors.Is(err, settlement.ErrConflict) ||
					errors.Is(err, settlement.ErrNotFound) {
					t.Fatalf("payment %+v, err %v: want an unknown outcome", got, err)
				}
			}
			if errors.Is(err, settlement.ErrNotCapturable) || errors.Is(err, settlement.ErrConflict) {
				// Returned with the payment as re-read, so the saga need not read it again.
				if got.ID != "pi_1" || got.Status == "" || (c.reason != "" && got.FailureReason != c.reason) {
					t.Fatalf("payment %+v with %v", got, err)
				}
			}
			calls := rec.all()
			check(t, calls[0], want{method: http.MethodPost, path: pi + "/" + op, key: op + ":pi_1"})
			// Each route once: the call, and the re-read when there is one.
			if len(calls) != len(c.routes) {
				t.Fatalf("requests %v, want %d", paths(calls), len(c.routes))
			}
			_, reread := c.routes["GET "+pi]
			if reread {
				check(t, calls[1], want{method: http.MethodGet, path: pi, params: map[string]string{"expand[0]": "latest_charge"}})
			}
		})
	}
}

func TestPayment(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p, rec := fakeStripe(t, map[string]reply{
		"GET /v1/payment_intents/pi_1": {http.StatusOK, intent("pi_1", "succeeded",
			`,"latest_charge":{"id":"ch_1","object":"charge","amount":4500,"amount_refunded":1500}`)},
		"GET /v1/payment_intents/pi_gone": {http.StatusNotFound, stripeError("invalid_request_error", "resource_missing", "")},
	})
	got, err := p.Payment(ctx, "pi_1")
	exp := settlement.Payment{ID: "pi_1", OrderID: "ord_2", Status: settlement.PaymentSucceeded, Amount: 4500, Currency: "EUR",
		ClientSecret: "pi_1_secret_x", Refunded: 1500}
	if err != nil || got != exp {
		t.Fatalf("payment %+v, err %v\nwant %+v", got, err, exp)
	}
	if _, err := p.Payment(ctx, "pi_gone"); !errors.Is(err, settlement.ErrNotFound) {
		t.Fatalf("unknown intent: %v, want ErrNotFound", err)
	}
	calls := rec.all()
	if len(calls) != 2 {
		t.Fatalf("requests %v", paths(calls))
	}
	check(t, calls[0], want{method: http.MethodGet, path: "/v1/payment_intents/pi_1", params: map[string]string{"expand[0]": "latest_charge"}})
}

func TestRefund(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// A refund already made under another key counts as done.
	p, rec := fakeStripe(t, map[string]reply{"POST /v1/refunds": {http.StatusBadRequest,
		stripeError("invalid_request_error", "charge_already_refunded", "")}})
	if err := p.Refund(ctx, "pi_1", "refund:pi_1"); err != nil {
		t.Fatal(err)
	}
	calls := rec.all()
	if len(calls) != 1 {
		t.Fatalf("requests %v", paths(calls))
	}
	check(t, calls[0], want{method: http.MethodPost, path: "/v1/refunds", key: "refund:pi_1",
		params: map[string]string{"payment_intent": "pi_1"}})
	p, _ = fakeStripe(t, map[string]reply{"POST /v1/refunds": {http.StatusInternalServerError, stripeError("api_error", "", "")}})
	var se *stripe.Error
	if err := p.Refund(ctx, "pi_1", "refund:pi_1"); !errors.As(err, &se) {
		t.Fatalf("err %v, want the Stripe error", err)
	}
}

// TestFromIntent is the mapping of Stripe's PaymentIntent onto the saga's payment.
func TestFromIntent(t *testing.T) {
	t.Parallel()
	declined := &stripe.Error{Code: stripe.ErrorCodeCardDeclined, DeclineCode: stripe.DeclineCodeInsufficientFunds}
	authFailed := &stripe.Error{Code: stripe.ErrorCodePaymentIntentAuthenticationFailure}
	redirect := &stripe.PaymentIntentNextAction{Type: stripe.PaymentIntentNextActionTypeRedirectToURL,
		RedirectToURL: &stripe.PaymentIntentNextActionRedirectToURL{URL: "https://hooks.stripe.com/3d_secure_2/x", ReturnURL: "https://onsale.test/r"}}
	sdk := &stripe.PaymentIntentNextAction{Type: stripe.PaymentIntentNextActionTypeUseStripeSDK,
		UseStripeSDK: &stripe.PaymentIntentNextActionUseStripeSDK{}}
	other := &stripe.PaymentIntentNextAction{Type: stripe.PaymentIntentNextActionTypeVerifyWithMicrodeposits}
	for _, c := range []struct {
		name   string
		pi     stripe.PaymentIntent
		status settlement.PaymentStatus
		reason string
		next   *settlement.NextAction
	}{
		{"new", stripe.PaymentIntent{Status: stripe.PaymentIntentStatusRequiresPaymentMethod}, settlement.PaymentRequiresAction, "", nil},
		{"declined", stripe.PaymentIntent{Status: stripe.PaymentIntentStatusRequiresPaymentMethod, LastPaymentError: declined},
			settlement.PaymentFailed, "insufficient_funds", nil},
		{"authentication failed", stripe.PaymentIntent{Status: stripe.PaymentIntentStatusRequiresPaymentMethod, LastPaymentError: authFailed},
			settlement.PaymentFailed, "payment_intent_authentication_failure", nil},
		{"requires confirmation", stripe.PaymentIntent{Status: stripe.PaymentIntentStatusRequiresConfirmation}, settlement.PaymentRequiresAction, "", nil},
		{"3-D Secure redirect", stripe.PaymentIntent{Status: stripe.PaymentIntentStatusRequiresAction, NextAction: redirect},
			settlement.PaymentRequiresAction, "", &settlement.NextAction{Type: "redirect", URL: "https://hooks.stripe.com/3d_secure_2/x"}},
		{"3-D Secure in Stripe.js", stripe.PaymentIntent{Status: stripe.PaymentIntentStatusRequiresAction, NextAction: sdk},
			settlement.PaymentRequiresAction, "", &settlement.NextAction{Type: "use_stripe_sdk"}},
		{"other action", stripe.PaymentIntent{Status: stripe.PaymentIntentStatusRequiresAction, NextAction: other},
			settlement.PaymentRequiresAction, "", &settlement.NextAction{Type: "verify_with_microdeposits"}},
		{"authorized", stripe.PaymentIntent{Status: stripe.PaymentIntentStatusRequiresCapture}, settlement.PaymentAuthorized, "", nil},
		{"processing", stripe.PaymentIntent{Status: stripe.PaymentIntentStatusProcessing}, settlement.PaymentProcessing, "", nil},
		{"succeeded", stripe.PaymentIntent{Status: stripe.PaymentIntentStatusSucceeded}, settlement.PaymentSucceeded, "", nil},
		{"canceled", stripe.PaymentIntent{Status: stripe.PaymentIntentStatusCanceled}, settlement.PaymentFailed, "canceled", nil},
		{"canceled with a reason", stripe.PaymentIntent{Status: stripe.PaymentIntentStatusCanceled,
			CancellationReason: stripe.PaymentIntentCancellationReasonAutomatic}, settlement.PaymentFailed, "automatic", nil},
		{"canceled after a decline", stripe.PaymentIntent{Status: stripe.PaymentIntentStatusCanceled, LastPaymentError: declined,
			CancellationReason: stripe.PaymentIntentCancellationReasonAbandoned}, settlement.PaymentFailed, "abandoned", nil},
	} {
		c.pi.ID, c.pi.Amount, c.pi.Currency, c.pi.ClientSecret = "pi_1", 4500, stripe.CurrencyEUR, "pi_1_secret_x"
		c.pi.Metadata = map[string]string{"order_id": "ord_1"}
		if s := stripepay.Status(&c.pi); s != c.status {
			t.Errorf("%s: Status %s, want %s", c.name, s, c.status)
		}
		got := stripepay.FromIntent(&c.pi)
		if got.Status != c.status || got.FailureReason != c.reason || got.ID != "pi_1" || got.OrderID != "ord_1" ||
			got.Amount != 4500 || got.Currency != "EUR" || got.ClientSecret != "pi_1_secret_x" || got.Refunded != 0 {
			t.Errorf("%s: %+v, want %s (%q)", c.name, got, c.status, c.reason)
		}
		if (got.NextAction == nil) != (c.next == nil) || (c.next != nil && *got.NextAction != *c.next) {
			t.Errorf("%s: next action %+v, want %+v", c.name, got.NextAction, c.next)
		}
	}
	// The latest charge only says how much was refunded when it was expanded.
	refunded := stripe.PaymentIntent{Status: stripe.PaymentIntentStatusSucceeded, LatestCharge: &stripe.Charge{ID: "ch_1", AmountRefunded: 4500}}
	if got := stripepay.FromIntent(&refunded); got.Refunded != 4500 {
		t.Errorf("refunded %d, want 4500", got.Refunded)
	}
	unexpanded := stripe.PaymentIntent{Status: stripe.PaymentIntentStatusSucceeded, LatestCharge: &stripe.Charge{ID: "ch_1"}}
	if got := stripepay.FromIntent(&unexpanded); got.Refunded != 0 {
		t.Errorf("refunded %d, want 0", got.Refunded)
	}
}
