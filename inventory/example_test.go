package inventory_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/onsale/onsale/inventory"
)

func ExampleEvent_Validate() {
	ev := inventory.Event{
		ID: "spring-tour", Currency: "EUR", HoldTTL: 10 * time.Minute, MaxPerFan: 4,
		Sections: []inventory.Section{
			{ID: "GA", Kind: inventory.General, Capacity: 5000, Price: 4500},
			{ID: "A", Kind: inventory.Seated, Price: 9000, Rows: []inventory.Row{{Row: "1", Seats: 20}, {Row: "2", Seats: 22}}},
		},
	}
	if err := ev.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ev.Sections[1].Capacity, ev.MaxHoldLife, ev.CheckoutTTL)

	ev.Currency = "euro"
	fmt.Println(errors.Is(ev.Validate(), inventory.ErrInvalid))
	// Output:
	// 42 20m0s 15m0s
	// true
}

func ExampleNewHoldID() {
	id := inventory.NewHoldID("spring-tour")
	event, ok := inventory.EventOfHold(id)
	fmt.Println(event, ok, len(id))
	// Output: spring-tour true 32
}

func ExampleParseSeatID() {
	section, row, n, err := inventory.ParseSeatID("A-12-7")
	fmt.Println(section, row, n, err)
	_, _, _, err = inventory.ParseSeatID("A-12-07")
	fmt.Println(errors.Is(err, inventory.ErrInvalid))
	fmt.Println(inventory.SeatID("Balcony", "C", 3))
	// Output:
	// A 12 7 <nil>
	// true
	// Balcony-C-3
}

func ExampleSelectSeats() {
	// Row 1 has three seats left; taking two would strand one, so row 2 serves.
	taken := map[inventory.SeatPos]bool{{Row: 0, Seat: 1}: true}
	l := inventory.SeatLayout{
		Rows: []inventory.Row{{Row: "1", Seats: 4}, {Row: "2", Seats: 6}},
		Free: func(row, seat int) bool { return !taken[inventory.SeatPos{Row: row, Seat: seat}] },
	}
	seats, ok := inventory.SelectSeats(l, 2, true)
	for _, s := range seats {
		fmt.Print(inventory.SeatID("A", l.Rows[s.Row].Row, s.Seat), " ")
	}
	fmt.Println(ok)
	// Output: A-2-1 A-2-2 true
}

func ExampleFingerprint() {
	a := inventory.Fingerprint("POST", "/v1/events/spring-tour/holds", `{"items":[{"section":"GA","quantity":2}]}`)
	b := inventory.Fingerprint("POST", "/v1/events/spring-tour/holds", `{"items":[{"section":"GA","quantity":3}]}`)
	fmt.Println(len(a), a == b)
	// Output: 64 false
}

func ExampleHoldRequest_Validate() {
	req := inventory.HoldRequest{Event: "spring-tour", Fan: "alice", Seats: []string{"A-1-5", "A-1-5"}}
	fmt.Println(req.Validate())
	// Output: invalid request: hold: seat "A-1-5" asked for twice
}

func ExampleStats_Totals() {
	st := inventory.Stats{Event: "spring-tour", Sections: []inventory.SectionStats{
		{ID: "GA", Capacity: 100, Available: 60, Held: 10, Sold: 30, Price: 4500, Revenue: 135000},
		{ID: "A", Capacity: 42, Available: 2, Sold: 40, Price: 9000, Revenue: 360000},
	}}
	t := st.Totals()
	fmt.Println(t.Capacity, t.Available, t.Held, t.Sold, t.Revenue)
	// Output: 142 62 10 70 495000
}
