package settlement

import (
	"context"
	"errors"
	"fmt"

	"github.com/onsale/onsale/inventory"
)

// Reconcile rebuilds an event's live inventory in store from the ledger after the store lost it: it creates the
// event when missing, then restores the holds of paid orders (confirmed) and orders in checkout. Holds the store
// still knows are left alone, so it is safe while the sale goes on.
func (s *Service) Reconcile(ctx context.Context, event string, store inventory.Store) (ReconcileReport, error) {
	rep := ReconcileReport{Event: event}
	ev, err := s.ledger.Event(ctx, event)
	if err != nil {
		return rep, fmt.Errorf("reconcile %s: %w", event, err)
	}
	if _, err := store.Event(ctx, event); errors.Is(err, inventory.ErrNotFound) {
		if err := store.CreateEvent(ctx, ev); err != nil && !errors.Is(err, inventory.ErrEventExists) {
			return rep, fmt.Errorf("reconcile %s: create event: %w", event, err)
		}
		rep.CreatedEvent = true
	} else if err != nil {
		return rep, fmt.Errorf("reconcile %s: %w", event, err)
	}
	orders, err := s.ledger.LiveOrders(ctx, event)
	if err != nil {
		return rep, fmt.Errorf("reconcile %s: %w", event, err)
	}
	checkoutTTL := ev.CheckoutTTL
	if checkoutTTL <= 0 {
		checkoutTTL = s.opts.CheckoutTTL
	}
	now := s.opts.Now().UTC()
	holds := make([]inventory.Hold, 0, len(orders))
	for _, o := range orders {
		h := inventory.Hold{
			ID: o.HoldID, Event: o.Event, Fan: o.Fan, Lines: o.Lines, Seats: o.Seats,
			Total: o.Total, Currency: o.Currency, CreatedAt: o.CreatedAt,
		}
		for _, l := range o.Lines {
			h.Units += l.Quantity
		}
		if o.Status == Paid {
			h.State, h.ExpiresAt = inventory.Confirmed, o.UpdatedAt
			rep.Paid++
		} else {
			h.State, h.ExpiresAt = inventory.Checkout, now.Add(checkoutTTL)
			if !o.PayBy.IsZero() {
				h.ExpiresAt = o.PayBy // the fan keeps the deadline the page shows
			}
			rep.InCheckout++
		}
		holds = append(holds, h)
	}
	n, err := store.Restore(ctx, event, holds)
	if err != nil {
		return rep, fmt.Errorf("reconcile %s: restore: %w", event, err)
	}
	rep.Restored = n
	// A store that lost the event lost its cancellation too: close it again.
	c, err := s.ledger.Cancellation(ctx, event)
	if err != nil {
		return rep, fmt.Errorf("reconcile %s: %w", event, err)
	}
	if !c.CancelledAt.IsZero() {
		for more := true; more; {
			if _, more, err = store.Cancel(ctx, event, cancelBatch); err != nil {
				return rep, fmt.Errorf("reconcile %s: cancel: %w", event, err)
			}
		}
		rep.Cancelled = true
	}
	return rep, nil
}
