package settlement

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/onsale/onsale/inventory"
)

// The saga's two message bodies are written, and read, by hand: one of each is made and read per order, and
// encoding/json's reflection was most of their cost. Whatever the fast readers do not expect (escapes, nulls,
// other fields) goes to encoding/json, so they accept what it accepts.

// paymentBody names the order and its hold, so the worker checks the hold and starts paying without reading
// the order first (messages without hold_id take the path that reads it).
type paymentBody struct {
	OrderID string `json:"order_id"`
	HoldID  string `json:"hold_id,omitempty"`
}

func paymentMessage(o Order) Message {
	b := make([]byte, 0, 32+len(o.ID)+len(o.HoldID))
	b = append(b, `{"order_id":`...)
	b = appendJSONString(b, o.ID)
	if o.HoldID != "" {
		b = append(b, `,"hold_id":`...)
		b = appendJSONString(b, o.HoldID)
	}
	return Message{ID: newMessageID(), Topic: TopicPaymentRequested, Body: append(b, '}')}
}

// readPaymentBody reads a payment request. The ledger hands bodies back as it stores them (jsonb renders
// `{"hold_id": "…", "order_id": "…"}`): a flat object of plain strings is read by hand, anything else by
// encoding/json.
func readPaymentBody(data []byte) (paymentBody, error) {
	var p paymentBody
	strs := bodyStrings{data: data}
	if objectFields(data, func(k, v []byte) bool {
		var ok bool
		switch string(k) {
		case "order_id":
			p.OrderID, ok = strs.plainValue(v)
		case "hold_id":
			p.HoldID, ok = strs.plainValue(v)
		}
		return ok
	}) {
		return p, nil
	}
	p = paymentBody{}
	err := json.Unmarshal(data, &p)
	return p, err
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// plainString reads a JSON string at data[i] that has no escapes and no control or non-ASCII bytes; it returns
// its contents and the index after it.
func plainString(data []byte, i int) ([]byte, int, bool) {
	if i >= len(data) || data[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(data); j++ {
		switch c := data[j]; {
		case c == '"':
			return data[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20 || c >= utf8.RuneSelf:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// appendJSONString appends s as a JSON string: plain ASCII as it is, anything else through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// bookingMessage writes the BookingEvent of an order's outcome. It is written by hand, with the fields, names
// and order of BookingEvent's JSON: one is made per order, and encoding/json's reflection was most of its cost.
func bookingMessage(o Order, link string, at time.Time) Message {
	var typ string
	switch o.Status {
	case Paid:
		typ = TopicBookingConfirmed
	case Failed:
		typ = TopicBookingFailed
	case Refunded:
		typ = TopicBookingRefunded
	}
	b := make([]byte, 0, 256+len(o.Seats)*16+len(o.Lines)*80)
	b = append(b, `{"type":`...)
	b = appendJSONString(b, typ)
	b = append(b, `,"order_id":`...)
	b = appendJSONString(b, o.ID)
	b = append(b, `,"hold_id":`...)
	b = appendJSONString(b, o.HoldID)
	b = append(b, `,"event":`...)
	b = appendJSONString(b, o.Event)
	b = append(b, `,"fan":`...)
	b = appendJSONString(b, o.Fan)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, string(o.Status))
	if len(o.Seats) > 0 {
		b = append(b, `,"seats":[`...)
		for i, seat := range o.Seats {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, seat)
		}
		b = append(b, ']')
	}
	if len(o.Lines) > 0 {
		b = append(b, `,"items":[`...)
		for i, l := range o.Lines {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"section":`...)
			b = appendJSONString(b, l.Section)
			b = append(b, `,"quantity":`...)
			b = strconv.AppendInt(b, int64(l.Quantity), 10)
			b = append(b, `,"unit_price":`...)
			b = strconv.AppendInt(b, l.UnitPrice, 10)
			b = append(b, `,"amount":`...)
			b = strconv.AppendInt(b, l.Amount, 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, o.Total, 10)
	b = append(b, `,"currency":`...)
	b = appendJSONString(b, o.Currency)
	if o.PaymentIntent != "" {
		b = append(b, `,"payment_intent":`...)
		b = appendJSONString(b, o.PaymentIntent)
	}
	if o.FailureReason != "" {
		b = append(b, `,"reason":`...)
		b = appendJSONString(b, o.FailureReason)
	}
	if link != "" {
		b = append(b, `,"order_url":`...)
		b = appendJSONString(b, link)
	}
	b = append(b, `,"at":`...)
	if at.Year() < 0 || at.Year() > 9999 {
		at = time.Time{} // out of JSON's range, as encoding/json would refuse it
	}
	b = append(b, '"')
	b = at.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `"}`...)
	return Message{ID: newMessageID(), Topic: typ, Body: b}
}

// readBookingEvent reads a booking event as bookingMessage writes it, in any key order and spacing (the ledger
// hands bodies back as jsonb renders them), or else with encoding/json.
func readBookingEvent(data []byte) (BookingEvent, error) {
	if ev, ok := scanBookingEvent(data); ok {
		return ev, nil
	}
	var ev BookingEvent
	strs := bodyStrings{data: data}
	plainValue := strs.plainValue
	if objectFields(data, func(k, v []byte) bool {
		var ok bool
		switch string(k) {
		case "type":
			ev.Type, ok = plainValue(v)
		case "order_id":
			ev.OrderID, ok = plainValue(v)
		case "hold_id":
			ev.HoldID, ok = plainValue(v)
		case "event":
			ev.Event, ok = plainValue(v)
		case "fan":
			ev.Fan, ok = plainValue(v)
		case "status":
			var s string
			s, ok = plainValue(v)
			ev.Status = Status(s)
		case "currency":
			ev.Currency, ok = plainValue(v)
		case "payment_intent":
			ev.PaymentIntent, ok = plainValue(v)
		case "reason":
			ev.Reason, ok = plainValue(v)
		case "order_url":
			ev.OrderURL, ok = plainValue(v)
		case "total":
			ev.Total, ok = intValue(v)
		case "at":
			var s string
			if s, ok = plainValue(v); ok {
				var err error
				ev.At, err = time.Parse(time.RFC3339, s)
				ok = err == nil
			}
		case "seats":
			ok = arrayElems(v, func(e []byte) bool {
				s, ok := plainValue(e)
				ev.Seats = append(ev.Seats, s)
				return ok
			})
		case "items":
			ok = arrayElems(v, func(e []byte) bool {
				var l inventory.Line
				ok := objectFields(e, func(k, v []byte) bool {
					var ok bool
					var n int64
					switch string(k) {
					case "section":
						l.Section, ok = plainValue(v)
					case "quantity":
						n, ok = intValue(v)
						l.Quantity = int(n)
						ok = ok && int64(l.Quantity) == n
					case "unit_price":
						l.UnitPrice, ok = intValue(v)
					case "amount":
						l.Amount, ok = intValue(v)
					}
					return ok
				})
				ev.Lines = append(ev.Lines, l)
				return ok
			})
		}
		return ok
	}) {
		return ev, nil
	}
	ev = BookingEvent{}
	err := json.Unmarshal(data, &ev)
	return ev, err
}

// objectFields calls f with each key and raw value of the JSON object that is all of data, and reports whether
// data was one and f took every pair. Keys must be plain strings (see plainString).
func objectFields(data []byte, f func(k, v []byte) bool) bool {
	return members(data, '{', '}', func(i int) int {
		k, n, ok := plainString(data, i)
		if !ok {
			return -1
		}
		if i = skipSpace(data, n); i >= len(data) || data[i] != ':' {
			return -1
		}
		i = skipSpace(data, i+1)
		end := valueEnd(data, i)
		if end < 0 || !f(k, data[i:end]) {
			return -1
		}
		return end
	})
}

// arrayElems calls f with each raw element of the JSON array that is all of data.
func arrayElems(data []byte, f func(e []byte) bool) bool {
	return members(data, '[', ']', func(i int) int {
		end := valueEnd(data, i)
		if end < 0 || !f(data[i:end]) {
			return -1
		}
		return end
	})
}

// members walks the comma-separated members of the object or array between opening and closing that is all of data:
// member reads the one at i and returns the index after it, or -1 to refuse.
func members(data []byte, opening, closing byte, member func(i int) int) bool {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != opening {
		return false
	}
	if i = skipSpace(data, i+1); i < len(data) && data[i] == closing {
		return skipSpace(data, i+1) == len(data)
	}
	for {
		end := member(i)
		if end < 0 {
			return false
		}
		if i = skipSpace(data, end); i >= len(data) {
			return false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case closing:
			return skipSpace(data, i+1) == len(data)
		default:
			return false
		}
	}
}

// valueEnd returns the index after the JSON value starting at data[i], or -1. It finds the end only; the
// callers parse what they take, and refuse what they do not expect.
func valueEnd(data []byte, i int) int {
	if i >= len(data) {
		return -1
	}
	depth := 0
	for j := i; j < len(data); j++ {
		switch c := data[j]; c {
		case '"':
			for j++; j < len(data) && data[j] != '"'; j++ {
				if data[j] == '\\' {
					j++
				}
			}
			if j >= len(data) {
				return -1
			}
			if depth == 0 {
				return j + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return j // a literal ends at its container's close
			}
			if depth--; depth == 0 {
				return j + 1
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return j
			}
		}
	}
	if depth != 0 {
		return -1
	}
	return len(data)
}

// bodyStrings gives the strings read from one message body as parts of one copy of the body: one allocation
// per message, not one per field.
type bodyStrings struct {
	data []byte
	s    string // data as a string, made at the first field
}

// plainValue is a raw value that is a plain string (see plainString); v is part of data.
func (b *bodyStrings) plainValue(v []byte) (string, bool) {
	s, n, ok := plainString(v, 0)
	if !ok || n != len(v) {
		return "", false
	}
	// v was cut from data by two-index slicing, so its offset in data is the capacity it lost.
	off := cap(b.data) - cap(s)
	if off < 0 || off+len(s) > len(b.data) {
		return string(s), true
	}
	if b.s == "" {
		b.s = string(b.data)
	}
	if part := b.s[off : off+len(s)]; part == string(s) {
		return part, true
	}
	return string(s), true // not cut from data after all
}

// intValue is a raw value that is an integer.
func intValue(v []byte) (int64, bool) {
	n, err := strconv.ParseInt(string(v), 10, 64)
	return n, err == nil
}

// scanBookingEvent reads a booking event exactly as bookingMessage writes it (its keys, their order, no spaces,
// plain strings), in one pass; it reports false for anything else, which the walker in readBookingEvent reads.
// The relay carries bodies byte for byte, so every event takes this path: the walker scanned each value twice and
// called a closure per key.
func scanBookingEvent(data []byte) (BookingEvent, bool) {
	var ev BookingEvent
	r := eventScanner{b: data, strs: bodyStrings{data: data}, ok: true}
	r.lit(`{"type":`)
	ev.Type = r.str()
	r.lit(`,"order_id":`)
	ev.OrderID = r.str()
	r.lit(`,"hold_id":`)
	ev.HoldID = r.str()
	r.lit(`,"event":`)
	ev.Event = r.str()
	r.lit(`,"fan":`)
	ev.Fan = r.str()
	r.lit(`,"status":`)
	ev.Status = Status(r.str())
	if r.opt(`,"seats":[`) {
		for r.ok {
			ev.Seats = append(ev.Seats, r.str())
			if !r.opt(",") {
				r.lit("]")
				break
			}
		}
	}
	if r.opt(`,"items":[`) {
		for r.ok {
			var l inventory.Line
			r.lit(`{"section":`)
			l.Section = r.str()
			r.lit(`,"quantity":`)
			q := r.int()
			l.Quantity = int(q)
			r.ok = r.ok && int64(l.Quantity) == q
			r.lit(`,"unit_price":`)
			l.UnitPrice = r.int()
			r.lit(`,"amount":`)
			l.Amount = r.int()
			r.lit("}")
			ev.Lines = append(ev.Lines, l)
			if !r.opt(",") {
				r.lit("]")
				break
			}
		}
	}
	r.lit(`,"total":`)
	ev.Total = r.int()
	r.lit(`,"currency":`)
	ev.Currency = r.str()
	if r.opt(`,"payment_intent":`) {
		ev.PaymentIntent = r.str()
	}
	if r.opt(`,"reason":`) {
		ev.Reason = r.str()
	}
	if r.opt(`,"order_url":`) {
		ev.OrderURL = r.str()
	}
	r.lit(`,"at":`)
	if at := r.str(); r.ok {
		var err error
		ev.At, err = time.Parse(time.RFC3339, at)
		r.ok = err == nil
	}
	r.lit("}")
	if !r.ok || r.i != len(data) {
		return BookingEvent{}, false
	}
	return ev, true
}

// eventScanner reads compact JSON token by token; once a read fails, ok is false and every later read is a no-op.
type eventScanner struct {
	b    []byte
	i    int
	strs bodyStrings
	ok   bool
}

// lit reads l, which must come next.
func (r *eventScanner) lit(l string) {
	r.ok = r.opt(l)
}

// opt reads l if it comes next.
func (r *eventScanner) opt(l string) bool {
	if r.ok && bytes.HasPrefix(r.b[r.i:], []byte(l)) {
		r.i += len(l)
		return true
	}
	return false
}

// str reads a plain string (see plainString).
func (r *eventScanner) str() string {
	if !r.ok {
		return ""
	}
	_, end, ok := plainString(r.b, r.i)
	if !ok {
		r.ok = false
		return ""
	}
	s, _ := r.strs.plainValue(r.b[r.i:end])
	r.i = end
	return s
}

// int reads an integer.
func (r *eventScanner) int() int64 {
	if !r.ok {
		return 0
	}
	j := r.i
	if j < len(r.b) && r.b[j] == '-' {
		j++
	}
	for j < len(r.b) && r.b[j] >= '0' && r.b[j] <= '9' {
		j++
	}
	n, err := strconv.ParseInt(string(r.b[r.i:j]), 10, 64)
	if err != nil {
		r.ok = false
		return 0
	}
	r.i = j
	return n
}
