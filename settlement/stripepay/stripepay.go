// Package stripepay takes payments with Stripe PaymentIntents (stripe-go/v76), authorized first and captured
// once the seats are sold: create with manual capture under the saga's idempotency key (confirmed now when the
// saga has a payment method, else by the fan's page with the client secret), re-read for the true state, then
// capture, cancel or refund, each with its own key.
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

// Authorize creates a PaymentIntent with manual capture. With req.PaymentMethod it is confirmed now: with
// req.ReturnURL a 3-D Secure redirect comes back there, without one redirects are refused and 3-D Secure comes
// back as use_stripe_sdk for Stripe.js. Without a payment method the page confirms it with the client secret.
func (p *Payments) Authorize(ctx context.Context, req settlement.PaymentRequest) (settlement.Payment, error) {
	params := &stripe.PaymentIntentParams{
		Amount:        stripe.Int64(req.Amount),
		Currency:      stripe.String(strings.ToLower(req.Currency)),
		CaptureMethod: stripe.String(string(stripe.PaymentIntentCaptureMethodManual)),
		AutomaticPaymentMethods: &stripe.PaymentIntentAutomaticPaymentMethodsParams{
			Enabled: stripe.Bool(true),
		},
	}
	if req.PaymentMethod != "" {
		params.PaymentMethod = stripe.String(req.PaymentMethod)
		params.Confirm = stripe.Bool(true)
		if req.ReturnURL != "" {
			params.ReturnURL = stripe.String(req.ReturnURL)
		} else {
			// Stripe refuses a server confirm that could need a redirect unless it has somewhere to come back to.
			never := stripe.PaymentIntentAutomaticPaymentMethodsAllowRedirectsNever
			params.AutomaticPaymentMethods.AllowRedirects = stripe.String(string(never))
		}
	}
	params.Context = ctx
	params.SetIdempotencyKey(req.IdempotencyKey)
	params.AddMetadata("order_id", req.OrderID)
	pi, err := p.api.PaymentIntents.New(params)
	if err != nil {
		return refused(err)
	}
	return FromIntent(pi), nil
}

// refused turns a card error (402, which carries the failed PaymentIntent) or a refused request (400: an
// unknown payment method) into a failed payment; anything else is an unknown outcome to retry.
func refused(err error) (settlement.Payment, error) {
	var se *stripe.Error
	if !errors.As(err, &se) {
		return settlement.Payment{}, fmt.Errorf("stripe: authorize: %w", err)
	}
	switch {
	case se.Type == stripe.ErrorTypeCard:
	case se.Type == stripe.ErrorTypeInvalidRequest && se.HTTPStatusCode == http.StatusBadRequest &&
		se.Code != stripe.ErrorCodeIdempotencyKeyInUse:
	default:
		return settlement.Payment{}, fmt.Errorf("stripe: authorize: %w", err)
	}
	out := settlement.Payment{Status: settlement.PaymentFailed, FailureReason: failureReason(se)}
	if pi := se.PaymentIntent; pi != nil {
		out.ID, out.OrderID = pi.ID, pi.Metadata["order_id"]
		out.Amount, out.Currency = pi.Amount, strings.ToUpper(string(pi.Currency))
		out.ClientSecret = pi.ClientSecret
	}
	return out, nil
}

// Payment re-reads a PaymentIntent, with its latest charge for the amount refunded.
func (p *Payments) Payment(ctx context.Context, id string) (settlement.Payment, error) {
	pi, err := p.read(ctx, id)
	if err != nil {
		return settlement.Payment{}, err
	}
	return FromIntent(pi), nil
}

func (p *Payments) read(ctx context.Context, id string) (*stripe.PaymentIntent, error) {
	params := &stripe.PaymentIntentParams{}
	params.Context = ctx
	params.AddExpand("latest_charge")
	pi, err := p.api.PaymentIntents.Get(id, params)
	if err != nil {
		return nil, apiError("read", id, err)
	}
	return pi, nil
}

// Capture captures an authorized PaymentIntent in full. When Stripe says the intent is in the wrong state it
// is re-read: a succeeded one was captured before (under another key) and is returned; a canceled one (the
// authorization expired, or it was canceled) or one never authorized fails with settlement.ErrNotCapturable,
// returned with the payment as re-read.
func (p *Payments) Capture(ctx context.Context, id, key string) (settlement.Payment, error) {
	params := &stripe.PaymentIntentCaptureParams{}
	params.Context = ctx
	params.SetIdempotencyKey(key)
	pi, err := p.api.PaymentIntents.Capture(id, params)
	if err == nil {
		return FromIntent(pi), nil
	}
	if !hasCode(err, stripe.ErrorCodePaymentIntentUnexpectedState, stripe.ErrorCodeChargeExpiredForCapture) {
		return settlement.Payment{}, apiError("capture", id, err)
	}
	now, rerr := p.read(ctx, id)
	if rerr != nil {
		return settlement.Payment{}, fmt.Errorf("stripe: capture %s: %w; then %w", id, err, rerr)
	}
	switch now.Status {
	case stripe.PaymentIntentStatusSucceeded:
		return FromIntent(now), nil
	case stripe.PaymentIntentStatusRequiresCapture, stripe.PaymentIntentStatusProcessing:
		// It can still be captured: the refusal was about an earlier state, so the outcome is unknown.
		return settlement.Payment{}, fmt.Errorf("stripe: capture %s (now %s): %w", id, now.Status, err)
	}
	return FromIntent(now), fmt.Errorf("stripe: capture %s (%s): %w: %w", id, now.Status, settlement.ErrNotCapturable, err)
}

// Cancel cancels a PaymentIntent that was not captured, releasing its authorization. When Stripe says the
// intent is in the wrong state it is re-read: a canceled one is returned; a succeeded one (captured: refund it
// instead) fails with settlement.ErrConflict, returned with the payment as re-read.
func (p *Payments) Cancel(ctx context.Context, id, key string) (settlement.Payment, error) {
	params := &stripe.PaymentIntentCancelParams{}
	params.Context = ctx
	params.SetIdempotencyKey(key)
	pi, err := p.api.PaymentIntents.Cancel(id, params)
	if err == nil {
		return FromIntent(pi), nil
	}
	if !hasCode(err, stripe.ErrorCodePaymentIntentUnexpectedState) {
		return settlement.Payment{}, apiError("cancel", id, err)
	}
	now, rerr := p.read(ctx, id)
	if rerr != nil {
		return settlement.Payment{}, fmt.Errorf("stripe: cancel %s: %w; then %w", id, err, rerr)
	}
	switch now.Status {
	case stripe.PaymentIntentStatusCanceled:
		return FromIntent(now), nil
	case stripe.PaymentIntentStatusSucceeded:
		return FromIntent(now), fmt.Errorf("stripe: cancel %s (succeeded): %w: %w", id, settlement.ErrConflict, err)
	}
	return settlement.Payment{}, fmt.Errorf("stripe: cancel %s (now %s): %w", id, now.Status, err)
}

// Refund refunds a captured PaymentIntent in full.
func (p *Payments) Refund(ctx context.Context, id, key string) error {
	params := &stripe.RefundParams{PaymentIntent: stripe.String(id)}
	params.Context = ctx
	params.SetIdempotencyKey(key)
	if _, err := p.api.Refunds.New(params); err != nil {
		if hasCode(err, stripe.ErrorCodeChargeAlreadyRefunded) {
			return nil // refunded before, under another key: the money is back
		}
		return apiError("refund", id, err)
	}
	return nil
}

// apiError wraps a failed call; a 404 (an unknown id) also wraps settlement.ErrNotFound, since repeating it
// cannot help.
func apiError(op, id string, err error) error {
	var se *stripe.Error
	if errors.As(err, &se) && se.HTTPStatusCode == http.StatusNotFound {
		return fmt.Errorf("stripe: %s %s: %w: %w", op, id, settlement.ErrNotFound, err)
	}
	return fmt.Errorf("stripe: %s %s: %w", op, id, err)
}

func hasCode(err error, codes ...stripe.ErrorCode) bool {
	var se *stripe.Error
	if !errors.As(err, &se) {
		return false
	}
	for _, c := range codes {
		if se.Code == c {
			return true
		}
	}
	return false
}

func failureReason(se *stripe.Error) string {
	if se.DeclineCode != "" {
		return string(se.DeclineCode)
	}
	return string(se.Code)
}

// FromIntent is the saga's view of a PaymentIntent. Refunded is read from the latest charge, so it is 0 unless
// latest_charge was expanded.
func FromIntent(pi *stripe.PaymentIntent) settlement.Payment {
	out := settlement.Payment{
		ID: pi.ID, OrderID: pi.Metadata["order_id"], Amount: pi.Amount,
		Currency: strings.ToUpper(string(pi.Currency)), Status: Status(pi), ClientSecret: pi.ClientSecret,
	}
	if pi.LastPaymentError != nil {
		out.FailureReason = failureReason(pi.LastPaymentError)
	}
	if pi.Status == stripe.PaymentIntentStatusCanceled {
		out.FailureReason = "canceled"
		if pi.CancellationReason != "" {
			out.FailureReason = string(pi.CancellationReason)
		}
	}
	if out.Status == settlement.PaymentRequiresAction {
		out.NextAction = nextAction(pi.NextAction)
	}
	if pi.LatestCharge != nil {
		out.Refunded = pi.LatestCharge.AmountRefunded
	}
	return out
}

// Status maps a PaymentIntent's status onto the saga's. requires_payment_method is the fan's to act on until an
// attempt failed (last_payment_error set), then a failure.
func Status(pi *stripe.PaymentIntent) settlement.PaymentStatus {
	switch pi.Status {
	case stripe.PaymentIntentStatusRequiresPaymentMethod:
		if pi.LastPaymentError != nil {
			return settlement.PaymentFailed
		}
		return settlement.PaymentRequiresAction
	case stripe.PaymentIntentStatusRequiresConfirmation, stripe.PaymentIntentStatusRequiresAction:
		return settlement.PaymentRequiresAction
	case stripe.PaymentIntentStatusRequiresCapture:
		return settlement.PaymentAuthorized
	case stripe.PaymentIntentStatusSucceeded:
		return settlement.PaymentSucceeded
	case stripe.PaymentIntentStatusCanceled:
		return settlement.PaymentFailed
	}
	// processing, and any status newer than this client: not final, look again later.
	return settlement.PaymentProcessing
}

func nextAction(na *stripe.PaymentIntentNextAction) *settlement.NextAction {
	if na == nil || na.Type == "" {
		return nil
	}
	switch na.Type {
	case stripe.PaymentIntentNextActionTypeRedirectToURL:
		out := &settlement.NextAction{Type: "redirect"}
		if na.RedirectToURL != nil {
			out.URL = na.RedirectToURL.URL
		}
		return out
	case stripe.PaymentIntentNextActionTypeUseStripeSDK:
		return &settlement.NextAction{Type: "use_stripe_sdk"}
	}
	return &settlement.NextAction{Type: string(na.Type)}
}
