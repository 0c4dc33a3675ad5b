package waitroom

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors; the HTTP layer maps them to problem types.
var (
	ErrNotFound    = errors.New("no waiting room for this event")
	ErrBadToken    = errors.New("queue token is forged, altered, expired or for another event")  // 401 unauthorized
	ErrNotAdmitted = errors.New("access token is missing, forged, expired or for another event") // 403 not-admitted
	ErrInvalid     = errors.New("invalid request")                                               // 400, wrapped with the reason
	ErrBadCode     = errors.New("unknown presale code")                                          // 400 bad-request (or 403)
	ErrClosed      = errors.New("the event's queue is closed for good")                          // the event is cancelled
)

// State is where a fan stands.
type State string

const (
	Prequeue State = "prequeue" // joined before the on-sale opened; order drawn at open
	Waiting  State = "waiting"
	Admitted State = "admitted"
	SoldOut  State = "sold-out"
	Closed   State = "closed" // the fan left, or the event's queue is closed (Room.Close)
)

// Wave is one phase of the on-sale.
type Wave struct {
	ID          string         `json:"id"`
	StartsAt    time.Time      `json:"starts_at"`
	AdmitPerMin int            `json:"admit_per_min"`
	MaxActive   int            `json:"max_active"`
	Codes       []string       `json:"codes,omitempty"`   // presale codes: this wave admits only fans who joined with one
	Release     map[string]int `json:"release,omitempty"` // units per section this wave makes buyable
}

// Config is an event's waiting-room configuration.
type Config struct {
	Event string `json:"event"`
	Waves []Wave `json:"waves"`
	// ClaimTTL and IdleTTL replace the room's Options.ArrivalTTL and Options.IdleTTL for this event (0: the room's).
	ClaimTTL time.Duration `json:"claim_ttl,omitempty"`
	IdleTTL  time.Duration `json:"idle_ttl,omitempty"`
}

// Ticket answers a join.
type Ticket struct {
	Token     string
	State     State
	Position  int64
	PollAfter time.Duration
	Created   bool // false when the same fan joined again and got the same place back
}

// Status answers a poll.
type Status struct {
	State           State         `json:"state"`
	Position        int64         `json:"position"`
	Ahead           int64         `json:"ahead"`
	EstimatedWait   time.Duration `json:"-"`
	PollAfter       time.Duration `json:"-"`
	AccessToken     string        `json:"access_token,omitempty"`
	AccessExpiresAt time.Time     `json:"access_expires_at,omitzero"`
	// QueueToken is a fresh queue token when the old one should be replaced: after the pre-queue draw (it then
	// carries the drawn position) or when the old one nears its expiry. Clients store it in place of the old one.
	QueueToken string `json:"queue_token,omitempty"`
	// Lane is the presale wave whose code lane the fan waits in; empty for the general lane.
	Lane string `json:"lane,omitempty"`
	// Remaining is the units not sold yet (buyable or held) as the controller last read them, exact up to 100 and
	// rounded down to two significant digits above; -1 when not known. RemainingHeld says every one of them is held.
	Remaining     int64 `json:"-"`
	RemainingHeld bool  `json:"-"`
}

// Admission changes an event's admission live; nil fields are left as they are.
type Admission struct {
	Paused      *bool `json:"paused,omitempty"`
	AdmitPerMin *int  `json:"admit_per_min,omitempty"`
	MaxActive   *int  `json:"max_active,omitempty"`
}

// Stats are an event's waiting-room counters.
type Stats struct {
	Queued          int64   `json:"queued"` // waiting for a place that can be served: 0 once closed as sold out
	Admitted        int64   `json:"admitted"`
	Active          int64   `json:"active"`
	AdmitRatePerMin float64 `json:"admit_rate_per_min"` // measured (moving average), not configured
	AdmitPerMin     int     `json:"admit_per_min"`      // configured, after live changes
	MaxActive       int     `json:"max_active"`
	// ClaimTTL and IdleTTL are the event's claim window and idle life in force.
	ClaimTTL    time.Duration `json:"-"`
	IdleTTL     time.Duration `json:"-"`
	Paused      bool          `json:"paused"`
	Wave        string        `json:"wave,omitempty"`
	LotterySeed string        `json:"lottery_seed,omitempty"` // published once the pre-queue has been drawn
	// PrequeueSizes are the pre-queue sizes the draw covered, per lane ("" is the general lane, else the presale
	// wave's id): with LotterySeed they are all Draw needs to recompute the order.
	PrequeueSizes map[string]int64 `json:"prequeue_sizes,omitempty"`
	SoldOut       bool             `json:"sold_out,omitempty"` // the queue is closed: nothing is left to sell
	Closed        bool             `json:"closed,omitempty"`   // the queue is closed for good: the event is cancelled
}

// Stock is what the waiting room asks of the inventory; core adapts inventory.Store to it.
type Stock interface {
	// Remaining returns the units buyable now and the units held (which may come back to sale).
	Remaining(ctx context.Context, event string) (available, held int, err error)
	// ReleaseWave makes a wave's withheld units buyable, once per wave id.
	ReleaseWave(ctx context.Context, event, wave string, release map[string]int) error
}
