package loadtest

import (
	"encoding/json"
	"strconv"
	"time"
)

// fanState is where a fan stands; the first five are on the way, the rest are where fans end.
type fanState uint8

const (
	fsPending   fanState = iota // not arrived yet
	fsQueued                    // in the waiting room
	fsAdmitted                  // holds an access token
	fsHolding                   // holds units
	fsPaying                    // checked out, order not settled yet
	fsPaid                      // bought
	fsDeclined                  // the payment failed (a declined card, failed 3-D Secure, or a refund)
	fsSoldOut                   // the queue said sold-out or closed, or no units were left for it
	fsAbandoned                 // gave up at some step
	fsExpired                   // the hold expired: before checkout, or before the payment was authorized
	fsUnsettled                 // stopped polling its order before it settled (the settle phase looks again)
	fsFailed                    // gave up after errors
	fanStateCount
)

var fanStateNames = [fanStateCount]string{"pending", "queued", "admitted", "holding", "paying", "paid", "declined",
	"sold-out", "abandoned", "expired", "unsettled", "failed"}

// step is the fan's next action.
type step uint8

const (
	stepJoin step = iota
	stepPoll
	stepStream
	stepLeave
	stepHold
	stepRelease
	stepCheckout
	stepOrder
	stepConfirm      // the page confirms the card
	stepAuthenticate // the fan answers 3-D Secure
)

// Where a fan plans to give up, drawn when it is created.
const (
	quitNever uint8 = iota
	quitQueue
	quitAdmitted
	quitHold     // releases its hold
	quitCheckout // walks away from its hold
)

// How a fan asks for units.
const (
	askGeneral  uint8 = iota
	askSeats          // names seats
	askAdjacent       // best-available adjacent seats
)

// maxHoldTries bounds a fan's hold attempts after sold-out or taken seats.
const maxHoldTries = 5

// fan is one simulated fan: a small struct that a worker advances one request at a time. Only one goroutine owns
// a fan at a time (it is either in the schedule, in a worker, or in a stream reader), so it needs no lock.
type fan struct {
	idx      int32
	rng      uint64
	state    fanState
	next     step
	quit     uint8
	ask      uint8
	qty      uint8
	pay      payPath
	stage    uint8 // how far the page got with the payment (stageCheckedOut …)
	sse      bool
	switched bool  // asked for the other kind of seat after a sold-out
	attempts uint8 // retries of the current request
	tries    uint8 // hold attempts
	keys     uint16

	joinedAt   time.Duration // offsets from the run's start
	leaveAt    time.Duration // when a fan that quits in the queue leaves
	payUntil   time.Duration // when a paying fan stops polling its order
	checkoutAt time.Duration // when the checkout was first sent
	payBy      time.Duration // the order's pay_by; 0 until seen

	queueToken string
	access     string
	idem       string // the Idempotency-Key of the current mutating request, kept across its retries
	body       []byte // the current mutating request's body, kept across its retries
	section    string // the section of the current hold request
	hold       *heldUnits
	orderID    string
	pi         string // the order's PaymentIntent
}

// heldUnits is what a fan's hold got.
type heldUnits struct {
	id       string
	units    int
	sections map[string]int
	seats    []string
}

// rand is splitmix64: a fan's choices are reproducible from the run's seed and the fan's index.
func (f *fan) rand() uint64 { return splitmix64(&f.rng) }

// splitmix64 advances a splitmix64 state and returns its next value.
func splitmix64(s *uint64) uint64 {
	*s += 0x9e3779b97f4a7c15
	z := *s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (f *fan) float() float64 { return float64(f.rand()>>11) / (1 << 53) }

func (f *fan) intn(n int) int {
	if n <= 1 {
		return 0
	}
	return int(f.rand() % uint64(n))
}

func (f *fan) chance(p float64) bool { return p > 0 && f.float() < p }

// newKey starts a new mutating request: a fresh Idempotency-Key that its retries reuse.
func (f *fan) newKey(run string) {
	f.keys++
	f.idem = run + "-" + strconv.Itoa(int(f.idx)) + "-" + strconv.Itoa(int(f.keys))
	f.attempts = 0
}

// The JSON the fans send and read (shared/API.md).
type (
	joinBody struct {
		Fan string `json:"fan"`
	}
	queueStatus struct {
		QueueToken  string `json:"queue_token"`
		State       string `json:"state"`
		Position    int64  `json:"position"`
		PollAfterMs int64  `json:"poll_after_ms"`
		AccessToken string `json:"access_token"`
	}
	holdItem struct {
		Section  string `json:"section"`
		Quantity int    `json:"quantity"`
		Adjacent bool   `json:"adjacent,omitempty"`
	}
	holdBody struct {
		Items []holdItem `json:"items,omitempty"`
		Seats []string   `json:"seats,omitempty"`
	}
	holdAnswer struct {
		HoldID string     `json:"hold_id"`
		Seats  []string   `json:"seats"`
		Items  []holdItem `json:"items"`
	}
	checkoutBody struct {
		PaymentMethod string `json:"payment_method,omitempty"` // omitted: the page confirms
	}
	orderAnswer struct {
		OrderID       string         `json:"order_id"`
		HoldID        string         `json:"hold_id"`
		Status        string         `json:"status"`
		Seats         []string       `json:"seats"`
		Items         []holdItem     `json:"items"`
		PaymentIntent string         `json:"payment_intent"`
		Payment       *paymentAnswer `json:"payment"`
		FailureReason string         `json:"failure_reason"`
		PayBy         *time.Time     `json:"pay_by"`
		OrderToken    string         `json:"order_token"` // in the checkout's answer
	}
)

// act advances a fan by one request. It always either schedules the fan again or finishes it.
func (r *runner) act(f *fan) {
	if r.stopping() {
		return
	}
	switch f.next {
	case stepJoin:
		r.join(f)
	case stepPoll:
		r.poll(f)
	case stepStream:
		r.openStream(f)
	case stepLeave:
		r.leave(f)
	case stepHold:
		r.holdUnits(f)
	case stepRelease:
		r.release(f)
	case stepCheckout:
		r.checkout(f)
	case stepOrder:
		r.pollOrder(f)
	case stepConfirm:
		r.confirm(f)
	case stepAuthenticate:
		r.authenticate(f)
	}
}

func (r *runner) join(f *fan) {
	if f.state == fsPending {
		f.joinedAt = r.sched.now()
		r.setState(f, fsQueued)
		if f.quit == quitQueue {
			f.leaveAt = f.joinedAt + time.Duration(f.float()*float64(r.cfg.Patience))
		}
	}
	body, _ := json.Marshal(joinBody{Fan: r.fanName(f)})
	rep := r.c.do(call{ep: EpJoin, method: "POST", path: r.eventPath("/queue"), body: body})
	if !rep.ok() {
		r.retryOr(f, rep)
		return
	}
	var st queueStatus
	if r.c.decode(EpJoin, rep, &st) != nil || st.QueueToken == "" {
		r.finish(f, fsFailed)
		return
	}
	f.attempts = 0
	f.queueToken = st.QueueToken
	r.afterStatus(f, st, rep.retryAfter)
}

func (r *runner) poll(f *fan) {
	if f.quit == quitQueue && r.sched.now() >= f.leaveAt {
		f.next = stepLeave
		r.leave(f)
		return
	}
	rep := r.c.do(call{ep: EpPoll, method: "GET", path: r.eventPath("/queue"), queueToken: f.queueToken})
	if !rep.ok() {
		r.retryOr(f, rep)
		return
	}
	var st queueStatus
	if r.c.decode(EpPoll, rep, &st) != nil {
		r.finish(f, fsFailed)
		return
	}
	f.attempts = 0
	r.afterStatus(f, st, rep.retryAfter)
}

// afterStatus decides what a fan does with its place in the queue, from a join, a poll or a stream event.
func (r *runner) afterStatus(f *fan, st queueStatus, retryAfter time.Duration) {
	switch st.State {
	case "admitted":
		if st.AccessToken == "" { // a join that was admitted at once: the token comes with the status
			f.next = stepPoll
			r.sched.after(0, f)
			return
		}
		r.queueTime.add(r.sched.now() - f.joinedAt)
		r.c.lastShop.Store(time.Now().UnixNano()) // the poll that claims the access is the shopper's first call
		f.access = st.AccessToken
		r.setState(f, fsAdmitted)
		if f.quit == quitAdmitted {
			r.finish(f, fsAbandoned)
			return
		}
		f.next = stepHold
		r.sched.after(r.think(f), f)
	case "waiting", "prequeue":
		wait := time.Duration(st.PollAfterMs) * time.Millisecond
		if wait <= 0 {
			wait = retryAfter
		}
		if wait <= 0 {
			wait = time.Second
		}
		if f.quit == quitQueue {
			if left := f.leaveAt - r.sched.now(); left < wait {
				f.next = stepLeave
				r.sched.after(left, f)
				return
			}
		}
		if f.sse {
			f.next = stepStream
			r.sched.after(0, f)
			return
		}
		f.next = stepPoll
		r.sched.after(wait, f)
	case "sold-out", "closed":
		r.finish(f, fsSoldOut)
	default:
		r.finish(f, fsFailed)
	}
}

func (r *runner) leave(f *fan) {
	rep := r.c.do(call{ep: EpLeave, method: "DELETE", path: r.eventPath("/queue"), queueToken: f.queueToken})
	if rep.retryable() && f.attempts < uint8(r.cfg.Retries) {
		r.retryOr(f, rep)
		return
	}
	r.finish(f, fsAbandoned)
}

// holdUnits asks for units the way this fan does: a general quantity, named seats, or best-available adjacent.
func (r *runner) holdUnits(f *fan) {
	if f.idem == "" {
		f.newKey(r.runID)
		b, section, ok := r.holdRequest(f)
		if !ok {
			r.finish(f, fsSoldOut)
			return
		}
		f.body, f.section = b, section
	}
	rep := r.c.do(call{ep: EpHold, method: "POST", path: r.eventPath("/holds"), body: f.body, auth: f.access, idemKey: f.idem})
	if rep.ok() {
		var h holdAnswer
		if r.c.decode(EpHold, rep, &h) != nil || h.HoldID == "" {
			r.finish(f, fsFailed)
			return
		}
		f.idem, f.body = "", nil
		f.hold = r.heldFrom(h, f.section)
		r.seats.mark(f.hold.seats, true)
		r.setState(f, fsHolding)
		switch f.quit {
		case quitHold:
			f.next = stepRelease
			r.sched.after(r.think(f), f)
		case quitCheckout:
			r.finish(f, fsAbandoned) // walks away: the hold expires
		default:
			f.next = stepCheckout
			r.sched.after(r.think(f), f)
		}
		return
	}
	switch rep.problem {
	case "seats-unavailable":
		var b holdBody
		if json.Unmarshal(f.body, &b) == nil {
			r.seats.mark(b.Seats, true) // someone has at least one of them; look elsewhere
		}
		if f.tries >= 1 {
			f.ask = askAdjacent // picking seats by hand failed twice: take the best available
		}
	case "sold-out":
		// Ask for less, then for the other kind of seat once, like a fan who wants in at all.
		switch other := r.otherAsk(f.ask); {
		case f.qty > 1:
			f.qty = 1
		case !f.switched && other != f.ask:
			f.ask, f.switched = other, true
		default:
			r.finish(f, fsSoldOut)
			return
		}
	default:
		r.retryOr(f, rep)
		return
	}
	f.tries++
	f.idem, f.body = "", nil
	if f.tries >= maxHoldTries {
		r.finish(f, fsSoldOut)
		return
	}
	r.sched.after(r.think(f)/4, f)
}

// otherAsk is the other kind of request a fan may fall back on: seats for general admission and back.
func (r *runner) otherAsk(ask uint8) uint8 {
	switch {
	case ask == askGeneral && len(r.seated) > 0:
		return askAdjacent
	case ask != askGeneral && len(r.general) > 0:
		return askGeneral
	}
	return ask
}

// holdRequest builds the body of a fan's next hold attempt and names the section it asks of.
func (r *runner) holdRequest(f *fan) ([]byte, string, bool) {
	ask := f.ask
	if len(r.seated) == 0 {
		ask = askGeneral
	} else if len(r.general) == 0 && ask == askGeneral {
		ask = askAdjacent
	}
	qty := int(f.qty)
	var b holdBody
	var section string
	switch ask {
	case askGeneral:
		s := r.general[f.intn(len(r.general))]
		section = s.ID
		b.Items = []holdItem{{Section: s.ID, Quantity: qty}}
	case askSeats:
		s := r.seated[f.intn(len(r.seated))]
		section = s.ID
		if seats := r.seats.pick(f, s.ID, qty); len(seats) > 0 {
			b.Seats = seats
			break
		}
		b.Items = []holdItem{{Section: s.ID, Quantity: qty, Adjacent: true}}
	default:
		s := r.seated[f.intn(len(r.seated))]
		section = s.ID
		b.Items = []holdItem{{Section: s.ID, Quantity: qty, Adjacent: true}}
	}
	body, err := json.Marshal(b)
	return body, section, err == nil
}

// heldFrom reads what a hold took: its items if the answer lists them, else its seats, else the request's section.
func (r *runner) heldFrom(h holdAnswer, section string) *heldUnits {
	hu := &heldUnits{id: h.HoldID, seats: h.Seats, sections: map[string]int{}}
	for _, it := range h.Items {
		hu.sections[it.Section] += it.Quantity
		hu.units += it.Quantity
	}
	if hu.units == 0 && len(h.Seats) > 0 {
		for _, s := range h.Seats {
			sec, _, _, ok := splitSeat(s)
			if ok {
				hu.sections[sec]++
			}
			hu.units++
		}
	}
	if hu.units == 0 && section != "" {
		hu.units = 1
		hu.sections[section] = 1
	}
	return hu
}

func (r *runner) release(f *fan) {
	if f.idem == "" {
		f.newKey(r.runID)
	}
	rep := r.c.do(call{ep: EpRelease, method: "DELETE", path: "/v1/holds/" + f.hold.id, auth: f.access, idemKey: f.idem})
	if !rep.ok() && rep.retryable() && f.attempts < uint8(r.cfg.Retries) {
		r.retryOr(f, rep)
		return
	}
	if rep.ok() {
		r.seats.mark(f.hold.seats, false)
	}
	r.finish(f, fsAbandoned)
}

func (r *runner) checkout(f *fan) {
	if f.idem == "" {
		f.newKey(r.runID)
		f.checkoutAt = r.sched.now()
		var b checkoutBody
		if f.pay == payServer {
			b.PaymentMethod = f.pay.card()
		}
		f.body, _ = json.Marshal(b)
	}
	rep := r.c.do(call{ep: EpCheckout, method: "POST", path: "/v1/holds/" + f.hold.id + "/checkout", body: f.body, auth: f.access, idemKey: f.idem})
	if !rep.ok() {
		if rep.problem == "hold-expired" {
			r.seats.mark(f.hold.seats, false)
			r.finish(f, fsExpired)
			return
		}
		r.retryOr(f, rep)
		return
	}
	var o orderAnswer
	if r.c.decode(EpCheckout, rep, &o) != nil || o.OrderID == "" {
		r.finish(f, fsFailed)
		return
	}
	f.idem, f.body = "", nil
	f.orderID = o.OrderID
	r.orders.add(OrderRecord{OrderID: o.OrderID, HoldID: f.hold.id, Status: o.Status, Units: f.hold.units,
		Sections: f.hold.sections, Seats: f.hold.seats, Pay: f.pay.String()}, f.access, o.OrderToken, f.pay, r.sched.start.Add(f.checkoutAt))
	r.setState(f, fsPaying)
	f.payUntil = r.sched.now() + r.cfg.Settle
	f.next = stepOrder
	r.sched.after(r.cfg.OrderPoll, f)
}

func (r *runner) pollOrder(f *fan) {
	rep := r.c.do(call{ep: EpOrder, method: "GET", path: "/v1/orders/" + f.orderID, auth: f.access})
	if !rep.ok() {
		r.retryOr(f, rep)
		return
	}
	var o orderAnswer
	if r.c.decode(EpOrder, rep, &o) != nil {
		r.finish(f, fsFailed)
		return
	}
	f.attempts = 0
	r.orders.update(f.orderID, o)
	switch o.Status {
	case "paid":
		r.finish(f, fsPaid)
	case "failed", "refunded":
		r.seats.mark(f.hold.seats, false)
		if o.FailureReason == "hold-expired" {
			r.finish(f, fsExpired)
			return
		}
		r.finish(f, fsDeclined)
	case "requires_action":
		if r.awaitingFan(f, o) {
			return
		}
		fallthrough
	default:
		if r.sched.now() >= f.payUntil {
			r.finish(f, fsUnsettled)
			return
		}
		r.sched.after(r.cfg.OrderPoll, f)
	}
}

// retryOr sends the same request again after a backoff when it may succeed (no answer, 5xx, rate limited) and the
// fan has retries left; otherwise the fan gives up.
func (r *runner) retryOr(f *fan, rep reply) {
	if rep.retryable() && int(f.attempts) < r.cfg.Retries {
		d := backoff(int(f.attempts), rep.retryAfter, f.float())
		f.attempts++
		r.sched.after(d, f)
		return
	}
	if rep.problem == "sold-out" {
		r.finish(f, fsSoldOut)
		return
	}
	r.finish(f, fsFailed)
}

// think is a fan's pause before its next step.
func (r *runner) think(f *fan) time.Duration {
	return time.Duration(f.float() * float64(r.cfg.Think))
}
