package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/inventory/memstore"
)

func Example() {
	ctx := context.Background()
	s := memstore.New(memstore.Options{})
	ev := inventory.Event{
		ID: "spring-tour", Currency: "EUR", HoldTTL: 10 * time.Minute, MaxPerFan: 4,
		Sections: []inventory.Section{
			{ID: "GA", Kind: inventory.General, Capacity: 2, Price: 4500},
			{ID: "A", Kind: inventory.Seated, Price: 9000, Rows: []inventory.Row{{Row: "1", Seats: 6}}},
		},
	}
	if err := s.CreateEvent(ctx, ev); err != nil {
		fmt.Println(err)
		return
	}
	h, err := s.Hold(ctx, inventory.HoldRequest{Event: "spring-tour", Fan: "alice",
		Items: []inventory.Item{{Section: "A", Quantity: 2, Adjacent: true}, {Section: "GA", Quantity: 1}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(h.State, h.Seats, h.Total)

	_, err = s.Hold(ctx, inventory.HoldRequest{Event: "spring-tour", Fan: "bob", Items: []inventory.Item{{Section: "GA", Quantity: 2}}})
	fmt.Println(errors.Is(err, inventory.ErrSoldOut))

	if _, err := s.BeginCheckout(ctx, h.ID); err != nil {
		fmt.Println(err)
		return
	}
	h, _ = s.Confirm(ctx, h.ID)
	st, _ := s.Stats(ctx, "spring-tour")
	fmt.Println(h.State, st.Totals().Sold, st.Totals().Revenue)
	// Output:
	// held [A-1-1 A-1-2] 22500
	// true
	// confirmed 3 22500
}
