package settlement

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/stripe/stripe-go/v76/webhook"
)

// HandleWebhook applies a Stripe event. The signature is verified with the endpoint secret (ErrBadSignature,
// nothing changes); event ids are deduped in the ledger; the PaymentIntent is re-read from the provider for its
// true state, so duplicated, late and out-of-order events drive the saga to the same outcome as the worker
// would. A verified event about a PaymentIntent that is not one of ours is acknowledged (and counted), so that
// Stripe stops sending it.
func (s *Service) HandleWebhook(ctx context.Context, payload []byte, signatureHeader string) error {
	if s.opts.WebhookSecret == "" {
		return fmt.Errorf("%w: no webhook secret configured", ErrBadSignature)
	}
	ev, err := webhook.ConstructEventWithOptions(payload, signatureHeader, s.opts.WebhookSecret,
		webhook.ConstructEventOptions{IgnoreAPIVersionMismatch: true})
	if err != nil {
		s.m.webhooks.WithLabelValues("bad-signature").Inc()
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	if ev.ID == "" || ev.Data == nil {
		return fmt.Errorf("%w: event without id or data", ErrInvalid)
	}
	id := "stripe:" + ev.ID
	if done, err := s.ledger.Processed(ctx, id); err != nil {
		return fmt.Errorf("webhook %s: %w", ev.ID, err)
	} else if done {
		s.m.webhooks.WithLabelValues("duplicate").Inc()
		return nil
	}
	var obj struct {
		ID            string `json:"id"`
		Object        string `json:"object"`
		PaymentIntent string `json:"payment_intent"`
	}
	typ := string(ev.Type)
	if err := json.Unmarshal(ev.Data.Raw, &obj); err != nil {
		return fmt.Errorf("%w: webhook %s: unreadable object", ErrInvalid, ev.ID)
	}
	var pi string
	switch {
	case strings.HasPrefix(typ, "payment_intent.") && obj.Object == "payment_intent":
		pi = obj.ID
	case strings.HasPrefix(typ, "charge.") && obj.Object == "charge":
		pi = obj.PaymentIntent
	case strings.HasPrefix(typ, "payment_intent.") || strings.HasPrefix(typ, "charge."):
		return fmt.Errorf("%w: webhook %s: a %s event about a %q", ErrInvalid, ev.ID, typ, obj.Object)
	}
	if pi == "" {
		s.m.webhooks.WithLabelValues("ignored").Inc()
		return s.markProcessed(ctx, id)
	}
	return s.paymentChanged(ctx, pi, id)
}

// PaymentChanged is what a payment provider without webhooks (the test provider) calls when a payment moved on
// outside the saga, the fan having confirmed or authenticated it: the same as a verified webhook.
func (s *Service) PaymentChanged(ctx context.Context, paymentIntent string) error {
	return s.paymentChanged(ctx, paymentIntent, "")
}

func (s *Service) paymentChanged(ctx context.Context, pi, messageID string) error {
	p, err := s.pay.Payment(ctx, pi)
	if errors.Is(err, ErrNotFound) {
		return s.unknownPayment(ctx, pi, messageID)
	}
	if err != nil {
		return fmt.Errorf("payment %s: read: %w", pi, err)
	}
	var o Order
	if p.OrderID != "" {
		o, err = s.ledger.Order(ctx, p.OrderID)
	} else {
		o, err = s.ledger.OrderByPaymentIntent(ctx, p.ID)
	}
	if errors.Is(err, ErrNotFound) {
		return s.unknownPayment(ctx, pi, messageID)
	}
	if err != nil {
		return fmt.Errorf("payment %s: %w", pi, err)
	}
	s.m.webhooks.WithLabelValues("applied").Inc()
	switch {
	case o.Status == Pending:
		// The payment exists, so a worker stored paying and then lost it: let the worker path take it.
		return s.drive(ctx, o.ID, "", messageID)
	case !o.Status.Terminal():
		return s.apply(ctx, o, p, messageID)
	default:
		return s.afterOutcome(ctx, o, p, messageID)
	}
}

func (s *Service) unknownPayment(ctx context.Context, pi, messageID string) error {
	s.m.webhooks.WithLabelValues("unknown").Inc()
	s.log.InfoContext(ctx, "payment event for a payment that is not an order's", slog.String("payment_intent", pi))
	return s.markProcessed(ctx, messageID)
}

// afterOutcome handles a payment that moved on after its order's outcome: an authorization that arrives after
// the order failed (the fan authenticated after the hold ended) is cancelled, never captured, and money taken
// for an order that got no seats is given back.
func (s *Service) afterOutcome(ctx context.Context, o Order, p Payment, messageID string) error {
	if o.PaymentIntent != "" && o.PaymentIntent != p.ID {
		s.log.WarnContext(ctx, "payment event for another payment of a settled order",
			slog.String("order", o.ID), slog.String("payment_intent", p.ID))
	}
	switch {
	case o.Status == Failed && (p.Status == PaymentAuthorized || p.Status == PaymentRequiresAction):
		if _, err := s.pay.Cancel(ctx, p.ID, CancelKey(p.ID)); err != nil {
			return fmt.Errorf("order %s: cancel %s: %w", o.ID, p.ID, err)
		}
		s.m.lateCancels.Inc()
	case o.Status == Paid && !o.RefundRequested && p.Amount > 0 && p.Refunded >= p.Amount:
		// Refunded at the provider (Stripe's dashboard): the seats go back on sale as for an organizer's refund.
		if _, err := s.requestRefund(ctx, o.ID, RefundAtProvider); err != nil {
			return fmt.Errorf("order %s: refunded at the provider: %w", o.ID, err)
		}
	case o.Status == Failed && p.Status == PaymentSucceeded:
		if err := s.pay.Refund(ctx, p.ID, RefundKey(p.ID)); err != nil {
			return fmt.Errorf("order %s: refund %s: %w", o.ID, p.ID, err)
		}
		s.m.refunds.Inc()
	}
	return s.markProcessed(ctx, messageID)
}
