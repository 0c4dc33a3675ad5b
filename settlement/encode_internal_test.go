package settlement

import (
	"encoding/base32"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/onsale/onsale/inventory"
)

// TestBookingMessageMatchesEncodingJSON: the hand-written booking event decodes to what encoding/json would
// have written, plain strings and awkward ones alike.
func TestBookingMessageMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 11, 26, 6, 30, 0, 123456789, time.UTC)
	orders := []Order{
		{ID: "ord_1", HoldID: "h1", Event: "ev", Fan: "fan", Status: Paid, Seats: []string{"A-1", "A-2"},
			Lines: []inventory.Line{{Section: "A", Quantity: 2, UnitPrice: 4500, Amount: 9000}}, Total: 9000,
			Currency: "EUR", PaymentIntent: "pi_1"},
		{ID: "ord_2", HoldID: "h2", Event: "ev", Fan: "fän \"quoted\" <b>&\n\t\x01", Status: Failed,
			Currency: "EUR", FailureReason: "card declined: \\ \u2028 \xff"},
		{ID: "ord_3", Status: Refunded, Lines: []inventory.Line{{Section: "GA", Quantity: 1}, {Section: "B", Amount: -1}},
			FailureReason: "hold expired"},
	}
	for i, o := range orders {
		link := ""
		if i%2 == 0 {
			link = "https://tickets.example/o/" + o.ID + "?t=ot1.\"<&>"
		}
		m := bookingMessage(o, link, at)
		want := BookingEvent{Type: m.Topic, OrderID: o.ID, HoldID: o.HoldID, Event: o.Event, Fan: o.Fan, Status: o.Status,
			Seats: o.Seats, Lines: o.Lines, Total: o.Total, Currency: o.Currency, PaymentIntent: o.PaymentIntent,
			Reason: o.FailureReason, OrderURL: link, At: at}
		ref, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(m.Body) {
			t.Fatalf("%s: invalid JSON %s", o.ID, m.Body)
		}
		var got, exp any
		if err := json.Unmarshal(m.Body, &got); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(ref, &exp); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, exp) {
			t.Errorf("%s:\n got %s\nwant %s", o.ID, m.Body, ref)
		}
	}
}

func TestReadPaymentBody(t *testing.T) {
	for body, want := range map[string]paymentBody{
		`{"order_id":"o1","hold_id":"h1"}`:           {OrderID: "o1", HoldID: "h1"},
		`{"hold_id": "h1", "order_id": "o1"}`:        {OrderID: "o1", HoldID: "h1"}, // as jsonb renders it
		` { "order_id" : "o1" } `:                    {OrderID: "o1"},
		`{"order_id":"o\u0031"}`:                     {OrderID: "o1"},
		`{"order_id":"o1","extra":[1,{"x":"y"}]}`:    {OrderID: "o1"},
		`{"order_id":"ö1"}`:                          {OrderID: "ö1"},
		`{}`:                                         {},
		string(paymentMessage(Order{ID: "o1"}).Body): {OrderID: "o1"},
	} {
		got, err := readPaymentBody([]byte(body))
		if err != nil || got != want {
			t.Errorf("%s: %+v %v, want %+v", body, got, err, want)
		}
	}
	for _, bad := range []string{``, `{`, `{"order_id":"o1"`, `{"order_id":"o1",}`, `[]`, `{"order_id":1}`, `{"order_id":"o1"} x`} {
		if got, err := readPaymentBody([]byte(bad)); err == nil {
			t.Errorf("%q read as %+v", bad, got)
		}
	}
}

// TestReadBookingEvent: the fast reader gives what encoding/json gives, for the events bookingMessage writes,
// for them as jsonb renders them (keys reordered, spaced), and for anything it leaves to encoding/json.
func TestReadBookingEvent(t *testing.T) {
	at := time.Date(2026, 11, 26, 6, 30, 0, 123456789, time.UTC)
	var bodies []string
	for _, o := range []Order{
		{ID: "ord_1", HoldID: "h1", Event: "ev", Fan: "fan", Status: Paid, Seats: []string{"A-1", "A-2"},
			Lines: []inventory.Line{{Section: "A", Quantity: 2, UnitPrice: 4500, Amount: 9000}, {Section: "B"}},
			Total: 9000, Currency: "EUR", PaymentIntent: "pi_1"},
		{ID: "ord_2", Fan: "fän \"q\"", Status: Failed, FailureReason: "declined"},
	} {
		bodies = append(bodies, string(bookingMessage(o, "https://x.example/o/"+o.ID+"?t=ot1.a_b", at).Body))
	}
	bodies = append(bodies,
		`{"at": "2026-11-26T06:30:00.5+01:00", "fan": "f", "type": "booking.confirmed", "event": "e", "items": [{"amount": 4500, "section": "GA", "quantity": 1, "unit_price": 4500}], "seats": [], "total": 4500, "status": "paid", "hold_id": "h", "currency": "EUR", "order_id": "o"}`,
		`{"order_id": "o", "seats": null, "extra": {"x": [1, 2]}, "total": 1.5e3}`,
		`{"order_id": "o\u00e9", "total": -3}`,
		`{}`,
	)
	for _, body := range bodies {
		var want BookingEvent
		wantErr := json.Unmarshal([]byte(body), &want)
		got, err := readBookingEvent([]byte(body))
		if len(got.Seats) == 0 && len(want.Seats) == 0 {
			got.Seats, want.Seats = nil, nil // `[]` and null are both no seats
		}
		if (err == nil) != (wantErr == nil) || !got.At.Equal(want.At) || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s:\n got %+v %v\nwant %+v %v", body, got, err, want, wantErr)
		}
	}
	for _, bad := range []string{``, `{`, `[]`, `{"total": "x"}`, `{"at": "yesterday"}`, `{"seats": [1]}`, `{"order_id": "o"} x`} {
		if got, err := readBookingEvent([]byte(bad)); err == nil {
			t.Errorf("%q read as %+v", bad, got)
		}
	}
}

// TestOrderIDs: an order id is "ord_" and base32 of its 16 bytes in lowercase, without padding, as it always was.
func TestOrderIDs(t *testing.T) {
	for _, b := range [][16]byte{{}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}} {
		want := "ord_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
		if got := orderID(b); got != want {
			t.Errorf("orderID(%x) = %q, want %q", b, got, want)
		}
	}
	if a, b := newOrderID(), newOrderID(); a == b || len(a) != 30 {
		t.Errorf("order ids %q and %q", a, b)
	}
	if m := newMessageID(); len(m) != 32 || strings.Trim(m, "0123456789abcdef") != "" {
		t.Errorf("message id %q is not 32 hex digits", m)
	}
}

// TestBodyStringsOutsideTheBody: a value that is not part of the body read still comes back right.
func TestBodyStringsOutsideTheBody(t *testing.T) {
	strs := bodyStrings{data: []byte(`{"order_id":"ord_a"}`)}
	for _, v := range []string{`"ord_b"`, `"x"`, `""`} {
		if got, ok := strs.plainValue([]byte(v)); !ok || `"`+got+`"` != v {
			t.Errorf("plainValue(%s) = %q, %v", v, got, ok)
		}
	}
	if _, ok := strs.plainValue([]byte(`"a\"b"`)); ok {
		t.Error("an escaped string was taken as plain")
	}
}

// TestScanBookingEvent: every event bookingMessage writes with plain strings takes the one-pass reader and reads
// as the walker reads it; anything else is left to the walker.
func TestScanBookingEvent(t *testing.T) {
	at := time.Date(2026, 11, 26, 6, 30, 0, 123456789, time.UTC)
	for _, o := range []Order{
		{ID: "ord_1", HoldID: "h1", Event: "ev", Fan: "fan", Status: Paid, Seats: []string{"A-1", "A-2"},
			Lines: []inventory.Line{{Section: "A", Quantity: 2, UnitPrice: 4500, Amount: 9000}, {Section: "B", Amount: -1}},
			Total: 9000, Currency: "EUR", PaymentIntent: "pi_1"},
		{ID: "ord_2", HoldID: "h2", Event: "ev", Fan: "f", Status: Failed, FailureReason: "card declined"},
		{ID: "ord_3", Status: Refunded, Seats: []string{"x"}, PaymentIntent: "pi_3", FailureReason: "hold expired"},
		{},
	} {
		body := bookingMessage(o, "", at).Body
		fast, ok := scanBookingEvent(body)
		if !ok {
			t.Fatalf("%s not read in one pass", body)
		}
		var slow BookingEvent
		if !objectFieldsEvent(body, &slow) {
			t.Fatalf("%s not read by the walker", body)
		}
		if !fast.At.Equal(slow.At) || fmt.Sprint(fast) != fmt.Sprint(slow) {
			t.Errorf("%s:\none pass %+v\nwalker   %+v", body, fast, slow)
		}
	}
	for _, other := range []string{
		string(bookingMessage(Order{Fan: "fän \"q\""}, "", at).Body),
		`{"type": "booking.confirmed"}`,
		`{"order_id":"o","type":"t"}`,
		strings.TrimSuffix(string(bookingMessage(Order{ID: "o"}, "", at).Body), "}") + `,"x":1}`,
		string(bookingMessage(Order{ID: "o"}, "", at).Body) + " ",
		strings.Replace(string(bookingMessage(Order{ID: "o", Lines: []inventory.Line{{Quantity: 1}}}, "", at).Body), `"quantity":1`, `"quantity":1.5`, 1),
	} {
		if ev, ok := scanBookingEvent([]byte(other)); ok {
			t.Errorf("%s read in one pass as %+v", other, ev)
		}
	}
}

// objectFieldsEvent reads body with readBookingEvent's walker alone.
func objectFieldsEvent(body []byte, ev *BookingEvent) bool {
	got, err := readBookingEvent(append([]byte(" "), body...)) // a leading space keeps it off the one-pass reader
	*ev = got
	return err == nil
}
