package core

import (
	"context"
	"time"

	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/waitroom"
)

// Room is what core needs of the waiting room (*waitroom.Room implements it).
type Room interface {
	Configure(ctx context.Context, cfg waitroom.Config) error
	Join(ctx context.Context, event, fan, code string) (waitroom.Ticket, error)
	// StatusBytes is a poll, with the token read in place from the request header (it is not kept).
	StatusBytes(ctx context.Context, event string, queueToken []byte) (waitroom.Status, error)
	Watch(ctx context.Context, event, queueToken string) (<-chan waitroom.Status, error)
	Leave(ctx context.Context, event, queueToken string) error
	VerifyAccess(event, accessToken string) (fan string, err error)
	// Admitted is VerifyAccess keeping the verified access, for QuietAccess later in the same request.
	Admitted(event, accessToken string) (waitroom.Access, error)
	// VerifyAccessForRead is VerifyAccess that also accepts a token expired within the room's read grace; only
	// read-only calls use it.
	VerifyAccessForRead(event, accessToken string) (fan string, err error)
	// QuietAccess says the fan of a verified access has nothing left to do after until (a refused hold: now; a
	// hold: its expiry): unless it calls again, its slot ends a short grace later. It makes no store call.
	QuietAccess(a waitroom.Access, until time.Time)
	// Done frees the slot of a fan who checked out, without a store call of its own (the token stays valid).
	Done(event, accessToken string)
	// Finished frees the fan's active slot (the fan's access token stays valid).
	Finished(ctx context.Context, event, fan string) error
	SetAdmission(ctx context.Context, event string, a waitroom.Admission) error
	// Close closes the event's queue for good (the event is cancelled).
	Close(ctx context.Context, event string) error
	Stats(ctx context.Context, event string) (waitroom.Stats, error)
}

// Settlement is what core needs of the settlement service (*settlement.Service implements it).
type Settlement interface {
	Checkout(ctx context.Context, req settlement.CheckoutRequest) (settlement.Order, error)
	Order(ctx context.Context, id string) (settlement.Order, error)
	// Orders lists a page of orders by event or fan, newest first.
	Orders(ctx context.Context, q settlement.OrderQuery) ([]settlement.Order, error)
	RequestRefund(ctx context.Context, orderID string) (settlement.Order, error)
	CancelEvent(ctx context.Context, event string) (settlement.Cancellation, error)
	TicketLedger
	Cancellation(ctx context.Context, event string) (settlement.Cancellation, error)
	HandleWebhook(ctx context.Context, payload []byte, signatureHeader string) error
	RegisterEvent(ctx context.Context, ev inventory.Event) error
}

// TestPayments is the test payment provider's side that a fan's browser drives (what Stripe.js and Stripe's
// 3-D Secure page do with Stripe). It is there only when no Stripe key is configured; it tells the saga itself
// when a payment moves on, as Stripe's webhooks do.
type TestPayments interface {
	Payment(ctx context.Context, id string) (settlement.Payment, error)
	Confirm(ctx context.Context, id, paymentMethod string) (settlement.Payment, error)
	Authenticate(ctx context.Context, id string, succeed bool) (settlement.Payment, error)
}

// Check is one backend the readiness probe pings: Name is the backend label of onsale_backend_up
// (redis, postgres, rabbitmq, stripe).
type Check struct {
	Name string
	Ping func(ctx context.Context) error
	// Optional backends are probed and reported (onsale_backend_up, the log) but do not make the process unready:
	// without Stripe the service still queues fans, sells holds and takes checkouts, whose payments the saga
	// retries, so taking every replica out of its Service would turn a payment outage into a full one.
	Optional bool
	// MinInterval, when set, reuses the last answer for that long, for a backend with rate limits of its own.
	MinInterval time.Duration
}

// PoolStats are a Redis client's connection-pool figures, for onsale_redis_pool_*.
type PoolStats struct {
	Total, Idle, Timeouts uint32
}
