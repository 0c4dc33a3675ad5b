package settlement

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

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
	// fromActive: a payment is being made (paying) or waits for the fan (requires_action).
	fromActive = []Status{Paying, RequiresAction}
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

// drive moves an order from its persisted state towards an outcome. Every step is safe to repeat: the
// provider's calls are keyed (PaymentKey, CaptureKey, CancelKey, RefundKey), inventory Confirm, Release and
// Return are idempotent, and each ledger transition only applies from the states it expects. messageID, when
// set, is recorded with the outcome. holdID, when the message names it, lets a pending order with a live hold
// go to paying without a read first.
func (s *Service) drive(ctx context.Context, orderID, holdID, messageID string) error {
	if holdID != "" {
		// The hold named is the order's own (the message was written with the order). Were it not, an
		// authorization whose real hold had ended would still be cancelled at Confirm, never captured.
		if h, err := s.stock.Get(ctx, holdID); err == nil && h.State.Live() {
			o, err := s.toPaying(ctx, orderID)
			switch {
			case err == nil:
				return s.authorize(ctx, o, messageID)
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
	if o.Status == Paid && o.RefundRequested {
		return s.refund(ctx, o, messageID)
	}
	if o.Status.Terminal() {
		return s.markProcessed(ctx, messageID)
	}
	if o.Status == Pending {
		// Before any money moves: a hold that ended while the order waited fails without a payment.
		h, err := s.stock.Get(ctx, o.HoldID)
		switch {
		case err == nil && !s.holdLive(h) && h.State != inventory.Confirmed,
			errors.Is(err, inventory.ErrNotFound):
			return s.finish(ctx, o, Transition{From: fromPending, To: Failed,
				FailureReason: s.failReason(o.Event, ReasonHoldExpired), MessageID: messageID})
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
	if o.PaymentIntent == "" {
		// The keyed create returns the PaymentIntent a killed worker had already made.
		return s.authorize(ctx, o, messageID)
	}
	p, err := s.pay.Payment(ctx, o.PaymentIntent)
	if err != nil {
		s.m.payErrors.Inc()
		return fmt.Errorf("order %s: read %s: %w", o.ID, o.PaymentIntent, err)
	}
	return s.apply(ctx, o, p, messageID)
}

// reasonCanceled is a payment's failure reason once it was cancelled.
const reasonCanceled = "canceled"

// holdLive reports whether a hold still keeps its units for the fan: live, and its deadline not passed.
func (s *Service) holdLive(h inventory.Hold) bool {
	return h.State.Live() && (h.ExpiresAt.IsZero() || s.opts.Now().Before(h.ExpiresAt))
}

// toPaying stores the payment's idempotency key before any call to the provider, with a new deadline.
func (s *Service) toPaying(ctx context.Context, orderID string) (Order, error) {
	return s.transition(ctx, Transition{OrderID: orderID, From: fromPending, To: Paying,
		PaymentKey: PaymentKey(orderID), Deadline: s.opts.Now().Add(s.opts.StallAfter)})
}

// authorize creates (or, with the same key, finds again) the order's PaymentIntent and acts on its state.
func (s *Service) authorize(ctx context.Context, o Order, messageID string) error {
	key := o.PaymentKey
	if key == "" {
		key = PaymentKey(o.ID)
	}
	req := PaymentRequest{OrderID: o.ID, IdempotencyKey: key, Amount: o.Total, Currency: o.Currency,
		PaymentMethod: o.PaymentMethod}
	if s.opts.ReturnURL != nil {
		req.ReturnURL = s.opts.ReturnURL(o)
	}
	p, err := s.pay.Authorize(ctx, req)
	if err != nil {
		s.m.payErrors.Inc()
		return fmt.Errorf("order %s: authorize: %w", o.ID, err)
	}
	return s.apply(ctx, o, p, messageID)
}

// apply acts on a payment's state for an order not settled yet (paying or requires_action): money is captured
// only once the seats are sold, and an authorization that came after the hold ended is cancelled.
func (s *Service) apply(ctx context.Context, o Order, p Payment, messageID string) error {
	switch p.Status {
	case PaymentAuthorized:
		return s.capture(ctx, o, p, messageID)
	case PaymentSucceeded:
		// Captured already: this saga's capture whose paid transition was lost, or a payment captured elsewhere.
		if _, err := s.stock.Confirm(ctx, o.HoldID); err == nil {
			return s.finish(ctx, o, Transition{From: fromActive, To: Paid, PaymentIntent: p.ID, MessageID: messageID})
		} else if !errors.Is(err, inventory.ErrHoldExpired) && !errors.Is(err, inventory.ErrNotFound) {
			return fmt.Errorf("order %s: confirm hold %s: %w", o.ID, o.HoldID, err)
		}
		// The money was taken after the hold ended: the fan gets no seats, so the fan gets the money back.
		if err := s.pay.Refund(ctx, p.ID, RefundKey(p.ID)); err != nil {
			return fmt.Errorf("order %s: refund %s: %w", o.ID, p.ID, err)
		}
		return s.finish(ctx, o, Transition{From: fromActive, To: Refunded, PaymentIntent: p.ID,
			FailureReason: ReasonHoldExpired, MessageID: messageID})
	case PaymentFailed:
		if p.ID != "" && p.FailureReason != reasonCanceled {
			// A declined intent can still be confirmed with another card: cancel it, so that nothing is
			// authorized for an order that has failed.
			if _, err := s.pay.Cancel(ctx, p.ID, CancelKey(p.ID)); err != nil {
				s.m.payErrors.Inc()
				return fmt.Errorf("order %s: cancel %s: %w", o.ID, p.ID, err)
			}
		}
		if err := s.giveBack(ctx, o); err != nil {
			return err
		}
		reason := p.FailureReason
		if reason == "" {
			reason = "payment-failed"
		}
		return s.finish(ctx, o, Transition{From: fromActive, To: Failed, PaymentIntent: p.ID,
			FailureReason: reason, MessageID: messageID})
	case PaymentRequiresAction:
		return s.awaitFan(ctx, o, p, messageID)
	default:
		// Not final and nothing for the fan to do: keep the PaymentIntent id; its webhook or the poller goes on.
		if p.ID != "" && o.PaymentIntent != p.ID {
			_, err := s.transition(ctx, Transition{OrderID: o.ID, From: []Status{o.Status}, To: o.Status,
				PaymentIntent: p.ID, Deadline: s.opts.Now().Add(s.opts.StallAfter)})
			if err != nil && !errors.Is(err, ErrConflict) {
				return err
			}
		}
		return s.markProcessed(ctx, messageID)
	}
}

// capture sells the seats, then takes the authorized money. Confirm comes first so that no money is taken for
// seats that are gone; a capture that fails for good after it puts the seats back on sale.
func (s *Service) capture(ctx context.Context, o Order, p Payment, messageID string) error {
	if _, err := s.stock.Confirm(ctx, o.HoldID); err != nil {
		if !errors.Is(err, inventory.ErrHoldExpired) && !errors.Is(err, inventory.ErrNotFound) {
			return fmt.Errorf("order %s: confirm hold %s: %w", o.ID, o.HoldID, err)
		}
		return s.cancelLate(ctx, o, p, messageID)
	}
	_, err := s.pay.Capture(ctx, p.ID, CaptureKey(p.ID))
	if errors.Is(err, ErrNotCapturable) {
		if _, err := s.stock.Return(ctx, o.HoldID); err != nil && !errors.Is(err, inventory.ErrNotFound) {
			return fmt.Errorf("order %s: return hold %s: %w", o.ID, o.HoldID, err)
		}
		s.m.captureFailures.Inc()
		return s.finish(ctx, o, Transition{From: fromActive, To: Failed, PaymentIntent: p.ID,
			FailureReason: ReasonCaptureFailed, MessageID: messageID})
	}
	if err != nil {
		s.m.payErrors.Inc()
		// The outcome is unknown (and a provider may replay a stored error for the key): a capture that did
		// happen shows in a re-read.
		if r, rerr := s.pay.Payment(ctx, p.ID); rerr != nil || r.Status != PaymentSucceeded {
			return fmt.Errorf("order %s: capture %s: %w", o.ID, p.ID, err)
		}
	}
	return s.finish(ctx, o, Transition{From: fromActive, To: Paid, PaymentIntent: p.ID, MessageID: messageID})
}

// cancelLate releases an authorization whose hold ended first: no money moves, so no refund (nor its fee).
func (s *Service) cancelLate(ctx context.Context, o Order, p Payment, messageID string) error {
	if _, err := s.pay.Cancel(ctx, p.ID, CancelKey(p.ID)); err != nil {
		s.m.payErrors.Inc()
		return fmt.Errorf("order %s: cancel %s: %w", o.ID, p.ID, err)
	}
	if _, err := s.stock.Release(ctx, o.HoldID); err != nil && !errors.Is(err, inventory.ErrNotFound) {
		return fmt.Errorf("order %s: release hold %s: %w", o.ID, o.HoldID, err)
	}
	s.m.lateCancels.Inc()
	return s.finish(ctx, o, Transition{From: fromActive, To: Failed, PaymentIntent: p.ID,
		FailureReason: s.failReason(o.Event, ReasonHoldExpired), MessageID: messageID})
}

// refused ends an order whose paid transition the ledger refused: its seats were sold to another order, or its
// section is full, though the inventory let them be held. The money taken goes back, the hold is given back,
// and the order ends refunded with ReasonOversold; each step repeats safely, so a retry resumes it.
func (s *Service) refused(ctx context.Context, o Order, paymentIntent, messageID string, why error) error {
	s.log.WarnContext(ctx, "the ledger refused a sale", slog.String("order", o.ID), slog.String("event", o.Event),
		slog.Any("err", why))
	if err := s.pay.Refund(ctx, paymentIntent, RefundKey(paymentIntent)); err != nil {
		s.m.payErrors.Inc()
		return fmt.Errorf("order %s: refund %s: %w", o.ID, paymentIntent, err)
	}
	if err := s.giveBack(ctx, o); err != nil {
		return err
	}
	s.m.oversold.Inc()
	return s.finish(ctx, o, Transition{From: fromActive, To: Refunded, PaymentIntent: paymentIntent,
		FailureReason: ReasonOversold, MessageID: messageID})
}

// giveBack puts an order's units back on sale after its payment failed: a live hold is released, and one that
// was confirmed (a crash between Confirm and a capture that can no longer happen) is returned.
func (s *Service) giveBack(ctx context.Context, o Order) error {
	_, err := s.stock.Release(ctx, o.HoldID)
	if errors.Is(err, inventory.ErrInvalidState) {
		_, err = s.stock.Return(ctx, o.HoldID)
	}
	if err != nil && !errors.Is(err, inventory.ErrNotFound) {
		return fmt.Errorf("order %s: give back hold %s: %w", o.ID, o.HoldID, err)
	}
	return nil
}

// RequestRefund asks for a paid order's money back in full (an organizer's refund): the request is stored with
// the payment message in one ledger transaction, then the saga refunds with the key refund:<pi>, puts the seats
// back on sale and ends the order refunded, resuming after a crash until it has. Repeating it refunds nothing
// more; an order that is not paid (nor refunded already) fails with ErrConflict.
func (s *Service) RequestRefund(ctx context.Context, orderID string) (Order, error) {
	return s.requestRefund(ctx, orderID, RefundByOrganizer)
}

func (s *Service) requestRefund(ctx context.Context, orderID, reason string) (Order, error) {
	o, err := s.Order(ctx, orderID)
	if err != nil {
		return Order{}, err
	}
	switch {
	case o.Status == Refunded, o.Status == Paid && o.RefundRequested:
		return o, nil
	case o.Status != Paid:
		return o, fmt.Errorf("refund order %s (%s): %w", o.ID, o.Status, ErrConflict)
	}
	got, err := s.transition(ctx, Transition{OrderID: o.ID, From: []Status{Paid}, To: Paid, RequestRefund: true,
		RefundReason: reason, Deadline: s.opts.Now().Add(s.opts.StallAfter), Outbox: []Message{paymentMessage(o)}})
	if errors.Is(err, ErrConflict) {
		return s.requestRefund(ctx, orderID, reason) // it moved meanwhile: answer from what it is now
	}
	return got, err
}

// refund carries out a requested refund: the money back first, then the seats, then the outcome; each step
// repeats safely (the refund is keyed, Return is idempotent, the transition applies once).
func (s *Service) refund(ctx context.Context, o Order, messageID string) error {
	if err := s.pay.Refund(ctx, o.PaymentIntent, RefundKey(o.PaymentIntent)); err != nil {
		// Refunded before under another key (at the provider's dashboard) is as good: the money is back.
		if p, rerr := s.pay.Payment(ctx, o.PaymentIntent); rerr != nil || p.Amount == 0 || p.Refunded < p.Amount {
			s.m.payErrors.Inc()
			s.noteRefundFailure(ctx, o, err)
			return fmt.Errorf("order %s: refund %s: %w", o.ID, o.PaymentIntent, err)
		}
	}
	if _, err := s.stock.Return(ctx, o.HoldID); err != nil && !errors.Is(err, inventory.ErrNotFound) {
		return fmt.Errorf("order %s: return hold %s: %w", o.ID, o.HoldID, err)
	}
	return s.finish(ctx, o, Transition{From: []Status{Paid}, To: Refunded, MessageID: messageID})
}

// awaitFan records that the fan must confirm or authenticate, until the hold's checkout deadline; past it the
// payment is cancelled so a late confirmation cannot authorize anything.
func (s *Service) awaitFan(ctx context.Context, o Order, p Payment, messageID string) error {
	h, err := s.stock.Get(ctx, o.HoldID)
	if err != nil && !errors.Is(err, inventory.ErrNotFound) {
		return fmt.Errorf("order %s: hold %s: %w", o.ID, o.HoldID, err)
	}
	if err != nil || !s.holdLive(h) {
		return s.cancelLate(ctx, o, p, messageID)
	}
	if o.Status == RequiresAction && o.PaymentIntent == p.ID && o.ClientSecret == p.ClientSecret &&
		sameAction(o.NextAction, p.NextAction) {
		return s.markProcessed(ctx, messageID)
	}
	next := Order{Status: RequiresAction, PayBy: h.ExpiresAt, Attempts: o.Attempts}
	_, err = s.transition(ctx, Transition{OrderID: o.ID, From: fromActive, To: RequiresAction,
		PaymentIntent: p.ID, ClientSecret: p.ClientSecret, NextAction: p.NextAction, PayBy: h.ExpiresAt,
		Deadline: s.nextDeadline(next), MessageID: messageID})
	if errors.Is(err, ErrConflict) || errors.Is(err, ErrDuplicate) {
		return nil
	}
	return err
}

func sameAction(a, b *NextAction) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
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
	if next.Status == Refunded && next.FailureReason == "" {
		next.FailureReason = o.RefundReason // the booking event says why the money went back
	}
	link := ""
	if s.opts.OrderURL != nil && next.Status != Failed {
		link = s.opts.OrderURL(next)
	}
	t.Outbox = []Message{bookingMessage(next, link, s.opts.Now().UTC())}
	if t.To == Paid {
		t.Tickets = TicketsOf(next) // one per unit, in the transaction that marks it paid
	}
	done, err := s.transition(ctx, t)
	switch {
	case errors.Is(err, ErrConflict), errors.Is(err, ErrDuplicate):
		return nil
	case t.To == Paid && errors.Is(err, ErrOversold):
		return s.refused(ctx, o, t.PaymentIntent, t.MessageID, err)
	case err != nil:
		return err
	}
	switch done.Status {
	case Paid:
		s.m.paymentsSucceeded.Inc()
	case Refunded:
		if !slices.Contains(t.From, Paid) { // a payment taken after its hold ended, given back at once
			s.m.paymentsSucceeded.Inc()
		}
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
