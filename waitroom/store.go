package waitroom

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// Errors a Store returns besides ErrNotFound.
var (
	// ErrLeaseLost: the caller does not hold the event's controller lease (another process took it over).
	ErrLeaseLost = errors.New("controller lease is held by another process")
	// ErrGone: the fan does not hold that place (left, rejoined elsewhere, finished or never joined).
	ErrGone = errors.New("the fan no longer holds this place")
	// ErrNeedPosition: the pre-queue has been drawn; the caller must pass the fan's drawn position.
	ErrNeedPosition = errors.New("the pre-queue has been drawn; the drawn position is needed")
	// ErrRetry: the state changed under the call (a pre-queue leave arrived during the draw); call again.
	ErrRetry = errors.New("state changed during the call; retry")
)

// MaxLanes bounds the lanes of an event: lane 0 is the general lane, lanes 1..MaxLanes-1 are code lanes.
// A fan's lane and join number share one small integer in the store (seq×MaxLanes + lane), which keeps a queued fan
// to a few bytes.
const MaxLanes = 32

// Place is a fan's place as the store knows it.
type Place struct {
	Lane    int
	Seq     int64 // join number in the lane, from 1
	Created bool  // false when the fan already had this place
	// Pre is the lane's pre-queue size frozen at open, or -1 while the pre-queue is still open.
	// A place with Seq ≤ Pre (or any place while Pre is -1) is in the pre-queue and gets a drawn position.
	Pre int64
}

// Prequeue reports whether the place is in the pre-queue.
func (p Place) Prequeue() bool { return p.Pre < 0 || p.Seq <= p.Pre }

// LaneView is one lane's counters.
type LaneView struct {
	Seq     int64   // places given so far
	Serving int64   // positions ≤ Serving are admitted
	Pre     int64   // pre-queue size frozen at open (0 before)
	Left    int64   // places above Serving whose fans left (holes the controller skips)
	Rate    float64 // measured admissions per minute (moving average written by the controller)
}

// View is an event's live state in one read; Run refreshes every process's copy a few times a second.
type View struct {
	ConfigVersion int64
	Frozen        bool   // the pre-queue sizes are fixed (the on-sale has opened)
	Seed          []byte // the lottery seed, once drawn
	Lanes         [MaxLanes]LaneView
	PendingLeaves int64 // pre-queue fans who left before the draw
	Admitted      int64 // admissions so far (holes excluded)
	Active        int64 // admitted fans still counted (arrival or access deadline in the future)
	SoldOut       bool
	// Stocked says Available and Held hold the units buyable and held as the controller last read them.
	Stocked         bool
	Available, Held int64
	Closed          bool // closed for good (Close); unlike SoldOut, no configuration reopens it
	Paused          bool
	Overrides       Overrides
	Rate            float64         // measured admissions per minute, all lanes
	Released        map[string]bool // waves whose units were released
}

// Overrides are the organizer's live changes to admission. AdmitPerMin and MaxActive apply while Wave is the
// current wave (a new wave brings its own configured figures); 0 means not overridden.
type Overrides struct {
	Wave        string
	AdmitPerMin int
	MaxActive   int
}

// PendingLeave is a pre-queue fan who left before the draw; the controller maps it to its drawn position.
type PendingLeave struct {
	Lane int
	Seq  int64
}

// DrawnLeave is a pre-queue leave mapped to its drawn position.
type DrawnLeave struct {
	Lane int
	Pos  int64
}

// AdmitRequest is one controller tick's admission.
type AdmitRequest struct {
	Owner   string
	Now     time.Time
	Arrival time.Time // newly admitted places count as active until then unless their fan claims access
	Lanes   []int     // lanes to admit from, highest priority first
	N       int       // admissions to make in all (holes skipped do not count)
	Rates   [MaxLanes]float64
	Rate    float64
	SoldOut bool // close the queue: nobody else will be admitted
	// Stocked says Available and Held were read this tick; the store keeps them for every process's View.
	Stocked         bool
	Available, Held int64
	Released        []string // waves whose release was done this tick (recorded so each is done once)
}

// AdmitResult says what a tick admitted.
type AdmitResult struct {
	Admitted [MaxLanes]int
	Serving  [MaxLanes]int64
	Active   int64
}

// Store keeps the waiting room's shared state. Every method is atomic; two adapters implement it (redisstore for
// production, memstore embedded) and pass one conformance suite (waitroom/storetest).
//
// Times come from the caller (the Room's clock) so every process and test agrees on one clock; the lease's own
// expiry uses the store's clock.
type Store interface {
	// PutConfig stores an event's configuration (opaque bytes), registers the event, bumps its version and clears a
	// sold-out close (a new configuration may bring new stock); it keeps a Close.
	PutConfig(ctx context.Context, event string, cfg []byte) error
	// Config returns the stored configuration and its version; ErrNotFound for an unknown event.
	Config(ctx context.Context, event string) ([]byte, int64, error)
	// Events lists the configured events.
	Events(ctx context.Context) ([]string, error)

	// Join gives fan a new place at the back of lane, or its existing place (in whatever lane) back. When
	// now ≥ openAt and the pre-queue is not frozen yet, it freezes every lane's pre-queue size first, so the draw
	// covers exactly the fans who joined before open. ErrClosed once the event is closed: no place is given.
	Join(ctx context.Context, event, fan string, lane int, now, openAt time.Time) (Place, error)
	// Lookup returns fan's place (Created false); ErrGone when it has none.
	Lookup(ctx context.Context, event, fan string) (Place, error)
	// Leave frees fan's place (lane, seq): the fan is forgotten (a later join gets a new place at the back) and the
	// place becomes a hole the controller skips, or, when already admitted, stops counting as active. pos is the
	// drawn position, 0 when the caller does not know it; ErrNeedPosition when it is needed; ErrGone when the fan
	// does not hold that place.
	Leave(ctx context.Context, event, fan string, lane int, seq, pos int64) error
	// Claim records that the admitted fan at (lane, seq), drawn position pos, takes up its access: the first claim
	// fixes the access deadline at now+ttl and counts the place active until now+idle (at most the deadline; 0
	// means the deadline); later claims return the same deadline and change nothing. ErrGone when the fan no
	// longer holds the place, finished, or its access has expired; ErrClosed once the event is closed.
	Claim(ctx context.Context, event, fan string, lane int, seq, pos int64, now time.Time, ttl, idle time.Duration) (deadline time.Time, first bool, err error)
	// Touch records that the fan of the claimed place (lane, pos) is still there: the place counts as active until
	// now+idle (at most its access deadline; never shortened). A place that no longer counts (idle past its life,
	// finished, expired, never claimed) is not counted again; Touch then reports false.
	Touch(ctx context.Context, event string, lane int, pos int64, now time.Time, idle time.Duration) (bool, error)
	// Quiet shortens the life of claimed places whose fans have nothing left to do: each counts as active until
	// its Until at most (never longer than before). A place that no longer counts is left alone.
	Quiet(ctx context.Context, event string, now time.Time, places []QuietPlace) error
	// Finish ends the access of the admitted place (lane, pos) at once: it stops counting as active and cannot be
	// claimed again.
	Finish(ctx context.Context, event string, lane int, pos int64) error
	// View reads the event's live state; ErrNotFound for an unknown event.
	View(ctx context.Context, event string, now time.Time) (View, error)
	// SetOverrides changes admission live; a nil field is left as it is.
	SetOverrides(ctx context.Context, event string, paused *bool, o Overrides) error

	// Lease takes or renews the event's controller lease for owner; false when another owner holds it.
	Lease(ctx context.Context, event, owner string, ttl time.Duration) (bool, error)
	// Unlease gives the lease up if owner holds it.
	Unlease(ctx context.Context, event, owner string) error
	// Freeze fixes the pre-queue sizes if Join has not done it yet (idempotent).
	Freeze(ctx context.Context, event string) error
	// PendingLeaves lists the pre-queue fans who left before the draw.
	PendingLeaves(ctx context.Context, event string) ([]PendingLeave, error)
	// Draw publishes the lottery seed and turns the pending leaves (all of them, mapped to drawn positions) into
	// holes. ErrRetry when more leaves arrived since PendingLeaves; ErrLeaseLost; a second Draw is a no-op.
	Draw(ctx context.Context, event, owner string, seed []byte, leaves []DrawnLeave) error
	// Admit moves the serving counters: up to req.N places from req.Lanes in order, skipping holes, never past a
	// lane's Seq; it drops active places whose deadline passed, records the measured rates and the sold-out close.
	// A closed event admits nobody and records no sold-out close. ErrLeaseLost unless req.Owner holds the lease.
	Admit(ctx context.Context, event string, req AdmitRequest) (AdmitResult, error)
	// Close closes the event's queue for good: Join and Claim answer ErrClosed and Admit admits nobody from then
	// on, and View reports Closed. Closing again is a no-op; ErrNotFound for an unknown event.
	Close(ctx context.Context, event string) error
}

// QuietPlace is an admitted place whose active life ends at Until unless its fan calls again.
type QuietPlace struct {
	Lane  int
	Pos   int64
	Until time.Time
}

// Member is the name of an admitted place in the store's active set.
func Member(lane int, pos int64) string { return strconv.Itoa(lane) + ":" + strconv.FormatInt(pos, 10) }

// AdmitStepLimit bounds the positions one Admit call may pass in one lane (admissions plus holes skipped), so one
// call stays short however many fans left in a row; the next tick goes on.
func AdmitStepLimit(n int) int { return 4*n + 1000 }
