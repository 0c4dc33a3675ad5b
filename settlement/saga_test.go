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

// each runs a saga test on every backend, in parallel.
func each(t *testing.T, test func(t *testing.T, b backend)) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			test(t, b)
		})
	}
}

func TestHappyPath(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{})
		o := f.checkout(t, "alice", 2, "pm_card_visa")
		done := f.await(t, o.ID)
		if done.Status != settlement.Paid || done.PaymentIntent == "" {
			t.Fatalf("order = %+v, want paid with a payment intent", done)
		}
		if st := f.holdState(t, o.HoldID); st != inventory.Confirmed {
			t.Fatalf("hold %s, want confirmed", st)
		}
		if s := f.stats(t); s.Sold != 2 || s.Held != 0 {
			t.Fatalf("stats %+v, want 2 sold", s)
		}
		if n := f.pay.Intents(o.ID); n != 1 {
			t.Fatalf("%d payment intents, want 1", n)
		}
		ev := f.booking(t, o.ID)
		if ev.Type != settlement.TopicBookingConfirmed || ev.Total != 9000 || ev.Fan != "alice" {
			t.Fatalf("booking event %+v", ev)
		}
		// The same checkout again is the same order; another payment method is a conflict.
		again, err := f.svc.Checkout(context.Background(), settlement.CheckoutRequest{HoldID: o.HoldID, Fan: "alice", PaymentMethod: "pm_card_visa"})
		if err != nil || again.ID != o.ID {
			t.Fatalf("repeat checkout = %v, %v; want order %s", again.ID, err, o.ID)
		}
		_, err = f.svc.Checkout(context.Background(), settlement.CheckoutRequest{HoldID: o.HoldID, Fan: "alice", PaymentMethod: "pm_card_mastercard"})
		if !errors.Is(err, settlement.ErrIdempotencyReused) {
			t.Fatalf("checkout with another card: %v, want ErrIdempotencyReused", err)
		}
		if got := must(f.svc.Order(context.Background(), o.ID))(t); got.Status != settlement.Paid {
			t.Fatalf("Order = %+v", got)
		}
		if v := f.counter(t, "onsale_settlement_orders_total", map[string]string{"status": "paid"}); v != 1 {
			t.Fatalf("orders_total{paid} = %v", v)
		}
		if v := f.counter(t, "onsale_settlement_lag_seconds", nil); v != 1 {
			t.Fatalf("lag observations = %v", v)
		}
		if err := f.svc.Ready(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestDeclinedCards(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{})
		for _, card := range []string{"pm_card_chargeDeclined", "pm_card_insufficientFunds"} {
			o := f.checkout(t, "bob", 3, card)
			done := f.await(t, o.ID)
			if done.Status != settlement.Failed || done.FailureReason == "" {
				t.Fatalf("%s: order %+v, want failed with a reason", card, done)
			}
			if st := f.holdState(t, o.HoldID); st != inventory.Released {
				t.Fatalf("%s: hold %s, want released", card, st)
			}
			if ev := f.booking(t, o.ID); ev.Type != settlement.TopicBookingFailed {
				t.Fatalf("booking event %+v", ev)
			}
		}
		if s := f.stats(t); s.Sold != 0 || s.Held != 0 || s.Available != 10_000 {
			t.Fatalf("stats %+v, want everything available again", s)
		}
		if v := f.counter(t, "onsale_settlement_payments_total", map[string]string{"result": "failed"}); v != 2 {
			t.Fatalf("payments_total{failed} = %v", v)
		}
	})
}

func TestCheckoutRejects(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{})
		ctx := context.Background()
		h := f.hold(t, "carol", 1)
		for _, req := range []settlement.CheckoutRequest{
			{HoldID: "", Fan: "carol", PaymentMethod: "pm_card_visa"},
			{HoldID: h.ID, Fan: "carol", PaymentMethod: "pm card"},
			{HoldID: h.ID, Fan: "", PaymentMethod: "pm_card_visa"},
		} {
			if _, err := f.svc.Checkout(ctx, req); !errors.Is(err, settlement.ErrInvalid) {
				t.Errorf("%+v: %v, want ErrInvalid", req, err)
			}
		}
		if _, err := f.svc.Checkout(ctx, settlement.CheckoutRequest{HoldID: h.ID, Fan: "mallory", PaymentMethod: "pm_card_visa"}); !errors.Is(err, inventory.ErrNotFound) {
			t.Errorf("other fan's hold: %v, want not found", err)
		}
		if _, err := f.svc.Checkout(ctx, settlement.CheckoutRequest{HoldID: inventory.NewHoldID(f.event), Fan: "carol", PaymentMethod: "pm_card_visa"}); !errors.Is(err, inventory.ErrNotFound) {
			t.Errorf("unknown hold: %v, want not found", err)
		}
		if st := f.holdState(t, h.ID); st != inventory.Held {
			t.Fatalf("a rejected checkout changed the hold: %s", st)
		}
		// An idempotency key belongs to one checkout.
		o, err := f.svc.Checkout(ctx, settlement.CheckoutRequest{HoldID: h.ID, Fan: "carol", PaymentMethod: "pm_card_visa", IdempotencyKey: "k1"})
		if err != nil {
			t.Fatal(err)
		}
		h2 := f.hold(t, "carol", 1)
		if _, err := f.svc.Checkout(ctx, settlement.CheckoutRequest{HoldID: h2.ID, Fan: "carol", PaymentMethod: "pm_card_visa", IdempotencyKey: "k1"}); !errors.Is(err, settlement.ErrIdempotencyReused) {
			t.Errorf("reused key: %v, want ErrIdempotencyReused", err)
		}
		// Refused before the inventory: the other hold is still the fan's to check out.
		if st := f.holdState(t, h2.ID); st != inventory.Held {
			t.Errorf("hold of the refused checkout is %s, want held", st)
		}
		// The same request again is a retry and gets the same order; another fan's identical key is theirs.
		if again, err := f.svc.Checkout(ctx, settlement.CheckoutRequest{HoldID: h.ID, Fan: "carol", PaymentMethod: "pm_card_visa", IdempotencyKey: "k1"}); err != nil || again.ID != o.ID {
			t.Errorf("retry with the key: %+v %v, want order %s", again, err, o.ID)
		}
		hd := f.hold(t, "dave", 1)
		if od, err := f.svc.Checkout(ctx, settlement.CheckoutRequest{HoldID: hd.ID, Fan: "dave", PaymentMethod: "pm_card_visa", IdempotencyKey: "k1"}); err != nil || od.ID == o.ID {
			t.Errorf("another fan's key: %+v %v", od, err)
		} else {
			f.await(t, od.ID)
		}
		if o2, err := f.svc.Checkout(ctx, settlement.CheckoutRequest{HoldID: h2.ID, Fan: "carol", PaymentMethod: "pm_card_visa", IdempotencyKey: "k2"}); err != nil {
			t.Errorf("the kept hold with a fresh key: %v", err)
		} else {
			f.await(t, o2.ID)
		}
		f.await(t, o.ID)
		// An expired hold cannot be checked out.
		h3 := f.hold(t, "carol", 1)
		f.clock.Advance(11 * time.Minute)
		if _, err := f.svc.Checkout(ctx, settlement.CheckoutRequest{HoldID: h3.ID, Fan: "carol", PaymentMethod: "pm_card_visa"}); !errors.Is(err, inventory.ErrHoldExpired) {
			t.Errorf("expired hold: %v, want ErrHoldExpired", err)
		}
		if _, err := f.svc.Order(ctx, "ord_nope"); !errors.Is(err, settlement.ErrNotFound) {
			t.Errorf("unknown order: %v", err)
		}
	})
}

func TestDuplicateMessage(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		// No relay: the test publishes the payment request itself, twice with one id, then once more with another.
		f := setup(t, b, settlement.Options{DisableRelay: true, StallAfter: time.Hour})
		o := f.checkout(t, "dave", 1, "pm_card_visa")
		ctx := context.Background()
		dup := paymentMessage("dup-"+o.ID, o.ID)
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if ids, err := f.bus.Publish(ctx, []settlement.Message{dup}); err != nil || len(ids) != 1 {
					t.Errorf("publish: %v %v", ids, err)
				}
			}()
		}
		wg.Wait()
		if done := f.await(t, o.ID); done.Status != settlement.Paid {
			t.Fatalf("order %+v", done)
		}
		if _, err := f.bus.Publish(ctx, []settlement.Message{paymentMessage("late-"+o.ID, o.ID)}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for ok := false; !ok; {
			ok = must(f.ledger.Processed(ctx, "late-"+o.ID))(t)
			if time.Now().After(deadline) {
				t.Fatal("late duplicate never processed")
			}
			time.Sleep(5 * time.Millisecond)
		}
		if !must(f.ledger.Processed(ctx, dup.ID))(t) {
			t.Fatal("message id not recorded as processed")
		}
		if n := f.pay.Intents(o.ID); n != 1 {
			t.Fatalf("%d payment intents, want 1", n)
		}
		if s := f.stats(t); s.Sold != 1 {
			t.Fatalf("stats %+v", s)
		}
	})
}

func TestHoldExpiredBeforePaymentFailsWithoutCharge(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{DisableRelay: true, StallAfter: time.Hour})
		o := f.checkout(t, "erin", 1, "pm_card_visa")
		f.clock.Advance(16 * time.Minute) // past the checkout deadline
		if _, err := f.bus.Publish(context.Background(), []settlement.Message{paymentMessage("m-"+o.ID, o.ID)}); err != nil {
			t.Fatal(err)
		}
		done := f.await(t, o.ID)
		if done.Status != settlement.Failed || f.pay.Intents(o.ID) != 0 {
			t.Fatalf("order %+v with %d intents, want failed and never charged", done, f.pay.Intents(o.ID))
		}
	})
}

// TestLateAuthorizationIsCancelled: the money is authorized only after the hold ended (the card took longer
// than the checkout deadline). Nothing is captured: the authorization is released and the order fails.
func TestLateAuthorizationIsCancelled(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{})
		onAuthorize(f.pay, func(settlement.PaymentRequest) testpay.Outcome {
			f.clock.Advance(16 * time.Minute)
			return testpay.Outcome{}
		})
		o := f.checkout(t, "frank", 2, "pm_card_visa")
		done := f.await(t, o.ID)
		if done.Status != settlement.Failed || done.FailureReason != settlement.ReasonHoldExpired || done.PaymentIntent == "" {
			t.Fatalf("order %+v, want failed with hold-expired", done)
		}
		if !f.pay.Canceled(done.PaymentIntent) || f.pay.Captured(done.PaymentIntent) || f.pay.Refunded(done.PaymentIntent) {
			t.Fatalf("payment %s: canceled %v captured %v refunded %v; want only canceled", done.PaymentIntent,
				f.pay.Canceled(done.PaymentIntent), f.pay.Captured(done.PaymentIntent), f.pay.Refunded(done.PaymentIntent))
		}
		if st := f.holdState(t, o.HoldID); st != inventory.Expired && st != inventory.Released {
			t.Fatalf("hold %s, want ended", st)
		}
		if s := f.stats(t); s.Sold != 0 {
			t.Fatalf("stats %+v: nothing may be sold", s)
		}
		if ev := f.booking(t, o.ID); ev.Type != settlement.TopicBookingFailed || ev.Reason != settlement.ReasonHoldExpired {
			t.Fatalf("booking event %+v", ev)
		}
		if v := f.counter(t, "onsale_settlement_late_authorizations_total", nil); v != 1 {
			t.Fatalf("late_authorizations_total = %v", v)
		}
		if v := f.counter(t, "onsale_settlement_refunds_total", nil); v != 0 {
			t.Fatalf("refunds_total = %v, want no refund (no money moved)", v)
		}
		f.checkMoney(t)
	})
}

// TestCapturedAfterHoldExpiryIsRefunded: a payment already captured (as an automatic-capture intent would be)
// whose hold ended first is given back.
func TestCapturedAfterHoldExpiryIsRefunded(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{})
		onAuthorize(f.pay, func(settlement.PaymentRequest) testpay.Outcome {
			f.clock.Advance(16 * time.Minute)
			return testpay.Outcome{Status: settlement.PaymentSucceeded}
		})
		o := f.checkout(t, "frank", 2, "pm_card_visa")
		done := f.await(t, o.ID)
		if done.Status != settlement.Refunded || !f.pay.Refunded(done.PaymentIntent) {
			t.Fatalf("order %+v, want refunded", done)
		}
		if s := f.stats(t); s.Sold != 0 {
			t.Fatalf("stats %+v: nothing may be sold", s)
		}
		if ev := f.booking(t, o.ID); ev.Type != settlement.TopicBookingRefunded {
			t.Fatalf("booking event %+v", ev)
		}
		if v := f.counter(t, "onsale_settlement_refunds_total", nil); v != 1 {
			t.Fatalf("refunds_total = %v", v)
		}
	})
}

func TestTransientFailuresRetryThenPark(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{MaxAttempts: 3, StallAfter: time.Hour})
		var mu sync.Mutex
		calls := map[string]int{}
		onAuthorize(f.pay, func(r settlement.PaymentRequest) testpay.Outcome {
			mu.Lock()
			defer mu.Unlock()
			calls[r.OrderID]++
			if r.PaymentMethod == "pm_card_mastercard" || calls[r.OrderID] <= 2 {
				return testpay.Outcome{Err: testpay.ErrUnavailable}
			}
			return testpay.Outcome{}
		})
		// Two outages, then success on the third attempt (through the retry queue).
		o := f.checkout(t, "gina", 1, "pm_card_visa")
		if done := f.await(t, o.ID); done.Status != settlement.Paid {
			t.Fatalf("order %+v", done)
		}
		// A provider that never answers: parked after the last attempt, the order left for the poller.
		stuck := f.checkout(t, "gina", 1, "pm_card_mastercard")
		ctx := context.Background()
		deadline := time.Now().Add(20 * time.Second)
		for {
			n, err := f.parked(ctx, "payments")
			if err != nil {
				t.Fatal(err)
			}
			if n == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d parked, want 1", n)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if v := f.counter(t, "onsale_settlement_dead_letters_total", nil); v != 1 {
			t.Fatalf("dead_letters_total = %v", v)
		}
		if got := must(f.ledger.Order(ctx, stuck.ID))(t); got.Status != settlement.Paying {
			t.Fatalf("stuck order %s", got.Status)
		}
		mu.Lock()
		n := calls[stuck.ID]
		mu.Unlock()
		if n != 3 {
			t.Fatalf("%d attempts, want 3", n)
		}
	})
}

func TestUnreadableMessageIsParked(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{})
		ctx := context.Background()
		if _, err := f.bus.Publish(ctx, []settlement.Message{{ID: "junk", Topic: settlement.TopicPaymentRequested, Body: []byte(`{"order_id":""}`)}}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for f.counter(t, "onsale_settlement_dead_letters_total", nil) < 1 {
			if time.Now().After(deadline) {
				t.Fatal("not parked")
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

func TestStalledOrderIsRedriven(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		lossy := &lossyBus{}
		lossy.drop.Store(1)
		wrapped := backend{name: b.name, new: func(t *testing.T, u func(testing.TB) string) (settlement.Ledger, settlement.Bus, parker) {
			l, bus, p := b.new(t, u)
			lossy.Bus = bus
			return l, lossy, p
		}}
		f := setup(t, wrapped, settlement.Options{StallAfter: 200 * time.Millisecond})
		o := f.checkout(t, "hank", 1, "pm_card_visa")
		done := f.await(t, o.ID)
		if done.Status != settlement.Paid || f.pay.Intents(o.ID) != 1 {
			t.Fatalf("order %+v, intents %d", done, f.pay.Intents(o.ID))
		}
		if done.Attempts < 1 {
			t.Fatalf("attempts %d: the poller should have re-driven it", done.Attempts)
		}
	})
}

// TestWorkerKilledBetweenSteps kills the worker at each step of the saga (before and after the PaymentIntent is
// created, after the seats are confirmed but before the capture, after the capture but before the ledger says
// paid) and starts another: each order ends paid, with exactly one PaymentIntent, captured once, and its seats
// sold once.
func TestWorkerKilledBetweenSteps(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		for _, step := range []string{"before-create", "after-create", "after-confirm", "after-capture"} {
			t.Run(step, func(t *testing.T) {
				f := setup(t, b, settlement.Options{StallAfter: 300 * time.Millisecond})
				f.stop() // the fixture's service; this test runs its own
				var kill context.CancelFunc
				var once sync.Once
				var dead atomic.Bool // the killed worker reaches the provider no more
				f.pay.Script(func(op testpay.Op, _ string, _ settlement.PaymentRequest) testpay.Outcome {
					out := testpay.Outcome{}
					switch {
					case dead.Load():
						out.Err = errKilled
					case step == "after-capture" && op == testpay.OpCapture:
						once.Do(func() { kill(); dead.Store(true); out.ErrAfter = errKilled })
					case (step == "before-create" || step == "after-create") && op == testpay.OpAuthorize:
						once.Do(func() {
							kill()
							if step == "before-create" {
								out.Err = errKilled
							} else {
								out.ErrAfter = errKilled
							}
						})
					}
					return out
				})
				stock := &killingStock{Stock: f.stock, kill: func() { once.Do(func() { kill() }) }, armed: step == "after-confirm"}
				var done <-chan struct{}
				f.svc, kill, done = f.run(f.opts, stock)
				o := f.checkout(t, "ivy", 1, "pm_card_visa")
				select {
				case <-done:
				case <-time.After(30 * time.Second):
					t.Fatal("the worker was never killed")
				}
				if got := must(f.ledger.Order(context.Background(), o.ID))(t); got.Status.Terminal() {
					t.Fatalf("order %s already %s before the restart", o.ID, got.Status)
				}
				dead.Store(false)
				f.svc, _ = f.startStoppable(t, f.opts, f.stock)
				done2 := f.await(t, o.ID)
				if done2.Status != settlement.Paid {
					t.Fatalf("order %+v", done2)
				}
				if n := f.pay.Intents(o.ID); n != 1 {
					t.Fatalf("%d payment intents, want 1", n)
				}
				if !f.pay.Captured(done2.PaymentIntent) {
					t.Fatalf("paid order's payment %s not captured", done2.PaymentIntent)
				}
				if s := f.stats(t); s.Sold != 1 || s.Held != 0 {
					t.Fatalf("stats %+v", s)
				}
				f.checkMoney(t)
			})
		}
	})
}

// killingStock confirms the first hold for real, then kills the worker before the ledger hears of it.
type killingStock struct {
	settlement.Stock
	kill  func()
	armed bool
}

func (s *killingStock) Confirm(ctx context.Context, id string) (inventory.Hold, error) {
	h, err := s.Stock.Confirm(ctx, id)
	if err == nil && s.armed {
		s.kill()
		return inventory.Hold{}, errKilled
	}
	return h, err
}

func TestReconcile(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{})
		paid := f.checkout(t, "jo", 2, "pm_card_visa")
		failed := f.checkout(t, "jo", 1, "pm_card_chargeDeclined")
		f.await(t, paid.ID)
		f.await(t, failed.ID)
		// One more in checkout, whose payment never finishes.
		onAuthorize(f.pay, func(settlement.PaymentRequest) testpay.Outcome {
			return testpay.Outcome{Status: settlement.PaymentProcessing}
		})
		pending := f.checkout(t, "jo", 3, "pm_card_visa")
		ctx := context.Background()
		// The inventory store lost everything.
		fresh := newMemstore()
		rep, err := f.svc.Reconcile(ctx, f.event, fresh)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.CreatedEvent || rep.Paid != 1 || rep.InCheckout != 1 || rep.Restored != 2 {
			t.Fatalf("report %+v", rep)
		}
		st, err := fresh.Stats(ctx, f.event)
		if err != nil {
			t.Fatal(err)
		}
		if tot := st.Totals(); tot.Sold != 2 || tot.Held != 3 || tot.Available != 10_000-5 {
			t.Fatalf("rebuilt stats %+v", tot)
		}
		h := must(fresh.Get(ctx, pending.HoldID))(t)
		if h.State != inventory.Checkout || h.Fan != "jo" {
			t.Fatalf("restored hold %+v", h)
		}
		// Again: nothing new.
		if rep, err := f.svc.Reconcile(ctx, f.event, fresh); err != nil || rep.Restored != 0 || rep.CreatedEvent {
			t.Fatalf("second reconcile %+v %v", rep, err)
		}
		if _, err := f.svc.Reconcile(ctx, "no-such-event", fresh); !errors.Is(err, settlement.ErrNotFound) {
			t.Fatalf("unknown event: %v", err)
		}
	})
}

func TestBurstOfCheckouts(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{Workers: 4})
		orders := burst(t, f, 200, nil)
		verifyBurst(t, f, orders)
	})
}

// burst checks out n orders from 8 goroutines, every fifth with a declined card; during calls between (after
// each 25 checkouts).
func burst(t *testing.T, f *fixture, n int, during func()) map[string]string {
	t.Helper()
	var mu sync.Mutex
	orders := map[string]string{} // order → card
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				card := "pm_card_visa"
				if i%5 == 0 {
					card = "pm_card_chargeDeclined"
				}
				h, err := f.stock.Hold(context.Background(), inventory.HoldRequest{Event: f.event, Fan: fmt.Sprintf("fan%d", i),
					Items: []inventory.Item{{Section: "GA", Quantity: 1}}})
				if err != nil {
					t.Error(err)
					continue
				}
				o, err := f.svc.Checkout(context.Background(), settlement.CheckoutRequest{HoldID: h.ID, Fan: h.Fan, PaymentMethod: card})
				if err != nil {
					t.Error(err)
					continue
				}
				mu.Lock()
				orders[o.ID] = card
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		if during != nil && i > 0 && i%25 == 0 {
			during()
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return orders
}

func verifyBurst(t *testing.T, f *fixture, orders map[string]string) {
	t.Helper()
	paid := 0
	for id, card := range orders {
		o := f.awaitFor(t, id, 60*time.Second)
		want := settlement.Paid
		if card != "pm_card_visa" {
			want = settlement.Failed
		}
		if o.Status != want {
			t.Errorf("order %s (%s) is %s, want %s", id, card, o.Status, want)
		}
		if n := f.pay.Intents(id); n != 1 {
			t.Errorf("order %s has %d payment intents, want 1", id, n)
		}
		if o.Status == settlement.Paid {
			paid++
		}
	}
	if s := f.stats(t); s.Sold != paid || s.Held != 0 {
		t.Fatalf("stats %+v, want %d sold and nothing held", s, paid)
	}
}
