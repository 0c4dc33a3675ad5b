package settlement_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/settlement/testpay"
)

// TestOrganizerRefund: an organizer refunds a paid order: the money goes back once however often it is asked
// (concurrently too), the units are buyable again, the fan may buy again, and a booking.refunded event goes out.
// An order that was never paid cannot be refunded.
func TestOrganizerRefund(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{})
		ctx := context.Background()
		o := f.checkout(t, "rita", 3, "pm_card_visa")
		paid := f.await(t, o.ID)
		if paid.Status != settlement.Paid {
			t.Fatalf("order %+v", paid)
		}
		f.booking(t, o.ID)
		var wg sync.WaitGroup
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if got, err := f.svc.RequestRefund(ctx, o.ID); err != nil || (got.Status != settlement.Paid && got.Status != settlement.Refunded) {
					t.Errorf("refund: %+v %v", got, err)
				}
			}()
		}
		wg.Wait()
		done := f.awaitStatus(t, o.ID, settlement.Refunded)
		if !f.pay.Refunded(done.PaymentIntent) || f.pay.CallsOf(testpay.OpRefund) < 1 {
			t.Fatalf("payment %s not refunded", done.PaymentIntent)
		}
		if in, _ := f.pay.Get(done.PaymentIntent); in.Refunded != in.Amount || in.Amount != 3*4500 {
			t.Fatalf("intent %+v: want the full amount back once", in)
		}
		if st := f.holdState(t, o.HoldID); st != inventory.Released {
			t.Fatalf("hold %s, want released (returned)", st)
		}
		if s := f.stats(t); s.Sold != 0 || s.Available != 10_000 {
			t.Fatalf("stats %+v, want everything on sale again", s)
		}
		if ev := f.booking(t, o.ID); ev.Type != settlement.TopicBookingRefunded {
			t.Fatalf("booking event %+v", ev)
		}
		if again, err := f.svc.RequestRefund(ctx, o.ID); err != nil || again.Status != settlement.Refunded {
			t.Fatalf("refund again: %+v %v", again, err)
		}
		if v := f.counter(t, "onsale_settlement_refunds_total", nil); v != 1 {
			t.Fatalf("refunds_total = %v", v)
		}
		// The fan's limit counts the refunded units no more.
		f.hold(t, "rita", 3)

		declined := f.checkout(t, "rita", 1, "pm_card_chargeDeclined")
		f.await(t, declined.ID)
		if _, err := f.svc.RequestRefund(ctx, declined.ID); !errors.Is(err, settlement.ErrConflict) {
			t.Fatalf("refund a failed order: %v, want ErrConflict", err)
		}
		if _, err := f.svc.RequestRefund(ctx, "ord_nope"); !errors.Is(err, settlement.ErrNotFound) {
			t.Fatalf("refund an unknown order: %v, want ErrNotFound", err)
		}
		f.checkMoney(t)
	})
}

// TestRefundResumesAfterCrash: the worker dies after the money went back (the answer lost), and again after the
// seats went back; another worker finishes the refund from the ledger, refunding once.
func TestRefundResumesAfterCrash(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		for _, step := range []string{"after-refund", "after-return"} {
			t.Run(step, func(t *testing.T) {
				f := setup(t, b, settlement.Options{StallAfter: 300 * time.Millisecond})
				ctx := context.Background()
				o := f.checkout(t, "sam", 2, "pm_card_visa")
				f.await(t, o.ID)
				f.stop()
				var kill context.CancelFunc
				var once sync.Once
				var dead atomic.Bool
				f.pay.Script(func(op testpay.Op, _ string, _ settlement.PaymentRequest) testpay.Outcome {
					switch {
					case dead.Load():
						return testpay.Outcome{Err: errKilled}
					case step == "after-refund" && op == testpay.OpRefund:
						out := testpay.Outcome{}
						once.Do(func() { kill(); dead.Store(true); out.ErrAfter = errKilled })
						return out
					}
					return testpay.Outcome{}
				})
				stock := &returnKiller{Stock: f.stock, armed: step == "after-return", kill: func() {
					once.Do(func() { kill(); dead.Store(true) })
				}}
				var done <-chan struct{}
				f.svc, kill, done = f.run(f.opts, stock)
				if _, err := f.svc.RequestRefund(ctx, o.ID); err != nil {
					t.Fatal(err)
				}
				select {
				case <-done:
				case <-time.After(30 * time.Second):
					t.Fatal("the worker was never killed")
				}
				if got := must(f.ledger.Order(ctx, o.ID))(t); got.Status != settlement.Paid || !got.RefundRequested {
					t.Fatalf("before the restart: %+v", got)
				}
				dead.Store(false)
				f.svc, _ = f.startStoppable(t, f.opts, f.stock)
				got := f.awaitStatus(t, o.ID, settlement.Refunded)
				if in, _ := f.pay.Get(got.PaymentIntent); in.Refunded != in.Amount {
					t.Fatalf("intent %+v", in)
				}
				if s := f.stats(t); s.Sold != 0 || s.Held != 0 {
					t.Fatalf("stats %+v", s)
				}
				f.checkMoney(t)
			})
		}
	})
}

// returnKiller returns the first hold for real, then kills the worker before the ledger hears of it.
type returnKiller struct {
	settlement.Stock
	kill  func()
	armed bool
}

func (s *returnKiller) Return(ctx context.Context, id string) (inventory.Hold, error) {
	h, err := s.Stock.Return(ctx, id)
	if err == nil && s.armed {
		s.kill()
		return inventory.Hold{}, errKilled
	}
	return h, err
}

// TestRefundAtTheProvider: the money is given back at Stripe's dashboard; the charge.refunded webhook ends the
// order refunded and puts its seats back on sale.
func TestRefundAtTheProvider(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{})
		ctx := context.Background()
		o := f.await(t, f.checkout(t, "tom", 1, "pm_card_visa").ID)
		if err := f.pay.Refund(ctx, o.PaymentIntent, "dashboard-"+o.ID); err != nil {
			t.Fatal(err)
		}
		payload := fmt.Appendf(nil, `{"id":"evt_r%s","object":"event","type":"charge.refunded","api_version":"2020-08-27",
			"data":{"object":{"id":"ch_1","object":"charge","payment_intent":%q,"refunded":true}}}`, o.ID, o.PaymentIntent)
		sig := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: time.Now()}).Header
		if err := f.svc.HandleWebhook(ctx, payload, sig); err != nil {
			t.Fatal(err)
		}
		f.awaitStatus(t, o.ID, settlement.Refunded)
		if s := f.stats(t); s.Sold != 0 {
			t.Fatalf("stats %+v", s)
		}
		f.checkMoney(t)
	})
}
