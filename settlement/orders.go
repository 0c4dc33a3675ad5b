package settlement

import (
	"context"
	"fmt"
	"time"
)

// OrderQuery selects a page of orders, newest first (by creation time, then id): an event's, a fan's, or a fan's
// at one event. Status, when set, keeps the orders in that status. After, when set, starts the page after that
// place (the last order of the page before): a keyset, so paging never repeats or skips an order while others
// are written or change status.
type OrderQuery struct {
	Event  string
	Fan    string
	Status Status
	After  *OrderKey
	Limit  int
}

// OrderKey is an order's place in a listing.
type OrderKey struct {
	CreatedAt time.Time
	ID        string
}

// Key is o's place in a listing.
func (o Order) Key() OrderKey { return OrderKey{CreatedAt: o.CreatedAt, ID: o.ID} }

// Before reports whether k comes before other in a listing (newest first).
func (k OrderKey) Before(other OrderKey) bool {
	if c := k.CreatedAt.Compare(other.CreatedAt); c != 0 {
		return c > 0
	}
	return k.ID > other.ID
}

// MaxOrderPage bounds OrderQuery.Limit.
const MaxOrderPage = 1000

// ValidStatus reports whether s is an order status.
func ValidStatus(s Status) bool {
	switch s {
	case Pending, Paying, RequiresAction, Paid, Failed, Refunded:
		return true
	}
	return false
}

// Orders returns a page of the orders q selects: up to q.Limit, newest first.
func (s *Service) Orders(ctx context.Context, q OrderQuery) ([]Order, error) {
	switch {
	case q.Event == "" && q.Fan == "":
		return nil, fmt.Errorf("%w: orders of no event and no fan", ErrInvalid)
	case q.Limit < 1 || q.Limit > MaxOrderPage:
		return nil, fmt.Errorf("%w: a page of 1 to %d orders", ErrInvalid, MaxOrderPage)
	case q.Status != "" && !ValidStatus(q.Status):
		return nil, fmt.Errorf("%w: no order status %q", ErrInvalid, q.Status)
	}
	os, err := s.ledger.Orders(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("orders: %w", err)
	}
	return os, nil
}
