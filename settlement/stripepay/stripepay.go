// Package stripepay takes payments with Stripe PaymentIntents (stripe-go/v76): create and confirm in one call
// with the saga's idempotency key, re-read for the true state, refund with its own key.
package stripepay

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"

	"github.com/onsale/onsale/settlement"
)

// Payments is a Stripe client. It is safe for concurrent use.
type Payments struct {
	api *client.API
}

var _ settlement.Payments = (*Payments)(nil)

// New returns a client with a secret key; apiBase overrides https://api.stripe.com (stripe-mock, tests) when set.
func New(key, apiBase string) *Payments {
	cfg := &stripe.BackendConfig{
		HTTPClient:        &http.Client{Timeout: 30 * time.Second},
		MaxNetworkRetries: stripe.Int64(2), // stripe-go resends with the same idempotency key
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
	}
	if apiBase != "" {
		cfg.URL = stripe.String(strings.TrimRight(apiBase, "/"))
	}
	backends := &stripe.Backends{
		API:     stripe.GetBackendWithConfig(stripe.APIBackend, cfg),
		Connect: stripe.GetBackendWithConfig(stripe.ConnectBackend, cfg),
		Uploads: stripe.GetBackendWithConfig(stripe.UploadsBackend, cfg),
	}
	return &Payments{api: client.New(key, backends)}
}

// Ping checks that Stripe answers and takes the key, with the lightest authenticated read (the balance),
// for a readiness probe; it moves no money and has no idempotency key to spend.
func (p *Payments) Ping(ctx context.Context) error {
	params := &stripe.BalanceParams{}
	params.Context = ctx
	if _, err := p.api.Balance.Get(params); err != nil {
		return fmt.Errorf("stripe: ping: %w", err)
	}
	return nil
}

// Close does nothing; it is here so every adapter can be closed alike.
func (p *Payments) Close() error { return nil }

// Pay creates and confirms a PaymentIntent for the card payment method, without redirects.
func (p *Payments) Pay(ctx context.Context, req settlement.PaymentRequest) (settlement.Payment, error) {
	params := &stripe.PaymentIntentParams{
		Amount:        stripe.Int64(req.Amount),
		Currency:      stripe.String(strings.ToLower(req.Currency)),
		PaymentMethod: stripe.String(req.PaymentMethod),
		Confirm:       stripe.Bool(true),
		AutomaticPaymentMethods: &stripe.PaymentIntentAutomaticPaymentMethodsParams{
			Enabled:        stripe.Bool(true),
			AllowRedirects: stripe.String(string(stripe.PaymentIntentAutomaticPaymentMethodsAllowRedirectsNever)),
		},
	}
	params.Context = ctx
	params.SetIdempotencyKey(req.IdempotencyKey)
	params.AddMetadata("order_id", req.OrderID)
	pi, err := p.api.PaymentIntents.New(params)
	if err != nil {
		return declined(err)
	}
	return payment(pi), nil
}

// declined turns a card error (402, which carries the failed PaymentIntent) or a refused request (400: an
// unknown payment method) into a failed payment; anything else is an unknown outcome to retry.
func declined(err error) (settlement.Payment, error) {
	var se *stripe.Error
	if !errors.As(err, &se) {
		return settlement.Payment{}, fmt.Errorf("stripe: %w", err)
	}
	switch {
	case se.Type == stripe.ErrorTypeCard:
		out := settlement.Payment{Status: settlement.PaymentFailed, FailureReason: string(se.Code)}
		if se.DeclineCode != "" {
			out.FailureReason = string(se.DeclineCode)
		}
		if se.PaymentIntent != nil {
			out.ID = se.PaymentIntent.ID
			out.OrderID = se.PaymentIntent.Metadata["order_id"]
			out.Amount, out.Currency = se.PaymentIntent.Amount, string(se.PaymentIntent.Currency)
		}
		return out, nil
	case se.Type == stripe.ErrorTypeInvalidRequest && se.HTTPStatusCode == http.StatusBadRequest &&
		se.Code != stripe.ErrorCodeIdempotencyKeyInUse:
		return settlement.Payment{Status: settlement.PaymentFailed, FailureReason: string(se.Code)}, nil
	}
	return settlement.Payment{}, fmt.Errorf("stripe: %w", err)
}

// Payment re-reads a PaymentIntent.
func (p *Payments) Payment(ctx context.Context, id string) (settlement.Payment, error) {
	params := &stripe.PaymentIntentParams{}
	params.Context = ctx
	pi, err := p.api.PaymentIntents.Get(id, params)
	if err != nil {
		var se *stripe.Error
		if errors.As(err, &se) && se.HTTPStatusCode == http.StatusNotFound {
			return settlement.Payment{}, fmt.Errorf("payment intent %s: %w", id, settlement.ErrNotFound)
		}
		return settlement.Payment{}, fmt.Errorf("stripe: read %s: %w", id, err)
	}
	return payment(pi), nil
}

// Refund refunds a PaymentIntent in full.
func (p *Payments) Refund(ctx context.Context, id, key string) error {
	params := &stripe.RefundParams{PaymentIntent: stripe.String(id)}
	params.Context = ctx
	params.SetIdempotencyKey(key)
	if _, err := p.api.Refunds.New(params); err != nil {
		var se *stripe.Error
		if errors.As(err, &se) && se.Code == stripe.ErrorCodeChargeAlreadyRefunded {
			return nil // refunded before, under another key: the money is back
		}
		return fmt.Errorf("stripe: refund %s: %w", id, err)
	}
	return nil
}

func payment(pi *stripe.PaymentIntent) settlement.Payment {
	out := settlement.Payment{
		ID: pi.ID, OrderID: pi.Metadata["order_id"], Amount: pi.Amount,
		Currency: strings.ToUpper(string(pi.Currency)), Status: Status(pi),
	}
	if pi.LastPaymentError != nil {
		out.FailureReason = string(pi.LastPaymentError.Code)
		if pi.LastPaymentError.DeclineCode != "" {
			out.FailureReason = string(pi.LastPaymentError.DeclineCode)
		}
	}
	return out
}

// Status maps a PaymentIntent's status onto the saga's: requires_payment_method after a failed attempt and
// canceled are failures; the other non-final states are processing.
func Status(pi *stripe.PaymentIntent) settlement.PaymentStatus {
	switch pi.Status {
	case stripe.PaymentIntentStatusSucceeded:
		return settlement.PaymentSucceeded
	case stripe.PaymentIntentStatusCanceled:
		return settlement.PaymentFailed
	case stripe.PaymentIntentStatusRequiresPaymentMethod:
		if pi.LastPaymentError != nil {
			return settlement.PaymentFailed
		}
	}
	return settlement.PaymentProcessing
}
