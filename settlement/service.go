package settlement

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/onsale/onsale/inventory"
)

// Options configure a Service. Zero values take the defaults in brackets.
type Options struct {
	WebhookSecret string                // Stripe endpoint secret; without it every webhook is refused
	Workers       int                   // payment consumers [4]
	Registerer    prometheus.Registerer // [prometheus.DefaultRegisterer]
	Logger        *slog.Logger          // [slog.Default()]
	OnBooking     func(ctx context.Context, ev BookingEvent)
	// ReturnURL, when set, names the page a fan comes back to after authenticating a payment (3-D Secure).
	ReturnURL func(Order) string
	// OrderURL, when set, is the link booking events carry to the fan's order page (its tickets).
	OrderURL func(Order) string

	Prefetch     int           // unacknowledged deliveries per payment consumer [32]
	MaxAttempts  int           // deliveries of a message before it is parked [5]
	StallAfter   time.Duration // an order in pending or paying this long is re-driven [30s]
	CheckoutTTL  time.Duration // checkout deadline given to holds restored by Reconcile [15m]
	RelayBatch   int           // outbox rows per publish [512]
	Relays       int           // outbox relays running at once (they share the outbox with SKIP LOCKED) [1]
	RelayIdle    time.Duration // outbox poll interval when nothing wakes the relay [200ms]
	RelayLinger  time.Duration // longest a woken relay waits for more rows to publish together [100ms]
	CancelEvery  time.Duration // how often open cancellation jobs are looked at (and resumed) [2s]
	Now          func() time.Time
	DisableRelay bool // for tests that need a service whose outbox is never published
	// CancelHook, when set, is called before each step of a cancellation job ("holds", "refunds"); an error stops
	// the job there, as a crash would (tests).
	CancelHook func(ctx context.Context, step, event string) error
}

// Service runs the settlement saga. It is safe for concurrent use.
type Service struct {
	ledger Ledger
	bus    Bus
	pay    Payments
	stock  Stock
	opts   Options
	log    *slog.Logger
	m      *metrics
	wake   chan struct{} // nudges the relay when a transaction wrote outbox rows
	// cancelled holds the events this process knows are cancelled; cancelWake starts a cancellation job now.
	cancelled  sync.Map
	cancelWake chan struct{}
}

// New returns a Service over its four ports.
func New(ledger Ledger, bus Bus, pay Payments, stock Stock, opts Options) *Service {
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.Prefetch <= 0 {
		opts.Prefetch = 32
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 5
	}
	if opts.StallAfter <= 0 {
		opts.StallAfter = 30 * time.Second
	}
	if opts.CheckoutTTL <= 0 {
		opts.CheckoutTTL = 15 * time.Minute
	}
	if opts.RelayBatch <= 0 {
		// Two envelopes of 256 (payment requests, booking events) when the outbox is busy: the broker's cost is
		// per envelope.
		opts.RelayBatch = 512
	}
	if opts.Relays <= 0 {
		// One: every relay round publishes an envelope per topic, and the broker's cost is per envelope, so two
		// relays taking turns sent a third more of them for the same rows (and the ledger ran more rounds).
		opts.Relays = 1
	}
	if opts.RelayIdle <= 0 {
		opts.RelayIdle = 200 * time.Millisecond
	}
	if opts.RelayLinger <= 0 {
		// The longest wait, after rounds of a quarter of a RelayBatch or more (see lingerAfter).
		opts.RelayLinger = 100 * time.Millisecond
	}
	if opts.CancelEvery <= 0 {
		opts.CancelEvery = 2 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Service{
		ledger: ledger, bus: bus, pay: pay, stock: stock, opts: opts,
		log:        log.With(slog.String("component", "settlement")),
		m:          newMetrics(opts.Registerer),
		wake:       make(chan struct{}, 1),
		cancelWake: make(chan struct{}, 1),
	}
}

const (
	maxIDLen     = 128
	maxMethodLen = 255
)

// Checkout moves a hold to checkout and writes its order (pending) with the payment request in one ledger
// transaction. With a payment method the server confirms the payment; without one the order reaches
// requires_action and the fan confirms it in the page with the payment's client secret. One order per hold: the same hold again returns the same order when the payment method is the
// same, ErrIdempotencyReused when it differs; likewise a reused idempotency key.
func (s *Service) Checkout(ctx context.Context, req CheckoutRequest) (Order, error) {
	if err := req.validate(); err != nil {
		return Order{}, err
	}
	if req.IdempotencyKey != "" {
		// A known key answers before the inventory is touched: reused for another hold it must not move that
		// hold to checkout. Two checkouts racing with one new key for two holds both pass here; the ledger's
		// unique (fan, key) then takes one order and refuses the other, whose hold stays in checkout until its
		// checkout deadline returns the seats.
		if o, err := s.ledger.OrderByIdempotencyKey(ctx, req.Fan, req.IdempotencyKey); err == nil {
			return sameCheckout(o, req)
		} else if !errors.Is(err, ErrNotFound) {
			return Order{}, fmt.Errorf("checkout %s: %w", req.HoldID, err)
		}
	}
	h, err := s.stock.Get(ctx, req.HoldID)
	if err != nil {
		return Order{}, fmt.Errorf("checkout %s: %w", req.HoldID, err)
	}
	if h.Fan != req.Fan {
		// Another fan's hold: reveal nothing about it.
		return Order{}, fmt.Errorf("checkout %s: %w", req.HoldID, inventory.ErrNotFound)
	}
	if h.State != inventory.Held {
		// Checked out before (or ended): the order it has, if any, answers.
		if o, err := s.ledger.OrderByHold(ctx, req.HoldID); err == nil {
			return sameCheckout(o, req)
		} else if !errors.Is(err, ErrNotFound) {
			return Order{}, fmt.Errorf("checkout %s: %w", req.HoldID, err)
		}
	}
	switch h.State {
	case inventory.Held:
		if h, err = s.stock.BeginCheckout(ctx, req.HoldID); err != nil {
			return Order{}, fmt.Errorf("checkout %s: %w", req.HoldID, err)
		}
	case inventory.Checkout:
		// A checkout that stopped between the inventory and the ledger: finish it.
	default:
		return Order{}, fmt.Errorf("checkout %s (%s): %w", req.HoldID, h.State, inventory.ErrHoldExpired)
	}
	now := s.opts.Now().UTC()
	o := Order{
		ID: newOrderID(), HoldID: h.ID, Event: h.Event, Fan: h.Fan, Status: Pending,
		Seats: h.Seats, Lines: h.Lines, Total: h.Total, Currency: h.Currency,
		PaymentMethod: req.PaymentMethod, CreatedAt: now, UpdatedAt: now,
	}
	got, created, err := s.ledger.CreateOrder(ctx, o, req.IdempotencyKey, now.Add(s.opts.StallAfter),
		[]Message{paymentMessage(o)})
	if err != nil {
		return Order{}, fmt.Errorf("checkout %s: %w", req.HoldID, err)
	}
	if !created {
		return sameCheckout(got, req)
	}
	s.m.ordersIn(Pending)
	s.nudge()
	return got, nil
}

func (req CheckoutRequest) validate() error {
	switch {
	case req.HoldID == "" || len(req.HoldID) > maxIDLen:
		return fmt.Errorf("%w: hold id", ErrInvalid)
	case req.Fan == "" || len(req.Fan) > maxMethodLen:
		return fmt.Errorf("%w: fan", ErrInvalid)
	case len(req.PaymentMethod) > maxMethodLen || !printable(req.PaymentMethod):
		// Empty is allowed: the fan then confirms the payment in the page.
		return fmt.Errorf("%w: payment method", ErrInvalid)
	case len(req.IdempotencyKey) > maxMethodLen:
		return fmt.Errorf("%w: idempotency key too long", ErrInvalid)
	}
	return nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// sameCheckout decides what a repeated checkout gets: the first order, or a conflict.
func sameCheckout(o Order, req CheckoutRequest) (Order, error) {
	switch {
	case o.Fan != req.Fan:
		return Order{}, fmt.Errorf("checkout %s: %w", req.HoldID, inventory.ErrNotFound)
	case o.HoldID != req.HoldID || o.PaymentMethod != req.PaymentMethod:
		return Order{}, fmt.Errorf("checkout %s: %w", req.HoldID, ErrIdempotencyReused)
	}
	return o, nil
}

// Order returns an order, or ErrNotFound.
func (s *Service) Order(ctx context.Context, id string) (Order, error) {
	if id == "" || len(id) > maxIDLen {
		return Order{}, fmt.Errorf("order %q: %w", id, ErrNotFound)
	}
	o, err := s.ledger.Order(ctx, id)
	if err != nil {
		return Order{}, fmt.Errorf("order %s: %w", id, err)
	}
	return o, nil
}

// RegisterEvent keeps an event's definition in the ledger, so Reconcile can rebuild its inventory.
func (s *Service) RegisterEvent(ctx context.Context, ev inventory.Event) error {
	if err := ev.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := s.ledger.SaveEvent(ctx, ev); err != nil {
		return fmt.Errorf("register event %s: %w", ev.ID, err)
	}
	return nil
}

// Ready reports whether the ledger and the bus are reachable.
func (s *Service) Ready(ctx context.Context) error {
	if err := s.ledger.Ping(ctx); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	if err := s.bus.Ping(ctx); err != nil {
		return fmt.Errorf("bus: %w", err)
	}
	return nil
}

func (s *Service) nudge() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// newOrderID returns "ord_" and 26 characters of lowercase base32: 128 random bits, not guessable.
func newOrderID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return orderID(b)
}

// orderIDEncoding is base32's standard alphabet in lowercase, so an id is encoded in one step and one allocation.
var orderIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func orderID(b [16]byte) string {
	var id [4 + 26]byte
	copy(id[:], "ord_")
	orderIDEncoding.Encode(id[4:], b[:])
	return string(id[:])
}

func newMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	var id [32]byte
	hex.Encode(id[:], b[:])
	return string(id[:])
}
