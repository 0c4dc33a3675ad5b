package settlement_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/settlement/testpay"
)

// awaitStatus waits until the order is in status st and returns it.
func (f *fixture) awaitStatus(t *testing.T, id string, st settlement.Status) settlement.Order {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		o := must(f.ledger.Order(context.Background(), id))(t)
		if o.Status == st {
			return o
		}
		ended := o.Status.Terminal() && !(o.Status == settlement.Paid && o.RefundRequested)
		if ended || time.Now().After(deadline) {
			t.Fatalf("order %s is %s, want %s: %+v", id, o.Status, st, o)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPayInThePage: checkout without a payment method waits for the fan's page, which confirms the payment
// with the client secret; the authorization then sells the seats and is captured.
func TestPayInThePage(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{})
		o := f.checkout(t, "amy", 2, "")
		w := f.awaitStatus(t, o.ID, settlement.RequiresAction)
		h := must(f.stock.Get(context.Background(), o.HoldID))(t)
		if w.PaymentIntent == "" || w.ClientSecret == "" || w.NextAction != nil || w.PayBy.Sub(h.ExpiresAt).Abs() > time.Millisecond {
			t.Fatalf("waiting order %+v (hold ends %s): want an intent, its client secret, no next action, pay_by at the hold's end", w, h.ExpiresAt)
		}
		if f.pay.Captured(w.PaymentIntent) {
			t.Fatal("captured before the fan confirmed")
		}
		if _, err := f.pay.Confirm(context.Background(), w.PaymentIntent, "pm_card_visa"); err != nil {
			t.Fatal(err)
		}
		done := f.await(t, o.ID)
		if done.Status != settlement.Paid || !f.pay.Captured(done.PaymentIntent) {
			t.Fatalf("order %+v, want paid and captured", done)
		}
		if s := f.stats(t); s.Sold != 2 || s.Held != 0 {
			t.Fatalf("stats %+v", s)
		}
		if n := f.pay.Intents(o.ID); n != 1 {
			t.Fatalf("%d intents", n)
		}
		f.checkMoney(t)
	})
}

// TestThreeDSecure: a card that needs authentication, confirmed by the server or in the page, waits for the
// fan's 3-D Secure step; passing it pays, failing it releases the seats and cancels the payment.
func TestThreeDSecure(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{})
		ctx := context.Background()
		for _, c := range []struct {
			name     string
			checkout string
			pass     bool
		}{
			{"server confirm, pass", "pm_card_threeDSecure2Required", true},
			{"server confirm, fail", "pm_card_authenticationRequired", false},
			{"page confirm, pass", "", true},
			{"page confirm, fail", "", false},
		} {
			o := f.checkout(t, "ben", 1, c.checkout)
			w := f.awaitStatus(t, o.ID, settlement.RequiresAction)
			if c.checkout == "" {
				if _, err := f.pay.Confirm(ctx, w.PaymentIntent, "pm_card_threeDSecure2Required"); err != nil {
					t.Fatal(err)
				}
				w = f.awaitStatus(t, o.ID, settlement.RequiresAction)
				for w.NextAction == nil {
					time.Sleep(5 * time.Millisecond)
					w = f.awaitStatus(t, o.ID, settlement.RequiresAction)
				}
			}
			if w.NextAction == nil || w.NextAction.Type != "redirect" || w.NextAction.URL == "" {
				t.Fatalf("%s: order %+v, want a redirect to authenticate", c.name, w)
			}
			if _, err := f.pay.Authenticate(ctx, w.PaymentIntent, c.pass); err != nil {
				t.Fatal(err)
			}
			done := f.await(t, o.ID)
			switch {
			case c.pass && (done.Status != settlement.Paid || !f.pay.Captured(done.PaymentIntent)):
				t.Fatalf("%s: order %+v, want paid and captured", c.name, done)
			case !c.pass && (done.Status != settlement.Failed || done.FailureReason != "payment_intent_authentication_failure" ||
				!f.pay.Canceled(done.PaymentIntent) || f.holdState(t, o.HoldID) != inventory.Released):
				t.Fatalf("%s: order %+v (hold %s), want failed, canceled and released", c.name, done, f.holdState(t, o.HoldID))
			}
		}
		if s := f.stats(t); s.Sold != 2 || s.Held != 0 {
			t.Fatalf("stats %+v, want the two that passed sold", s)
		}
		f.checkMoney(t)
	})
}

// TestDeclineInThePage: a declined card fails the order, and its payment is cancelled so that no later
// confirmation can authorize money for an order with no seats.
func TestDeclineInThePage(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{})
		ctx := context.Background()
		o := f.checkout(t, "cat", 1, "")
		w := f.awaitStatus(t, o.ID, settlement.RequiresAction)
		if _, err := f.pay.Confirm(ctx, w.PaymentIntent, "pm_card_chargeDeclined"); err != nil {
			t.Fatal(err)
		}
		done := f.await(t, o.ID)
		if done.Status != settlement.Failed || done.FailureReason != "card_declined" || f.holdState(t, o.HoldID) != inventory.Released {
			t.Fatalf("order %+v, want failed with card_declined and the hold released", done)
		}
		if _, err := f.pay.Confirm(ctx, w.PaymentIntent, "pm_card_visa"); err == nil {
			t.Fatal("a failed order's payment could still be confirmed")
		}
		if f.pay.Captured(w.PaymentIntent) {
			t.Fatal("captured")
		}
		f.checkMoney(t)
	})
}

// TestAuthenticationAfterHoldEnded: the fan passes 3-D Secure only after the checkout deadline. The
// authorization is cancelled, never captured, and the seats stay on sale.
func TestAuthenticationAfterHoldEnded(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{StallAfter: time.Hour})
		o := f.checkout(t, "dan", 2, "pm_card_threeDSecure2Required")
		w := f.awaitStatus(t, o.ID, settlement.RequiresAction)
		f.clock.Advance(16 * time.Minute)
		if _, err := f.pay.Authenticate(context.Background(), w.PaymentIntent, true); err != nil {
			t.Fatal(err)
		}
		done := f.await(t, o.ID)
		if done.Status != settlement.Failed || done.FailureReason != settlement.ReasonHoldExpired {
			t.Fatalf("order %+v, want failed with hold-expired", done)
		}
		if !f.pay.Canceled(w.PaymentIntent) || f.pay.Captured(w.PaymentIntent) || f.pay.Refunded(w.PaymentIntent) {
			t.Fatal("the late authorization must be cancelled, not captured or refunded")
		}
		if s := f.stats(t); s.Sold != 0 || s.Held != 0 {
			t.Fatalf("stats %+v", s)
		}
		f.checkMoney(t)
	})
}

// TestUnpaidOrderEndsAtTheDeadline: a fan who never confirms loses the hold at the checkout deadline, and the
// payment is cancelled then, so a confirmation after it authorizes nothing.
func TestUnpaidOrderEndsAtTheDeadline(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{StallAfter: 100 * time.Millisecond})
		o := f.checkout(t, "eve", 1, "")
		w := f.awaitStatus(t, o.ID, settlement.RequiresAction)
		f.clock.Advance(16 * time.Minute)
		done := f.await(t, o.ID)
		if done.Status != settlement.Failed || done.FailureReason != settlement.ReasonHoldExpired || !f.pay.Canceled(w.PaymentIntent) {
			t.Fatalf("order %+v (canceled %v), want failed with hold-expired and the payment cancelled", done, f.pay.Canceled(w.PaymentIntent))
		}
		if _, err := f.pay.Confirm(context.Background(), w.PaymentIntent, "pm_card_visa"); err == nil {
			t.Fatal("a cancelled payment could still be confirmed")
		}
		if s := f.stats(t); s.Sold != 0 || s.Held != 0 {
			t.Fatalf("stats %+v", s)
		}
		f.checkMoney(t)
	})
}

// TestLostNotification: nothing tells the saga that the fan authenticated (a lost webhook); the poller's
// re-read finds the authorization and the order is paid well before the deadline.
func TestLostNotification(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{StallAfter: 200 * time.Millisecond})
		f.pay.SetNotify(func(context.Context, string) {})
		o := f.checkout(t, "fay", 1, "pm_card_threeDSecure2Required")
		w := f.awaitStatus(t, o.ID, settlement.RequiresAction)
		if _, err := f.pay.Authenticate(context.Background(), w.PaymentIntent, true); err != nil {
			t.Fatal(err)
		}
		done := f.awaitFor(t, o.ID, 20*time.Second)
		if done.Status != settlement.Paid || !f.pay.Captured(done.PaymentIntent) {
			t.Fatalf("order %+v, want paid by the poller", done)
		}
		f.checkMoney(t)
	})
}

// TestCaptureFailureGivesSeatsBack: the capture fails for good after the seats were confirmed; they go back
// on sale and the order fails, with no money taken.
func TestCaptureFailureGivesSeatsBack(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{})
		f.pay.Script(func(op testpay.Op, _ string, _ settlement.PaymentRequest) testpay.Outcome {
			if op == testpay.OpCapture {
				return testpay.Outcome{Err: fmt.Errorf("authorization expired: %w", settlement.ErrNotCapturable)}
			}
			return testpay.Outcome{}
		})
		o := f.checkout(t, "gus", 3, "pm_card_visa")
		done := f.await(t, o.ID)
		if done.Status != settlement.Failed || done.FailureReason != settlement.ReasonCaptureFailed {
			t.Fatalf("order %+v, want failed with capture-failed", done)
		}
		if s := f.stats(t); s.Sold != 0 || s.Held != 0 || s.Available != 10_000 {
			t.Fatalf("stats %+v, want every unit back on sale", s)
		}
		if v := f.counter(t, "onsale_settlement_capture_failures_total", nil); v != 1 {
			t.Fatalf("capture_failures_total = %v", v)
		}
		if f.pay.Captured(done.PaymentIntent) {
			t.Fatal("captured")
		}
	})
}

// TestProviderOutageDuringCapture: captures fail with an unknown outcome for a while; the saga retries with
// the same key until one answers, and the money is captured once.
func TestProviderOutageDuringCapture(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{StallAfter: 200 * time.Millisecond})
		var fails atomic.Int32
		fails.Store(3)
		f.pay.Script(func(op testpay.Op, _ string, _ settlement.PaymentRequest) testpay.Outcome {
			if op == testpay.OpCapture && fails.Load() > 0 {
				if fails.Add(-1)%2 == 0 {
					return testpay.Outcome{ErrAfter: testpay.ErrUnavailable} // captured, answer lost
				}
				return testpay.Outcome{Err: testpay.ErrUnavailable}
			}
			return testpay.Outcome{}
		})
		o := f.checkout(t, "hal", 1, "pm_card_visa")
		done := f.awaitFor(t, o.ID, 30*time.Second)
		if done.Status != settlement.Paid || !f.pay.Captured(done.PaymentIntent) {
			t.Fatalf("order %+v", done)
		}
		if s := f.stats(t); s.Sold != 1 {
			t.Fatalf("stats %+v", s)
		}
		f.checkMoney(t)
	})
}
