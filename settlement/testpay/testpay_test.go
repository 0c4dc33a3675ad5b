package testpay_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/settlement/testpay"
)

var ctx = context.Background()

func req(order, method string) settlement.PaymentRequest {
	return settlement.PaymentRequest{OrderID: order, IdempotencyKey: "pi:" + order, Amount: 4500, Currency: "EUR",
		PaymentMethod: method}
}

// stripeStatus is the intent's Stripe status, read without counting a call.
func stripeStatus(t *testing.T, p *testpay.Payments, id string) string {
	t.Helper()
	in, ok := p.Get(id)
	if !ok {
		t.Fatalf("intent %s unknown", id)
	}
	return in.Status
}

func TestCards(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		method, stripe string
		status         settlement.PaymentStatus
		reason         string
	}{
		{"pm_card_visa", "requires_capture", settlement.PaymentAuthorized, ""},
		{"pm_card_mastercard", "requires_capture", settlement.PaymentAuthorized, ""},
		{"pm_card_amex", "requires_capture", settlement.PaymentAuthorized, ""},
		{"pm_card_visa_debit", "requires_capture", settlement.PaymentAuthorized, ""},
		{"pm_card_discover", "requires_capture", settlement.PaymentAuthorized, ""},
		{"pm_card_threeDSecure2Required", "requires_action", settlement.PaymentRequiresAction, ""},
		{"pm_card_threeDSecureRequired", "requires_action", settlement.PaymentRequiresAction, ""},
		{"pm_card_authenticationRequired", "requires_action", settlement.PaymentRequiresAction, ""},
		{"pm_card_chargeDeclined", "requires_payment_method", settlement.PaymentFailed, "card_declined"},
		{"pm_card_visa_chargeDeclined", "requires_payment_method", settlement.PaymentFailed, "card_declined"},
		{"pm_card_insufficientFunds", "requires_payment_method", settlement.PaymentFailed, "insufficient_funds"},
		{"pm_card_visa_chargeDeclinedInsufficientFunds", "requires_payment_method", settlement.PaymentFailed, "insufficient_funds"},
		{"pm_card_chargeDeclinedExpiredCard", "requires_payment_method", settlement.PaymentFailed, "expired_card"},
		{"pm_card_chargeDeclinedIncorrectCvc", "requires_payment_method", settlement.PaymentFailed, "incorrect_cvc"},
		{"pm_card_chargeDeclinedFraudulent", "requires_payment_method", settlement.PaymentFailed, "fraudulent"},
	} {
		t.Run(c.method, func(t *testing.T) {
			t.Parallel()
			if s, r := testpay.CardOutcome(c.method); s != c.status || r != c.reason {
				t.Errorf("CardOutcome: %s %q, want %s %q", s, r, c.status, c.reason)
			}
			p := testpay.New()
			r := req("o1", c.method)
			r.ReturnURL = "https://shop.test/orders/o1?x=1&y=2"
			got := must(p.Authorize(ctx, r))(t)
			if !strings.HasPrefix(got.ID, "pi_test_") || len(got.ID) <= len("pi_test_") ||
				!strings.HasPrefix(got.ClientSecret, got.ID+"_secret_") || len(got.ClientSecret) <= len(got.ID+"_secret_") {
				t.Errorf("ids: %q %q", got.ID, got.ClientSecret)
			}
			if got.OrderID != "o1" || got.Amount != 4500 || got.Currency != "EUR" || got.Refunded != 0 {
				t.Errorf("fields: %+v", got)
			}
			if got.Status != c.status || got.FailureReason != c.reason {
				t.Errorf("authorize: %s %q, want %s %q", got.Status, got.FailureReason, c.status, c.reason)
			}
			if s := stripeStatus(t, p, got.ID); s != c.stripe {
				t.Errorf("stripe status %s, want %s", s, c.stripe)
			}
			want3DS := c.stripe == "requires_action"
			if want3DS {
				wantURL := "/pay/3ds/" + got.ID + "?return=https%3A%2F%2Fshop.test%2Forders%2Fo1%3Fx%3D1%26y%3D2"
				if got.NextAction == nil || *got.NextAction != (settlement.NextAction{Type: "redirect", URL: wantURL}) {
					t.Errorf("next action %+v, want %s", got.NextAction, wantURL)
				}
			} else if got.NextAction != nil {
				t.Errorf("next action %+v without 3-D Secure", got.NextAction)
			}
			if p.Intents("o1") != 1 {
				t.Errorf("%d intents", p.Intents("o1"))
			}
		})
	}
}

func TestUnknownPaymentMethod(t *testing.T) {
	t.Parallel()
	p := testpay.New()
	if s, r := testpay.CardOutcome("tok_bogus"); s != settlement.PaymentFailed || r != "resource_missing" {
		t.Fatalf("CardOutcome: %s %s", s, r)
	}
	want := settlement.Payment{OrderID: "o1", Status: settlement.PaymentFailed, Amount: 4500, Currency: "EUR",
		FailureReason: "resource_missing"}
	for range 2 { // the key keeps the answer
		if got := must(p.Authorize(ctx, req("o1", "tok_bogus")))(t); got != want {
			t.Fatalf("unknown method: %+v", got)
		}
	}
	if p.Intents("o1") != 0 || len(p.All()) != 0 {
		t.Fatalf("an intent was created: %+v", p.All())
	}
	if _, err := p.Authorize(ctx, req("o1", "pm_card_visa")); !errors.Is(err, settlement.ErrIdempotencyReused) {
		t.Fatalf("the key of a refused request reused with another method: %v", err)
	}
	// Confirming an unknown method on an existing intent records the error on it.
	pi := must(p.Authorize(ctx, req("o2", "")))(t)
	got := must(p.Confirm(ctx, pi.ID, "pm_bogus"))(t)
	if got.Status != settlement.PaymentFailed || got.FailureReason != "resource_missing" || got.ID != pi.ID {
		t.Fatalf("confirm unknown method: %+v", got)
	}
}

func TestMethodForCard(t *testing.T) {
	t.Parallel()
	for number, want := range map[string]string{
		"4242424242424242":    "pm_card_visa",
		"4242 4242 4242 4242": "pm_card_visa",
		"4242-4242-4242-4242": "pm_card_visa",
		"5555555555554444":    "pm_card_mastercard",
		"3782 822463 10005":   "pm_card_amex",
		"4000056655665556":    "pm_card_visa_debit",
		"4000002760003184":    "pm_card_authenticationRequired",
		"4000000000003220":    "pm_card_threeDSecure2Required",
		"4000000000003063":    "pm_card_threeDSecureRequired",
		"4000000000000002":    "pm_card_chargeDeclined",
		"4000000000009995":    "pm_card_insufficientFunds",
		"4000000000000069":    "pm_card_chargeDeclinedExpiredCard",
		"4000000000000127":    "pm_card_chargeDeclinedIncorrectCvc",
		"4100000000000019":    "pm_card_chargeDeclinedFraudulent",
	} {
		if got, ok := testpay.MethodForCard(number); !ok || got != want {
			t.Errorf("%s: %q %v, want %s", number, got, ok, want)
		}
		if _, code := testpay.CardOutcome(want); code == "resource_missing" {
			t.Errorf("%s maps to %s, which the provider does not know", number, want)
		}
	}
	for _, number := range []string{"", "4242", "4242424242424241", "4242x4242424242424242"} {
		if got, ok := testpay.MethodForCard(number); ok {
			t.Errorf("%q: %s", number, got)
		}
	}
}

func TestAuthorizeValidates(t *testing.T) {
	t.Parallel()
	p := testpay.New()
	scripted := 0
	p.Script(func(testpay.Op, string, settlement.PaymentRequest) testpay.Outcome {
		scripted++
		return testpay.Outcome{}
	})
	for name, r := range map[string]settlement.PaymentRequest{
		"no key":          {OrderID: "o1", Amount: 1, Currency: "EUR"},
		"negative amount": {OrderID: "o1", IdempotencyKey: "k", Amount: -1, Currency: "EUR"},
		"no currency":     {OrderID: "o1", IdempotencyKey: "k", Amount: 1},
	} {
		if _, err := p.Authorize(ctx, r); !errors.Is(err, settlement.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if p.Intents("o1") != 0 || p.CallsOf(testpay.OpAuthorize) != 3 || scripted != 0 {
		t.Fatalf("%d intents, %d calls, %d scripted", p.Intents("o1"), p.CallsOf(testpay.OpAuthorize), scripted)
	}
	free := req("o2", "pm_card_visa")
	free.Amount = 0
	if got := must(p.Authorize(ctx, free))(t); got.Status != settlement.PaymentAuthorized {
		t.Fatalf("a zero amount: %+v", got)
	}
}

func TestAuthorizeIdempotent(t *testing.T) {
	t.Parallel()
	p := testpay.New()
	a := must(p.Authorize(ctx, req("o1", "pm_card_visa")))(t)
	b := must(p.Authorize(ctx, req("o1", "pm_card_visa")))(t)
	if a != b || p.Intents("o1") != 1 || p.Calls() != 2 {
		t.Fatalf("same key: %+v %+v, %d intents, %d calls", a, b, p.Intents("o1"), p.Calls())
	}
	must(p.Capture(ctx, a.ID, "capture:o1"))(t)
	if again := must(p.Authorize(ctx, req("o1", "pm_card_visa")))(t); again.ID != a.ID || again.Status != settlement.PaymentSucceeded {
		t.Fatalf("a repeat returns the current state: %+v", again)
	}
	for name, change := range map[string]func(*settlement.PaymentRequest){
		"amount":     func(r *settlement.PaymentRequest) { r.Amount++ },
		"method":     func(r *settlement.PaymentRequest) { r.PaymentMethod = "pm_card_mastercard" },
		"currency":   func(r *settlement.PaymentRequest) { r.Currency = "USD" },
		"order":      func(r *settlement.PaymentRequest) { r.OrderID = "o2" },
		"return url": func(r *settlement.PaymentRequest) { r.ReturnURL = "/elsewhere" },
	} {
		r := req("o1", "pm_card_visa")
		change(&r)
		if _, err := p.Authorize(ctx, r); !errors.Is(err, settlement.ErrIdempotencyReused) {
			t.Errorf("key reused with another %s: %v", name, err)
		}
	}
	if p.Intents("o1") != 1 || p.Intents("o2") != 0 || len(p.All()) != 1 {
		t.Fatalf("reused keys created intents: %+v", p.All())
	}
}

func TestConfirmInThePage(t *testing.T) {
	t.Parallel()
	p := testpay.New()
	pi := must(p.Authorize(ctx, req("o1", "")))(t)
	if pi.Status != settlement.PaymentRequiresAction || pi.NextAction != nil || pi.FailureReason != "" ||
		stripeStatus(t, p, pi.ID) != "requires_payment_method" {
		t.Fatalf("without a method: %+v", pi)
	}
	if _, err := p.Confirm(ctx, pi.ID, ""); !errors.Is(err, settlement.ErrInvalid) {
		t.Fatalf("confirm without a method: %v", err)
	}
	// Declined twice, then another card goes through: still one intent.
	for method, reason := range map[string]string{"pm_card_chargeDeclined": "card_declined", "pm_card_insufficientFunds": "insufficient_funds"} {
		got := must(p.Confirm(ctx, pi.ID, method))(t)
		if got.Status != settlement.PaymentFailed || got.FailureReason != reason || got.ID != pi.ID || got.ClientSecret != pi.ClientSecret {
			t.Fatalf("%s: %+v", method, got)
		}
	}
	// A declined card's number, as the card form sends it.
	if got := must(p.Confirm(ctx, pi.ID, "4000 0000 0000 0002"))(t); got.Status != settlement.PaymentFailed || got.FailureReason != "card_declined" {
		t.Fatalf("a declined card's number: %+v", got)
	}
	got := must(p.Confirm(ctx, pi.ID, "5555 5555 5555 4444"))(t)
	if got.Status != settlement.PaymentAuthorized || got.FailureReason != "" {
		t.Fatalf("retry with another card's number: %+v", got)
	}
	if _, err := p.Confirm(ctx, pi.ID, "pm_card_visa"); !errors.Is(err, settlement.ErrConflict) {
		t.Fatalf("confirm an authorized intent: %v", err)
	}
	if got := must(p.Capture(ctx, pi.ID, "c1"))(t); got.Status != settlement.PaymentSucceeded || p.Intents("o1") != 1 {
		t.Fatalf("capture after the retry: %+v, %d intents", got, p.Intents("o1"))
	}
}

func TestThreeDSecure(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		succeed bool
		want    settlement.PaymentStatus
		stripe  string
		reason  string
	}{
		{"succeeds", true, settlement.PaymentAuthorized, "requires_capture", ""},
		{"fails", false, settlement.PaymentFailed, "requires_payment_method", "payment_intent_authentication_failure"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := testpay.New()
			pi := must(p.Authorize(ctx, req("o1", "")))(t)
			got := must(p.Confirm(ctx, pi.ID, "pm_card_threeDSecure2Required"))(t)
			if got.Status != settlement.PaymentRequiresAction || got.NextAction == nil ||
				got.NextAction.URL != "/pay/3ds/"+pi.ID || got.NextAction.Type != "redirect" {
				t.Fatalf("confirm: %+v %+v", got, got.NextAction)
			}
			if _, err := p.Confirm(ctx, pi.ID, "pm_card_visa"); !errors.Is(err, settlement.ErrConflict) {
				t.Fatalf("confirm while authenticating: %v", err)
			}
			if _, err := p.Capture(ctx, pi.ID, "c1"); !errors.Is(err, settlement.ErrNotCapturable) {
				t.Fatalf("capture while authenticating: %v", err)
			}
			got = must(p.Authenticate(ctx, pi.ID, c.succeed))(t)
			if got.Status != c.want || got.FailureReason != c.reason || got.NextAction != nil || stripeStatus(t, p, pi.ID) != c.stripe {
				t.Fatalf("authenticate: %+v", got)
			}
			if _, err := p.Authenticate(ctx, pi.ID, true); !errors.Is(err, settlement.ErrConflict) {
				t.Fatalf("authenticate twice: %v", err)
			}
			if !c.succeed { // the fan tries another card
				if got := must(p.Confirm(ctx, pi.ID, "pm_card_visa"))(t); got.Status != settlement.PaymentAuthorized {
					t.Fatalf("retry after a failed authentication: %+v", got)
				}
			}
			if got := must(p.Capture(ctx, pi.ID, "c1"))(t); got.Status != settlement.PaymentSucceeded {
				t.Fatalf("capture: %+v", got)
			}
		})
	}
}

// TestTransitions applies every operation to an intent in every state.
func TestTransitions(t *testing.T) {
	t.Parallel()
	states := map[string]func(*testing.T, *testpay.Payments) string{
		"fresh": func(t *testing.T, p *testpay.Payments) string { return must(p.Authorize(ctx, req("o", "")))(t).ID },
		"declined": func(t *testing.T, p *testpay.Payments) string {
			return must(p.Authorize(ctx, req("o", "pm_card_chargeDeclined")))(t).ID
		},
		"action": func(t *testing.T, p *testpay.Payments) string {
			return must(p.Authorize(ctx, req("o", "pm_card_threeDSecureRequired")))(t).ID
		},
		"processing": func(t *testing.T, p *testpay.Payments) string {
			p.Script(func(testpay.Op, string, settlement.PaymentRequest) testpay.Outcome {
				return testpay.Outcome{Status: settlement.PaymentProcessing}
			})
			defer p.Script(nil)
			return must(p.Authorize(ctx, req("o", "pm_card_visa")))(t).ID
		},
		"authorized": func(t *testing.T, p *testpay.Payments) string {
			return must(p.Authorize(ctx, req("o", "pm_card_visa")))(t).ID
		},
		"succeeded": func(t *testing.T, p *testpay.Payments) string {
			id := must(p.Authorize(ctx, req("o", "pm_card_visa")))(t).ID
			must(p.Capture(ctx, id, "setup-capture"))(t)
			return id
		},
		"canceled": func(t *testing.T, p *testpay.Payments) string {
			id := must(p.Authorize(ctx, req("o", "pm_card_visa")))(t).ID
			must(p.Cancel(ctx, id, "setup-cancel"))(t)
			return id
		},
		"refunded": func(t *testing.T, p *testpay.Payments) string {
			id := must(p.Authorize(ctx, req("o", "pm_card_visa")))(t).ID
			must(p.Capture(ctx, id, "setup-capture"))(t)
			if err := p.Refund(ctx, id, "setup-refund"); err != nil {
				t.Fatal(err)
			}
			return id
		},
	}
	type result struct {
		stripe string // the status after the operation
		err    error  // the sentinel the error wraps
	}
	ops := map[string]func(p *testpay.Payments, id string) error{
		"confirm":      func(p *testpay.Payments, id string) error { _, err := p.Confirm(ctx, id, "pm_card_visa"); return err },
		"authenticate": func(p *testpay.Payments, id string) error { _, err := p.Authenticate(ctx, id, true); return err },
		"capture":      func(p *testpay.Payments, id string) error { _, err := p.Capture(ctx, id, "k:"+id); return err },
		"cancel":       func(p *testpay.Payments, id string) error { _, err := p.Cancel(ctx, id, "k:"+id); return err },
		"refund":       func(p *testpay.Payments, id string) error { return p.Refund(ctx, id, "k:"+id) },
	}
	conflict := func(stripe string) result { return result{stripe, settlement.ErrConflict} }
	notCapturable := func(stripe string) result { return result{stripe, settlement.ErrNotCapturable} }
	want := map[string]map[string]result{
		"fresh": {"confirm": {"requires_capture", nil}, "authenticate": conflict("requires_payment_method"),
			"capture": notCapturable("requires_payment_method"), "cancel": {"canceled", nil}, "refund": conflict("requires_payment_method")},
		"declined": {"confirm": {"requires_capture", nil}, "authenticate": conflict("requires_payment_method"),
			"capture": notCapturable("requires_payment_method"), "cancel": {"canceled", nil}, "refund": conflict("requires_payment_method")},
		"action": {"confirm": conflict("requires_action"), "authenticate": {"requires_capture", nil},
			"capture": notCapturable("requires_action"), "cancel": {"canceled", nil}, "refund": conflict("requires_action")},
		"processing": {"confirm": conflict("processing"), "authenticate": conflict("processing"),
			"capture": notCapturable("processing"), "cancel": {"canceled", nil}, "refund": conflict("processing")},
		"authorized": {"confirm": conflict("requires_capture"), "authenticate": conflict("requires_capture"),
			"capture": {"succeeded", nil}, "cancel": {"canceled", nil}, "refund": conflict("requires_capture")},
		"succeeded": {"confirm": conflict("succeeded"), "authenticate": conflict("succeeded"),
			"capture": {"succeeded", nil}, "cancel": conflict("succeeded"), "refund": {"succeeded", nil}},
		"canceled": {"confirm": conflict("canceled"), "authenticate": conflict("canceled"),
			"capture": notCapturable("canceled"), "cancel": {"canceled", nil}, "refund": conflict("canceled")},
		"refunded": {"confirm": conflict("succeeded"), "authenticate": conflict("succeeded"),
			"capture": {"succeeded", nil}, "cancel": conflict("succeeded"), "refund": conflict("succeeded")},
	}
	for state, setup := range states {
		for op, do := range ops {
			w := want[state][op]
			t.Run(state+"/"+op, func(t *testing.T) {
				t.Parallel()
				p := testpay.New()
				id := setup(t, p)
				err := do(p, id)
				if w.err == nil && err != nil || w.err != nil && !errors.Is(err, w.err) {
					t.Errorf("error %v, want %v", err, w.err)
				}
				if got := stripeStatus(t, p, id); got != w.stripe {
					t.Errorf("status %s, want %s", got, w.stripe)
				}
				if err := do(p, "pi_test_nope"); !errors.Is(err, settlement.ErrNotFound) {
					t.Errorf("unknown intent: %v", err)
				}
			})
		}
	}
}

func TestCaptureCancelRefund(t *testing.T) {
	t.Parallel()
	p := testpay.New()
	pi := must(p.Authorize(ctx, req("o1", "pm_card_visa")))(t)
	for range 2 {
		got := must(p.Capture(ctx, pi.ID, "capture:o1"))(t)
		if got.Status != settlement.PaymentSucceeded || !p.Captured(pi.ID) || p.Canceled(pi.ID) {
			t.Fatalf("capture: %+v", got)
		}
	}
	if got := must(p.Capture(ctx, pi.ID, "capture-again:o1"))(t); got.Status != settlement.PaymentSucceeded {
		t.Fatalf("capture a succeeded intent with another key: %+v", got)
	}
	if _, err := p.Cancel(ctx, pi.ID, "capture:o1"); !errors.Is(err, settlement.ErrIdempotencyReused) {
		t.Fatalf("a capture key reused to cancel: %v", err)
	}
	for _, key := range []string{"refund:o1", "refund:o1"} {
		if err := p.Refund(ctx, pi.ID, key); err != nil {
			t.Fatalf("refund with %s: %v", key, err)
		}
	}
	if got := must(p.Payment(ctx, pi.ID))(t); got.Refunded != got.Amount || !p.Refunded(pi.ID) {
		t.Fatalf("refunded: %+v", got)
	}
	if err := p.Refund(ctx, pi.ID, "refund-again:o1"); !errors.Is(err, settlement.ErrConflict) ||
		!strings.Contains(err.Error(), "charge_already_refunded") {
		t.Fatalf("refunded twice: %v", err)
	}
	if in, _ := p.Get(pi.ID); in.Captured != 4500 || in.Refunded != 4500 {
		t.Fatalf("amounts: %+v", in)
	}

	// Canceled: the authorization is gone for good.
	pi2 := must(p.Authorize(ctx, req("o2", "pm_card_visa")))(t)
	for range 2 {
		got := must(p.Cancel(ctx, pi2.ID, "cancel:o2"))(t)
		if got.Status != settlement.PaymentFailed || got.FailureReason != "canceled" || !p.Canceled(pi2.ID) {
			t.Fatalf("cancel: %+v", got)
		}
	}
	got, err := p.Capture(ctx, pi2.ID, "capture:o2")
	if !errors.Is(err, settlement.ErrNotCapturable) || p.Captured(pi2.ID) || got.FailureReason != "canceled" {
		t.Fatalf("capture after cancel: %+v %v", got, err)
	}
	if err := p.Refund(ctx, pi.ID, "cancel:o2"); !errors.Is(err, settlement.ErrIdempotencyReused) {
		t.Fatalf("a key reused for another intent: %v", err)
	}
	for name, err := range map[string]error{
		"capture": second(p.Capture(ctx, pi.ID, "")),
		"cancel":  second(p.Cancel(ctx, pi.ID, "")),
		"refund":  p.Refund(ctx, pi.ID, ""),
	} {
		if !errors.Is(err, settlement.ErrInvalid) {
			t.Errorf("%s without a key: %v", name, err)
		}
	}
	for name, err := range map[string]error{
		"payment":      second(p.Payment(ctx, "pi_nope")),
		"confirm":      second(p.Confirm(ctx, "pi_nope", "pm_card_visa")),
		"authenticate": second(p.Authenticate(ctx, "pi_nope", true)),
	} {
		if !errors.Is(err, settlement.ErrNotFound) {
			t.Errorf("%s of an unknown intent: %v", name, err)
		}
	}
}

type ctxKey struct{}

func TestNotify(t *testing.T) {
	t.Parallel()
	p := testpay.New()
	var got []string
	p.SetNotify(func(c context.Context, id string) {
		got = append(got, fmt.Sprint(c.Value(ctxKey{}), " ", id))
		if _, err := p.Payment(c, id); err != nil { // a webhook handler re-reads: no lock is held
			t.Error(err)
		}
	})
	fan := context.WithValue(ctx, ctxKey{}, "fan")
	a := must(p.Authorize(fan, req("o1", "")))(t)
	b := must(p.Authorize(fan, req("o2", "pm_card_visa")))(t)
	must(p.Capture(fan, b.ID, "c2"))(t)
	if err := p.Refund(fan, b.ID, "r2"); err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("the port's calls notified: %v", got)
	}
	must(p.Confirm(fan, a.ID, "pm_card_authenticationRequired"))(t)
	must(p.Authenticate(fan, a.ID, true))(t)
	_, _ = p.Confirm(fan, a.ID, "pm_card_visa")      // refused: nothing changed
	_, _ = p.Authenticate(fan, a.ID, true)           // refused
	_, _ = p.Confirm(fan, "pi_nope", "pm_card_visa") // unknown
	must(p.Cancel(fan, a.ID, "x1"))(t)
	if want := []string{"fan " + a.ID, "fan " + a.ID}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("notified %v, want %v", got, want)
	}
	if err := p.SetStatus(b.ID, settlement.PaymentSucceeded); err != nil || len(got) != 2 {
		t.Fatalf("SetStatus notified: %v %v", err, got)
	}
}

func TestScriptOutages(t *testing.T) {
	t.Parallel()
	p := testpay.New()
	auth := must(p.Authorize(ctx, req("o1", "pm_card_visa")))(t)
	paid := must(p.Authorize(ctx, req("o2", "pm_card_visa")))(t)
	must(p.Capture(ctx, paid.ID, "capture:o2"))(t)
	type seen struct {
		op  testpay.Op
		id  string
		req settlement.PaymentRequest
	}
	var mu sync.Mutex
	var calls []seen
	p.Script(func(op testpay.Op, id string, r settlement.PaymentRequest) testpay.Outcome {
		mu.Lock()
		calls = append(calls, seen{op, id, r})
		mu.Unlock()
		return testpay.Outcome{Err: testpay.ErrUnavailable}
	})
	before := p.Calls()
	for name, err := range map[string]error{
		"authorize": second(p.Authorize(ctx, req("o3", "pm_card_visa"))),
		"payment":   second(p.Payment(ctx, auth.ID)),
		"capture":   second(p.Capture(ctx, auth.ID, "capture:o1")),
		"cancel":    second(p.Cancel(ctx, auth.ID, "cancel:o1")),
		"refund":    p.Refund(ctx, paid.ID, "refund:o2"),
	} {
		if !errors.Is(err, testpay.ErrUnavailable) {
			t.Errorf("%s during an outage: %v", name, err)
		}
	}
	if p.Intents("o3") != 0 || stripeStatus(t, p, auth.ID) != "requires_capture" || p.Refunded(paid.ID) {
		t.Fatalf("an outage changed something: %+v", p.All())
	}
	if p.Calls()-before != 5 || p.CallsOf(testpay.OpCapture) != 2 || p.CallsOf(testpay.OpRefund) != 1 {
		t.Fatalf("calls: %d, %d captures", p.Calls()-before, p.CallsOf(testpay.OpCapture))
	}
	wantSeen := map[testpay.Op]seen{
		testpay.OpAuthorize: {testpay.OpAuthorize, "", req("o3", "pm_card_visa")},
		testpay.OpPayment:   {testpay.OpPayment, auth.ID, settlement.PaymentRequest{}},
		testpay.OpCapture:   {testpay.OpCapture, auth.ID, settlement.PaymentRequest{}},
		testpay.OpCancel:    {testpay.OpCancel, auth.ID, settlement.PaymentRequest{}},
		testpay.OpRefund:    {testpay.OpRefund, paid.ID, settlement.PaymentRequest{}},
	}
	if len(calls) != len(wantSeen) {
		t.Fatalf("script saw %+v", calls)
	}
	for _, c := range calls {
		if wantSeen[c.op] != c {
			t.Errorf("script saw %+v, want %+v", c, wantSeen[c.op])
		}
	}
	p.Script(nil)
	if got := must(p.Payment(ctx, auth.ID))(t); got.Status != settlement.PaymentAuthorized {
		t.Fatalf("after the outage: %+v", got)
	}
}

func TestScriptLostResponses(t *testing.T) {
	t.Parallel()
	p := testpay.New()
	lost := errors.New("response lost")
	p.Script(func(testpay.Op, string, settlement.PaymentRequest) testpay.Outcome {
		return testpay.Outcome{ErrAfter: lost}
	})
	got, err := p.Authorize(ctx, req("o1", "pm_card_visa"))
	if !errors.Is(err, lost) || p.Intents("o1") != 1 || got.Status != settlement.PaymentAuthorized {
		t.Fatalf("lost authorize: %+v %v, %d intents", got, err, p.Intents("o1"))
	}
	id := p.All()[0].ID
	if _, err := p.Capture(ctx, id, "capture:o1"); !errors.Is(err, lost) || !p.Captured(id) {
		t.Fatalf("lost capture: %v", err)
	}
	if err := p.Refund(ctx, id, "refund:o1"); !errors.Is(err, lost) || !p.Refunded(id) {
		t.Fatalf("lost refund: %v", err)
	}
	if _, err := p.Authorize(ctx, req("o2", "pm_card_visa")); !errors.Is(err, lost) {
		t.Fatalf("lost authorize: %v", err)
	}
	p.Script(nil)
	// The caller repeats each call with its key: nothing happens twice.
	again := must(p.Authorize(ctx, req("o1", "pm_card_visa")))(t)
	if again.ID != id || again.Status != settlement.PaymentSucceeded || again.Refunded != 4500 || p.Intents("o1") != 1 {
		t.Fatalf("repeated authorize: %+v, %d intents", again, p.Intents("o1"))
	}
	if got := must(p.Capture(ctx, id, "capture:o1"))(t); got.Status != settlement.PaymentSucceeded {
		t.Fatalf("repeated capture: %+v", got)
	}
	if err := p.Refund(ctx, id, "refund:o1"); err != nil {
		t.Fatalf("repeated refund: %v", err)
	}
	o2 := p.All()[1].ID
	p.Script(func(testpay.Op, string, settlement.PaymentRequest) testpay.Outcome {
		return testpay.Outcome{ErrAfter: lost}
	})
	if _, err := p.Cancel(ctx, o2, "cancel:o2"); !errors.Is(err, lost) || !p.Canceled(o2) {
		t.Fatalf("lost cancel: %v", err)
	}
	p.Script(nil)
	if got := must(p.Cancel(ctx, o2, "cancel:o2"))(t); got.Status != settlement.PaymentFailed {
		t.Fatalf("repeated cancel: %+v", got)
	}
}

func TestScriptForcedStatus(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		force    settlement.PaymentStatus
		stripe   string
		reason   string
		action   bool
		captured int64
	}{
		{settlement.PaymentAuthorized, "requires_capture", "", false, 0},
		{settlement.PaymentRequiresAction, "requires_action", "", true, 0},
		{settlement.PaymentFailed, "requires_payment_method", "card_declined", false, 0},
		{settlement.PaymentProcessing, "processing", "", false, 0},
		{settlement.PaymentSucceeded, "succeeded", "", false, 4500},
	} {
		t.Run(string(c.force), func(t *testing.T) {
			t.Parallel()
			p := testpay.New()
			p.Script(func(op testpay.Op, _ string, _ settlement.PaymentRequest) testpay.Outcome {
				return testpay.Outcome{Status: c.force} // ignored by the other ops
			})
			r := req("o1", "pm_card_chargeDeclined") // the script wins over the card
			r.ReturnURL = "/orders/o1"
			got := must(p.Authorize(ctx, r))(t)
			in, _ := p.Get(got.ID)
			if got.Status != c.force || got.FailureReason != c.reason || (got.NextAction != nil) != c.action ||
				in.Status != c.stripe || in.Captured != c.captured {
				t.Fatalf("forced %s: %+v %+v", c.force, got, in)
			}
			if c.action && got.NextAction.URL != "/pay/3ds/"+got.ID+"?return=%2Forders%2Fo1" {
				t.Fatalf("next action %+v", got.NextAction)
			}
			if c.force == settlement.PaymentSucceeded {
				if err := p.Refund(ctx, got.ID, "r1"); err != nil {
					t.Fatalf("refund a payment captured at once: %v", err)
				}
			}
		})
	}
	// A forced status does not apply to a key that already has its intent.
	p := testpay.New()
	first := must(p.Authorize(ctx, req("o1", "pm_card_visa")))(t)
	p.Script(func(testpay.Op, string, settlement.PaymentRequest) testpay.Outcome {
		return testpay.Outcome{Status: settlement.PaymentFailed}
	})
	if got := must(p.Authorize(ctx, req("o1", "pm_card_visa")))(t); got != first {
		t.Fatalf("forced status on a repeat: %+v", got)
	}
	// Nor to a capture.
	if got := must(p.Capture(ctx, first.ID, "c1"))(t); got.Status != settlement.PaymentSucceeded {
		t.Fatalf("forced status on capture: %+v", got)
	}
	p.Script(func(testpay.Op, string, settlement.PaymentRequest) testpay.Outcome {
		return testpay.Outcome{Status: "bogus"}
	})
	if _, err := p.Authorize(ctx, req("o2", "pm_card_visa")); !errors.Is(err, settlement.ErrInvalid) || p.Intents("o2") != 0 {
		t.Fatalf("a bogus scripted status: %v", err)
	}
}

func TestSetStatus(t *testing.T) {
	t.Parallel()
	p := testpay.New()
	p.Script(func(testpay.Op, string, settlement.PaymentRequest) testpay.Outcome {
		return testpay.Outcome{Status: settlement.PaymentProcessing}
	})
	late := must(p.Authorize(ctx, req("o1", "pm_card_visa")))(t)
	failing := must(p.Authorize(ctx, req("o2", "pm_card_visa")))(t)
	p.Script(nil)
	action := must(p.Authorize(ctx, req("o3", "pm_card_threeDSecure2Required")))(t)
	expiring := must(p.Authorize(ctx, req("o4", "pm_card_visa")))(t)
	calls := p.Calls()

	for _, c := range []struct {
		id     string
		to     settlement.PaymentStatus
		stripe string
		reason string
	}{
		{late.ID, settlement.PaymentAuthorized, "requires_capture", ""},
		{failing.ID, settlement.PaymentFailed, "requires_payment_method", "card_declined"},
		{failing.ID, settlement.PaymentFailed, "requires_payment_method", "card_declined"},
		{action.ID, settlement.PaymentAuthorized, "requires_capture", ""},
		{expiring.ID, settlement.PaymentFailed, "canceled", "canceled"},
	} {
		if err := p.SetStatus(c.id, c.to); err != nil {
			t.Fatalf("%s to %s: %v", c.id, c.to, err)
		}
		if in, _ := p.Get(c.id); in.Status != c.stripe || in.FailureReason != c.reason {
			t.Fatalf("%s to %s: %+v", c.id, c.to, in)
		}
	}
	must(p.Capture(ctx, late.ID, "c1"))(t)
	if _, err := p.Capture(ctx, expiring.ID, "c4"); !errors.Is(err, settlement.ErrNotCapturable) {
		t.Fatalf("capture an expired authorization: %v", err)
	}
	if got := must(p.Confirm(ctx, failing.ID, "pm_card_visa"))(t); got.Status != settlement.PaymentAuthorized {
		t.Fatalf("retry after a late decline: %+v", got)
	}
	for _, to := range []settlement.PaymentStatus{settlement.PaymentFailed, settlement.PaymentAuthorized} {
		if err := p.SetStatus(late.ID, to); !errors.Is(err, settlement.ErrConflict) || !p.Captured(late.ID) {
			t.Fatalf("a succeeded intent moved to %s: %v", to, err)
		}
	}
	for _, to := range []settlement.PaymentStatus{settlement.PaymentSucceeded, settlement.PaymentAuthorized} {
		if err := p.SetStatus(expiring.ID, to); !errors.Is(err, settlement.ErrConflict) || !p.Canceled(expiring.ID) {
			t.Fatalf("a canceled intent moved to %s: %v", to, err)
		}
	}
	if err := p.SetStatus(expiring.ID, settlement.PaymentFailed); err != nil {
		t.Fatalf("a canceled intent to failed, where it is: %v", err)
	}
	if err := p.SetStatus(late.ID, settlement.PaymentSucceeded); err != nil {
		t.Fatalf("to where it is: %v", err)
	}
	if err := p.SetStatus(late.ID, "bogus"); !errors.Is(err, settlement.ErrInvalid) {
		t.Fatal(err)
	}
	if err := p.SetStatus("pi_nope", settlement.PaymentFailed); !errors.Is(err, settlement.ErrNotFound) {
		t.Fatal(err)
	}
	if p.Calls() != calls+2 {
		t.Fatalf("SetStatus counted as calls: %d, want %d", p.Calls(), calls+2)
	}
}

func TestAll(t *testing.T) {
	t.Parallel()
	p := testpay.New()
	a := must(p.Authorize(ctx, req("o1", "pm_card_visa")))(t)
	b := must(p.Authorize(ctx, req("o2", "pm_card_insufficientFunds")))(t)
	c := must(p.Authorize(ctx, req("o3", "pm_card_visa")))(t)
	must(p.Capture(ctx, a.ID, "c1"))(t)
	if err := p.Refund(ctx, a.ID, "r1"); err != nil {
		t.Fatal(err)
	}
	must(p.Cancel(ctx, c.ID, "x3"))(t)
	_ = must(p.Authorize(ctx, req("o4", "tok_bogus")))(t)
	want := []testpay.Intent{
		{ID: a.ID, OrderID: "o1", Status: "succeeded", Amount: 4500, Currency: "EUR", Captured: 4500, Refunded: 4500},
		{ID: b.ID, OrderID: "o2", Status: "requires_payment_method", Amount: 4500, Currency: "EUR", FailureReason: "insufficient_funds"},
		{ID: c.ID, OrderID: "o3", Status: "canceled", Amount: 4500, Currency: "EUR", FailureReason: "canceled"},
	}
	if got := p.All(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("All:\n%+v\nwant\n%+v", got, want)
	}
	if _, ok := p.Get("pi_nope"); ok {
		t.Fatal("Get found an unknown intent")
	}
}

func TestConcurrentAuthorize(t *testing.T) {
	t.Parallel()
	p := testpay.New()
	// The script yields so that the racing calls overlap between the script and the lock.
	p.Script(func(testpay.Op, string, settlement.PaymentRequest) testpay.Outcome {
		runtime.Gosched()
		return testpay.Outcome{}
	})
	const n = 64
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			got, err := p.Authorize(ctx, req("o1", "pm_card_visa"))
			if err != nil {
				t.Error(err)
			}
			ids[i] = got.ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] || id == "" {
			t.Fatalf("one key, several intents: %v", ids)
		}
	}
	if p.Intents("o1") != 1 || len(p.All()) != 1 || p.CallsOf(testpay.OpAuthorize) != n {
		t.Fatalf("%d intents, %d calls", p.Intents("o1"), p.CallsOf(testpay.OpAuthorize))
	}
}

func TestConcurrentCaptureAndCancel(t *testing.T) {
	t.Parallel()
	p := testpay.New()
	var captures, cancels atomic.Int32
	for i := range 200 {
		pi := must(p.Authorize(ctx, req(fmt.Sprint("o", i), "pm_card_visa")))(t)
		var capErr, cancelErr error
		var wg sync.WaitGroup
		wg.Go(func() { _, capErr = p.Capture(ctx, pi.ID, "capture:"+pi.ID) })
		wg.Go(func() { _, cancelErr = p.Cancel(ctx, pi.ID, "cancel:"+pi.ID) })
		wg.Wait()
		switch {
		case capErr == nil && errors.Is(cancelErr, settlement.ErrConflict):
			captures.Add(1)
			if !p.Captured(pi.ID) || p.Canceled(pi.ID) {
				t.Fatalf("capture won but the intent is %s", stripeStatus(t, p, pi.ID))
			}
		case cancelErr == nil && errors.Is(capErr, settlement.ErrNotCapturable):
			cancels.Add(1)
			if p.Captured(pi.ID) || !p.Canceled(pi.ID) {
				t.Fatalf("cancel won but the intent is %s", stripeStatus(t, p, pi.ID))
			}
		default:
			t.Fatalf("capture %v, cancel %v: not exactly one winner", capErr, cancelErr)
		}
	}
	t.Logf("capture won %d times, cancel %d", captures.Load(), cancels.Load())
}

func TestConcurrentConfirm(t *testing.T) {
	t.Parallel()
	p := testpay.New()
	var notified atomic.Int32
	p.SetNotify(func(context.Context, string) { notified.Add(1) })
	pi := must(p.Authorize(ctx, req("o1", "")))(t)
	const n = 16
	var ok, conflicts atomic.Int32
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, err := p.Confirm(ctx, pi.ID, "pm_card_visa")
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, settlement.ErrConflict):
				conflicts.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 || conflicts.Load() != n-1 || notified.Load() != 1 {
		t.Fatalf("%d confirmed, %d conflicts, %d notified", ok.Load(), conflicts.Load(), notified.Load())
	}
}

func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func second[T any](_ T, err error) error { return err }
