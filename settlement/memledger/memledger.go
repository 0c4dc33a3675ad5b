// Package memledger is the embedded settlement ledger: orders, outbox and processed messages in memory, with
// the same contract as pgledger (one lock stands in for a transaction). It serves when no database is configured.
package memledger

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/settlement"
)

type order struct {
	settlement.Order
	idemKey  string
	deadline time.Time
}

type row struct {
	seq     int64
	msg     settlement.Message
	claimed bool // a relay is publishing it
	sent    bool
}

// Ledger keeps a ledger in memory. It is safe for concurrent use.
type Ledger struct {
	mu        sync.Mutex
	orders    map[string]*order
	byHold    map[string]string
	byKey     map[string]string // fan + "\x00" + key → order
	byPI      map[string]string
	outbox    []*row
	seq       int64
	processed map[string]bool
	events    map[string]inventory.Event
	cancels   map[string]*settlement.Cancellation
	tickets   map[string]*ticket               // by id
	byOrder   map[string][]string              // order → ticket ids, in order
	scans     map[string]settlement.ScanResult // event + "\x00" + nonce
	conflicts map[string]int                   // event → scans admitted offline that the ledger refused
	keys      map[string][]settlement.TicketKey
	// The sale's guard, as pgledger's section_sales and tickets_seat_sold: a saved event's sections (event +
	// "\x00" + section → capacity and valid tickets), and each seat's valid ticket (event + "\x00" + seat).
	sections map[string]*section
	seats    map[string]string
	now      func() time.Time
}

type section struct{ capacity, sold int }

type ticket struct {
	settlement.Ticket
	inside    bool
	firstGate string
}

var _ settlement.Ledger = (*Ledger)(nil)

// New returns an empty ledger.
func New() *Ledger {
	return &Ledger{
		orders: map[string]*order{}, byHold: map[string]string{}, byKey: map[string]string{},
		byPI: map[string]string{}, processed: map[string]bool{}, events: map[string]inventory.Event{},
		cancels: map[string]*settlement.Cancellation{}, tickets: map[string]*ticket{}, byOrder: map[string][]string{},
		scans: map[string]settlement.ScanResult{}, conflicts: map[string]int{}, keys: map[string][]settlement.TicketKey{},
		sections: map[string]*section{}, seats: map[string]string{}, now: time.Now,
	}
}

// Close does nothing; the ledger holds no connections.
func (l *Ledger) Close() error { return nil }

func (l *Ledger) CreateOrder(_ context.Context, o settlement.Order, key string, deadline time.Time, outbox []settlement.Message) (settlement.Order, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if id, ok := l.byHold[o.HoldID]; ok {
		return l.orders[id].copy(), false, nil
	}
	if key != "" {
		if id, ok := l.byKey[o.Fan+"\x00"+key]; ok {
			return l.orders[id].copy(), false, nil
		}
	}
	if _, ok := l.orders[o.ID]; ok {
		return settlement.Order{}, false, fmt.Errorf("order %s exists", o.ID)
	}
	o.Seats, o.Lines = slices.Clone(o.Seats), slices.Clone(o.Lines)
	l.orders[o.ID] = &order{Order: o, idemKey: key, deadline: deadline}
	l.byHold[o.HoldID] = o.ID
	if key != "" {
		l.byKey[o.Fan+"\x00"+key] = o.ID
	}
	l.append(outbox)
	return o, true, nil
}

func (o *order) copy() settlement.Order {
	c := o.Order
	c.Seats, c.Lines = slices.Clone(c.Seats), slices.Clone(c.Lines)
	if c.NextAction != nil {
		na := *c.NextAction
		c.NextAction = &na
	}
	return c
}

func (l *Ledger) append(msgs []settlement.Message) {
	for _, m := range msgs {
		l.seq++
		l.outbox = append(l.outbox, &row{seq: l.seq, msg: m})
	}
}

func (l *Ledger) Order(_ context.Context, id string) (settlement.Order, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	o, ok := l.orders[id]
	if !ok {
		return settlement.Order{}, settlement.ErrNotFound
	}
	return o.copy(), nil
}

func (l *Ledger) OrderByHold(ctx context.Context, holdID string) (settlement.Order, error) {
	l.mu.Lock()
	id, ok := l.byHold[holdID]
	l.mu.Unlock()
	if !ok {
		return settlement.Order{}, settlement.ErrNotFound
	}
	return l.Order(ctx, id)
}

func (l *Ledger) OrderByIdempotencyKey(ctx context.Context, fan, key string) (settlement.Order, error) {
	l.mu.Lock()
	id, ok := l.byKey[fan+"\x00"+key]
	l.mu.Unlock()
	if !ok || key == "" {
		return settlement.Order{}, settlement.ErrNotFound
	}
	return l.Order(ctx, id)
}

func (l *Ledger) OrderByPaymentIntent(ctx context.Context, pi string) (settlement.Order, error) {
	l.mu.Lock()
	id, ok := l.byPI[pi]
	l.mu.Unlock()
	if !ok {
		return settlement.Order{}, settlement.ErrNotFound
	}
	return l.Order(ctx, id)
}

func (l *Ledger) Transition(_ context.Context, t settlement.Transition) (settlement.Order, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	o, ok := l.orders[t.OrderID]
	if !ok {
		return settlement.Order{}, settlement.ErrNotFound
	}
	if t.MessageID != "" && l.processed[t.MessageID] {
		return o.copy(), settlement.ErrDuplicate
	}
	if !slices.Contains(t.From, o.Status) {
		return o.copy(), settlement.ErrConflict
	}
	if err := l.guard(t.Tickets); err != nil {
		return settlement.Order{}, fmt.Errorf("transition %s: %w", o.ID, err)
	}
	o.Status = t.To
	if t.PaymentKey != "" {
		o.PaymentKey = t.PaymentKey
	}
	if t.PaymentIntent != "" {
		o.PaymentIntent = t.PaymentIntent
		l.byPI[t.PaymentIntent] = o.ID
	}
	if t.FailureReason != "" {
		o.FailureReason = t.FailureReason
	}
	if t.ClientSecret != "" {
		o.ClientSecret = t.ClientSecret
	}
	if t.NextAction != nil {
		na := *t.NextAction
		o.NextAction = &na
	}
	if !t.PayBy.IsZero() {
		o.PayBy = t.PayBy
	}
	if t.RequestRefund {
		o.RefundRequested = true
		if o.RefundReason == "" {
			o.RefundReason = t.RefundReason
		}
	}
	for _, k := range t.Tickets {
		if _, ok := l.tickets[k.ID]; !ok {
			k.OrderID, k.Status = o.ID, settlement.TicketValid
			l.tickets[k.ID] = &ticket{Ticket: k}
			l.byOrder[o.ID] = append(l.byOrder[o.ID], k.ID)
			l.sell(k, 1)
		}
	}
	if t.RequestRefund || t.To == settlement.Refunded {
		l.revoke(o.ID)
	}
	if !t.Deadline.IsZero() {
		o.deadline = t.Deadline
	}
	o.UpdatedAt = l.now().UTC()
	if t.MessageID != "" {
		l.processed[t.MessageID] = true
	}
	l.append(t.Outbox)
	return o.copy(), nil
}

func (l *Ledger) Processed(_ context.Context, id string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.processed[id], nil
}

func (l *Ledger) MarkProcessed(_ context.Context, id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.processed[id] = true
	return nil
}

// RelayOutbox claims unsent rows so that concurrent relays skip them, publishes outside the lock, and marks
// sent only what publish confirmed.
func (l *Ledger) RelayOutbox(ctx context.Context, limit int, publish func(context.Context, []settlement.Message) ([]string, error)) (int, error) {
	l.mu.Lock()
	var rows []*row
	for _, r := range l.outbox {
		if len(rows) == limit {
			break
		}
		if !r.sent && !r.claimed {
			r.claimed = true
			rows = append(rows, r)
		}
	}
	l.mu.Unlock()
	if len(rows) == 0 {
		return 0, nil
	}
	msgs := make([]settlement.Message, len(rows))
	for i, r := range rows {
		msgs[i] = r.msg
	}
	ids, err := publish(ctx, msgs)
	l.mu.Lock()
	defer l.mu.Unlock()
	ok := make(map[string]bool, len(ids))
	for _, id := range ids {
		ok[id] = true
	}
	n := 0
	for _, r := range rows {
		r.claimed = false
		if ok[r.msg.ID] {
			r.sent = true
			n++
		}
	}
	// Drop the sent prefix so the outbox does not grow without bound.
	i := 0
	for i < len(l.outbox) && l.outbox[i].sent {
		i++
	}
	l.outbox = l.outbox[i:]
	if err != nil {
		return n, fmt.Errorf("publish outbox: %w", err)
	}
	return n, nil
}

func (l *Ledger) OutboxPending(context.Context) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.outbox {
		if !r.sent {
			n++
		}
	}
	return n, nil
}

func (l *Ledger) Redrive(_ context.Context, now time.Time, limit int, next func(settlement.Order) time.Time, msg func(settlement.Order) settlement.Message) ([]settlement.Order, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var due []*order
	for _, o := range l.orders {
		if (!o.Status.Terminal() || o.Status == settlement.Paid && o.RefundRequested) && !o.deadline.After(now) {
			due = append(due, o)
		}
	}
	sort.Slice(due, func(i, j int) bool { return due[i].deadline.Before(due[j].deadline) })
	if len(due) > limit {
		due = due[:limit]
	}
	out := make([]settlement.Order, 0, len(due))
	for _, o := range due {
		o.Attempts++
		c := o.copy()
		o.deadline = next(c)
		l.append([]settlement.Message{msg(c)})
		out = append(out, c)
	}
	return out, nil
}

func (l *Ledger) SaveEvent(_ context.Context, ev inventory.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events[ev.ID] = ev
	for _, sec := range ev.Sections {
		k := ev.ID + "\x00" + sec.ID
		if st, ok := l.sections[k]; ok {
			st.capacity = max(sec.Capacity, 0)
			continue
		}
		// Tickets written before the event was saved count as sold.
		st := &section{capacity: max(sec.Capacity, 0)}
		for _, tk := range l.tickets {
			if tk.Event == ev.ID && tk.Section == sec.ID && tk.Status == settlement.TicketValid {
				st.sold++
			}
		}
		l.sections[k] = st
	}
	return nil
}

// guard refuses new tickets whose seat is in a valid ticket already, or that would put a saved section past its
// capacity; l.mu is held.
func (l *Ledger) guard(tks []settlement.Ticket) error {
	var adds map[string]int
	for i, k := range tks {
		if _, ok := l.tickets[k.ID]; ok {
			continue // written already: sells nothing more
		}
		if k.Seat != "" {
			if _, sold := l.seats[k.Event+"\x00"+k.Seat]; sold || slices.ContainsFunc(tks[:i], func(o settlement.Ticket) bool {
				return o.Event == k.Event && o.Seat == k.Seat
			}) {
				return fmt.Errorf("%w: seat %s of event %s is sold", settlement.ErrOversold, k.Seat, k.Event)
			}
		}
		key := k.Event + "\x00" + k.Section
		st, ok := l.sections[key]
		if !ok {
			continue
		}
		if adds == nil {
			adds = map[string]int{}
		}
		adds[key]++
		if st.sold+adds[key] > st.capacity {
			return fmt.Errorf("%w: section %s of event %s would sell %d of %d units", settlement.ErrOversold,
				k.Section, k.Event, st.sold+adds[key], st.capacity)
		}
	}
	return nil
}

// sell counts a ticket made valid (n 1) or revoked (n -1) in its section and seat; l.mu is held.
func (l *Ledger) sell(k settlement.Ticket, n int) {
	if st, ok := l.sections[k.Event+"\x00"+k.Section]; ok {
		st.sold += n
	}
	if k.Seat == "" {
		return
	}
	seat := k.Event + "\x00" + k.Seat
	switch {
	case n > 0:
		l.seats[seat] = k.ID
	case l.seats[seat] == k.ID:
		delete(l.seats, seat)
	}
}

func (l *Ledger) Event(_ context.Context, id string) (inventory.Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ev, ok := l.events[id]
	if !ok {
		return inventory.Event{}, settlement.ErrNotFound
	}
	return ev, nil
}

func (l *Ledger) LiveOrders(_ context.Context, event string) ([]settlement.Order, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []settlement.Order
	for _, o := range l.orders {
		if o.Event == event && (o.Status == settlement.Paid || !o.Status.Terminal()) {
			out = append(out, o.copy())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

func (l *Ledger) Orders(_ context.Context, q settlement.OrderQuery) ([]settlement.Order, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []settlement.Order
	for _, o := range l.orders {
		switch {
		case q.Event != "" && o.Event != q.Event, q.Fan != "" && o.Fan != q.Fan,
			q.Status != "" && o.Status != q.Status, q.After != nil && !q.After.Before(o.Key()):
			continue
		}
		out = append(out, o.copy())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key().Before(out[j].Key()) })
	if len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

func (l *Ledger) CancelEvent(_ context.Context, event string, at time.Time) (settlement.Cancellation, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.events[event]; !ok {
		return settlement.Cancellation{}, settlement.ErrNotFound
	}
	c, ok := l.cancels[event]
	if !ok {
		c = &settlement.Cancellation{Event: event, CancelledAt: at.UTC()}
		l.cancels[event] = c
	}
	return *c, nil
}

func (l *Ledger) Cancellation(_ context.Context, event string) (settlement.Cancellation, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.events[event]; !ok {
		return settlement.Cancellation{}, settlement.ErrNotFound
	}
	c := settlement.Cancellation{Event: event}
	if got, ok := l.cancels[event]; ok {
		c = *got
	}
	for _, o := range l.orders {
		if o.Event != event {
			continue
		}
		switch {
		case o.Status == settlement.Paid && o.RefundRequested:
			c.Refunds.Total++
			if o.RefundFailures > 0 {
				c.Refunds.Failed++
			}
		case o.Status == settlement.Paid && !c.CancelledAt.IsZero():
			c.Refunds.Total++
		case o.Status == settlement.Refunded && o.RefundRequested:
			c.Refunds.Total++
			c.Refunds.Done++
		}
	}
	return c, nil
}

func (l *Ledger) OpenCancellations(context.Context) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for id, c := range l.cancels {
		if c.FinishedAt.IsZero() {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (l *Ledger) HoldsClosed(_ context.Context, event string, at time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.cancels[event]
	if !ok {
		return settlement.ErrNotFound
	}
	if c.HoldsClosedAt.IsZero() {
		c.HoldsClosedAt = at.UTC()
	}
	for _, o := range l.orders {
		if o.Event == event && !o.Status.Terminal() && o.deadline.After(at) {
			o.deadline = at
		}
	}
	return nil
}

func (l *Ledger) RequestEventRefunds(_ context.Context, event, reason string, limit int, deadline time.Time, msg func(settlement.Order) settlement.Message) (int, int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	open, n := 0, 0
	var due []*order
	for _, o := range l.orders {
		switch {
		case o.Event != event:
		case !o.Status.Terminal():
			open++
		case o.Status == settlement.Paid && !o.RefundRequested:
			due = append(due, o)
		}
	}
	sort.Slice(due, func(i, j int) bool { return due[i].CreatedAt.Before(due[j].CreatedAt) })
	now := l.now().UTC()
	for _, o := range due {
		if n == limit {
			break
		}
		o.RefundRequested, o.RefundReason, o.deadline, o.UpdatedAt = true, reason, deadline, now
		l.revoke(o.ID)
		l.append([]settlement.Message{msg(o.copy())})
		n++
	}
	return n, open, nil
}

func (l *Ledger) FinishCancellation(_ context.Context, event string, at time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.cancels[event]
	if !ok {
		return settlement.ErrNotFound
	}
	if c.FinishedAt.IsZero() {
		c.FinishedAt = at.UTC()
	}
	return nil
}

func (l *Ledger) RefundFailed(_ context.Context, orderID, reason string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	o, ok := l.orders[orderID]
	if !ok {
		return settlement.ErrNotFound
	}
	o.RefundFailures++
	o.RefundError = reason
	return nil
}

func (l *Ledger) Ping(context.Context) error { return nil }
