package settlement_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/onsale/onsale/internal/testenv"
	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/settlement/pgledger"
)

// TestBrokerOutageDuringBurst cuts every connection between the bus and RabbitMQ (a TCP proxy in between, so the
// shared broker is left alone) eight times during a burst of checkouts: the bus redials, re-declares and
// re-consumes, unconfirmed outbox rows are published again, and every order still ends paid or failed, with one
// PaymentIntent each and the seats of exactly the paid ones sold.
func TestBrokerOutageDuringBurst(t *testing.T) {
	t.Parallel()
	raw := testenv.AMQPURL(t)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	if u.Port() == "" {
		target += ":5672"
	}
	p := newProxy(t, target)
	b := backend{name: "proxied", new: func(t *testing.T, _ func(testing.TB) string) (settlement.Ledger, settlement.Bus, parker) {
		bus := dialBus(t, p.url(t, raw))
		return pgledger.New(newPool(t)), bus, bus.Parked
	}}
	f := setup(t, b, settlement.Options{Workers: 4, StallAfter: 3 * time.Second})
	cut := func() {
		// Cut only a live connection, so that each cut is a real outage the bus must recover from.
		deadline := time.Now().Add(20 * time.Second)
		for f.bus.Ping(context.Background()) != nil {
			if time.Now().After(deadline) {
				t.Fatal("the bus did not reconnect")
			}
			time.Sleep(5 * time.Millisecond)
		}
		p.cut()
	}
	orders := burst(t, f, 200, cut)
	p.cut() // once more while the last ones settle
	verifyBurst(t, f, orders)
	if p.cuts.Load() < 8 {
		t.Fatalf("only %d cuts", p.cuts.Load())
	}
}
