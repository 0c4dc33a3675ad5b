package settlement_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/settlement/testpay"
)

// stripeEvent returns a signed Stripe event about a PaymentIntent, with an API version other than stripe-go's.
func stripeEvent(id, typ, pi, key string) ([]byte, string) {
	payload := fmt.Appendf(nil, `{"id":%q,"object":"event","type":%q,"api_version":"2020-08-27","created":%d,
		"data":{"object":{"id":%q,"object":"payment_intent","status":"requires_payment_method"}}}`,
		id, typ, time.Now().Unix(), pi)
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: key, Timestamp: time.Now()})
	return payload, signed.Header
}

// processing leaves every payment processing, so webhooks decide the orders.
func processing(f *fixture) {
	onAuthorize(f.pay, func(settlement.PaymentRequest) testpay.Outcome {
		return testpay.Outcome{Status: settlement.PaymentProcessing}
	})
}

// awaitIntent waits for the order to be paying with its PaymentIntent stored.
func awaitIntent(t *testing.T, f *fixture, id string) settlement.Order {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		o := must(f.ledger.Order(context.Background(), id))(t)
		if o.Status == settlement.Paying && o.PaymentIntent != "" {
			return o
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %+v never got its payment intent", o)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWebhookOutOfOrderAndDuplicate(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{StallAfter: time.Hour})
		processing(f)
		ctx := context.Background()
		o := awaitIntent(t, f, f.checkout(t, "kim", 2, "pm_card_visa").ID)
		// The money is authorized at the provider, but a stale failure event arrives first: the re-read wins.
		if err := f.pay.SetStatus(o.PaymentIntent, settlement.PaymentAuthorized); err != nil {
			t.Fatal(err)
		}
		stale, sig := stripeEvent("evt_1"+o.ID, "payment_intent.payment_failed", o.PaymentIntent, secret)
		if err := f.svc.HandleWebhook(ctx, stale, sig); err != nil {
			t.Fatal(err)
		}
		if got := must(f.svc.Order(ctx, o.ID))(t); got.Status != settlement.Paid || !f.pay.Captured(o.PaymentIntent) {
			t.Fatalf("after the stale event: %s, want paid and captured", got.Status)
		}
		// The real events, twice each, and the stale one again: nothing changes.
		ok, sig2 := stripeEvent("evt_2"+o.ID, "payment_intent.amount_capturable_updated", o.PaymentIntent, secret)
		ok2, sig3 := stripeEvent("evt_4"+o.ID, "payment_intent.succeeded", o.PaymentIntent, secret)
		for _, ev := range [][2]string{{string(ok), sig2}, {string(ok2), sig3}, {string(ok), sig2}, {string(ok2), sig3}, {string(stale), sig}} {
			if err := f.svc.HandleWebhook(ctx, []byte(ev[0]), ev[1]); err != nil {
				t.Fatal(err)
			}
		}
		if s := f.stats(t); s.Sold != 2 {
			t.Fatalf("stats %+v", s)
		}
		if ev := f.booking(t, o.ID); ev.Type != settlement.TopicBookingConfirmed {
			t.Fatalf("booking %+v", ev)
		}
		if v := f.counter(t, "onsale_settlement_orders_total", map[string]string{"status": "paid"}); v != 1 {
			t.Fatalf("orders_total{paid} = %v, want exactly one transition", v)
		}

		// A payment that fails at the provider, with a stale success event first.
		o2 := awaitIntent(t, f, f.checkout(t, "kim", 1, "pm_card_visa").ID)
		if err := f.pay.SetStatus(o2.PaymentIntent, settlement.PaymentFailed); err != nil {
			t.Fatal(err)
		}
		p, s := stripeEvent("evt_3"+o2.ID, "payment_intent.succeeded", o2.PaymentIntent, secret)
		if err := f.svc.HandleWebhook(ctx, p, s); err != nil {
			t.Fatal(err)
		}
		got := must(f.svc.Order(ctx, o2.ID))(t)
		if got.Status != settlement.Failed || f.holdState(t, o2.HoldID) != inventory.Released {
			t.Fatalf("order %+v, hold %s: want failed and released", got, f.holdState(t, o2.HoldID))
		}
		if got := must(f.svc.Order(ctx, o2.ID))(t); got.FailureReason != "card_declined" {
			t.Fatalf("failure reason %q", got.FailureReason)
		}
		// Events about other objects or unknown payments are accepted and ignored.
		other := fmt.Appendf(nil, `{"id":"evt_c%s","object":"event","type":"customer.created","data":{"object":{"id":"cus_1","object":"customer"}}}`, o2.ID)
		if err := f.svc.HandleWebhook(ctx, other, webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: other, Secret: secret, Timestamp: time.Now()}).Header); err != nil {
			t.Fatal(err)
		}
	})
}

func TestWebhookBadSignature(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{StallAfter: time.Hour})
		processing(f)
		ctx := context.Background()
		o := awaitIntent(t, f, f.checkout(t, "lee", 1, "pm_card_visa").ID)
		if err := f.pay.SetStatus(o.PaymentIntent, settlement.PaymentAuthorized); err != nil {
			t.Fatal(err)
		}
		payload, _ := stripeEvent("evt_x"+o.ID, "payment_intent.succeeded", o.PaymentIntent, secret)
		_, forged := stripeEvent("evt_x"+o.ID, "payment_intent.succeeded", o.PaymentIntent, "whsec_wrong")
		_, good := stripeEvent("evt_y"+o.ID, "payment_intent.succeeded", o.PaymentIntent, secret)
		for name, c := range map[string]struct {
			payload []byte
			sig     string
		}{
			"wrong secret":      {payload, forged},
			"no header":         {payload, ""},
			"garbage header":    {payload, "t=1,v1=00"},
			"altered payload":   {append([]byte(" "), payload...), good},
			"other event's sig": {payload, good},
		} {
			if err := f.svc.HandleWebhook(ctx, c.payload, c.sig); !errors.Is(err, settlement.ErrBadSignature) {
				t.Errorf("%s: %v, want ErrBadSignature", name, err)
			}
		}
		if got := must(f.svc.Order(ctx, o.ID))(t); got.Status != settlement.Paying {
			t.Fatalf("a refused webhook changed the order: %s", got.Status)
		}
		// Without a configured secret nothing is accepted.
		bare := settlement.New(f.ledger, f.bus, f.pay, f.stock, settlement.Options{Registerer: f.reg})
		p, s := stripeEvent("evt_z"+o.ID, "payment_intent.succeeded", o.PaymentIntent, "")
		if err := bare.HandleWebhook(ctx, p, s); !errors.Is(err, settlement.ErrBadSignature) {
			t.Fatalf("no secret: %v", err)
		}
	})
}

// TestWebhookUnknownPayment: a correctly signed event about a PaymentIntent that is no order's (another
// system on the same account, or an order this ledger never had) is acknowledged, so Stripe stops resending
// it, and counted.
func TestWebhookUnknownPayment(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{StallAfter: time.Hour})
		ctx := context.Background()
		// Unknown to the provider, and known to the provider but no order's.
		other := must(f.pay.Authorize(ctx, settlement.PaymentRequest{OrderID: "ord_elsewhere", IdempotencyKey: "k-" + f.event,
			Amount: 100, Currency: "EUR"}))(t)
		for i, pi := range []string{"pi_unknown_" + f.event, other.ID} {
			p, sig := stripeEvent(fmt.Sprintf("evt_u%d%s", i, f.event), "payment_intent.amount_capturable_updated", pi, secret)
			if err := f.svc.HandleWebhook(ctx, p, sig); err != nil {
				t.Fatalf("%s: %v, want acknowledged", pi, err)
			}
			// The same event again is a duplicate.
			if err := f.svc.HandleWebhook(ctx, p, sig); err != nil {
				t.Fatal(err)
			}
		}
		if v := f.counter(t, "onsale_settlement_webhooks_total", map[string]string{"result": "unknown"}); v != 2 {
			t.Fatalf("webhooks_total{unknown} = %v, want 2", v)
		}
		if v := f.counter(t, "onsale_settlement_webhooks_total", map[string]string{"result": "duplicate"}); v != 2 {
			t.Fatalf("webhooks_total{duplicate} = %v, want 2", v)
		}
	})
}

// TestLateAuthorizationByWebhook: the fan passes 3-D Secure after the hold ended, and only Stripe's webhook tells
// the saga; the authorization is cancelled, never captured. The webhook again, later, changes nothing.
func TestLateAuthorizationByWebhook(t *testing.T) {
	each(t, func(t *testing.T, b backend) {
		f := setup(t, b, settlement.Options{StallAfter: time.Hour})
		f.pay.SetNotify(func(context.Context, string) {}) // only webhooks tell the saga
		ctx := context.Background()
		o := f.checkout(t, "ola", 1, "pm_card_threeDSecure2Required")
		w := f.awaitStatus(t, o.ID, settlement.RequiresAction)
		f.clock.Advance(16 * time.Minute)
		if _, err := f.pay.Authenticate(ctx, w.PaymentIntent, true); err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			p, sig := stripeEvent(fmt.Sprintf("evt_late%d%s", i, o.ID), "payment_intent.amount_capturable_updated", w.PaymentIntent, secret)
			if err := f.svc.HandleWebhook(ctx, p, sig); err != nil {
				t.Fatal(err)
			}
		}
		done := must(f.svc.Order(ctx, o.ID))(t)
		if done.Status != settlement.Failed || done.FailureReason != settlement.ReasonHoldExpired {
			t.Fatalf("order %+v, want failed with hold-expired", done)
		}
		if !f.pay.Canceled(w.PaymentIntent) || f.pay.Captured(w.PaymentIntent) {
			t.Fatal("the late authorization must be cancelled")
		}
		if s := f.stats(t); s.Sold != 0 {
			t.Fatalf("stats %+v", s)
		}
		f.checkMoney(t)
	})
}

func FuzzHandleWebhook(f *testing.F) {
	good, sig := stripeEvent("evt_f", "payment_intent.succeeded", "pi_1", secret)
	f.Add(good, sig)
	f.Add([]byte(`{}`), "t=1,v1=ab")
	f.Add([]byte(`not json`), "")
	svc := settlement.New(nil, nil, testpay.New(), nil, settlement.Options{WebhookSecret: secret, Registerer: noRegistry{}})
	f.Fuzz(func(t *testing.T, payload []byte, header string) {
		// Anything not signed with the secret is refused before the ledger (nil here) is touched.
		if header == sig && string(payload) == string(good) {
			return
		}
		if err := svc.HandleWebhook(context.Background(), payload, header); !errors.Is(err, settlement.ErrBadSignature) {
			t.Fatalf("unsigned payload accepted: %v", err)
		}
	})
}
