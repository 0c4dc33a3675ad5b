package settlement

import (
	"errors"
	"time"

	"github.com/onsale/onsale/inventory"
)

// Sentinel errors.
var (
	ErrNotFound          = errors.New("not found")
	ErrIdempotencyReused = errors.New("idempotency key reused with another request")
	ErrBadSignature      = errors.New("webhook signature does not verify")
	ErrInvalid           = errors.New("invalid request")
)

// Status is an order's place in the saga.
type Status string

const (
	Pending        Status = "pending"         // written with its outbox row; the payment worker has not taken it yet
	Paying         Status = "paying"          // the PaymentIntent's idempotency key is stored; it is being made or confirmed
	RequiresAction Status = "requires_action" // the fan must confirm or authenticate the payment in the page
	Paid           Status = "paid"            // money captured and seats sold
	Failed         Status = "failed"          // no money taken (declined, canceled, or authorized too late); seats released
	Refunded       Status = "refunded"        // money captured and then given back
)

// Reasons an order failed that the saga itself decides (a provider's decline codes are the others).
const (
	ReasonHoldExpired   = "hold-expired"   // the hold ended before the money was authorized
	ReasonCaptureFailed = "capture-failed" // the authorization could not be captured; the seats went back on sale
	// ReasonOversold: the ledger refused to sell the order's seats (sold to another order already, or the section
	// full) though the inventory had let them be held; the money taken was given back.
	ReasonOversold = "oversold"
	// ReasonEventCancelled: the event was cancelled; an order not paid yet fails with it, a paid one is refunded
	// with it.
	ReasonEventCancelled = "event-cancelled"
	// RefundByOrganizer and RefundAtProvider say who asked for a paid order's refund: the organizer's API, or
	// someone at the payment provider (Stripe's dashboard).
	RefundByOrganizer = "organizer"
	RefundAtProvider  = "provider"
)

// Order is a checkout of one hold.
type Order struct {
	ID            string           `json:"order_id"`
	HoldID        string           `json:"hold_id"`
	Event         string           `json:"event"`
	Fan           string           `json:"fan"`
	Status        Status           `json:"status"`
	Seats         []string         `json:"seats"`
	Lines         []inventory.Line `json:"items"`
	Total         int64            `json:"total"`
	Currency      string           `json:"currency"`
	PaymentMethod string           `json:"-"`
	PaymentIntent string           `json:"payment_intent"`
	PaymentKey    string           `json:"-"` // the PaymentIntent's idempotency key, stored before the call
	FailureReason string           `json:"failure_reason,omitempty"`
	ClientSecret  string           `json:"-"` // what the page confirms the payment with
	NextAction    *NextAction      `json:"-"` // what the fan must do while requires_action
	PayBy         time.Time        `json:"-"` // while requires_action: the hold's checkout deadline
	// RefundRequested: the organizer asked for a paid order's money back; the saga gives it back and ends the
	// order refunded.
	RefundRequested bool   `json:"-"`
	RefundReason    string `json:"refund_reason,omitempty"`
	// RefundFailures counts failed attempts at the refund (each retried); RefundError is the last one's.
	RefundFailures int       `json:"-"`
	RefundError    string    `json:"-"`
	Attempts       int       `json:"-"` // times the poller re-drove it
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}
