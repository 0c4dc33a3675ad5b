package loadtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeServer is a tiny in-memory stand-in for the onsale API, enough to test the generator's plumbing and
// behaviour without the real server: it admits fans at a rate, holds general units and seats, settles orders on
// the first look after checkout (or, paid in the page, as the test provider's confirm and authenticate say), and can
// be told to oversell, to capture authorizations made after pay_by, or to fail requests.
type fakeServer struct {
	t           *testing.T
	srv         *httptest.Server
	admitPS     float64       // fans admitted per second
	minWait     time.Duration // no fan is admitted sooner than this after its join
	oversell    bool          // sell beyond capacity (to see the audit fail)
	fail503     int           // the first try of every n-th hold request answers 503 before doing anything
	admin       string
	checkoutTTL time.Duration // how long a page payment may take (pay_by)
	captureLate bool          // never cancel at pay_by and capture late authorizations (to see the audit fail)

	mu        sync.Mutex
	start     time.Time
	ev        *fakeEvent
	positions map[string]int // fan → position
	joined    map[string]time.Time
	holds     map[string]*fakeHold
	idem      map[string]string // idempotency key → hold or order id
	orders    map[string]*fakeHold
	intents   map[string]*fakeHold // payment intent → hold
	holdCalls int
	keysSeen  map[string]int // Idempotency-Key → hold requests carrying it
}

type fakeEvent struct {
	ID       string        `json:"id"`
	Sections []SectionSpec `json:"sections"`
	avail    map[string]int
	sold     map[string]int
	held     map[string]int
	seats    map[string]string // seat → hold
}

type fakeHold struct {
	id, fan, order, status string
	items                  []holdItem
	seats                  []string
	pm                     string
	// Paid in the page: the intent's Stripe status, pay_by, and why the order failed.
	pi, piStatus, reason string
	payBy                time.Time
}

func newFakeServer(t *testing.T) *fakeServer {
	f := &fakeServer{t: t, admitPS: 1e9, admin: "secret", start: time.Now(), positions: map[string]int{}, joined: map[string]time.Time{},
		holds: map[string]*fakeHold{}, idem: map[string]string{}, orders: map[string]*fakeHold{}, keysSeen: map[string]int{},
		intents: map[string]*fakeHold{}, checkoutTTL: time.Second}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func problem(w http.ResponseWriter, status int, typ string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"type":%q,"title":%q,"status":%d}`, typ, typ, status)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	p := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	bearer := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	// The stream holds no lock while it waits.
	if len(p) == 5 && p[0] == "v1" && p[1] == "events" && p[3] == "queue" && p[4] == "stream" {
		f.stream(w, r)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case len(p) >= 3 && p[1] == "admin":
		if bearer != f.admin {
			problem(w, 401, "unauthorized")
			return
		}
		f.adminAPI(w, r, p)
	case len(p) == 4 && p[1] == "events" && p[3] == "queue":
		f.queue(w, r)
	case len(p) == 4 && p[1] == "events" && p[3] == "holds" && r.Method == "POST":
		f.hold(w, r, bearer)
	case len(p) == 3 && p[1] == "holds" && r.Method == "DELETE":
		if h := f.holds[p[2]]; h != nil && h.status == "held" {
			f.free(h)
			h.status = "released"
		}
		w.WriteHeader(204)
	case len(p) == 4 && p[1] == "holds" && p[3] == "checkout":
		f.checkout(w, r, p[2])
	case len(p) == 4 && p[1] == "test-payments" && r.Method == "POST":
		f.testPayment(w, r, p[2], p[3])
	case len(p) == 3 && p[1] == "orders":
		h := f.orders[p[2]]
		if h == nil {
			problem(w, 404, "not-found")
			return
		}
		if h.status == "checkout" { // settles on the first look
			if h.pm == cardDeclined {
				h.status, h.reason = "failed", "card_declined"
				f.free(h)
			} else {
				f.sell(h)
			}
		}
		if h.status == "page" && time.Now().After(h.payBy) && !f.captureLate { // the deadline's cancel, seen lazily
			h.status, h.reason, h.piStatus = "failed", "hold-expired", "canceled"
			f.free(h)
		}
		o := map[string]any{"order_id": h.order, "hold_id": h.id, "status": "pending", "seats": h.seats, "items": h.items,
			"payment_intent": h.pi}
		switch {
		case h.status == "paid" || h.status == "failed":
			o["status"], o["failure_reason"] = h.status, h.reason
		case h.status == "page" && h.piStatus != "requires_capture":
			pay := map[string]any{"provider": "test", "client_secret": h.pi + "_secret_x"}
			if h.piStatus == "requires_action" {
				pay["next_action"] = map[string]string{"type": "redirect", "url": "/pay/3ds/" + h.pi}
			}
			o["status"], o["payment"], o["pay_by"] = "requires_action", pay, h.payBy
		}
		writeJSON(w, 200, o)
	default:
		problem(w, 404, "not-found")
	}
}

// sell moves a hold's units from held to sold.
func (f *fakeServer) sell(h *fakeHold) {
	h.status = "paid"
	for _, it := range h.items {
		f.ev.held[it.Section] -= it.Quantity
		f.ev.sold[it.Section] += it.Quantity
	}
}

// testPayment is the test provider's confirm and authenticate, with Stripe's test cards.
func (f *fakeServer) testPayment(w http.ResponseWriter, r *http.Request, pi, action string) {
	h := f.intents[pi]
	if h == nil {
		problem(w, 404, "not-found")
		return
	}
	var b struct {
		PaymentMethod string `json:"payment_method"`
		Outcome       string `json:"outcome"`
	}
	_ = json.NewDecoder(r.Body).Decode(&b)
	switch {
	case action == "confirm" && h.piStatus == "requires_payment_method" && h.status == "page":
		switch b.PaymentMethod {
		case cardOK:
			h.piStatus = "requires_capture"
			f.sell(h)
		case cardDeclined:
			h.status, h.reason = "failed", "card_declined"
			f.free(h)
		case card3DS, cardAuthRequired:
			h.piStatus = "requires_action"
		default:
			problem(w, 400, "bad-request")
			return
		}
	case action == "authenticate" && h.piStatus == "requires_action" && h.status == "page":
		late := time.Now().After(h.payBy)
		switch {
		case b.Outcome == "fail":
			h.piStatus, h.status, h.reason = "requires_payment_method", "failed", "payment_intent_authentication_failure"
			f.free(h)
		case late && !f.captureLate:
			h.piStatus, h.status, h.reason = "canceled", "failed", "hold-expired"
			f.free(h)
		default:
			h.piStatus = "requires_capture"
			f.sell(h)
		}
	default:
		problem(w, 409, "conflict")
		return
	}
	writeJSON(w, 200, map[string]any{"payment_intent": pi, "status": h.piStatus})
}

func (f *fakeServer) adminAPI(w http.ResponseWriter, r *http.Request, p []string) {
	switch {
	case r.Method == "POST" && len(p) == 3:
		var ev fakeEvent
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			problem(w, 400, "bad-request")
			return
		}
		ev.avail, ev.sold, ev.held, ev.seats = map[string]int{}, map[string]int{}, map[string]int{}, map[string]string{}
		for i, s := range ev.Sections {
			if s.Kind == "seated" {
				ev.Sections[i].Capacity = s.units()
			}
			ev.avail[s.ID] = ev.Sections[i].Capacity
		}
		f.ev = &ev
		f.start = time.Now()
		writeJSON(w, 201, ev)
	case len(p) == 4:
		writeJSON(w, 200, f.ev)
	case len(p) == 5 && p[4] == "stats":
		st := EventStats{Queued: int64(len(f.positions))}
		for _, s := range f.ev.Sections {
			ss := SectionStats{ID: s.ID, Capacity: s.Capacity, Available: f.ev.avail[s.ID], Held: f.ev.held[s.ID], Sold: f.ev.sold[s.ID]}
			st.Sections = append(st.Sections, ss)
			st.Capacity += ss.Capacity
			st.Available += ss.Available
			st.Held += ss.Held
			st.Sold += ss.Sold
		}
		writeJSON(w, 200, st)
	default:
		problem(w, 404, "not-found")
	}
}

func (f *fakeServer) soldOut() bool {
	n := 0
	for _, v := range f.ev.avail {
		n += v
	}
	return n <= 0 && !f.oversell
}

// status answers a fan's place: admitted once the serving counter (admitPS × elapsed) reaches its position.
func (f *fakeServer) status(fan string) map[string]any {
	pos := f.positions[fan]
	serving := int(f.admitPS * time.Since(f.start).Seconds())
	switch {
	case f.soldOut():
		return map[string]any{"state": "sold-out", "position": pos}
	case pos <= serving && time.Since(f.joined[fan]) >= f.minWait:
		return map[string]any{"state": "admitted", "position": pos, "access_token": "a-" + fan}
	}
	return map[string]any{"state": "waiting", "position": pos, "ahead": pos - serving, "poll_after_ms": 20}
}

func (f *fakeServer) queue(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case "POST":
		var b struct {
			Fan string `json:"fan"`
		}
		if json.NewDecoder(r.Body).Decode(&b) != nil || b.Fan == "" {
			problem(w, 400, "bad-request")
			return
		}
		code := 200
		if _, ok := f.positions[b.Fan]; !ok {
			f.positions[b.Fan] = len(f.positions) + 1
			f.joined[b.Fan] = time.Now()
			code = 201
		}
		st := f.status(b.Fan)
		delete(st, "access_token")
		st["queue_token"] = "q-" + b.Fan
		writeJSON(w, code, st)
	case "GET":
		fan, ok := strings.CutPrefix(r.Header.Get("Queue-Token"), "q-")
		if _, known := f.positions[fan]; !ok || !known {
			problem(w, 401, "unauthorized")
			return
		}
		st := f.status(fan)
		if st["state"] == "waiting" {
			w.Header().Set("Retry-After", "1")
		}
		writeJSON(w, 200, st)
	case "DELETE":
		w.WriteHeader(204)
	}
}

func (f *fakeServer) stream(w http.ResponseWriter, r *http.Request) {
	fan := strings.TrimPrefix(r.URL.Query().Get("token"), "q-")
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(200)
	for {
		f.mu.Lock()
		st := f.status(fan)
		f.mu.Unlock()
		b, _ := json.Marshal(st)
		fmt.Fprintf(w, "event: status\ndata: %s\n\n", b)
		w.(http.Flusher).Flush()
		if st["state"] != "waiting" {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (f *fakeServer) hold(w http.ResponseWriter, r *http.Request, bearer string) {
	fan, ok := strings.CutPrefix(bearer, "a-")
	if !ok {
		problem(w, 403, "not-admitted")
		return
	}
	key := r.Header.Get("Idempotency-Key")
	f.keysSeen[key]++
	if f.keysSeen[key] == 1 {
		f.holdCalls++
	}
	if f.fail503 > 0 && f.keysSeen[key] == 1 && f.holdCalls%f.fail503 == 0 { // the first try of every n-th request
		problem(w, 503, "unavailable")
		return
	}
	if id, ok := f.idem[key]; ok && key != "" {
		h := f.holds[id]
		writeJSON(w, 201, map[string]any{"hold_id": h.id, "seats": h.seats, "items": h.items})
		return
	}
	var b holdBody
	if json.NewDecoder(r.Body).Decode(&b) != nil {
		problem(w, 400, "bad-request")
		return
	}
	h := &fakeHold{id: "h" + strconv.Itoa(len(f.holds)+1), fan: fan, status: "held"}
	for _, s := range b.Seats {
		if f.ev.seats[s] != "" && !f.oversell {
			problem(w, 409, "seats-unavailable")
			return
		}
	}
	for _, s := range b.Seats {
		sec, _, _, _ := splitSeat(s)
		f.ev.seats[s] = h.id
		h.seats = append(h.seats, s)
		h.items = append(h.items, holdItem{Section: sec, Quantity: 1})
	}
	for _, it := range b.Items {
		if f.ev.avail[it.Section] < it.Quantity && !f.oversell {
			problem(w, 409, "sold-out")
			return
		}
		if it.Adjacent { // the fake gives any free seats of the first row with room
			sec := f.section(it.Section)
			seats := f.freeSeats(sec, it.Quantity)
			if len(seats) < it.Quantity {
				problem(w, 409, "sold-out")
				return
			}
			for _, s := range seats {
				f.ev.seats[s] = h.id
			}
			h.seats = append(h.seats, seats...)
		}
		h.items = append(h.items, holdItem{Section: it.Section, Quantity: it.Quantity})
	}
	for _, it := range h.items {
		f.ev.avail[it.Section] -= it.Quantity
		f.ev.held[it.Section] += it.Quantity
	}
	f.holds[h.id] = h
	if key != "" {
		f.idem[key] = h.id
	}
	writeJSON(w, 201, map[string]any{"hold_id": h.id, "seats": h.seats, "items": h.items})
}

func (f *fakeServer) section(id string) SectionSpec {
	for _, s := range f.ev.Sections {
		if s.ID == id {
			return s
		}
	}
	return SectionSpec{}
}

func (f *fakeServer) freeSeats(s SectionSpec, n int) []string {
	for _, row := range s.Rows {
		var run []string
		for i := 1; i <= row.Seats; i++ {
			id := s.ID + "-" + row.Row + "-" + strconv.Itoa(i)
			if f.ev.seats[id] != "" {
				run = nil
				continue
			}
			if run = append(run, id); len(run) == n {
				return run
			}
		}
	}
	return nil
}

func (f *fakeServer) free(h *fakeHold) {
	for _, it := range h.items {
		f.ev.avail[it.Section] += it.Quantity
		f.ev.held[it.Section] -= it.Quantity
	}
	for _, s := range h.seats {
		delete(f.ev.seats, s)
	}
}

func (f *fakeServer) checkout(w http.ResponseWriter, r *http.Request, id string) {
	h := f.holds[id]
	if h == nil {
		problem(w, 404, "not-found")
		return
	}
	if h.status != "held" && h.order == "" {
		problem(w, 410, "hold-expired")
		return
	}
	var b checkoutBody
	_ = json.NewDecoder(r.Body).Decode(&b)
	if h.order == "" {
		h.order, h.status, h.pm = "o"+h.id, "checkout", b.PaymentMethod
		if b.PaymentMethod == "" { // paid in the page
			h.status, h.pi, h.piStatus, h.payBy = "page", "pi_"+h.id, "requires_payment_method", time.Now().Add(f.checkoutTTL)
			f.intents[h.pi] = h
		}
		f.orders[h.order] = h
	}
	writeJSON(w, 202, map[string]any{"order_id": h.order, "status": "pending"})
}
