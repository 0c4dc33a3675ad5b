package settlement_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/settlement/testpay"
)

// payMany checks out n orders of one unit from 8 goroutines with card and waits until each is paid.
func payMany(t *testing.T, f *fixture, n int, card string) []settlement.Order {
	t.Helper()
	out := make([]settlement.Order, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i] = f.checkout(t, fmt.Sprintf("payer%d", i), 1, card)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, o := range out {
		if out[i] = f.await(t, o.ID); out[i].Status != settlement.Paid {
			t.Fatalf("order %+v, want paid", out[i])
		}
	}
	return out
}

// awaitCancellation waits until the event's cancellation job finished and every refund it asked for is done.
func (f *fixture) awaitCancellation(t *testing.T, total int) settlement.Cancellation {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c := must(f.svc.Cancellation(context.Background(), f.event))(t)
		if !c.FinishedAt.IsZero() && c.Refunds.Done == c.Refunds.Total && c.Refunds.Total >= total {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("cancellation still %+v", c)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkCancelled checks what a cancelled event must look like once its job is done: every order settled and
// none paid, every refunded one captured and given back in full under its own key only, every failed one never
// captured, nothing sold or held, and no hold possible.
func (f *fixture) checkCancelled(t *testing.T, refundKeys *keyLog) {
	t.Helper()
	ctx := context.Background()
	f.mu.Lock()
	ids := append([]string(nil), f.orders...)
	f.mu.Unlock()
	for _, id := range ids {
		o := f.await(t, id)
		in, _ := f.pay.Get(o.PaymentIntent)
		switch o.Status {
		case settlement.Paid:
			t.Errorf("order %s still paid after the cancellation", id)
		case settlement.Refunded:
			if in.Captured != o.Total || in.Refunded != o.Total {
				t.Errorf("refunded order %s: intent %+v", id, in)
			}
		case settlement.Failed:
			if in.Captured != 0 {
				t.Errorf("failed order %s was captured: %+v", id, in)
			}
		}
	}
	if refundKeys != nil {
		for pi, keys := range refundKeys.all() {
			if len(keys) != 1 || keys[0] != settlement.RefundKey(pi) {
				t.Errorf("refunds of %s under keys %v, want only %s", pi, keys, settlement.RefundKey(pi))
			}
		}
	}
	if s := f.stats(t); s.Sold != 0 || s.Held != 0 {
		t.Errorf("stats %+v, want nothing sold or held", s)
	}
	if _, err := f.stock.Hold(ctx, inventory.HoldRequest{Event: f.event, Fan: "late",
		Items: []inventory.Item{{Section: "GA", Quantity: 1}}}); !errors.Is(err, inventory.ErrEventClosed) {
		t.Errorf("hold after the cancellation: %v, want ErrEventClosed", err)
	}
	f.checkMoney(t)
}

// keyLog records the distinct idempotency keys each PaymentIntent was refunded under.
type keyLog struct {
	mu   sync.Mutex
	keys map[string][]string
}

func (l *keyLog) add(pi, key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.keys == nil {
		l.keys = map[string][]string{}
	}
	for _, k := range l.keys[pi] {
		if k == key {
			return
		}
	}
	l.keys[pi] = append(l.keys[pi], key)
}

func (l *keyLog) all() map[string][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string][]string, len(l.keys))
	for k, v := range l.keys {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// loggingPay is the test provider with every refund's key logged.
type loggingPay struct {
	*testpay.Payments
	log *keyLog
}

func (p loggingPay) Refund(ctx context.Context, id, key string) error {
	p.log.add(id, key)
	return p.Payments.Refund(ctx, id, key)
}

// TestCancelEvent: a cancelled event refunds every paid order once, ends the live holds, fails the orders still
// waiting for their fans (their payments cancelled, never captured, even when a fan confirms afterwards), refuses
// new holds, and tells the progress; cancelling again changes nothing.
func TestCancelEvent(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{CancelEvery: 100 * time.Millisecond})
		ctx := context.Background()
		paid := payMany(t, f, 12, "pm_card_visa")
		f.booking(t, paid[0].ID)
		held := f.hold(t, "browsing", 2)
		waiting := f.checkout(t, "confirming", 1, "") // the fan confirms in the page
		threeDS := f.checkout(t, "authenticating", 1, "pm_card_threeDSecure2Required")
		for _, o := range []settlement.Order{waiting, threeDS} {
			f.awaitStatus(t, o.ID, settlement.RequiresAction)
		}
		if c := must(f.svc.Cancellation(ctx, f.event))(t); !c.CancelledAt.IsZero() || c.Refunds != (settlement.RefundProgress{}) {
			t.Fatalf("before: %+v", c)
		}

		first := must(f.svc.CancelEvent(ctx, f.event))(t)
		if first.CancelledAt.IsZero() || first.Refunds.Total != len(paid) {
			t.Fatalf("cancel = %+v, want %d refunds to do", first, len(paid))
		}
		c := f.awaitCancellation(t, len(paid))
		if c.Refunds != (settlement.RefundProgress{Total: 12, Done: 12}) || c.HoldsClosedAt.IsZero() {
			t.Fatalf("cancellation %+v", c)
		}
		for _, o := range paid {
			got := f.awaitStatus(t, o.ID, settlement.Refunded)
			if got.RefundReason != settlement.ReasonEventCancelled {
				t.Fatalf("refunded %+v, want reason %s", got, settlement.ReasonEventCancelled)
			}
		}
		for _, o := range []settlement.Order{waiting, threeDS} {
			got := f.awaitStatus(t, o.ID, settlement.Failed)
			if got.FailureReason != settlement.ReasonEventCancelled || !f.pay.Canceled(got.PaymentIntent) {
				t.Fatalf("order waiting for its fan: %+v, want failed event-cancelled with its payment canceled", got)
			}
		}
		if st := f.holdState(t, held.ID); st != inventory.Released {
			t.Fatalf("live hold %s, want released", st)
		}
		// A fan who confirms now authorizes nothing.
		if p, err := f.pay.Confirm(ctx, must(f.ledger.Order(ctx, waiting.ID))(t).PaymentIntent, "pm_card_visa"); err == nil && p.Status == settlement.PaymentAuthorized {
			t.Fatalf("a late confirmation authorized %+v", p)
		}
		var refunded int
		for range len(paid) + 1 {
			select {
			case ev := <-f.bookings:
				if ev.Type == settlement.TopicBookingRefunded {
					refunded++
					if ev.Reason != settlement.ReasonEventCancelled || ev.Fan == "" || ev.Event != f.event {
						t.Fatalf("booking event %+v", ev)
					}
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%d booking.refunded events", refunded)
			}
		}

		again := must(f.svc.CancelEvent(ctx, f.event))(t)
		if !again.CancelledAt.Equal(first.CancelledAt) || again.Refunds != c.Refunds {
			t.Fatalf("cancel again = %+v, want %+v", again, c)
		}
		if v := f.counter(t, "onsale_settlement_refunds_total", nil); v != float64(len(paid)) {
			t.Fatalf("refunds_total = %v", v)
		}
		if _, err := f.svc.CancelEvent(ctx, "no-such-event"); !errors.Is(err, settlement.ErrNotFound) {
			t.Fatalf("cancel an unknown event: %v", err)
		}
		f.checkCancelled(t, nil)
	})
}

// TestCancellationResumesAfterCrash: the process dies in the middle of a cancellation (before the holds are
// closed, and after the first batch of refunds was asked for); a new one resumes the job where it stopped and
// refunds every paid order exactly once, each under its own key.
func TestCancellationResumesAfterCrash(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		for _, tc := range []struct {
			step string
			nth  int32
		}{{"holds", 1}, {"refunds", 2}} {
			t.Run(tc.step, func(t *testing.T) {
				f := setup(t, b, settlement.Options{CancelEvery: 100 * time.Millisecond})
				ctx := context.Background()
				n := 300 // more than one batch of refund requests
				if tc.step == "holds" {
					n = 20
				}
				paid := payMany(t, f, n, "pm_card_visa")
				f.hold(t, "browsing", 1)
				f.stop()

				log := &keyLog{}
				pay := loggingPay{f.pay, log}
				var kill context.CancelFunc
				var calls atomic.Int32
				opts := f.opts
				opts.CancelHook = func(_ context.Context, step, _ string) error {
					if step == tc.step && calls.Add(1) == tc.nth {
						kill()
						return errKilled
					}
					return nil
				}
				svc := settlement.New(f.ledger, f.bus, pay, f.stock, opts)
				runCtx, cancel := context.WithCancel(context.Background())
				kill = cancel
				done := make(chan struct{})
				go func() { defer close(done); _ = svc.Run(runCtx) }()
				if _, err := svc.CancelEvent(ctx, f.event); err != nil {
					t.Fatal(err)
				}
				select {
				case <-done:
				case <-time.After(30 * time.Second):
					t.Fatal("the job never reached the crash")
				}
				mid := must(f.ledger.Cancellation(ctx, f.event))(t)
				if mid.CancelledAt.IsZero() || !mid.FinishedAt.IsZero() {
					t.Fatalf("after the crash: %+v", mid)
				}
				if tc.step == "holds" && !mid.HoldsClosedAt.IsZero() {
					t.Fatalf("holds closed before the crash: %+v", mid)
				}

				restart := settlement.New(f.ledger, f.bus, pay, f.stock, f.opts)
				rctx, rcancel := context.WithCancel(context.Background())
				rdone := make(chan struct{})
				go func() { defer close(rdone); _ = restart.Run(rctx) }()
				t.Cleanup(func() { rcancel(); <-rdone })
				f.svc = restart
				c := f.awaitCancellation(t, n)
				if c.Refunds != (settlement.RefundProgress{Total: n, Done: n}) {
					t.Fatalf("cancellation %+v", c)
				}
				for _, o := range paid {
					f.awaitStatus(t, o.ID, settlement.Refunded)
				}
				if got := len(log.all()); got != n {
					t.Fatalf("%d payments refunded, want %d", got, n)
				}
				f.checkCancelled(t, log)
			})
		}
	})
}

// TestCancellationCountsFailedRefunds: refunds that fail are retried and shown as failed until they succeed,
// never dropped.
func TestCancellationCountsFailedRefunds(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{StallAfter: 200 * time.Millisecond, CancelEvery: 50 * time.Millisecond,
			MaxAttempts: 2})
		ctx := context.Background()
		paid := payMany(t, f, 6, "pm_card_visa")
		var failing atomic.Bool
		failing.Store(true)
		outage := errors.New("provider outage")
		f.pay.Script(func(op testpay.Op, id string, _ settlement.PaymentRequest) testpay.Outcome {
			if op == testpay.OpRefund && failing.Load() && (id == paid[0].PaymentIntent || id == paid[1].PaymentIntent) {
				return testpay.Outcome{Err: outage}
			}
			return testpay.Outcome{}
		})
		must(f.svc.CancelEvent(ctx, f.event))(t)
		deadline := time.Now().Add(30 * time.Second)
		for {
			c := must(f.svc.Cancellation(ctx, f.event))(t)
			if c.Refunds.Done == 4 && c.Refunds.Failed == 2 && c.Refunds.Total == 6 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cancellation %+v, want 4 done and 2 failed of 6", c)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if v := f.counter(t, "onsale_settlement_refund_failures_total", nil); v < 2 {
			t.Fatalf("refund_failures_total = %v", v)
		}
		if o := must(f.ledger.Order(ctx, paid[0].ID))(t); o.Status != settlement.Paid || o.RefundFailures == 0 || o.RefundError == "" {
			t.Fatalf("failing refund's order %+v", o)
		}
		failing.Store(false) // the provider is back: the poller's retries go through
		c := f.awaitCancellation(t, 6)
		if c.Refunds != (settlement.RefundProgress{Total: 6, Done: 6}) {
			t.Fatalf("cancellation %+v", c)
		}
		f.checkCancelled(t, nil)
	})
}

// TestCancelDuringSale: the event is cancelled while fans hold, check out, confirm in the page and authenticate.
// Whatever the interleaving, once the job is done no order is paid, no money is kept, nothing is sold or held,
// and every refund the job asked for is done.
func TestCancelDuringSale(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{StallAfter: 300 * time.Millisecond, CancelEvery: 50 * time.Millisecond})
		ctx := context.Background()
		cards := []string{"pm_card_visa", "", "pm_card_threeDSecure2Required", "pm_card_chargeDeclined"}
		var wg sync.WaitGroup
		var cancelled atomic.Bool
		var made atomic.Int32
		for g := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 60; i++ {
					fan := fmt.Sprintf("f%d-%d", g, i)
					h, err := f.stock.Hold(ctx, inventory.HoldRequest{Event: f.event, Fan: fan,
						Items: []inventory.Item{{Section: "GA", Quantity: 1 + i%2}}})
					if errors.Is(err, inventory.ErrEventClosed) && cancelled.Load() {
						return
					}
					if err != nil {
						t.Errorf("hold: %v", err)
						return
					}
					card := cards[(g+i)%len(cards)]
					o, err := f.svc.Checkout(ctx, settlement.CheckoutRequest{HoldID: h.ID, Fan: fan, PaymentMethod: card})
					if errors.Is(err, inventory.ErrHoldExpired) && cancelled.Load() {
						continue // the cancellation ended the hold first
					}
					if err != nil {
						t.Errorf("checkout: %v", err)
						continue
					}
					f.mu.Lock()
					f.orders = append(f.orders, o.ID)
					f.mu.Unlock()
					if made.Add(1) == 60 {
						go func() {
							cancelled.Store(true)
							if _, err := f.svc.CancelEvent(ctx, f.event); err != nil {
								t.Error(err)
							}
						}()
					}
					// The fan acts in the page as soon as the order asks for it.
					for range 200 {
						got := must(f.ledger.Order(ctx, o.ID))(t)
						if got.Status == settlement.RequiresAction && got.PaymentIntent != "" {
							if card == "" {
								_, _ = f.pay.Confirm(ctx, got.PaymentIntent, "pm_card_visa")
							} else {
								_, _ = f.pay.Authenticate(ctx, got.PaymentIntent, i%3 != 0)
							}
							break
						}
						if got.Status.Terminal() {
							break
						}
						time.Sleep(2 * time.Millisecond)
					}
				}
			}()
		}
		wg.Wait()
		if !cancelled.Load() {
			t.Fatalf("only %d orders: the cancellation never started", made.Load())
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			c := must(f.svc.Cancellation(ctx, f.event))(t)
			if !c.FinishedAt.IsZero() && c.Refunds.Done == c.Refunds.Total {
				t.Logf("%d orders, cancellation %+v", made.Load(), c)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cancellation %+v", c)
			}
			time.Sleep(20 * time.Millisecond)
		}
		f.checkCancelled(t, nil)
	})
}
