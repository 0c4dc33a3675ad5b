// Package testpay is a payment provider that follows Stripe's test cards in memory, for the embedded default
// (no Stripe key) and for tests: pm_card_visa and the other success cards succeed, pm_card_chargeDeclined and
// pm_card_insufficientFunds are declined, pm_card_authenticationRequired stays processing. Like Stripe, a repeated
// idempotency key returns the first PaymentIntent, so it counts exactly how many a saga really created.
// Tests script other outcomes (lost responses, outages, late successes) with Script.
package testpay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/onsale/onsale/settlement"
)

// ErrUnavailable is what scripted outages return.
var ErrUnavailable = errors.New("payment provider unavailable")

// Outcome scripts one Pay call. The zero Outcome follows the test cards.
type Outcome struct {
	Status   settlement.PaymentStatus // overrides the card's outcome when set
	Err      error                    // fail before creating anything (an outage)
	ErrAfter error                    // create the PaymentIntent, then fail as if the response were lost
}

type intent struct {
	settlement.Payment
	key      string
	method   string
	refunded bool
}

// Payments is the in-memory provider. It is safe for concurrent use.
type Payments struct {
	mu       sync.Mutex
	intents  map[string]*intent
	byKey    map[string]string
	refunds  map[string]string // refund idempotency key → PaymentIntent
	perOrder map[string]int
	calls    int
	script   func(settlement.PaymentRequest) Outcome
}

var _ settlement.Payments = (*Payments)(nil)

// New returns a provider with no payments.
func New() *Payments {
	return &Payments{intents: map[string]*intent{}, byKey: map[string]string{}, refunds: map[string]string{}, perOrder: map[string]int{}}
}

// Script sets the hook consulted on every Pay call (nil to follow the cards again).
func (p *Payments) Script(fn func(settlement.PaymentRequest) Outcome) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.script = fn
}

// card returns the outcome of Stripe's test payment methods.
func card(method string) (settlement.PaymentStatus, string) {
	switch method {
	case "pm_card_chargeDeclined", "pm_card_visa_chargeDeclined":
		return settlement.PaymentFailed, "card_declined"
	case "pm_card_insufficientFunds", "pm_card_visa_chargeDeclinedInsufficientFunds":
		return settlement.PaymentFailed, "insufficient_funds"
	case "pm_card_chargeDeclinedExpiredCard":
		return settlement.PaymentFailed, "expired_card"
	case "pm_card_chargeDeclinedIncorrectCvc":
		return settlement.PaymentFailed, "incorrect_cvc"
	case "pm_card_chargeDeclinedFraudulent":
		return settlement.PaymentFailed, "fraudulent"
	case "pm_card_authenticationRequired", "pm_card_threeDSecureRequired":
		return settlement.PaymentProcessing, ""
	}
	if strings.HasPrefix(method, "pm_card_") {
		return settlement.PaymentSucceeded, ""
	}
	return settlement.PaymentFailed, "resource_missing"
}

// Pay creates and confirms a PaymentIntent, or returns the one its idempotency key already created.
func (p *Payments) Pay(_ context.Context, req settlement.PaymentRequest) (settlement.Payment, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if req.IdempotencyKey == "" || req.Amount < 0 || req.Currency == "" {
		return settlement.Payment{}, fmt.Errorf("%w: payment request", settlement.ErrInvalid)
	}
	var out Outcome
	if p.script != nil {
		p.mu.Unlock()
		out = p.script(req)
		p.mu.Lock()
	}
	if id, ok := p.byKey[req.IdempotencyKey]; ok {
		in := p.intents[id]
		if in.Amount != req.Amount || in.method != req.PaymentMethod {
			return settlement.Payment{}, fmt.Errorf("idempotency key %s reused with other parameters", req.IdempotencyKey)
		}
		if out.Err != nil {
			return settlement.Payment{}, out.Err
		}
		return in.Payment, out.ErrAfter
	}
	if out.Err != nil {
		return settlement.Payment{}, out.Err
	}
	status, reason := card(req.PaymentMethod)
	if out.Status != "" {
		status, reason = out.Status, ""
		if status == settlement.PaymentFailed {
			reason = "card_declined"
		}
	}
	in := &intent{Payment: settlement.Payment{
		ID: "pi_test_" + random(), OrderID: req.OrderID, Status: status, Amount: req.Amount,
		Currency: req.Currency, FailureReason: reason,
	}, key: req.IdempotencyKey, method: req.PaymentMethod}
	p.intents[in.ID] = in
	p.byKey[req.IdempotencyKey] = in.ID
	p.perOrder[req.OrderID]++
	return in.Payment, out.ErrAfter
}

// Payment re-reads a PaymentIntent.
func (p *Payments) Payment(_ context.Context, id string) (settlement.Payment, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	in, ok := p.intents[id]
	if !ok {
		return settlement.Payment{}, fmt.Errorf("payment intent %s: %w", id, settlement.ErrNotFound)
	}
	return in.Payment, nil
}

// Refund refunds a succeeded PaymentIntent once per key; a second key for the same intent fails like Stripe's
// charge_already_refunded.
func (p *Payments) Refund(_ context.Context, id, key string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if prev, ok := p.refunds[key]; ok {
		if prev != id {
			return fmt.Errorf("idempotency key %s reused for another payment", key)
		}
		return nil
	}
	in, ok := p.intents[id]
	switch {
	case !ok:
		return fmt.Errorf("payment intent %s: %w", id, settlement.ErrNotFound)
	case in.Status != settlement.PaymentSucceeded:
		return fmt.Errorf("payment intent %s is %s: nothing to refund", id, in.Status)
	case in.refunded:
		return fmt.Errorf("payment intent %s: already refunded", id)
	}
	in.refunded = true
	p.refunds[key] = id
	return nil
}

// SetStatus moves a PaymentIntent on, as the provider does for payments that finish later.
func (p *Payments) SetStatus(id string, s settlement.PaymentStatus) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	in, ok := p.intents[id]
	if !ok {
		return fmt.Errorf("payment intent %s: %w", id, settlement.ErrNotFound)
	}
	in.Status = s
	if s == settlement.PaymentFailed && in.FailureReason == "" {
		in.FailureReason = "card_declined"
	}
	return nil
}

// Intents counts the PaymentIntents created for an order (more than one would be a double charge).
func (p *Payments) Intents(orderID string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.perOrder[orderID]
}

// Refunded reports whether a PaymentIntent was refunded.
func (p *Payments) Refunded(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	in, ok := p.intents[id]
	return ok && in.refunded
}

// Calls counts Pay calls, repeated ones included.
func (p *Payments) Calls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

func random() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
