package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/inventory/memstore"
)

// The property test runs random sequences of calls against memstore and a plain model of the semantics, with a
// clock it moves by hand. After every step the model's counters equal Stats, Audit is clean, nothing is oversold,
// no seat is in two holds, and no fan is over the limit.

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Seat states in the model.
const (
	free byte = iota
	held
	sold
	withheld
)

type mHold struct {
	id, event, fan   string
	req              inventory.HoldRequest // what made it, for replays
	state            inventory.State
	units            map[string]int
	total            int
	seats            []string
	created, expires time.Time
}

type mSection struct {
	def                         inventory.Section
	avail, held, sold, withheld int
	seats                       []byte // seated only, row/seat order
	rowStart                    []int
}

type mEvent struct {
	def    inventory.Event
	secs   []*mSection
	fans   map[string]*[2]int // held, bought
	waves  map[string]bool
	idem   map[[2]string][2]string // fan, key → hold id, fingerprint
	holds  []string
	closed bool
}

type model struct {
	ctx    context.Context
	clock  *clock
	s      *memstore.Store
	events []*mEvent
	holds  map[string]*mHold
	fans   []string
}

func (m *model) sec(e *mEvent, id string) *mSection {
	for _, s := range e.secs {
		if s.def.ID == id {
			return s
		}
	}
	panic("no section " + id)
}

func (m *model) create(t *rapid.T, ev inventory.Event) {
	if err := ev.Validate(); err != nil {
		t.Fatalf("model event invalid: %v", err)
	}
	if err := m.s.CreateEvent(m.ctx, ev); err != nil {
		t.Fatalf("create: %v", err)
	}
	e := &mEvent{def: ev, fans: map[string]*[2]int{}, waves: map[string]bool{}, idem: map[[2]string][2]string{}}
	for _, d := range ev.Sections {
		w := ev.Withheld[d.ID]
		s := &mSection{def: d, avail: d.Capacity - w, withheld: w}
		if d.Kind == inventory.Seated {
			n := 0
			for _, r := range d.Rows {
				s.rowStart = append(s.rowStart, n)
				n += r.Seats
			}
			s.seats = make([]byte, n)
			for i := n - w; i < n; i++ {
				s.seats[i] = withheld
			}
		}
		e.secs = append(e.secs, s)
	}
	m.events = append(m.events, e)
}

func randomEvent(t *rapid.T, n int) inventory.Event {
	ev := inventory.Event{
		ID: "ev" + strconv.Itoa(n), Currency: "EUR", MaxPerFan: rapid.IntRange(1, 5).Draw(t, "max_per_fan"),
		HoldTTL: 10 * time.Second, CheckoutTTL: 20 * time.Second,
		MaxHoldLife: rapid.SampledFrom([]time.Duration{10 * time.Second, 11 * time.Second, 15 * time.Second}).Draw(t, "max_hold_life"),
		Withheld:    map[string]int{},
	}
	ev.Sections = append(ev.Sections, inventory.Section{ID: "GA", Kind: inventory.General,
		Capacity: rapid.IntRange(1, 10).Draw(t, "ga"), Price: 100})
	sec := inventory.Section{ID: "A", Kind: inventory.Seated, Price: 250}
	for i := range rapid.IntRange(1, 3).Draw(t, "rows") {
		sec.Rows = append(sec.Rows, inventory.Row{Row: strconv.Itoa(i + 1), Seats: rapid.IntRange(1, 5).Draw(t, "seats")})
		sec.Capacity += sec.Rows[i].Seats
	}
	ev.Sections = append(ev.Sections, sec)
	ev.Withheld["GA"] = rapid.IntRange(0, ev.Sections[0].Capacity).Draw(t, "withheld_ga")
	ev.Withheld["A"] = rapid.IntRange(0, sec.Capacity).Draw(t, "withheld_a")
	return ev
}

// reclaim expires every live hold of the event whose deadline has passed. The per-fan limit keeps an event under
// 16 live holds here (4 fans × at most 5 units), so the store's lazy reclaim of 16 reaches them all too.
func (m *model) reclaim(e *mEvent) int {
	n := 0
	now := m.clock.Now()
	for _, id := range e.holds {
		h := m.holds[id]
		if h.state.Live() && !h.expires.After(now) {
			m.free(e, h, inventory.Expired)
			n++
		}
	}
	return n
}

func (m *model) free(e *mEvent, h *mHold, state inventory.State) {
	for sec, q := range h.units {
		s := m.sec(e, sec)
		s.held -= q
		s.avail += q
	}
	m.setSeats(e, h.seats, free)
	e.fans[h.fan][0] -= h.total
	h.state = state
}

func (m *model) setSeats(e *mEvent, seats []string, state byte) {
	for _, id := range seats {
		s, i := m.seat(e, id)
		s.seats[i] = state
	}
}

func (m *model) seat(e *mEvent, id string) (*mSection, int) {
	secID, row, n, err := inventory.ParseSeatID(id)
	if err != nil {
		panic(err)
	}
	s := m.sec(e, secID)
	r, _ := s.def.RowIndex(row)
	return s, s.rowStart[r] + n - 1
}

func (m *model) fan(e *mEvent, f string) *[2]int {
	if e.fans[f] == nil {
		e.fans[f] = &[2]int{}
	}
	return e.fans[f]
}

// hold asks the store and predicts the outcome.
func (m *model) hold(t *rapid.T, e *mEvent, req inventory.HoldRequest) {
	got, err := m.s.Hold(m.ctx, req)
	if !e.closed { // a cancelled event refuses the hold before it reclaims anything
		m.reclaim(e)
	}
	want, wantErr := m.predict(e, req)
	if wantErr != nil || err != nil {
		if !errors.Is(err, wantErr) || wantErr == nil {
			t.Fatalf("hold %+v: got %+v, %v; want %v", req, got, err, wantErr)
		}
		return
	}
	if want.id != "" { // idempotent replay
		if got.ID != want.id {
			t.Fatalf("replay: got hold %s, want %s", got.ID, want.id)
		}
		return
	}
	if !slices.Equal(got.Seats, want.seats) || got.Units != want.total || got.State != inventory.Held ||
		!got.ExpiresAt.Equal(want.expires) || got.Fan != req.Fan {
		t.Fatalf("hold %+v: got %+v, want seats %v units %d expiring %s", req, got, want.seats, want.total, want.expires)
	}
	want.id, want.req = got.ID, req
	for _, l := range got.Lines {
		if want.units[l.Section] != l.Quantity {
			t.Fatalf("hold line %+v, model %v", l, want.units)
		}
	}
	if len(got.Lines) != len(want.units) {
		t.Fatalf("hold lines %+v, model %v", got.Lines, want.units)
	}
	// Apply the prediction.
	for sec, q := range want.units {
		s := m.sec(e, sec)
		s.avail -= q
		s.held += q
	}
	m.setSeats(e, want.seats, held)
	m.fan(e, req.Fan)[0] += want.total
	m.holds[want.id] = want
	e.holds = append(e.holds, want.id)
	if req.IdempotencyKey != "" {
		e.idem[[2]string{req.Fan, req.IdempotencyKey}] = [2]string{want.id, req.Fingerprint}
	}
}

// predict is the model's answer to a hold request; it changes nothing. A replay returns a hold with only its id.
func (m *model) predict(e *mEvent, req inventory.HoldRequest) (*mHold, error) {
	if e.closed {
		return nil, inventory.ErrEventClosed
	}
	if req.IdempotencyKey != "" {
		if prev, ok := e.idem[[2]string{req.Fan, req.IdempotencyKey}]; ok {
			if prev[1] != req.Fingerprint {
				return nil, inventory.ErrIdempotencyReused
			}
			return &mHold{id: prev[0]}, nil
		}
	}
	units := req.Units()
	fc := m.fan(e, req.Fan)
	if units+fc[0]+fc[1] > e.def.MaxPerFan {
		return nil, inventory.ErrLimitExceeded
	}
	now := m.clock.Now()
	h := &mHold{event: e.def.ID, fan: req.Fan, state: inventory.Held, units: map[string]int{}, total: units,
		created: now, expires: now.Add(e.def.HoldTTL)}
	// Work on copies of the seat maps so a failure leaves the model alone.
	seats := map[string][]byte{}
	for _, s := range e.secs {
		if s.seats != nil {
			seats[s.def.ID] = slices.Clone(s.seats)
		}
	}
	for _, id := range req.Seats {
		s, i := m.seat(e, id)
		if seats[s.def.ID][i] != free {
			return nil, inventory.ErrSeatsUnavailable
		}
		seats[s.def.ID][i] = held
		h.seats = append(h.seats, id)
		h.units[s.def.ID]++
	}
	for _, it := range req.Items {
		s := m.sec(e, it.Section)
		if s.seats == nil {
			if s.avail < h.units[it.Section]+it.Quantity {
				return nil, inventory.ErrSoldOut
			}
			h.units[it.Section] += it.Quantity
			continue
		}
		st := seats[s.def.ID]
		l := inventory.SeatLayout{Rows: s.def.Rows, Free: func(r, n int) bool { return st[s.rowStart[r]+n-1] == free }}
		picks, ok := inventory.SelectSeats(l, it.Quantity, it.Adjacent)
		if !ok {
			return nil, inventory.ErrSoldOut
		}
		for _, p := range picks {
			st[s.rowStart[p.Row]+p.Seat-1] = held
			h.seats = append(h.seats, inventory.SeatID(s.def.ID, s.def.Rows[p.Row].Row, p.Seat))
		}
		h.units[it.Section] += it.Quantity
	}
	return h, nil
}

func (m *model) pickEvent(t *rapid.T) *mEvent {
	return m.events[rapid.IntRange(0, len(m.events)-1).Draw(t, "event")]
}

func (m *model) pickHold(t *rapid.T) (*mEvent, *mHold) {
	e := m.pickEvent(t)
	if len(e.holds) == 0 {
		t.Skip("no holds yet")
	}
	h := m.holds[rapid.SampledFrom(e.holds).Draw(t, "hold")]
	return e, h
}

// transition calls the store on a hold and checks the error the model expects.
func (m *model) transition(t *rapid.T, what string, call func(context.Context, string) (inventory.Hold, error),
	decide func(e *mEvent, h *mHold) error) {
	e, h := m.pickHold(t)
	got, err := call(m.ctx, h.id)
	m.reclaim(e)
	wantErr := decide(e, h)
	if !errors.Is(err, wantErr) || (err != nil) != (wantErr != nil) {
		t.Fatalf("%s %s (%s): got %v, want %v", what, h.id, h.state, err, wantErr)
	}
	if err == nil && (got.State != h.state || !got.ExpiresAt.Equal(h.expires)) {
		t.Fatalf("%s %s: got %s until %s, model %s until %s", what, h.id, got.State, got.ExpiresAt, h.state, h.expires)
	}
}

func (m *model) check(t *rapid.T) {
	for _, e := range m.events {
		st, err := m.s.Stats(m.ctx, e.def.ID)
		if err != nil {
			t.Fatalf("stats: %v", err)
		}
		for i, s := range st.Sections {
			ms := e.secs[i]
			if s.Available != ms.avail || s.Held != ms.held || s.Sold != ms.sold || s.Withheld != ms.withheld {
				t.Fatalf("event %s section %s: store %+v, model %d/%d/%d/%d", e.def.ID, s.ID, s,
					ms.avail, ms.held, ms.sold, ms.withheld)
			}
			if s.Available+s.Held+s.Sold+s.Withheld != s.Capacity || s.Sold > s.Capacity {
				t.Fatalf("section %+v out of balance", s)
			}
		}
		rep, err := m.s.Audit(m.ctx, e.def.ID)
		if err != nil || len(rep.Differences) > 0 {
			t.Fatalf("audit %s: %v %v", e.def.ID, err, rep.Differences)
		}
		owner := map[string]string{}
		perFan := map[string]int{}
		for _, id := range e.holds {
			h := m.holds[id]
			if !h.state.Live() && h.state != inventory.Confirmed {
				continue
			}
			perFan[h.fan] += h.total
			for _, s := range h.seats {
				if o, dup := owner[s]; dup {
					t.Fatalf("seat %s in holds %s and %s", s, o, id)
				}
				owner[s] = id
			}
		}
		for f, n := range perFan {
			if n > e.def.MaxPerFan {
				t.Fatalf("fan %s has %d units, limit %d", f, n, e.def.MaxPerFan)
			}
		}
	}
}

func TestModel(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		c := &clock{now: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)}
		m := &model{ctx: context.Background(), clock: c, s: memstore.New(memstore.Options{Now: c.Now}),
			holds: map[string]*mHold{}, fans: []string{"ann", "ben", "cat", "dan"}}
		m.create(t, randomEvent(t, 0))
		t.Repeat(map[string]func(*rapid.T){
			"": m.check,
			"create event": func(t *rapid.T) {
				if len(m.events) >= 3 {
					t.Skip("enough events")
				}
				m.create(t, randomEvent(t, len(m.events)))
			},
			"hold": func(t *rapid.T) {
				e := m.pickEvent(t)
				req := inventory.HoldRequest{Event: e.def.ID, Fan: rapid.SampledFrom(m.fans).Draw(t, "fan")}
				a := m.sec(e, "A")
				kind := rapid.IntRange(0, 3).Draw(t, "kind") // general, best available, named seats, all three
				if kind == 0 || kind == 3 {
					req.Items = append(req.Items, inventory.Item{Section: "GA", Quantity: rapid.IntRange(1, 3).Draw(t, "ga_qty")})
				}
				if kind == 1 || kind == 3 {
					req.Items = append(req.Items, inventory.Item{Section: "A", Quantity: rapid.IntRange(1, 3).Draw(t, "a_qty"),
						Adjacent: rapid.Bool().Draw(t, "adjacent")})
				}
				if kind == 2 || kind == 3 {
					for range rapid.IntRange(1, 2).Draw(t, "named") {
						r := rapid.IntRange(0, len(a.def.Rows)-1).Draw(t, "row")
						id := inventory.SeatID("A", a.def.Rows[r].Row, rapid.IntRange(1, a.def.Rows[r].Seats).Draw(t, "seat"))
						if !slices.Contains(req.Seats, id) {
							req.Seats = append(req.Seats, id)
						}
					}
				}
				if k := rapid.IntRange(0, 2).Draw(t, "key"); k > 0 {
					req.IdempotencyKey = "k" + strconv.Itoa(k)
					req.Fingerprint = inventory.RequestFingerprint(req)
				}
				m.hold(t, e, req)
			},
			"replay": func(t *rapid.T) {
				e, h := m.pickHold(t)
				if h.req.IdempotencyKey == "" {
					t.Skip("made without a key")
				}
				m.hold(t, e, h.req)
			},
			"release": func(t *rapid.T) {
				m.transition(t, "release", m.s.Release, func(e *mEvent, h *mHold) error {
					switch h.state {
					case inventory.Held, inventory.Checkout:
						m.free(e, h, inventory.Released)
					case inventory.Confirmed:
						return inventory.ErrInvalidState
					}
					return nil
				})
			},
			"checkout": func(t *rapid.T) {
				m.transition(t, "checkout", m.s.BeginCheckout, func(e *mEvent, h *mHold) error {
					switch h.state {
					case inventory.Held:
						h.state, h.expires = inventory.Checkout, m.clock.Now().Add(e.def.CheckoutTTL)
					case inventory.Checkout:
					case inventory.Confirmed:
						return inventory.ErrInvalidState
					default:
						return inventory.ErrHoldExpired
					}
					return nil
				})
			},
			"confirm": func(t *rapid.T) {
				m.transition(t, "confirm", m.s.Confirm, func(e *mEvent, h *mHold) error {
					switch h.state {
					case inventory.Held, inventory.Checkout:
						for sec, q := range h.units {
							s := m.sec(e, sec)
							s.held -= q
							s.sold += q
						}
						m.setSeats(e, h.seats, sold)
						e.fans[h.fan][0] -= h.total
						e.fans[h.fan][1] += h.total
						h.state = inventory.Confirmed
					case inventory.Confirmed:
					default:
						return inventory.ErrHoldExpired
					}
					return nil
				})
			},
			"return": func(t *rapid.T) {
				m.transition(t, "return", m.s.Return, func(e *mEvent, h *mHold) error {
					switch h.state {
					case inventory.Confirmed:
						for sec, q := range h.units {
							s := m.sec(e, sec)
							s.sold -= q
							s.avail += q
						}
						m.setSeats(e, h.seats, free)
						e.fans[h.fan][1] -= h.total
						h.state = inventory.Released
					case inventory.Held, inventory.Checkout:
						return inventory.ErrInvalidState
					}
					return nil
				})
			},
			"extend": func(t *rapid.T) {
				m.transition(t, "extend", m.s.Extend, func(e *mEvent, h *mHold) error {
					switch h.state {
					case inventory.Held:
						exp := m.clock.Now().Add(e.def.HoldTTL)
						if limit := h.created.Add(e.def.MaxHoldLife); exp.After(limit) {
							exp = limit
						}
						h.expires = exp
					case inventory.Checkout:
						return inventory.ErrInvalidState
					default:
						return inventory.ErrHoldExpired
					}
					return nil
				})
			},
			"get": func(t *rapid.T) {
				_, h := m.pickHold(t)
				got, err := m.s.Get(m.ctx, h.id)
				want := h.state
				if want.Live() && !h.expires.After(m.clock.Now()) {
					want = inventory.Expired
				}
				if err != nil || got.State != want {
					t.Fatalf("get %s: %s, %v; want %s", h.id, got.State, err, want)
				}
			},
			"time passes": func(t *rapid.T) {
				// Steps around the hold, cap and checkout lengths (10 s, 10-15 s, 20 s) reach every deadline rule.
				d := rapid.SampledFrom([]time.Duration{time.Millisecond, 3 * time.Second, 6 * time.Second,
					10 * time.Second, 11 * time.Second}).Draw(t, "step")
				m.clock.advance(d)
			},
			"sweep": func(t *rapid.T) {
				e := m.pickEvent(t)
				n, err := m.s.Sweep(m.ctx, e.def.ID, 100)
				if want := m.reclaim(e); err != nil || n != want {
					t.Fatalf("sweep: %d, %v; want %d", n, err, want)
				}
			},
			"cancel": func(t *rapid.T) {
				// Rarely, so that most of a run's steps meet an open event.
				if rapid.IntRange(0, 4).Draw(t, "cancel_now") > 0 {
					t.Skip("not now")
				}
				e := m.pickEvent(t)
				limit := rapid.IntRange(1, 4).Draw(t, "limit")
				n, more, err := m.s.Cancel(m.ctx, e.def.ID, limit)
				if err != nil {
					t.Fatalf("cancel: %v", err)
				}
				e.closed = true
				m.reclaim(e)
				// The store releases the earliest deadlines first; which of equal ones is its choice.
				var live []*mHold
				for _, id := range e.holds {
					if h := m.holds[id]; h.state.Live() {
						live = append(live, h)
					}
				}
				if n != min(limit, len(live)) || more != (len(live) > limit) {
					t.Fatalf("cancel limit %d: %d, more %t; model has %d live", limit, n, more, len(live))
				}
				var last, first time.Time // latest released deadline, earliest kept one
				for _, h := range live {
					got, err := m.s.Get(m.ctx, h.id)
					if err != nil {
						t.Fatalf("get: %v", err)
					}
					switch got.State {
					case inventory.Released:
						m.free(e, h, inventory.Released)
						last = maxTime(last, h.expires)
					case h.state:
						if first.IsZero() || h.expires.Before(first) {
							first = h.expires
						}
					default:
						t.Fatalf("hold %s after cancel: %s", h.id, got.State)
					}
				}
				if !first.IsZero() && first.Before(last) {
					t.Fatalf("cancel kept a hold due %s and released one due %s", first, last)
				}
				st, _ := m.s.Stats(m.ctx, e.def.ID)
				if !st.Cancelled {
					t.Fatal("stats after cancel: not cancelled")
				}
			},
			"release wave": func(t *rapid.T) {
				e := m.pickEvent(t)
				wave := "w" + strconv.Itoa(rapid.IntRange(1, 3).Draw(t, "wave"))
				rel := map[string]int{"GA": rapid.IntRange(0, 3).Draw(t, "wave_ga"), "A": rapid.IntRange(0, 3).Draw(t, "wave_a")}
				if err := m.s.ReleaseWave(m.ctx, e.def.ID, wave, rel); err != nil {
					t.Fatalf("wave: %v", err)
				}
				m.reclaim(e)
				if e.waves[wave] {
					return
				}
				e.waves[wave] = true
				for _, s := range e.secs {
					k := min(rel[s.def.ID], s.withheld)
					if s.seats != nil {
						first := len(s.seats) - s.withheld
						for i := first; i < first+k; i++ {
							s.seats[i] = free
						}
					}
					s.withheld -= k
					s.avail += k
				}
			},
		})
	})
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (h *mHold) String() string { return fmt.Sprintf("%s(%s)", h.id, h.state) }
