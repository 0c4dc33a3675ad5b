package settlement

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/stripe/stripe-go/v76/webhook"
)

// HandleWebhook applies a Stripe event. The signature is verified with the endpoint secret (ErrBadSignature,
// nothing changes); event ids are deduped in the ledger; the PaymentIntent is re-read from the provider for its
// true state, so duplicated and out-of-order events drive the saga to the same outcome as the worker would.
func (s *Service) HandleWebhook(ctx context.Context, payload []byte, signatureHeader string) error {
	if s.opts.WebhookSecret == "" {
		return fmt.Errorf("%w: no webhook secret configured", ErrBadSignature)
	}
	ev, err := webhook.ConstructEventWithOptions(payload, signatureHeader, s.opts.WebhookSecret,
		webhook.ConstructEventOptions{IgnoreAPIVersionMismatch: true})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	if ev.ID == "" || ev.Data == nil {
		return fmt.Errorf("%w: event without id or data", ErrInvalid)
	}
	id := "stripe:" + ev.ID
	if done, err := s.ledger.Processed(ctx, id); err != nil {
		return fmt.Errorf("webhook %s: %w", ev.ID, err)
	} else if done {
		return nil
	}
	if !strings.HasPrefix(string(ev.Type), "payment_intent.") {
		return s.markProcessed(ctx, id)
	}
	var obj struct {
		ID     string `json:"id"`
		Object string `json:"object"`
	}
	if err := json.Unmarshal(ev.Data.Raw, &obj); err != nil || obj.ID == "" || obj.Object != "payment_intent" {
		return fmt.Errorf("%w: webhook %s: not a payment intent", ErrInvalid, ev.ID)
	}
	p, err := s.pay.Payment(ctx, obj.ID)
	if err != nil {
		return fmt.Errorf("webhook %s: read %s: %w", ev.ID, obj.ID, err)
	}
	var o Order
	if p.OrderID != "" {
		o, err = s.ledger.Order(ctx, p.OrderID)
	} else {
		o, err = s.ledger.OrderByPaymentIntent(ctx, p.ID)
	}
	if errors.Is(err, ErrNotFound) {
		return s.markProcessed(ctx, id) // not one of ours
	}
	if err != nil {
		return fmt.Errorf("webhook %s: %w", ev.ID, err)
	}
	switch o.Status {
	case Paying:
		return s.settle(ctx, o, p, id)
	case Pending:
		// The payment exists, so a worker stored paying and then lost it, or this is another system's order.
		// Let the worker path (keyed create) take it from pending.
		return s.drive(ctx, o.ID, "", id)
	default:
		return s.markProcessed(ctx, id)
	}
}
