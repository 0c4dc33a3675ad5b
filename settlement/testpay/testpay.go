// Package testpay is an in-memory payment provider that follows Stripe's PaymentIntent state machine with
// manual capture and Stripe's test payment methods. It is the embedded default when no Stripe key is set (the
// fan's page confirms and authenticates through it) and the fake the saga's fault tests script, since
// stripe-mock keeps no state.
//
// An intent moves as Stripe's does:
//
//	requires_payment_method -confirm-> requires_action -authenticate-> requires_capture -capture-> succeeded
//
// where a card without 3-D Secure skips requires_action, and cancel leads to canceled from anywhere before
// succeeded. A failed attempt (a decline, a failed 3-D Secure)
// returns the intent to requires_payment_method with a last payment error, from where the fan may confirm
// another card. The saga sees those states through settlement.PaymentStatus; see [Payments.Authorize].
//
// Cards: pm_card_visa, pm_card_mastercard and any other pm_card_* authorize; pm_card_threeDSecure2Required,
// pm_card_threeDSecureRequired and pm_card_authenticationRequired ask for 3-D Secure first; the
// pm_card_chargeDeclined* family and pm_card_insufficientFunds are declined with their decline code (see
// [CardOutcome]). Anything else does not exist, as Stripe answers resource_missing.
//
// Like Stripe, a repeated idempotency key finds the first PaymentIntent, so [Payments.Intents] counts exactly
// how many a saga really created. Tests script outages, lost responses and forced outcomes with
// [Payments.Script], move intents on with [Payments.SetStatus], and check invariants with [Payments.All].
package testpay

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/onsale/onsale/settlement"
)

// ErrUnavailable is what scripted outages return.
var ErrUnavailable = errors.New("payment provider unavailable")

// Stripe's PaymentIntent statuses.
const (
	requiresPaymentMethod = "requires_payment_method"
	requiresConfirmation  = "requires_confirmation"
	requiresAction        = "requires_action"
	processing            = "processing"
	requiresCapture       = "requires_capture"
	succeeded             = "succeeded"
	canceled              = "canceled"
)

// Decline and error codes the provider sets as a payment's FailureReason.
const (
	codeResourceMissing = "resource_missing"
	codeAuthFailure     = "payment_intent_authentication_failure"
	codeCardDeclined    = "card_declined"
	codeCanceled        = "canceled"
)

// declines maps the declining test payment methods to their decline codes.
var declines = map[string]string{
	"pm_card_chargeDeclined":                       codeCardDeclined,
	"pm_card_visa_chargeDeclined":                  codeCardDeclined,
	"pm_card_insufficientFunds":                    "insufficient_funds",
	"pm_card_visa_chargeDeclinedInsufficientFunds": "insufficient_funds",
	"pm_card_chargeDeclinedExpiredCard":            "expired_card",
	"pm_card_chargeDeclinedIncorrectCvc":           "incorrect_cvc",
	"pm_card_chargeDeclinedFraudulent":             "fraudulent",
}

// threeDS holds the test payment methods that need 3-D Secure before they authorize.
var threeDS = map[string]bool{
	"pm_card_threeDSecure2Required":  true,
	"pm_card_threeDSecureRequired":   true,
	"pm_card_authenticationRequired": true,
}

// cards maps Stripe's test card numbers to their payment methods, for a page that takes a number.
var cards = map[string]string{
	"4242424242424242": "pm_card_visa",
	"5555555555554444": "pm_card_mastercard",
	"378282246310005":  "pm_card_amex",
	"4000056655665556": "pm_card_visa_debit",
	"4000002760003184": "pm_card_authenticationRequired",
	"4000000000003220": "pm_card_threeDSecure2Required",
	"4000000000003063": "pm_card_threeDSecureRequired",
	"4000000000000002": "pm_card_chargeDeclined",
	"4000000000009995": "pm_card_insufficientFunds",
	"4000000000000069": "pm_card_chargeDeclinedExpiredCard",
	"4000000000000127": "pm_card_chargeDeclinedIncorrectCvc",
	"4100000000000019": "pm_card_chargeDeclinedFraudulent",
}

// CardOutcome says what confirming a test payment method leads to: PaymentAuthorized, PaymentRequiresAction
// (3-D Secure), or PaymentFailed with the decline code ("resource_missing" for a method that does not exist).
func CardOutcome(method string) (settlement.PaymentStatus, string) {
	if code, ok := declines[method]; ok {
		return settlement.PaymentFailed, code
	}
	if threeDS[method] {
		return settlement.PaymentRequiresAction, ""
	}
	if strings.HasPrefix(method, "pm_card_") {
		return settlement.PaymentAuthorized, ""
	}
	return settlement.PaymentFailed, codeResourceMissing
}

// MethodForCard returns the test payment method of one of Stripe's test card numbers (spaces and dashes are
// ignored), and false for any other number.
func MethodForCard(number string) (string, bool) {
	pm, ok := cards[strings.NewReplacer(" ", "", "-", "").Replace(number)]
	return pm, ok
}

// Op names a call of the settlement.Payments port, for scripts and call counts.
type Op string

const (
	OpAuthorize Op = "authorize"
	OpPayment   Op = "payment" // a re-read
	OpCapture   Op = "capture"
	OpCancel    Op = "cancel"
	OpRefund    Op = "refund"
)

// Outcome scripts one call. The zero Outcome lets the call follow the state machine and the cards.
type Outcome struct {
	// Status forces the outcome of an Authorize that creates an intent, whatever its payment method:
	// PaymentAuthorized (requires_capture), PaymentRequiresAction (3-D Secure), PaymentFailed (card_declined),
	// PaymentProcessing (processing, until SetStatus moves it) or PaymentSucceeded (captured at once, as an
	// automatic-capture intent would be). Ignored by other calls and by a repeated idempotency key.
	Status settlement.PaymentStatus
	// Err fails the call before it does anything (an outage).
	Err error
	// ErrAfter lets the call happen, then returns this error with its result, as if the response were lost.
	ErrAfter error
}

// Intent is an inspection copy of one PaymentIntent.
type Intent struct {
	ID            string
	OrderID       string
	Status        string // Stripe's status: requires_payment_method, requires_action, requires_capture, …
	Amount        int64
	Currency      string
	FailureReason string // the last payment error's code, or "canceled"
	Captured      int64  // amount captured
	Refunded      int64  // amount refunded
}

type intent struct {
	id, orderID, currency string
	amount                int64
	status                string
	lastError             string
	method                string // the payment method of the last attempt
	returnURL             string
	secret                string
	captured, refunded    int64
}

func (in *intent) payment() settlement.Payment {
	p := settlement.Payment{ID: in.id, OrderID: in.orderID, Amount: in.amount, Currency: in.currency,
		ClientSecret: in.secret, Refunded: in.refunded}
	switch in.status {
	case requiresPaymentMethod:
		p.Status = settlement.PaymentRequiresAction
		if in.lastError != "" {
			p.Status, p.FailureReason = settlement.PaymentFailed, in.lastError
		}
	case requiresConfirmation:
		p.Status = settlement.PaymentRequiresAction
	case requiresAction:
		p.Status = settlement.PaymentRequiresAction
		u := "/pay/3ds/" + in.id
		if in.returnURL != "" {
			u += "?return=" + url.QueryEscape(in.returnURL)
		}
		p.NextAction = &settlement.NextAction{Type: "redirect", URL: u}
	case processing:
		p.Status = settlement.PaymentProcessing
	case requiresCapture:
		p.Status = settlement.PaymentAuthorized
	case succeeded:
		p.Status = settlement.PaymentSucceeded
	case canceled:
		p.Status, p.FailureReason = settlement.PaymentFailed, codeCanceled
	}
	return p
}

// confirm attempts method on the intent, as Stripe's confirm does.
func (in *intent) confirm(method string) {
	in.method, in.lastError = method, ""
	status, code := CardOutcome(method)
	switch status {
	case settlement.PaymentAuthorized:
		in.status = requiresCapture
	case settlement.PaymentRequiresAction:
		in.status = requiresAction
	default:
		in.status, in.lastError = requiresPaymentMethod, code
	}
}

// force sets the state a script or SetStatus asks for.
func (in *intent) force(s settlement.PaymentStatus) {
	in.lastError = ""
	switch s {
	case settlement.PaymentAuthorized:
		in.status = requiresCapture
	case settlement.PaymentRequiresAction:
		in.status = requiresAction
	case settlement.PaymentProcessing:
		in.status = processing
	case settlement.PaymentSucceeded:
		in.status, in.captured = succeeded, in.amount
	case settlement.PaymentFailed:
		in.status, in.lastError = requiresPaymentMethod, codeCardDeclined
	}
}

func validStatus(s settlement.PaymentStatus) bool {
	switch s {
	case settlement.PaymentAuthorized, settlement.PaymentRequiresAction, settlement.PaymentProcessing,
		settlement.PaymentSucceeded, settlement.PaymentFailed:
		return true
	}
	return false
}

// keyUse is what an idempotency key was first used for. Keys share one namespace, as on a Stripe account.
type keyUse struct {
	op      Op
	id      string                    // the intent; empty for a refused Authorize
	req     settlement.PaymentRequest // Authorize only
	refused *settlement.Payment       // the answer of an Authorize refused before creating an intent
}

// Payments is the in-memory provider. It is safe for concurrent use; its hooks run without its lock held, so
// they may call it back.
type Payments struct {
	mu       sync.Mutex
	intents  map[string]*intent
	order    []*intent // in creation order
	keys     map[string]keyUse
	perOrder map[string]int
	calls    map[Op]int
	script   func(op Op, id string, req settlement.PaymentRequest) Outcome
	notify   func(ctx context.Context, id string)
}

var _ settlement.Payments = (*Payments)(nil)

// New returns a provider with no payments.
func New() *Payments {
	return &Payments{intents: map[string]*intent{}, keys: map[string]keyUse{}, perOrder: map[string]int{},
		calls: map[Op]int{}}
}

// Script sets the hook consulted at the start of every port call (nil to follow the cards again). id is empty
// for OpAuthorize and req is set only for it. The hook runs outside the provider's lock, possibly concurrently.
func (p *Payments) Script(fn func(op Op, id string, req settlement.PaymentRequest) Outcome) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.script = fn
}

// SetNotify sets what is called, as Stripe would send a webhook, after Confirm or Authenticate changed an
// intent: synchronously, with the caller's ctx, outside the lock. The port's calls do not notify: their caller
// already has the answer.
func (p *Payments) SetNotify(fn func(ctx context.Context, id string)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.notify = fn
}

// begin counts a port call and runs the script.
func (p *Payments) begin(op Op, id string, req settlement.PaymentRequest) Outcome {
	p.mu.Lock()
	p.calls[op]++
	script := p.script
	p.mu.Unlock()
	if script == nil {
		return Outcome{}
	}
	return script(op, id, req)
}

// useKey checks that key is set and was not used for another call (another operation, or another intent).
// The caller holds the lock.
func (p *Payments) useKey(key string, op Op, id string) error {
	if key == "" {
		return fmt.Errorf("%w: %s %s without an idempotency key", settlement.ErrInvalid, op, id)
	}
	if u, ok := p.keys[key]; ok && (u.op != op || u.id != id) {
		return fmt.Errorf("%w: key %s was used to %s %s", settlement.ErrIdempotencyReused, key, u.op, u.id)
	}
	return nil
}

func notFound(id string) error {
	return fmt.Errorf("payment intent %s: %w", id, settlement.ErrNotFound)
}

func unexpected(in *intent, action string) error {
	return fmt.Errorf("payment_intent_unexpected_state: cannot %s %s in %s: %w", action, in.id, in.status,
		settlement.ErrConflict)
}

// Authorize creates a PaymentIntent with manual capture and, when req.PaymentMethod is set, confirms it with
// that card. Its Payment maps Stripe's status: requires_payment_method (no attempt yet), requires_confirmation
// and requires_action are PaymentRequiresAction (NextAction set for requires_action); requires_payment_method
// after a failed attempt is PaymentFailed with the decline code; requires_capture is PaymentAuthorized;
// succeeded is PaymentSucceeded; canceled is PaymentFailed with FailureReason "canceled".
//
// A repeated idempotency key returns the first intent's current state (other parameters:
// settlement.ErrIdempotencyReused). A payment method that does not exist creates nothing: the answer is
// PaymentFailed with "resource_missing" and no ID, and the key keeps giving it.
func (p *Payments) Authorize(_ context.Context, req settlement.PaymentRequest) (settlement.Payment, error) {
	if req.IdempotencyKey == "" || req.Amount < 0 || req.Currency == "" {
		p.mu.Lock()
		p.calls[OpAuthorize]++ // counted, not scripted: Stripe refuses it before anything could go wrong
		p.mu.Unlock()
		return settlement.Payment{}, fmt.Errorf("%w: payment request needs an idempotency key, an amount ≥ 0 and a currency",
			settlement.ErrInvalid)
	}
	out := p.begin(OpAuthorize, "", req)
	if out.Err != nil {
		return settlement.Payment{}, out.Err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if u, ok := p.keys[req.IdempotencyKey]; ok {
		if u.op != OpAuthorize || u.req != req {
			return settlement.Payment{}, fmt.Errorf("%w: key %s", settlement.ErrIdempotencyReused, req.IdempotencyKey)
		}
		if u.refused != nil {
			return *u.refused, out.ErrAfter
		}
		return p.intents[u.id].payment(), out.ErrAfter
	}
	if out.Status == "" && req.PaymentMethod != "" {
		if _, code := CardOutcome(req.PaymentMethod); code == codeResourceMissing {
			refused := settlement.Payment{OrderID: req.OrderID, Status: settlement.PaymentFailed, Amount: req.Amount,
				Currency: req.Currency, FailureReason: codeResourceMissing}
			p.keys[req.IdempotencyKey] = keyUse{op: OpAuthorize, req: req, refused: &refused}
			return refused, out.ErrAfter
		}
	}
	id := "pi_test_" + random()
	in := &intent{id: id, orderID: req.OrderID, currency: req.Currency, amount: req.Amount,
		status: requiresPaymentMethod, returnURL: req.ReturnURL, secret: id + "_secret_" + random()}
	switch {
	case out.Status != "":
		if !validStatus(out.Status) {
			return settlement.Payment{}, fmt.Errorf("%w: scripted status %q", settlement.ErrInvalid, out.Status)
		}
		in.method = req.PaymentMethod
		in.force(out.Status)
	case req.PaymentMethod != "":
		in.confirm(req.PaymentMethod)
	}
	p.intents[id] = in
	p.order = append(p.order, in)
	p.keys[req.IdempotencyKey] = keyUse{op: OpAuthorize, id: id, req: req}
	p.perOrder[req.OrderID]++
	return in.payment(), out.ErrAfter
}

// Payment re-reads a PaymentIntent.
func (p *Payments) Payment(_ context.Context, id string) (settlement.Payment, error) {
	out := p.begin(OpPayment, id, settlement.PaymentRequest{})
	if out.Err != nil {
		return settlement.Payment{}, out.Err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	in, ok := p.intents[id]
	if !ok {
		return settlement.Payment{}, notFound(id)
	}
	return in.payment(), out.ErrAfter
}

// Capture takes an authorized (requires_capture) intent in full. A succeeded one is returned as it is; any
// other state fails with settlement.ErrNotCapturable.
func (p *Payments) Capture(_ context.Context, id, key string) (settlement.Payment, error) {
	out := p.begin(OpCapture, id, settlement.PaymentRequest{})
	if out.Err != nil {
		return settlement.Payment{}, out.Err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.useKey(key, OpCapture, id); err != nil {
		return settlement.Payment{}, err
	}
	in, ok := p.intents[id]
	switch {
	case !ok:
		return settlement.Payment{}, notFound(id)
	case in.status == requiresCapture:
		in.status, in.captured = succeeded, in.amount
	case in.status != succeeded:
		return in.payment(), fmt.Errorf("payment intent %s is %s: %w", id, in.status, settlement.ErrNotCapturable)
	}
	p.keys[key] = keyUse{op: OpCapture, id: id}
	return in.payment(), out.ErrAfter
}

// Cancel cancels an intent that was not captured, releasing its authorization (processing ones too, as Stripe
// allows for some methods). A canceled one is returned as it is; a succeeded one fails with
// settlement.ErrConflict.
func (p *Payments) Cancel(_ context.Context, id, key string) (settlement.Payment, error) {
	out := p.begin(OpCancel, id, settlement.PaymentRequest{})
	if out.Err != nil {
		return settlement.Payment{}, out.Err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.useKey(key, OpCancel, id); err != nil {
		return settlement.Payment{}, err
	}
	in, ok := p.intents[id]
	switch {
	case !ok:
		return settlement.Payment{}, notFound(id)
	case in.status == succeeded:
		return in.payment(), unexpected(in, "cancel")
	case in.status != canceled:
		in.status = canceled
	}
	p.keys[key] = keyUse{op: OpCancel, id: id}
	return in.payment(), out.ErrAfter
}

// Refund gives a succeeded intent back in full, once per key; another key for a refunded intent fails like
// Stripe's charge_already_refunded (settlement.ErrConflict), as does refunding an intent not captured.
func (p *Payments) Refund(_ context.Context, id, key string) error {
	out := p.begin(OpRefund, id, settlement.PaymentRequest{})
	if out.Err != nil {
		return out.Err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.useKey(key, OpRefund, id); err != nil {
		return err
	}
	if _, ok := p.keys[key]; ok {
		return out.ErrAfter
	}
	in, ok := p.intents[id]
	switch {
	case !ok:
		return notFound(id)
	case in.status != succeeded:
		return unexpected(in, "refund")
	case in.refunded > 0:
		return fmt.Errorf("charge_already_refunded: payment intent %s: %w", id, settlement.ErrConflict)
	}
	in.refunded = in.amount
	p.keys[key] = keyUse{op: OpRefund, id: id}
	return out.ErrAfter
}

// Confirm attempts paymentMethod on an intent, as the fan's page does with Stripe.js: from
// requires_payment_method (a first attempt, or a retry after a decline) or requires_confirmation (an empty
// paymentMethod then reuses the attached one). Other states fail with settlement.ErrConflict. A decline or a
// method that does not exist is a PaymentFailed, not an error.
// Stripe's test card numbers are taken for their payment methods (MethodForCard), as the card form sends them.
func (p *Payments) Confirm(ctx context.Context, id, paymentMethod string) (settlement.Payment, error) {
	if pm, ok := MethodForCard(paymentMethod); ok {
		paymentMethod = pm // a test card's number, as a card form sends it
	}
	p.mu.Lock()
	in, ok := p.intents[id]
	var err error
	switch {
	case !ok:
		err = notFound(id)
	case in.status != requiresPaymentMethod && in.status != requiresConfirmation:
		err = unexpected(in, "confirm")
	case paymentMethod == "" && (in.status != requiresConfirmation || in.method == ""):
		err = fmt.Errorf("%w: confirm %s without a payment method", settlement.ErrInvalid, id)
	}
	if err != nil {
		p.mu.Unlock()
		return settlement.Payment{}, err
	}
	in.confirm(cmp.Or(paymentMethod, in.method))
	return p.changed(ctx, in)
}

// Authenticate is the fan's answer on the 3-D Secure page of an intent in requires_action: success authorizes
// it (requires_capture); failure returns it to requires_payment_method with payment_intent_authentication_failure.
func (p *Payments) Authenticate(ctx context.Context, id string, succeed bool) (settlement.Payment, error) {
	p.mu.Lock()
	in, ok := p.intents[id]
	if !ok || in.status != requiresAction {
		p.mu.Unlock()
		if !ok {
			return settlement.Payment{}, notFound(id)
		}
		return settlement.Payment{}, unexpected(in, "authenticate")
	}
	if succeed {
		in.status = requiresCapture
	} else {
		in.status, in.lastError = requiresPaymentMethod, codeAuthFailure
	}
	return p.changed(ctx, in)
}

// changed unlocks and notifies about in; the caller holds the lock.
func (p *Payments) changed(ctx context.Context, in *intent) (settlement.Payment, error) {
	pay, notify := in.payment(), p.notify
	p.mu.Unlock()
	if notify != nil {
		notify(ctx, in.id)
	}
	return pay, nil
}

// SetStatus moves an intent on as the provider does later, without a call or a notification (a test delivers
// the webhook it wants, or none): PaymentAuthorized (the fan authenticated), PaymentRequiresAction,
// PaymentProcessing, PaymentSucceeded (captured), or PaymentFailed: declined (card_declined) before it was
// authorized, canceled once authorized (the authorization expired, which Stripe turns into a cancel). A
// succeeded or canceled intent stays where it is (settlement.ErrConflict).
func (p *Payments) SetStatus(id string, s settlement.PaymentStatus) error {
	if !validStatus(s) {
		return fmt.Errorf("%w: status %q", settlement.ErrInvalid, s)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	in, ok := p.intents[id]
	switch {
	case !ok:
		return notFound(id)
	case s == settlement.PaymentSucceeded && in.status == succeeded,
		s == settlement.PaymentFailed && (in.status == canceled || in.status == requiresPaymentMethod && in.lastError != ""):
		return nil // already there: keep its failure reason
	case in.status == succeeded || in.status == canceled:
		return unexpected(in, "move "+string(s))
	case s == settlement.PaymentFailed && in.status == requiresCapture:
		in.status = canceled
	default:
		in.force(s)
	}
	return nil
}

// Get returns a copy of an intent, without counting a call.
func (p *Payments) Get(id string) (Intent, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	in, ok := p.intents[id]
	if !ok {
		return Intent{}, false
	}
	return in.inspect(), true
}

func (in *intent) inspect() Intent {
	return Intent{ID: in.id, OrderID: in.orderID, Status: in.status, Amount: in.amount, Currency: in.currency,
		FailureReason: in.payment().FailureReason, Captured: in.captured, Refunded: in.refunded}
}

// All returns every intent in creation order, e.g. to check that no captured intent lacks a paid order and
// that no authorization was left behind.
func (p *Payments) All() []Intent {
	p.mu.Lock()
	defer p.mu.Unlock()
	all := make([]Intent, len(p.order))
	for i, in := range p.order {
		all[i] = in.inspect()
	}
	return all
}

// Intents counts the PaymentIntents created for an order (more than one would be a double charge).
func (p *Payments) Intents(orderID string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.perOrder[orderID]
}

// Captured reports whether an intent's money was taken (succeeded).
func (p *Payments) Captured(id string) bool { return p.is(id, succeeded) }

// Canceled reports whether an intent was canceled.
func (p *Payments) Canceled(id string) bool { return p.is(id, canceled) }

func (p *Payments) is(id, status string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	in, ok := p.intents[id]
	return ok && in.status == status
}

// Refunded reports whether an intent was refunded.
func (p *Payments) Refunded(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	in, ok := p.intents[id]
	return ok && in.refunded > 0
}

// Calls counts the port's calls (Authorize, Payment, Capture, Cancel, Refund), repeated and failed ones
// included; the fan's Confirm and Authenticate are not counted.
func (p *Payments) Calls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.calls {
		n += c
	}
	return n
}

// CallsOf counts the port's calls of one operation.
func (p *Payments) CallsOf(op Op) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[op]
}

func random() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
