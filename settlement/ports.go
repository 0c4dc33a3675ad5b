package settlement

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/onsale/onsale/inventory"
)

// More sentinel errors, for the adapters' contracts.
var (
	// ErrConflict: a ledger transition found the order in a state it does not start from.
	ErrConflict = errors.New("order is not in the expected state")
	// ErrDuplicate: a message or webhook event was already processed.
	ErrDuplicate = errors.New("message already processed")
	// ErrDeclined: the payment provider refused the payment (no money moved).
	ErrDeclined = errors.New("payment declined")
	// ErrOversold: the ledger refused a paid transition that would sell a seat twice or put a section past its
	// capacity (the inventory let the units be held more than once).
	ErrOversold = errors.New("the sale would sell a seat twice or a section past its capacity")
)

// Topics (routing keys) of the messages the saga publishes.
const (
	TopicPaymentRequested = "payment.requested"
	TopicBookingConfirmed = "booking.confirmed"
	TopicBookingFailed    = "booking.failed"
	TopicBookingRefunded  = "booking.refunded"
)

// CheckoutRequest asks to pay for a hold.
type CheckoutRequest struct {
	HoldID         string
	Fan            string
	PaymentMethod  string
	IdempotencyKey string
}

// BookingEvent tells the outside world (notifications) that an order reached its outcome.
type BookingEvent struct {
	Type          string           `json:"type"` // booking.confirmed | booking.failed | booking.refunded
	OrderID       string           `json:"order_id"`
	HoldID        string           `json:"hold_id"`
	Event         string           `json:"event"`
	Fan           string           `json:"fan"`
	Status        Status           `json:"status"`
	Seats         []string         `json:"seats,omitempty"`
	Lines         []inventory.Line `json:"items,omitempty"`
	Total         int64            `json:"total"`
	Currency      string           `json:"currency"`
	PaymentIntent string           `json:"payment_intent,omitempty"`
	Reason        string           `json:"reason,omitempty"`
	OrderURL      string           `json:"order_url,omitempty"` // the fan's order page with the tickets
	At            time.Time        `json:"at"`
}

// ReconcileReport says what Reconcile did for one event.
type ReconcileReport struct {
	Event        string `json:"event"`
	CreatedEvent bool   `json:"created_event"` // the store did not know the event and it was created from the ledger
	Paid         int    `json:"paid"`          // paid orders found in the ledger
	InCheckout   int    `json:"in_checkout"`   // pending or paying orders found in the ledger
	Restored     int    `json:"restored"`      // holds the store did not know and re-applied
	Cancelled    bool   `json:"cancelled"`     // the event is cancelled: the store was closed again
}

// Message is one outbox row, published to the bus under its topic. ID is unique and is the bus message id
// consumers dedupe on.
type Message struct {
	ID    string          `json:"id"`
	Topic string          `json:"topic"`
	Body  json.RawMessage `json:"body"`
}

// Delivery is a message as a consumer receives it. Attempt counts deliveries through the retry queue, from 1.
type Delivery struct {
	Message
	Attempt int
}

// Outcome is what a consumer decides for a delivery.
type Outcome int

const (
	Ack   Outcome = iota // done (or a duplicate): remove it
	Retry                // transient failure: deliver again after the retry delay
	Park                 // give up: move it to the parking queue for a person to look at
)

// Handler handles one delivery. A consumer calls it concurrently, up to its queue's Prefetch at once.
type Handler func(ctx context.Context, d Delivery) Outcome

// Queue names a consumer's queue and the topics bound to it. Adapters prefix the name.
type Queue struct {
	Name     string // e.g. "payments"
	Bind     string // topic pattern: "payment.*", "booking.#"
	Prefetch int    // handler calls in flight for this consumer (on RabbitMQ also unacknowledged AMQP messages, envelopes included)
}

// Bus carries messages between the outbox relay and the consumers.
type Bus interface {
	// Publish sends messages and returns the ids the broker confirmed; an error may come with a partial list.
	// A message not in the list must be treated as unsent.
	Publish(ctx context.Context, msgs []Message) (confirmed []string, err error)
	// Declare makes q exist and keep its messages even before anyone consumes it.
	Declare(ctx context.Context, q Queue) error
	// Consume delivers q's messages to h until ctx ends, surviving broker restarts. It returns ctx's error.
	Consume(ctx context.Context, q Queue, h Handler) error
	// Ping reports whether the broker is reachable.
	Ping(ctx context.Context) error
}

// Transition moves one order from one of From to To in one ledger transaction that also writes Outbox rows and,
// when MessageID is set, records that message as processed (ErrDuplicate if it already was).
type Transition struct {
	OrderID       string
	From          []Status
	To            Status
	PaymentKey    string      // stored when set
	PaymentIntent string      // stored when set
	FailureReason string      // stored when set
	ClientSecret  string      // stored when set
	NextAction    *NextAction // stored when set
	PayBy         time.Time   // stored when set
	RequestRefund bool        // marks the order's refund as requested (the order is re-driven until refunded)
	RefundReason  string      // with RequestRefund: why (RefundByOrganizer, ReasonEventCancelled, …), stored once
	// Tickets are written with a transition to paid (TicketsOf); a refund request, or the order refunded, revokes
	// the order's tickets in the same transaction.
	Tickets   []Ticket
	Deadline  time.Time
	MessageID string
	Outbox    []Message
}

// Ledger is the system of record for orders (PostgreSQL, or memory for the embedded default).
type Ledger interface {
	// CreateOrder writes a pending order with its outbox rows in one transaction. When the hold already has an
	// order, or the fan's idempotency key was used, it writes nothing and returns that order with created=false.
	CreateOrder(ctx context.Context, o Order, idempotencyKey string, deadline time.Time, outbox []Message) (existing Order, created bool, err error)
	// Order returns an order or ErrNotFound.
	Order(ctx context.Context, id string) (Order, error)
	// OrderByHold returns the order of a hold, or ErrNotFound.
	OrderByHold(ctx context.Context, holdID string) (Order, error)
	// OrderByIdempotencyKey returns the order a fan's idempotency key created, or ErrNotFound.
	OrderByIdempotencyKey(ctx context.Context, fan, key string) (Order, error)
	// OrderByPaymentIntent returns the order a PaymentIntent pays for, or ErrNotFound.
	OrderByPaymentIntent(ctx context.Context, pi string) (Order, error)
	// Transition applies t; ErrConflict (with the current order) when the order is not in t.From. A transition
	// to paid fails with ErrOversold, and writes nothing, when one of its tickets' seats is in another valid ticket
	// of the event, or when they would put a section of a saved event past its capacity.
	Transition(ctx context.Context, t Transition) (Order, error)
	// Processed reports whether a message id was recorded; MarkProcessed records it (no-op if it was).
	Processed(ctx context.Context, messageID string) (bool, error)
	MarkProcessed(ctx context.Context, messageID string) error

	// RelayOutbox locks up to limit unsent rows (skipping rows other relays hold), hands them to publish and
	// marks sent (or removes) the ids publish returns, in one transaction. It returns how many it marked.
	RelayOutbox(ctx context.Context, limit int, publish func(context.Context, []Message) ([]string, error)) (int, error)
	// OutboxPending counts unsent rows.
	OutboxPending(ctx context.Context) (int, error)
	// Redrive claims up to limit orders not yet settled (pending, paying, requires_action, or paid with a refund
	// requested) whose deadline passed, pushes each deadline to
	// next(order) and writes the outbox rows msg(order) returns, in one transaction; it returns the orders.
	Redrive(ctx context.Context, now time.Time, limit int, next func(Order) time.Time, msg func(Order) Message) ([]Order, error)

	// SaveEvent stores (or replaces) an event definition, with its sections' capacities, which every later paid
	// transition of the event is checked against (units sold so far are kept); Event returns it or ErrNotFound.
	SaveEvent(ctx context.Context, ev inventory.Event) error
	Event(ctx context.Context, id string) (inventory.Event, error)
	// LiveOrders returns an event's orders that own seats: paid, and those not settled yet.
	LiveOrders(ctx context.Context, event string) ([]Order, error)
	// Orders returns up to q.Limit of the orders q selects, newest first (see OrderQuery).
	Orders(ctx context.Context, q OrderQuery) ([]Order, error)

	// CancelEvent records that an event is cancelled (a repeat keeps the first record) and returns the record;
	// ErrNotFound for an event the ledger does not know.
	CancelEvent(ctx context.Context, event string, at time.Time) (Cancellation, error)
	// Cancellation returns an event's cancellation record, zero CancelledAt when it is not cancelled, with the
	// progress of its refunds either way; ErrNotFound for an unknown event.
	Cancellation(ctx context.Context, event string) (Cancellation, error)
	// OpenCancellations lists the cancelled events whose cancellation job has not finished.
	OpenCancellations(ctx context.Context) ([]string, error)
	// HoldsClosed records that a cancelled event's inventory is closed and makes its unsettled orders (pending,
	// paying, requires_action) due for the poller at once, in one transaction.
	HoldsClosed(ctx context.Context, event string, at time.Time) error
	// RequestEventRefunds counts the event's unsettled orders (open), then asks, in one transaction, for the
	// refund of up to limit of its paid orders whose refund was not asked yet, with reason, deadline and the
	// outbox row msg(order) each; it returns how many it asked for. Counting first means an order that becomes
	// paid between the two is either counted open or asked for, never neither.
	RequestEventRefunds(ctx context.Context, event, reason string, limit int, deadline time.Time, msg func(Order) Message) (requested, open int, err error)
	// FinishCancellation records that every paid order of a cancelled event has its refund asked for and none is
	// left unsettled: the saga carries the refunds out from there.
	FinishCancellation(ctx context.Context, event string, at time.Time) error
	// RefundFailed counts a failed attempt at an order's refund and keeps its error (the saga retries it).
	RefundFailed(ctx context.Context, orderID, reason string) error

	// Tickets returns an order's tickets, in their order (none for an order never paid).
	Tickets(ctx context.Context, orderID string) ([]Ticket, error)
	// RevokedTickets lists the ids of an event's revoked tickets, as of the time it returns.
	RevokedTickets(ctx context.Context, event string) (ids []string, asOf time.Time, err error)
	// CheckIn records one scan at the door in one transaction (see Scan) and returns its answer; a nonce already
	// recorded for the event returns the first answer, Replayed set.
	CheckIn(ctx context.Context, s Scan) (ScanResult, error)
	// DoorStats counts an event's tickets inside (entered, not exited) and ever entered, per gate of first entry.
	DoorStats(ctx context.Context, event string) (DoorStats, error)
	// SaveTicketKey stores an event's ticket signing key (its private half sealed by the caller); TicketKeys
	// returns the event's keys, oldest first.
	SaveTicketKey(ctx context.Context, k TicketKey) error
	TicketKeys(ctx context.Context, event string) ([]TicketKey, error)

	// Ping reports whether the ledger is reachable.
	Ping(ctx context.Context) error
}

// TicketKey is one of an event's ticket signing keys as the ledger keeps it: the private half sealed under the
// configured master key, so a copy of the database signs nothing.
type TicketKey struct {
	Event     string
	ID        string // kid
	Public    []byte
	Sealed    []byte
	CreatedAt time.Time
}

// Scan is one scan at the door. Verdict, when set (invalid, wrong-event: the code did not verify for the event),
// is recorded as the answer without looking at any ticket; otherwise TicketID enters (Direction entry: only if it
// is valid and not inside) or exits (only if inside).
type Scan struct {
	Event     string
	Nonce     string
	TicketID  string
	Verdict   string
	Gate      string
	Direction string // entry or exit
	ScannedAt time.Time
	// Admitted: a scanner that was offline let the holder in on its own verdict before uploading the scan; the
	// ledger refusing such a scan is a conflict (see DoorStats).
	Admitted bool
}

// Check-in results (API.md, Check-in).
const (
	ScanOK          = "ok"
	ScanAlreadyUsed = "already-used"
	ScanRevoked     = "revoked"
	ScanInvalid     = "invalid"
	ScanWrongEvent  = "wrong-event"
)

// ScanResult is a scan's answer.
type ScanResult struct {
	Result       string    `json:"result"`
	TicketID     string    `json:"ticket_id,omitempty"`
	FirstEntryAt time.Time `json:"first_entry_at,omitzero"`
	Replayed     bool      `json:"replayed,omitempty"`
}

// DoorStats are an event's check-in counters.
type DoorStats struct {
	Inside    int            `json:"inside"`
	CheckedIn int            `json:"checked_in"` // tickets that entered at least once
	Gates     map[string]int `json:"gates"`      // first entries per gate
	// Conflicts: scans a scanner admitted while offline and the ledger then refused (the ticket had entered
	// elsewhere, or was revoked): people inside who should not be.
	Conflicts int `json:"conflicts"`
}

// Cancellation is an event's cancellation and how far its refunds are.
type Cancellation struct {
	Event       string    `json:"event"`
	CancelledAt time.Time `json:"cancelled_at"` // zero: the event is not cancelled
	// HoldsClosedAt: the inventory refuses holds and its live holds were released.
	HoldsClosedAt time.Time `json:"holds_closed_at"`
	// FinishedAt: every paid order's refund was asked for and no order is left unsettled.
	FinishedAt time.Time      `json:"finished_at"`
	Refunds    RefundProgress `json:"refunds"`
}

// RefundProgress counts an event's refunds of paid orders (an organizer's, or a cancellation's).
type RefundProgress struct {
	Total  int `json:"total"`  // paid orders still to refund (once the event is cancelled) plus refunds asked for
	Done   int `json:"done"`   // money back
	Failed int `json:"failed"` // refunds whose attempts failed so far and that are still retried
}

// PaymentStatus is a payment's state as the saga sees it. The values follow Stripe's PaymentIntent statuses
// where they have one.
type PaymentStatus string

const (
	// PaymentRequiresAction: the fan must act in the page: confirm a payment method with the client secret, or
	// authenticate (3-D Secure, NextAction says where). Stripe's requires_payment_method (never attempted),
	// requires_confirmation and requires_action.
	PaymentRequiresAction PaymentStatus = "requires_action"
	// PaymentProcessing: not final yet and nothing for the fan to do; a webhook or the poller will look again.
	PaymentProcessing PaymentStatus = "processing"
	// PaymentAuthorized: the money is authorized (requires_capture): the saga captures it once the seats are
	// sold, or cancels it.
	PaymentAuthorized PaymentStatus = "requires_capture"
	// PaymentSucceeded: the money was captured.
	PaymentSucceeded PaymentStatus = "succeeded"
	// PaymentFailed: declined, authentication failed, or canceled: no money taken (any authorization released).
	PaymentFailed PaymentStatus = "failed"
)

// PaymentRequest creates one payment, authorized now and captured later. IdempotencyKey makes repeating it
// return the same payment.
type PaymentRequest struct {
	OrderID        string
	IdempotencyKey string
	Amount         int64
	Currency       string
	// PaymentMethod, when set, is confirmed by the server now; when empty the fan confirms in the page with the
	// payment's ClientSecret.
	PaymentMethod string
	// ReturnURL is where a redirect for authentication comes back to (the fan's page); optional.
	ReturnURL string
}

// NextAction is what the fan must do to go on: for Type "redirect", open URL (a 3-D Secure page). Stripe's
// use_stripe_sdk is Type "use_stripe_sdk" with no URL: Stripe.js handles it with the client secret.
type NextAction struct {
	Type string `json:"type"`
	URL  string `json:"url,omitempty"`
}

// Payment is a payment provider's view of one payment.
type Payment struct {
	ID            string // the PaymentIntent id; empty when the provider refused before creating one
	OrderID       string // from the payment's metadata
	Status        PaymentStatus
	Amount        int64
	Currency      string
	FailureReason string      // the decline or error code of the last failed attempt (card_declined, …)
	ClientSecret  string      // what the page confirms the payment with
	NextAction    *NextAction // set with PaymentRequiresAction when the fan must authenticate
	Refunded      int64       // amount given back so far
}

// ErrNotCapturable: the payment can no longer be captured (canceled, or its authorization expired). A Capture
// error that is not this one leaves the outcome unknown: repeat it with the same key.
var ErrNotCapturable = errors.New("payment can no longer be captured")

// Payments takes money (Stripe, or a provider following Stripe's test payment methods and state machine).
// Every method with a key is safe to repeat with that key; an error other than the ones named means the outcome
// is unknown and the call must be repeated.
type Payments interface {
	// Authorize creates a PaymentIntent with manual capture for req, and confirms it when req.PaymentMethod is
	// set. A decline is a Payment with PaymentFailed, not an error.
	Authorize(ctx context.Context, req PaymentRequest) (Payment, error)
	// Payment re-reads a payment's true state (ErrNotFound for an unknown id).
	Payment(ctx context.Context, id string) (Payment, error)
	// Capture takes an authorized payment in full. Capturing a succeeded one returns it; a canceled one fails
	// with ErrNotCapturable.
	Capture(ctx context.Context, id, idempotencyKey string) (Payment, error)
	// Cancel gives up a payment that was not captured: the authorization is released, or the fan can no longer
	// confirm it. Canceling a canceled one returns it; a succeeded one fails with ErrConflict.
	Cancel(ctx context.Context, id, idempotencyKey string) (Payment, error)
	// Refund gives a captured payment back in full; repeating it with the same key refunds once.
	Refund(ctx context.Context, id, idempotencyKey string) error
}

// Stock is the part of inventory.Store the saga needs.
type Stock interface {
	Get(ctx context.Context, holdID string) (inventory.Hold, error)
	BeginCheckout(ctx context.Context, holdID string) (inventory.Hold, error)
	Confirm(ctx context.Context, holdID string) (inventory.Hold, error)
	Release(ctx context.Context, holdID string) (inventory.Hold, error)
	Return(ctx context.Context, holdID string) (inventory.Hold, error)
	Cancel(ctx context.Context, event string, limit int) (released int, more bool, err error)
}

// Terminal reports whether s is an outcome.
func (s Status) Terminal() bool { return s == Paid || s == Failed || s == Refunded }

// CaptureKey and CancelKey are the idempotency keys of a PaymentIntent's capture and cancellation.
func CaptureKey(paymentIntent string) string { return "capture:" + paymentIntent }
func CancelKey(paymentIntent string) string  { return "cancel:" + paymentIntent }
