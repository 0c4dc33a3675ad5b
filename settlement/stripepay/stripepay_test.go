package stripepay_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
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

// TestAgainstStripeMock sends the adapter's real requests to stripe-mock, which validates them against Stripe's
// OpenAPI description (a wrong parameter is a 400) and answers with canned objects.
func TestAgainstStripeMock(t *testing.T) {
	t.Parallel()
	p := stripepay.New("sk_test_123", stripeMock(t))
	ctx := context.Background()
	got, err := p.Pay(ctx, settlement.PaymentRequest{OrderID: "ord_1", IdempotencyKey: settlement.PaymentKey("ord_1"),
		Amount: 9000, Currency: "EUR", PaymentMethod: "pm_card_visa"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got.ID, "pi_") || got.Amount != 9000 || got.Currency != "EUR" {
		t.Fatalf("payment %+v", got)
	}
	// stripe-mock's canned PaymentIntent is requires_payment_method with a last_payment_error: by Stripe's rules
	// a failed attempt.
	if got.Status != settlement.PaymentFailed {
		t.Fatalf("status %s", got.Status)
	}
	again, err := p.Payment(ctx, got.ID)
	if err != nil || again.ID == "" {
		t.Fatalf("re-read: %+v %v", again, err)
	}
	if err := p.Refund(ctx, got.ID, settlement.RefundKey(got.ID)); err != nil {
		t.Fatal(err)
	}
	if err := p.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
}

// TestPing: a ping is one GET of the balance, and fails on a refused key or an unreachable Stripe.
func TestPing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base, reqs := fakeStripe(t, func(w http.ResponseWriter, r *http.Request, _ string) {
		if r.Header.Get("Authorization") != "Bearer sk_test_good" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":{"type":"invalid_request_error","message":"Invalid API Key provided"}}`)
			return
		}
		_, _ = io.WriteString(w, `{"object":"balance","available":[],"pending":[],"livemode":false}`)
	})
	if err := stripepay.New("sk_test_good", base).Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if got := reqs.all(); len(got) != 1 || got[0].path != "/v1/balance" {
		t.Fatalf("requests %+v, want one GET /v1/balance", got)
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

// fakeStripe answers like Stripe for the cases stripe-mock cannot produce (it is stateless and never declines).
func fakeStripe(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, body string)) (string, *requests) {
	t.Helper()
	reqs := &requests{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		reqs.add(r, string(b))
		w.Header().Set("Content-Type", "application/json")
		handle(w, r, string(b))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, reqs
}

type requests struct {
	mu   sync.Mutex
	list []recorded
}

type recorded struct {
	path, key, body string
}

func (r *requests) add(req *http.Request, body string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, recorded{req.URL.Path, req.Header.Get("Idempotency-Key"), body})
}

func (r *requests) all() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.list...)
}

func TestRequestShapeAndDecline(t *testing.T) {
	t.Parallel()
	base, reqs := fakeStripe(t, func(w http.ResponseWriter, r *http.Request, body string) {
		w.WriteHeader(http.StatusPaymentRequired)
		_, _ = io.WriteString(w, `{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds",
			"message":"Your card has insufficient funds.","payment_intent":{"id":"pi_declined","object":"payment_intent",
			"amount":4500,"currency":"eur","status":"requires_payment_method","metadata":{"order_id":"ord_2"}}}}`)
	})
	p := stripepay.New("sk_test_123", base)
	got, err := p.Pay(context.Background(), settlement.PaymentRequest{OrderID: "ord_2", IdempotencyKey: "pi:ord_2",
		Amount: 4500, Currency: "EUR", PaymentMethod: "pm_card_insufficientFunds"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != settlement.PaymentFailed || got.ID != "pi_declined" || got.FailureReason != "insufficient_funds" || got.OrderID != "ord_2" {
		t.Fatalf("payment %+v", got)
	}
	rs := reqs.all()
	if len(rs) != 1 || rs[0].path != "/v1/payment_intents" || rs[0].key != "pi:ord_2" {
		t.Fatalf("requests %+v", rs)
	}
	for _, want := range []string{"amount=4500", "currency=eur", "confirm=true", "payment_method=pm_card_insufficientFunds",
		"automatic_payment_methods[allow_redirects]=never", "automatic_payment_methods[enabled]=true", "metadata[order_id]=ord_2"} {
		if !strings.Contains(decode(rs[0].body), want) {
			t.Errorf("request body %q lacks %q", decode(rs[0].body), want)
		}
	}
}

func decode(form string) string {
	r := strings.NewReplacer("%5B", "[", "%5D", "]")
	return r.Replace(form)
}

func TestOutageIsAnError(t *testing.T) {
	t.Parallel()
	base, reqs := fakeStripe(t, func(w http.ResponseWriter, r *http.Request, body string) {
		w.Header().Set("Stripe-Should-Retry", "false")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"error":{"type":"api_error","message":"down"}}`)
	})
	p := stripepay.New("sk_test_123", base)
	_, err := p.Pay(context.Background(), settlement.PaymentRequest{OrderID: "o", IdempotencyKey: "pi:o", Amount: 1, Currency: "EUR", PaymentMethod: "pm_card_visa"})
	var se *stripe.Error
	if err == nil || !errors.As(err, &se) {
		t.Fatalf("err %v, want the Stripe error (outcome unknown: retry)", err)
	}
	if n := len(reqs.all()); n != 1 {
		t.Fatalf("%d requests", n)
	}
	// Refunds use their own key; a refund already made under another key counts as done.
	base2, reqs2 := fakeStripe(t, func(w http.ResponseWriter, r *http.Request, body string) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":{"type":"invalid_request_error","code":"charge_already_refunded","message":"already"}}`)
	})
	if err := stripepay.New("sk_test_123", base2).Refund(context.Background(), "pi_1", "refund:pi_1"); err != nil {
		t.Fatal(err)
	}
	if rs := reqs2.all(); len(rs) != 1 || rs[0].key != "refund:pi_1" || !strings.Contains(rs[0].body, "payment_intent=pi_1") {
		t.Fatalf("refund requests %+v", rs)
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	failed := &stripe.Error{Code: stripe.ErrorCodeCardDeclined}
	for _, c := range []struct {
		pi   stripe.PaymentIntent
		want settlement.PaymentStatus
	}{
		{stripe.PaymentIntent{Status: stripe.PaymentIntentStatusSucceeded}, settlement.PaymentSucceeded},
		{stripe.PaymentIntent{Status: stripe.PaymentIntentStatusCanceled}, settlement.PaymentFailed},
		{stripe.PaymentIntent{Status: stripe.PaymentIntentStatusRequiresPaymentMethod, LastPaymentError: failed}, settlement.PaymentFailed},
		{stripe.PaymentIntent{Status: stripe.PaymentIntentStatusRequiresPaymentMethod}, settlement.PaymentProcessing},
		{stripe.PaymentIntent{Status: stripe.PaymentIntentStatusProcessing}, settlement.PaymentProcessing},
		{stripe.PaymentIntent{Status: stripe.PaymentIntentStatusRequiresAction}, settlement.PaymentProcessing},
	} {
		if got := stripepay.Status(&c.pi); got != c.want {
			t.Errorf("%s (error %v): %s, want %s", c.pi.Status, c.pi.LastPaymentError != nil, got, c.want)
		}
	}
}
