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
	Pending  Status = "pending"  // written with its outbox row; the payment worker has not taken it yet
	Paying   Status = "paying"   // a PaymentIntent exists (its idempotency key stored before the call)
	Paid     Status = "paid"     // money taken and seats sold
	Failed   Status = "failed"   // payment failed; seats released
	Refunded Status = "refunded" // money came after the hold ended; it was given back
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
	Attempts      int              `json:"-"` // times the poller re-drove it
	CreatedAt     time.Time        `json:"created_at"`
	UpdatedAt     time.Time        `json:"updated_at"`
}
