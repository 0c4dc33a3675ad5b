package testpay_test

import (
	"context"
	"errors"
	"testing"

	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/settlement/testpay"
)

func req(order, method string) settlement.PaymentRequest {
	return settlement.PaymentRequest{OrderID: order, IdempotencyKey: "pi:" + order, Amount: 4500, Currency: "EUR", PaymentMethod: method}
}

func TestCards(t *testing.T) {
	t.Parallel()
	p := testpay.New()
	ctx := context.Background()
	for method, want := range map[string]settlement.PaymentStatus{
		"pm_card_visa":                   settlement.PaymentSucceeded,
		"pm_card_mastercard":             settlement.PaymentSucceeded,
		"pm_card_chargeDeclined":         settlement.PaymentFailed,
		"pm_card_insufficientFunds":      settlement.PaymentFailed,
		"pm_card_authenticationRequired": settlement.PaymentProcessing,
		"tok_bogus":                      settlement.PaymentFailed,
	} {
		got, err := p.Pay(ctx, req("o-"+method, method))
		if err != nil || got.Status != want {
			t.Errorf("%s: %+v %v, want %s", method, got, err, want)
		}
	}
}

func TestIdempotencyAndRefund(t *testing.T) {
	t.Parallel()
	p := testpay.New()
	ctx := context.Background()
	a := must(p.Pay(ctx, req("o1", "pm_card_visa")))(t)
	b := must(p.Pay(ctx, req("o1", "pm_card_visa")))(t)
	if a.ID != b.ID || p.Intents("o1") != 1 || p.Calls() != 2 {
		t.Fatalf("same key: %s %s, %d intents", a.ID, b.ID, p.Intents("o1"))
	}
	if _, err := p.Pay(ctx, req("o1", "pm_card_mastercard")); err == nil {
		t.Fatal("a key reused with other parameters passed")
	}
	if err := p.Refund(ctx, a.ID, "refund:"+a.ID); err != nil {
		t.Fatal(err)
	}
	if err := p.Refund(ctx, a.ID, "refund:"+a.ID); err != nil || !p.Refunded(a.ID) {
		t.Fatalf("repeated refund: %v", err)
	}
	if err := p.Refund(ctx, a.ID, "another"); err == nil {
		t.Fatal("refunded twice")
	}
	declined := must(p.Pay(ctx, req("o2", "pm_card_chargeDeclined")))(t)
	if err := p.Refund(ctx, declined.ID, "r2"); err == nil {
		t.Fatal("refunded a declined payment")
	}
	if _, err := p.Payment(ctx, "pi_nope"); !errors.Is(err, settlement.ErrNotFound) {
		t.Fatal(err)
	}
}

func TestScript(t *testing.T) {
	t.Parallel()
	p := testpay.New()
	ctx := context.Background()
	p.Script(func(settlement.PaymentRequest) testpay.Outcome { return testpay.Outcome{Err: testpay.ErrUnavailable} })
	if _, err := p.Pay(ctx, req("o1", "pm_card_visa")); !errors.Is(err, testpay.ErrUnavailable) || p.Intents("o1") != 0 {
		t.Fatalf("outage: %v, %d intents", err, p.Intents("o1"))
	}
	lost := errors.New("response lost")
	p.Script(func(settlement.PaymentRequest) testpay.Outcome { return testpay.Outcome{ErrAfter: lost} })
	if _, err := p.Pay(ctx, req("o1", "pm_card_visa")); !errors.Is(err, lost) || p.Intents("o1") != 1 {
		t.Fatalf("lost response: %v, %d intents", err, p.Intents("o1"))
	}
	p.Script(nil)
	got := must(p.Pay(ctx, req("o1", "pm_card_visa")))(t)
	if got.Status != settlement.PaymentSucceeded || p.Intents("o1") != 1 {
		t.Fatalf("retry after a lost response: %+v, %d intents", got, p.Intents("o1"))
	}
	if err := p.SetStatus(got.ID, settlement.PaymentFailed); err != nil {
		t.Fatal(err)
	}
	if again := must(p.Payment(ctx, got.ID))(t); again.Status != settlement.PaymentFailed {
		t.Fatal(again)
	}
	if _, err := p.Pay(ctx, settlement.PaymentRequest{OrderID: "x"}); !errors.Is(err, settlement.ErrInvalid) {
		t.Fatal(err)
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
