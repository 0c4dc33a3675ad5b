package inventory

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Adapters translate their driver's errors into these once; callers match with errors.Is.
var (
	ErrNotFound          = errors.New("not found")
	ErrEventExists       = errors.New("event already exists")
	ErrSoldOut           = errors.New("not enough units left")
	ErrSeatsUnavailable  = errors.New("a requested seat is not available")
	ErrLimitExceeded     = errors.New("over the per-fan limit")
	ErrHoldExpired       = errors.New("hold is no longer live")
	ErrInvalidState      = errors.New("hold is not in a state that allows this")
	ErrIdempotencyReused = errors.New("idempotency key reused with another request")
	ErrEventClosed       = errors.New("event is cancelled")
	ErrInvalid           = errors.New("invalid request") // wrapped with the reason: fmt.Errorf("%w: …", ErrInvalid)
)

// Kind is the kind of a section.
type Kind string

const (
	General Kind = "general" // a capacity of interchangeable units
	Seated  Kind = "seated"  // rows of numbered seats, ids <section>-<row>-<n>
)

// Row is one row of a seated section; its seats are numbered 1..Seats. The rest is where a seat map draws it
// (geometry.go); none of it matters to holds.
type Row struct {
	Row   string `json:"row"`
	Seats int    `json:"seats"`
	// X, Y place seat 1's centre, in seat widths, y pointing down (towards the back of the venue).
	X float64 `json:"x,omitempty"`
	Y float64 `json:"y,omitempty"`
	// Angle is the direction from seat 1 to the last seat, in degrees clockwise from the x axis.
	Angle float64 `json:"angle,omitempty"`
	// Spacing is the distance between neighbouring seats' centres (default 1).
	Spacing float64 `json:"spacing,omitempty"`
	// Radius bends the row into an arc of a circle whose centre lies Radius to the left of the row's way
	// (negative: to the right); 0 is straight.
	Radius float64 `json:"radius,omitempty"`
	// Gaps are aisles or missing places within the row; they do not change the seats' numbers.
	Gaps []Gap `json:"gaps,omitempty"`
	// Accessible are the numbers of the wheelchair spaces, Companion those of their companions' seats.
	Accessible []int `json:"accessible,omitempty"`
	Companion  []int `json:"companion,omitempty"`
}

// Gap is an empty stretch of a row after seat After, Width spacings wide (default 1).
type Gap struct {
	After int     `json:"after"`
	Width float64 `json:"width,omitempty"`
}

// Section is a part of the venue sold at one price.
type Section struct {
	ID       string `json:"id"`
	Kind     Kind   `json:"kind"`
	Capacity int    `json:"capacity"` // for seated sections, the sum of the rows' seats (filled in by Validate)
	Price    int64  `json:"price"`    // minor units of the event's currency
	Rows     []Row  `json:"rows,omitempty"`
	// Name is what a seat map calls the section ("Stalls"), when it is more than its id.
	Name string `json:"name,omitempty"`
}

// Event is what the inventory needs to know of an event.
type Event struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	Currency  string        `json:"currency"`
	HoldTTL   time.Duration `json:"hold_ttl"`
	MaxPerFan int           `json:"max_per_fan"`
	Sections  []Section     `json:"sections"`
	// Withheld holds back units of a section until a release wave makes them buyable (ReleaseWave).
	// For a seated section the withheld seats are the last ones in row order; a release frees them from the front.
	Withheld map[string]int `json:"withheld,omitempty"`
	// MaxHoldLife caps a hold's total life across extensions (default 2×HoldTTL);
	// CheckoutTTL is how long a hold may stay in checkout before the sweeper reclaims it (default 15 min).
	MaxHoldLife time.Duration `json:"max_hold_life"`
	CheckoutTTL time.Duration `json:"checkout_ttl"`
	CreatedAt   time.Time     `json:"created_at"`
	// Owner is the organizer the event belongs to, kept with the definition for the API's access rule; the
	// inventory itself does not read it. Empty: the operator's.
	Owner string `json:"owner,omitempty"`
}

// State is the state of a hold.
type State string

const (
	Held      State = "held"      // units out of sale until ExpiresAt
	Checkout  State = "checkout"  // payment under way; the sweeper leaves it until the checkout deadline
	Confirmed State = "confirmed" // sold
	Released  State = "released"  // given back by the fan or by a failed payment
	Expired   State = "expired"   // reclaimed after its deadline
)

// Live reports whether a hold in state s still takes units out of sale without having sold them.
func (s State) Live() bool { return s == Held || s == Checkout }

// Item asks for units of one section: a quantity of a general section, or of a seated section
// (best available; Adjacent asks for that many seats side by side in one row).
type Item struct {
	Section  string `json:"section"`
	Quantity int    `json:"quantity"`
	Adjacent bool   `json:"adjacent,omitempty"`
}

// HoldRequest is one all-or-nothing request for units.
type HoldRequest struct {
	Event string
	Fan   string
	Items []Item   // quantities of sections
	Seats []string // named seats, ids <section>-<row>-<n>
	// IdempotencyKey, when set, makes the request repeatable: the same key with the same Fingerprint returns the
	// first hold; with another Fingerprint it fails with ErrIdempotencyReused. Keys are scoped to the event and fan.
	IdempotencyKey string
	Fingerprint    string
}

// Line is what a hold holds of one section.
type Line struct {
	Section   string `json:"section"`
	Quantity  int    `json:"quantity"`
	UnitPrice int64  `json:"unit_price"`
	Amount    int64  `json:"amount"`
}

// Hold is a set of units taken out of sale for one fan.
type Hold struct {
	ID        string    `json:"hold_id"`
	Event     string    `json:"event"`
	Fan       string    `json:"fan"`
	State     State     `json:"state"`
	Lines     []Line    `json:"items"`
	Seats     []string  `json:"seats"` // the seats of seated lines, in order; empty for general admission only
	Total     int64     `json:"total"`
	Currency  string    `json:"currency"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"` // the hold deadline, or the checkout deadline while in checkout
	Units     int       `json:"units"`      // the number of units held, counted against the fan's limit
}

// SectionStats are a section's live counters.
type SectionStats struct {
	ID        string `json:"id"`
	Capacity  int    `json:"capacity"`
	Available int    `json:"available"`
	Held      int    `json:"held"`
	Sold      int    `json:"sold"`
	Withheld  int    `json:"withheld"`
	Version   int64  `json:"version"` // bumps on every change of the section's counters
	Price     int64  `json:"price"`
	Revenue   int64  `json:"revenue"` // sold × price
}

// Stats are an event's live counters.
type Stats struct {
	Event     string         `json:"event"`
	Cancelled bool           `json:"cancelled,omitempty"` // Cancel closed the event: Hold is refused
	Sections  []SectionStats `json:"sections"`
}

// Totals sums the sections.
func (s Stats) Totals() SectionStats {
	var t SectionStats
	for _, sec := range s.Sections {
		t.Capacity += sec.Capacity
		t.Available += sec.Available
		t.Held += sec.Held
		t.Sold += sec.Sold
		t.Withheld += sec.Withheld
		t.Revenue += sec.Revenue
	}
	return t
}

// SeatMap is a seated section's seats in row and seat-number order, one state byte each (SeatFree, SeatHeld,
// SeatSold, SeatWithheld), read in one atomic step.
type SeatMap struct {
	Section string
	States  []byte
}

// Seat states in a SeatMap.
const (
	SeatFree     byte = '0'
	SeatHeld     byte = 'h'
	SeatSold     byte = 's'
	SeatWithheld byte = 'w'
)

// AuditReport compares the counters with what the holds and seat states say. Differences is empty when they agree.
type AuditReport struct {
	Event       string   `json:"event"`
	Holds       int      `json:"holds"`
	Differences []string `json:"differences"`
}

// Store keeps events' inventory. Every method is atomic: it either does all it says or nothing.
type Store interface {
	// CreateEvent adds an event; an existing id fails with ErrEventExists. The event must be Validated.
	CreateEvent(ctx context.Context, ev Event) error
	// Event returns an event's definition, or ErrNotFound.
	Event(ctx context.Context, id string) (Event, error)
	// Events lists the ids of all events (for sweepers and reconcile).
	Events(ctx context.Context) ([]string, error)

	// Hold takes units out of sale for a fan, all or nothing: ErrSoldOut, ErrSeatsUnavailable, ErrLimitExceeded,
	// ErrIdempotencyReused, ErrNotFound (event), ErrEventClosed (a cancelled event, even for a request that would
	// replay a hold by its idempotency key), or ErrInvalid (unknown section or seat, bad quantity).
	Hold(ctx context.Context, req HoldRequest) (Hold, error)
	// Get returns a hold in any state, or ErrNotFound.
	Get(ctx context.Context, holdID string) (Hold, error)
	// Extend pushes a held hold's deadline by the event's HoldTTL, capped at CreatedAt+MaxHoldLife.
	Extend(ctx context.Context, holdID string) (Hold, error)
	// Release gives a live hold's units back to sale at once. Releasing a released or expired hold returns it
	// unchanged; a confirmed one fails with ErrInvalidState (Return puts a sold hold back on sale).
	Release(ctx context.Context, holdID string) (Hold, error)
	// BeginCheckout moves a held hold to checkout, with the checkout deadline; repeating it is a no-op.
	// A hold past its deadline, released or expired fails with ErrHoldExpired.
	BeginCheckout(ctx context.Context, holdID string) (Hold, error)
	// Confirm sells a hold in checkout (or held); repeating it is a no-op. A hold that is no longer live fails
	// with ErrHoldExpired: the caller must not keep the money.
	Confirm(ctx context.Context, holdID string) (Hold, error)
	// Return puts a confirmed hold's units back on sale (a refund, a cancelled event, a capture that failed after
	// the seats were sold): the hold becomes released, its units move from sold to available (not back to
	// withheld), its seats are free again, and the fan's bought count drops. Returning a released or expired hold
	// returns it unchanged; a live hold (held or checkout) fails with ErrInvalidState. ErrNotFound for an unknown
	// hold. A returned hold is kept as long as a sold one, so Restore keeps leaving it alone.
	Return(ctx context.Context, holdID string) (Hold, error)

	// ReleaseWave makes withheld units buyable: release maps section → units. It is applied once per wave id;
	// applying the same wave again is a no-op. On a cancelled event it still moves the counters; Hold stays refused.
	ReleaseWave(ctx context.Context, event, wave string, release map[string]int) error
	// Sweep expires up to limit holds of an event whose deadline has passed and returns how many it expired.
	Sweep(ctx context.Context, event string, limit int) (int, error)
	// Stats returns the live counters of an event.
	Stats(ctx context.Context, event string) (Stats, error)
	// Seats returns the seat states of an event's seated sections, in the event's order, or ErrNotFound.
	Seats(ctx context.Context, event string) ([]SeatMap, error)
	// Audit recomputes the counters from holds and seat states and reports every difference.
	Audit(ctx context.Context, event string) (AuditReport, error)

	// Cancel closes an event for good (the event is cancelled): from then on Hold fails with ErrEventClosed, and
	// live holds (held or checkout) are released, up to limit of them per call, so BeginCheckout, Extend and Confirm
	// of those fail with ErrHoldExpired (the settlement then cancels the payment). It returns how many holds it
	// released and whether live holds remain (call again until more is false). A live hold whose deadline has passed
	// is expired instead, as a sweep would, and not counted. Confirmed holds are left as they are: Return still puts
	// them back one by one as their refunds complete, and their units then stay unbuyable because Hold is refused.
	// Cancelling a cancelled event only releases what remains; ErrNotFound for an unknown event, ErrInvalid for a
	// limit below 1 (nothing is closed then).
	Cancel(ctx context.Context, event string, limit int) (released int, more bool, err error)

	// Restore re-applies confirmed and in-checkout holds after the store lost them (reconcile from the ledger):
	// holds the store already knows are left alone, so it is safe to run while the sale goes on. The event must
	// exist (CreateEvent it first). It returns how many holds it re-applied. Restore does not look at Cancel: on a
	// cancelled event it re-applies in-checkout holds as live too, and a store that lost its data has lost the
	// cancellation with it, so the caller cancels such an event again after Restore.
	Restore(ctx context.Context, event string, holds []Hold) (int, error)
}
