package settlement_test

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/inventory/memstore"
	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/settlement/membus"
	"github.com/onsale/onsale/settlement/memledger"
	"github.com/onsale/onsale/settlement/testpay"
)

// The embedded default: ledger, bus and payments in memory. A fan's hold is checked out and paid with Stripe's
// test card.
func Example() {
	ctx := context.Background()
	stock := memstore.New(memstore.Options{})
	ev := inventory.Event{ID: "tour", Currency: "EUR", HoldTTL: 10 * time.Minute, MaxPerFan: 4,
		Sections: []inventory.Section{{ID: "GA", Kind: inventory.General, Capacity: 100, Price: 4500}}}
	_ = ev.Validate()
	_ = stock.CreateEvent(ctx, ev)

	bus := membus.New()
	defer bus.Close()
	done := make(chan settlement.BookingEvent, 1)
	svc := settlement.New(memledger.New(), bus, testpay.New(), stock, settlement.Options{
		Registerer: prometheus.NewRegistry(),
		OnBooking:  func(_ context.Context, ev settlement.BookingEvent) { done <- ev },
	})
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { defer close(stopped); _ = svc.Run(runCtx) }()

	h, _ := stock.Hold(ctx, inventory.HoldRequest{Event: "tour", Fan: "alice", Items: []inventory.Item{{Section: "GA", Quantity: 2}}})
	o, err := svc.Checkout(ctx, settlement.CheckoutRequest{HoldID: h.ID, Fan: "alice", PaymentMethod: "pm_card_visa"})
	fmt.Println(o.Status, o.Total, o.Currency, err)
	b := <-done
	fmt.Println(b.Type, b.Status)
	stop()
	<-stopped
	// Output:
	// pending 9000 EUR <nil>
	// booking.confirmed paid
}
