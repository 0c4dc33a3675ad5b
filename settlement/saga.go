package settlement

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/onsale/onsale/inventory"
)

// PaymentKey is the Stripe idempotency key of an order's PaymentIntent: deterministic, so repeating the
// create after a crash returns the same PaymentIntent instead of charging twice.
func PaymentKey(orderID string) string { return "pi:" + orderID }

// RefundKey is the idempotency key of a PaymentIntent's refund.
func RefundKey(paymentIntent string) string { return "refund:" + paymentIntent }

// The From sets of the saga's transitions, shared: a Transition's From is only read.
var (
	fromPending = []Status{Pending}
	fromPaying  = []Status{Paying}
)

// handlePayment is the payment worker: one payment.requested delivery drives its order as far as it can.
func (s *Service) handlePayment(ctx context.Context, d Delivery) Outcome {
	body, err := readPaymentBody(d.Body)
	if err != nil || body.OrderID == "" {
		s.log.WarnContext(ctx, "unreadable payment message", slog.String("message", d.ID))
		return Park
	}
	// No separate dedupe lookup: a duplicate finds its order terminal (and is acknowledged), or repeats steps that
	// are all safe to repeat; the outcome's transition records the message id and refuses it a second time.
	err = s.drive(ctx, body.OrderID, body.HoldID, d.ID)
	switch {
	case err == nil:
		return Ack
	case errors.Is(err, ErrNotFound):
		s.log.WarnContext(ctx, "payment for an unknown order", slog.String("order", body.OrderID))
		return Park
	default:
		s.log.WarnContext(ctx, "payment step failed; will retry", slog.String("order", body.OrderID),
			slog.Int("attempt", d.Attempt), slog.Any("err", err))
		return Retry
	}
}

// drive moves an order from its persisted state towards an outcome. Every step is safe to repeat:
// the Stripe call is keyed by PaymentKey, inventory Confirm and Release are idempotent, and each ledger
// transition only applies from the state it expects. messageID, when set, is recorded with the outcome.
// holdID, when the message names it, lets a pending order with a live hold go to paying without a read first.
func (s *Service) drive(ctx context.Context, orderID, holdID, messageID string) error {
	if holdID != "" {
		// The hold named is the order's own (the message was written with the order). Were it not, a charge
		// whose real hold had ended would still end refunded, never kept without seats.
		if h, err := s.stock.Get(ctx, holdID); err == nil && h.State.Live() {
			o, err := s.toPaying(ctx, orderID)
			switch {
			case err == nil:
				return s.charge(ctx, o, messageID)
			case !errors.Is(err, ErrConflict):
				return err
			}
			// Not pending any more (a repeat, a resumed saga): go on from what it is.
		}
	}
	o, err := s.ledger.Order(ctx, orderID)
	if err != nil {
		return fmt.Errorf("order %s: %w", orderID, err)
	}
	if o.Status.Terminal() {
		return s.markProcessed(ctx, messageID)
	}
	if o.Status == Pending {
		// Before any money moves: a hold that ended while the order waited fails without a charge.
		h, err := s.stock.Get(ctx, o.HoldID)
		switch {
		case err == nil && !h.State.Live() && h.State != inventory.Confirmed,
			errors.Is(err, inventory.ErrNotFound):
			return s.finish(ctx, o, Transition{From: fromPending, To: Failed,
				FailureReason: "hold expired before payment", MessageID: messageID})
		case err != nil:
			return fmt.Errorf("order %s: hold %s: %w", o.ID, o.HoldID, err)
		}
		o, err = s.toPaying(ctx, o.ID)
		if errors.Is(err, ErrConflict) {
			return s.drive(ctx, orderID, "", messageID) // someone else moved it: start from what it is now
		}
		if err != nil {
			return err
		}
	}
	return s.charge(ctx, o, messageID)
}

// toPaying stores the payment's idempotency key before any call to the provider, with a new deadline.
func (s *Service) toPaying(ctx context.Context, orderID string) (Order, error) {
	return s.transition(ctx, Transition{OrderID: orderID, From: fromPending, To: Paying,
		PaymentKey: PaymentKey(orderID), Deadline: s.opts.Now().Add(s.opts.StallAfter)})
}

// charge pays for an order in paying (again, with the same key, when repeated) and settles it.
func (s *Service) charge(ctx context.Context, o Order, messageID string) error {
	key := o.PaymentKey
	if key == "" {
		key = PaymentKey(o.ID)
	}
	p, err := s.pay.Pay(ctx, PaymentRequest{
		OrderID: o.ID, IdempotencyKey: key, Amount: o.Total, Currency: o.Currency, PaymentMethod: o.PaymentMethod,
	})
	if err != nil {
		s.m.payErrors.Inc()
		return fmt.Errorf("order %s: pay: %w", o.ID, err)
	}
	return s.settle(ctx, o, p, messageID)
}

// settle applies a payment's true state to an order in paying.
func (s *Service) settle(ctx context.Context, o Order, p Payment, messageID string) error {
	switch p.Status {
	case PaymentSucceeded:
		if _, err := s.stock.Confirm(ctx, o.HoldID); err == nil {
			return s.finish(ctx, o, Transition{From: fromPaying, To: Paid, PaymentIntent: p.ID, MessageID: messageID})
		} else if !errors.Is(err, inventory.ErrHoldExpired) {
			return fmt.Errorf("order %s: confirm hold %s: %w", o.ID, o.HoldID, err)
		}
		// The money came after the hold ended: the fan gets no seats, so the fan keeps the money.
		if err := s.pay.Refund(ctx, p.ID, RefundKey(p.ID)); err != nil {
			return fmt.Errorf("order %s: refund %s: %w", o.ID, p.ID, err)
		}
		return s.finish(ctx, o, Transition{From: fromPaying, To: Refunded, PaymentIntent: p.ID,
			FailureReason: "hold expired before the payment succeeded", MessageID: messageID})
	case PaymentFailed:
		if _, err := s.stock.Release(ctx, o.HoldID); err != nil && !errors.Is(err, inventory.ErrNotFound) {
			return fmt.Errorf("order %s: release hold %s: %w", o.ID, o.HoldID, err)
		}
		reason := p.FailureReason
		if reason == "" {
			reason = "payment failed"
		}
		return s.finish(ctx, o, Transition{From: fromPaying, To: Failed, PaymentIntent: p.ID,
			FailureReason: reason, MessageID: messageID})
	default:
		// Not final: keep the PaymentIntent id; its webhook or the poller finishes the order.
		if p.ID != "" && o.PaymentIntent != p.ID {
			_, err := s.transition(ctx, Transition{OrderID: o.ID, From: fromPaying, To: Paying,
				PaymentIntent: p.ID, Deadline: s.opts.Now().Add(s.opts.StallAfter)})
			if err != nil && !errors.Is(err, ErrConflict) {
				return err
			}
		}
		return s.markProcessed(ctx, messageID)
	}
}

// finish writes an outcome with its booking event. A conflict means another actor (a webhook, another worker)
// already wrote the order's outcome, which is as good.
func (s *Service) finish(ctx context.Context, o Order, t Transition) error {
	t.OrderID = o.ID
	next := o
	next.Status = t.To
	if t.PaymentIntent != "" {
		next.PaymentIntent = t.PaymentIntent
	}
	next.FailureReason = t.FailureReason
	t.Outbox = []Message{bookingMessage(next, s.opts.Now().UTC())}
	done, err := s.transition(ctx, t)
	switch {
	case errors.Is(err, ErrConflict), errors.Is(err, ErrDuplicate):
		return nil
	case err != nil:
		return err
	}
	switch done.Status {
	case Paid:
		s.m.paymentsSucceeded.Inc()
	case Refunded:
		s.m.paymentsSucceeded.Inc()
		s.m.refunds.Inc()
	case Failed:
		s.m.paymentsFailed.Inc()
	}
	s.m.lag.Observe(s.opts.Now().Sub(done.CreatedAt).Seconds())
	if s.log.Enabled(ctx, slog.LevelDebug) { // the arguments cost allocations even when the record is dropped
		s.log.DebugContext(ctx, "order settled", slog.String("order", done.ID), slog.String("status", string(done.Status)))
	}
	return nil
}

func (s *Service) transition(ctx context.Context, t Transition) (Order, error) {
	o, err := s.ledger.Transition(ctx, t)
	if err != nil {
		return o, fmt.Errorf("order %s: %s → %s: %w", t.OrderID, t.From, t.To, err)
	}
	if t.To != Paying || len(t.From) == 0 || t.From[0] != Paying {
		s.m.ordersIn(t.To)
	}
	if len(t.Outbox) > 0 {
		s.nudge()
	}
	return o, nil
}

func (s *Service) markProcessed(ctx context.Context, messageID string) error {
	if messageID == "" {
		return nil
	}
	if err := s.ledger.MarkProcessed(ctx, messageID); err != nil {
		return fmt.Errorf("mark %s processed: %w", messageID, err)
	}
	return nil
}
