// Package memstore is the embedded inventory.Store: everything in one process's memory, no services. It keeps
// the same semantics as the Redis adapter (both pass inventorytest) and serves `onsale serve` when no Redis is
// configured. Each event has its own mutex, so events never contend; a hold costs O(items) plus, for best-available
// seats, a scan of the rows that could fit. Expiry uses a deadline min-heap per event.
package memstore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/onsale/onsale/inventory"
)

// Options configure a Store.
type Options struct {
	// Now is the clock (default time.Now); tests move it to expire holds.
	Now func() time.Time
}

// Store is the embedded inventory. The zero value is not usable; call New.
type Store struct {
	now func() time.Time

	mu     sync.RWMutex // guards events (the map, not the events)
	events map[string]*event
}

var _ inventory.Store = (*Store)(nil)

// New returns an empty store.
func New(opts Options) *Store {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Store{now: now, events: make(map[string]*event)}
}

// Seat states of a seated section.
const (
	seatFree byte = iota
	seatHeld
	seatSold
	seatWithheld
)

// idemTTL is how long an idempotency key is remembered; released and expired holds are forgotten as long after
// they end, so memory follows the recent traffic, not the whole sale.
const (
	idemTTL   = 24 * time.Hour
	retention = idemTTL
)

// lazyReclaim is how many expired holds a mutating call reclaims before it decides.
const lazyReclaim = 16

type event struct {
	mu     sync.Mutex
	def    inventory.Event
	secIdx map[string]int
	secs   []*section
	holds  map[string]*hold
	due    deadlines // live holds by deadline
	fans   map[string]*fanCount
	idem   map[idemKey]idemEntry
	waves  map[string]struct{}
	// closed is set under mu by Cancel and never cleared; Hold reads it before CheckHold as well, so that a
	// cancelled event refuses a request before judging it, as the Redis script does.
	closed atomic.Bool
	// ended and idemOrder are in time order, so forgetting old entries costs O(1) each.
	ended     []stamped[string]
	idemOrder []stamped[idemKey]
}

type stamped[T any] struct {
	v  T
	at time.Time
}

type section struct {
	def                             *inventory.Section
	available, held, sold, withheld int
	version                         int64
	rowStart                        []int  // linear index of each row's first seat (seated only)
	rowFree                         []int  // free seats per row (seated only)
	seats                           []byte // seat states in row/seat order (seated only)
}

type fanCount struct{ held, bought int }

type idemKey struct{ fan, key string }

type idemEntry struct {
	holdID      string
	fingerprint string
	expires     time.Time
}

// seatRef is a seat of a hold: section index, row index, seat number (1-based).
type seatRef struct{ sec, row, n int }

type hold struct {
	h     inventory.Hold
	secs  []int // section index of each of h.Lines
	seats []seatRef
	index int // position in the deadline heap, -1 when not in it
}

// CreateEvent adds a validated copy of ev; an invalid definition fails with ErrInvalid, an existing id with
// ErrEventExists.
func (s *Store) CreateEvent(_ context.Context, ev inventory.Event) error {
	ev = cloneEvent(ev)
	if err := ev.Validate(); err != nil {
		return fmt.Errorf("create event: %w", err)
	}
	if ev.CreatedAt.IsZero() {
		ev.CreatedAt = s.now()
	}
	e := &event{
		def:    ev,
		secIdx: make(map[string]int, len(ev.Sections)),
		holds:  make(map[string]*hold),
		fans:   make(map[string]*fanCount),
		idem:   make(map[idemKey]idemEntry),
		waves:  make(map[string]struct{}),
	}
	for i := range e.def.Sections {
		def := &e.def.Sections[i]
		w := ev.Withheld[def.ID]
		sec := &section{def: def, available: def.Capacity - w, withheld: w}
		if def.Kind == inventory.Seated {
			sec.rowStart = make([]int, len(def.Rows))
			sec.rowFree = make([]int, len(def.Rows))
			n := 0
			for r, row := range def.Rows {
				sec.rowStart[r] = n
				sec.rowFree[r] = row.Seats
				n += row.Seats
			}
			sec.seats = make([]byte, n)
			// The withheld seats are the last ones in row/seat order.
			for i := n - w; i < n; i++ {
				sec.setSeat(i, seatWithheld)
			}
		}
		e.secIdx[def.ID] = i
		e.secs = append(e.secs, sec)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.events[ev.ID]; ok {
		return fmt.Errorf("create event %s: %w", ev.ID, inventory.ErrEventExists)
	}
	s.events[ev.ID] = e
	return nil
}

// Event returns a copy of an event's definition.
func (s *Store) Event(_ context.Context, id string) (inventory.Event, error) {
	e, err := s.event(id)
	if err != nil {
		return inventory.Event{}, err
	}
	return cloneEvent(e.def), nil // the definition never changes after CreateEvent
}

// Events lists the event ids in order.
func (s *Store) Events(context.Context) ([]string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Sorted(maps.Keys(s.events)), nil
}

// Stats returns an event's counters.
func (s *Store) Stats(_ context.Context, id string) (inventory.Stats, error) {
	e, err := s.event(id)
	if err != nil {
		return inventory.Stats{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	st := inventory.Stats{Event: id, Cancelled: e.closed.Load(), Sections: make([]inventory.SectionStats, len(e.secs))}
	for i, sec := range e.secs {
		st.Sections[i] = inventory.SectionStats{
			ID:        sec.def.ID,
			Capacity:  sec.def.Capacity,
			Available: sec.available,
			Held:      sec.held,
			Sold:      sec.sold,
			Withheld:  sec.withheld,
			Version:   sec.version,
			Price:     sec.def.Price,
			Revenue:   int64(sec.sold) * sec.def.Price,
		}
	}
	return st, nil
}

// seatByte is the SeatMap byte of a seat state.
var seatByte = [...]byte{seatFree: inventory.SeatFree, seatHeld: inventory.SeatHeld, seatSold: inventory.SeatSold,
	seatWithheld: inventory.SeatWithheld}

func (s *Store) Seats(_ context.Context, id string) ([]inventory.SeatMap, error) {
	e, err := s.event(id)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []inventory.SeatMap
	for _, sec := range e.secs {
		if sec.def.Kind != inventory.Seated {
			continue
		}
		m := inventory.SeatMap{Section: sec.def.ID, States: make([]byte, len(sec.seats))}
		for i, st := range sec.seats {
			m.States[i] = seatByte[st]
		}
		out = append(out, m)
	}
	return out, nil
}

func (s *Store) event(id string) (*event, error) {
	s.mu.RLock()
	e, ok := s.events[id]
	s.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("event %s: %w", id, inventory.ErrNotFound)
	}
	return e, nil
}

// setSeat changes a seat's state and keeps the row's free count.
func (sec *section) setSeat(i int, state byte) {
	r := sec.rowOf(i)
	if sec.seats[i] == seatFree {
		sec.rowFree[r]--
	}
	if state == seatFree {
		sec.rowFree[r]++
	}
	sec.seats[i] = state
}

// rowOf returns the row of a seat's linear index.
func (sec *section) rowOf(i int) int {
	r, found := slices.BinarySearch(sec.rowStart, i)
	if !found {
		r--
	}
	return r
}

func (sec *section) seatIndex(row, n int) int { return sec.rowStart[row] + n - 1 }

func cloneEvent(ev inventory.Event) inventory.Event {
	ev.Sections = slices.Clone(ev.Sections)
	for i := range ev.Sections {
		ev.Sections[i].Rows = slices.Clone(ev.Sections[i].Rows)
	}
	ev.Withheld = maps.Clone(ev.Withheld)
	return ev
}

func cloneHold(h inventory.Hold) inventory.Hold {
	h.Lines = slices.Clone(h.Lines)
	h.Seats = slices.Clone(h.Seats)
	return h
}
