package inventory

import (
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"
)

func validEvent() Event {
	return Event{
		ID: "tour-1", Name: "Tour", Currency: "EUR", HoldTTL: 10 * time.Minute, MaxPerFan: 4,
		Sections: []Section{
			{ID: "GA", Kind: General, Capacity: 1000, Price: 5000},
			{ID: "A", Kind: Seated, Price: 9000, Rows: []Row{{Row: "1", Seats: 20}, {Row: "2", Seats: 22}}},
		},
		Withheld: map[string]int{"GA": 100, "A": 42},
	}
}

func TestValidateDefaults(t *testing.T) {
	t.Parallel()
	ev := validEvent()
	if err := ev.Validate(); err != nil {
		t.Fatal(err)
	}
	if ev.MaxHoldLife != 20*time.Minute || ev.CheckoutTTL != 15*time.Minute || ev.Sections[1].Capacity != 42 {
		t.Fatalf("defaults: %+v", ev)
	}
	ev = validEvent()
	ev.MaxHoldLife, ev.CheckoutTTL = time.Hour, time.Minute
	ev.Sections[1].Capacity = 7 // recomputed from the rows
	if err := ev.Validate(); err != nil {
		t.Fatal(err)
	}
	if ev.MaxHoldLife != time.Hour || ev.CheckoutTTL != time.Minute || ev.Sections[1].Capacity != 42 {
		t.Fatalf("explicit values: %+v", ev)
	}
}

func TestValidateRejects(t *testing.T) {
	t.Parallel()
	manyRows := make([]Row, MaxRowsPerSection+1)
	for i := range manyRows {
		manyRows[i] = Row{Row: strconv.Itoa(i), Seats: 1}
	}
	manySections := make([]Section, MaxSections+1)
	for i := range manySections {
		manySections[i] = Section{ID: "S" + strconv.Itoa(i), Kind: General, Capacity: 1}
	}
	cases := map[string]func(*Event){
		"event id":             func(ev *Event) { ev.ID = "-x" },
		"event id dot":         func(ev *Event) { ev.ID = "a.b" },
		"currency lower":       func(ev *Event) { ev.Currency = "eur" },
		"currency long":        func(ev *Event) { ev.Currency = "EURO" },
		"hold ttl zero":        func(ev *Event) { ev.HoldTTL = 0 },
		"hold ttl negative":    func(ev *Event) { ev.HoldTTL = -time.Second },
		"hold ttl over 1h":     func(ev *Event) { ev.HoldTTL = time.Hour + time.Nanosecond },
		"max per fan":          func(ev *Event) { ev.MaxPerFan = 0 },
		"max hold life short":  func(ev *Event) { ev.MaxHoldLife = time.Minute },
		"checkout ttl":         func(ev *Event) { ev.CheckoutTTL = -time.Minute },
		"no sections":          func(ev *Event) { ev.Sections = nil },
		"too many sections":    func(ev *Event) { ev.Sections = manySections; ev.Withheld = nil },
		"section id":           func(ev *Event) { ev.Sections[0].ID = "G-A" },
		"section id long":      func(ev *Event) { ev.Sections[0].ID = "abcdefghijklmnopqrstuvwxyz0123456" },
		"duplicate section":    func(ev *Event) { ev.Sections[1].ID = "GA" },
		"kind":                 func(ev *Event) { ev.Sections[0].Kind = "standing" },
		"general capacity 0":   func(ev *Event) { ev.Sections[0].Capacity = 0 },
		"general capacity big": func(ev *Event) { ev.Sections[0].Capacity = MaxGeneralCapacity + 1 },
		"general with rows":    func(ev *Event) { ev.Sections[0].Rows = []Row{{Row: "1", Seats: 1}} },
		"negative price":       func(ev *Event) { ev.Sections[0].Price = -1 },
		"seated no rows":       func(ev *Event) { ev.Sections[1].Rows = nil },
		"too many rows":        func(ev *Event) { ev.Sections[1].Rows = manyRows },
		"row label":            func(ev *Event) { ev.Sections[1].Rows[0].Row = "1-2" },
		"row label empty":      func(ev *Event) { ev.Sections[1].Rows[0].Row = "" },
		"duplicate row":        func(ev *Event) { ev.Sections[1].Rows[1].Row = "1" },
		"row seats 0":          func(ev *Event) { ev.Sections[1].Rows[0].Seats = 0 },
		"row seats big":        func(ev *Event) { ev.Sections[1].Rows[0].Seats = MaxSeatsPerRow + 1 },
		"withheld unknown":     func(ev *Event) { ev.Withheld["B"] = 1 },
		"withheld negative":    func(ev *Event) { ev.Withheld["GA"] = -1 },
		"withheld over":        func(ev *Event) { ev.Withheld["A"] = 43 },
	}
	for name, mut := range cases {
		ev := validEvent()
		mut(&ev)
		if err := ev.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Validate = %v, want ErrInvalid", name, err)
		}
	}
}

func FuzzValidateJSON(f *testing.F) {
	good, _ := json.Marshal(validEvent())
	f.Add(string(good))
	f.Add(`{"id":"e","currency":"USD","hold_ttl":1000000000,"max_per_fan":1,"sections":[{"id":"A","kind":"seated","rows":[{"row":"1","seats":3}]}]}`)
	f.Add(`{"id":"e","currency":"USD","hold_ttl":1,"max_per_fan":1,"sections":[{"id":"G","kind":"general","capacity":1}],"withheld":{"G":1}}`)
	f.Add(`{"id":"e","sections":[{"id":"A","kind":"seated","rows":[{"row":"1","seats":-3}]}]}`)
	f.Add(`{}`)
	f.Fuzz(func(t *testing.T, data string) {
		var ev Event
		if json.Unmarshal([]byte(data), &ev) != nil {
			return
		}
		err := ev.Validate()
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate: %v is not ErrInvalid", err)
			}
			return
		}
		if !ValidEventID(ev.ID) || ev.HoldTTL <= 0 || ev.MaxHoldLife < ev.HoldTTL || ev.CheckoutTTL <= 0 || ev.MaxPerFan < 1 {
			t.Fatalf("accepted %+v", ev)
		}
		for _, s := range ev.Sections {
			sum := 0
			for _, r := range s.Rows {
				sum += r.Seats
			}
			if s.Kind == Seated && s.Capacity != sum || s.Capacity < 1 || ev.Withheld[s.ID] > s.Capacity {
				t.Fatalf("accepted section %+v", s)
			}
		}
		again := ev
		if err := again.Validate(); err != nil {
			t.Fatalf("a valid event fails a second Validate: %v", err)
		}
	})
}

func TestHoldRequestChecks(t *testing.T) {
	t.Parallel()
	ev := validEvent()
	if err := ev.Validate(); err != nil {
		t.Fatal(err)
	}
	ok := []HoldRequest{
		{Fan: "f", Items: []Item{{Section: "GA", Quantity: 2}}},
		{Fan: "f", Items: []Item{{Section: "A", Quantity: 2, Adjacent: true}}},
		{Fan: "f", Seats: []string{"A-1-1", "A-2-22"}},
		{Fan: "f", Items: []Item{{Section: "GA", Quantity: 99}}, Seats: []string{"A-1-1"}},
	}
	for _, req := range ok {
		if err := ev.CheckHold(req); err != nil {
			t.Errorf("CheckHold(%+v): %v", req, err)
		}
	}
	bad := []HoldRequest{
		{Items: []Item{{Section: "GA", Quantity: 1}}},
		{Fan: "f"},
		{Fan: "f", Items: []Item{{Section: "GA", Quantity: 0}}},
		{Fan: "f", Items: []Item{{Section: "B", Quantity: 1}}},
		{Fan: "f", Items: []Item{{Section: "GA", Quantity: 1, Adjacent: true}}},
		{Fan: "f", Items: []Item{{Section: "GA", Quantity: 101}}},
		{Fan: "f", Items: []Item{{Section: "GA", Quantity: 100}}, Seats: []string{"A-1-1"}},
		{Fan: "f", Seats: []string{"A-1-21"}},
		{Fan: "f", Seats: []string{"A-3-1"}},
		{Fan: "f", Seats: []string{"GA-1-1"}},
		{Fan: "f", Seats: []string{"A-1-1", "A-1-1"}},
		{Fan: "f", Seats: []string{"A-1"}},
	}
	for _, req := range bad {
		if err := ev.CheckHold(req); !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckHold(%+v) = %v, want ErrInvalid", req, err)
		}
	}
}
