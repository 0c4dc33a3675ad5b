package core

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/waitroom"
)

// The organizer API. Creating an event touches three services in order: the inventory (which owns the id, so a
// duplicate fails there before anything else changes), the settlement's ledger, and the waiting room. A create
// that failed after the inventory step is finished by a retry with the same definition.

// eventBody is the body of POST /v1/admin/events (API.md).
type eventBody struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Currency  string `json:"currency"`
	HoldTTLS  int    `json:"hold_ttl_s"`
	MaxPerFan int    `json:"max_per_fan"`
	// CheckoutTTLS is how long an order may take to be paid after checkout (default 900).
	CheckoutTTLS int `json:"checkout_ttl_s"`
	// ClaimTTLS and IdleTTLS replace the service's claim window and idle life for this event (absent: the service's).
	ClaimTTLS *int          `json:"claim_ttl_s"`
	IdleTTLS  *int          `json:"idle_ttl_s"`
	Sections  []sectionBody `json:"sections"`
	Waves     []waveBody    `json:"waves"`
	listingBody
}

// maxRoomTTLSecs bounds an event's claim window and idle life: an access lasts 10 minutes.
const maxRoomTTLSecs = 600

func badTTL(v *int) bool { return v != nil && (*v < 1 || *v > maxRoomTTLSecs) }

type sectionBody struct {
	ID       string          `json:"id"`
	Kind     inventory.Kind  `json:"kind"`
	Capacity int             `json:"capacity"`
	Price    int64           `json:"price"`
	Rows     []inventory.Row `json:"rows,omitempty"`
	Name     string          `json:"name,omitempty"`
}

type waveBody struct {
	ID          string         `json:"id"`
	StartsAt    time.Time      `json:"starts_at"`
	AdmitPerMin int            `json:"admit_per_min"`
	MaxActive   int            `json:"max_active"`
	Codes       []string       `json:"codes,omitempty"`
	Release     map[string]int `json:"release,omitempty"`
}

const (
	maxWaves       = 50
	maxCodes       = 1000
	maxNameLen     = 200
	maxHoldTTLSecs = 3600
)

// build validates the body and turns it into the inventory's event and the waiting room's configuration.
// Sections named in any wave's release start withheld entirely; each wave's release makes its share buyable.
func (b *eventBody) build(now time.Time) (inventory.Event, waitroom.Config, error) {
	switch {
	case !inventory.ValidEventID(b.ID):
		return inventory.Event{}, waitroom.Config{}, badRequest(`"id" must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	case len(b.Name) > maxNameLen:
		return inventory.Event{}, waitroom.Config{}, badRequest(fmt.Sprintf(`"name" is longer than %d bytes`, maxNameLen))
	case b.HoldTTLS < 1 || b.HoldTTLS > maxHoldTTLSecs:
		return inventory.Event{}, waitroom.Config{}, badRequest(`"hold_ttl_s" must be 1 to 3600`)
	case b.MaxPerFan < 1:
		return inventory.Event{}, waitroom.Config{}, badRequest(`"max_per_fan" must be at least 1`)
	case b.CheckoutTTLS < 0 || b.CheckoutTTLS > maxHoldTTLSecs:
		return inventory.Event{}, waitroom.Config{}, badRequest(`"checkout_ttl_s" must be 1 to 3600`)
	case badTTL(b.ClaimTTLS):
		return inventory.Event{}, waitroom.Config{}, badRequest(`"claim_ttl_s" must be 1 to 600`)
	case badTTL(b.IdleTTLS):
		return inventory.Event{}, waitroom.Config{}, badRequest(`"idle_ttl_s" must be 1 to 600`)
	case len(b.Sections) == 0:
		return inventory.Event{}, waitroom.Config{}, badRequest(`"sections" must name at least one section`)
	case len(b.Waves) == 0:
		return inventory.Event{}, waitroom.Config{}, badRequest(`"waves" must name at least one wave`)
	case len(b.Waves) > maxWaves:
		return inventory.Event{}, waitroom.Config{}, badRequest(fmt.Sprintf("at most %d waves", maxWaves))
	}
	ev := inventory.Event{ID: b.ID, Name: b.Name, Currency: b.Currency, HoldTTL: time.Duration(b.HoldTTLS) * time.Second,
		MaxPerFan: b.MaxPerFan, CheckoutTTL: time.Duration(b.CheckoutTTLS) * time.Second, CreatedAt: now.UTC()}
	for _, s := range b.Sections {
		ev.Sections = append(ev.Sections, inventory.Section{ID: s.ID, Kind: s.Kind, Capacity: s.Capacity, Price: s.Price, Rows: s.Rows,
			Name: s.Name})
	}
	// Validate fills seated capacities, which the withheld amounts need.
	if err := ev.Validate(); err != nil {
		return inventory.Event{}, waitroom.Config{}, err
	}
	capacity := make(map[string]int, len(ev.Sections))
	for _, s := range ev.Sections {
		capacity[s.ID] = s.Capacity
	}
	cfg := waitroom.Config{Event: b.ID}
	if b.ClaimTTLS != nil {
		cfg.ClaimTTL = time.Duration(*b.ClaimTTLS) * time.Second
	}
	if b.IdleTTLS != nil {
		cfg.IdleTTL = time.Duration(*b.IdleTTLS) * time.Second
	}
	ids := make(map[string]bool, len(b.Waves))
	for i, w := range b.Waves {
		switch {
		case w.ID == "" || len(w.ID) > 64:
			return inventory.Event{}, waitroom.Config{}, badRequest(fmt.Sprintf("waves[%d].id must be 1 to 64 bytes", i))
		case ids[w.ID]:
			return inventory.Event{}, waitroom.Config{}, badRequest(fmt.Sprintf("waves[%d].id %q is used twice", i, w.ID))
		case w.AdmitPerMin < 1:
			return inventory.Event{}, waitroom.Config{}, badRequest(fmt.Sprintf("waves[%d].admit_per_min must be at least 1", i))
		case w.MaxActive < 1:
			return inventory.Event{}, waitroom.Config{}, badRequest(fmt.Sprintf("waves[%d].max_active must be at least 1", i))
		case len(w.Codes) > maxCodes:
			return inventory.Event{}, waitroom.Config{}, badRequest(fmt.Sprintf("waves[%d] has more than %d codes", i, maxCodes))
		}
		ids[w.ID] = true
		for _, c := range w.Codes {
			if c == "" || len(c) > maxFanLen {
				return inventory.Event{}, waitroom.Config{}, badRequest(fmt.Sprintf("waves[%d].codes: a code must be 1 to %d bytes", i, maxFanLen))
			}
		}
		for sec, n := range w.Release {
			c, ok := capacity[sec]
			switch {
			case !ok:
				return inventory.Event{}, waitroom.Config{}, badRequest(fmt.Sprintf("waves[%d].release names unknown section %q", i, sec))
			case n < 0 || n > c:
				return inventory.Event{}, waitroom.Config{}, badRequest(fmt.Sprintf("waves[%d].release of %q must be 0 to %d", i, sec, c))
			}
			if ev.Withheld == nil {
				ev.Withheld = map[string]int{}
			}
			ev.Withheld[sec] = c
		}
		starts := w.StartsAt
		if starts.IsZero() {
			starts = now // no start time: the wave is open at once
		}
		cfg.Waves = append(cfg.Waves, waitroom.Wave{ID: w.ID, StartsAt: starts.UTC(), AdmitPerMin: w.AdmitPerMin,
			MaxActive: w.MaxActive, Codes: w.Codes, Release: w.Release})
	}
	if err := ev.Validate(); err != nil {
		return inventory.Event{}, waitroom.Config{}, err
	}
	return ev, cfg, nil
}

func adminCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 15*time.Second)
}

// createEvent: POST /v1/admin/events.
func (s *Server) createEvent(ctx *fasthttp.RequestCtx, _ string) error {
	who, err := s.auth.organizer(ctx)
	if err != nil {
		return err
	}
	var body eventBody
	if err := decodeJSON(ctx.PostBody(), &body, false); err != nil {
		return err
	}
	ev, cfg, err := body.build(s.now())
	if err != nil {
		return err
	}
	ev.Owner = who.owner
	if err := body.listingBody.validate(); err != nil {
		return err
	}
	actx, cancel := adminCtx()
	defer cancel()
	resumed, err := s.createInventory(actx, ev)
	if err != nil {
		return err
	}
	if resumed != nil {
		ev = *resumed // the ledger gets exactly what the inventory holds
	}
	// The ledger before the waiting room: a configured room marks a complete event (see createInventory), and fans
	// can join only once the rest is in place.
	if err := s.settl.RegisterEvent(actx, ev); err != nil {
		return fmt.Errorf("register %s with the settlement: %w", ev.ID, err)
	}
	if _, err := s.tickets.signer(actx, ev.ID); err != nil { // the event's ticket key, made with the event
		return fmt.Errorf("ticket key of %s: %w", ev.ID, err)
	}
	if err := s.room.Configure(actx, cfg); err != nil {
		return fmt.Errorf("configure the waiting room of %s: %w", ev.ID, err)
	}
	if err := s.catalogue.Put(actx, body.listing(ev.ID, ev.Name)); err != nil { // a retry of the create puts it again
		return fmt.Errorf("list %s in the catalogue: %w", ev.ID, err)
	}
	s.log.Info("event created", "event", ev.ID, "sections", len(ev.Sections), "waves", len(cfg.Waves))
	v, err := s.eventView(actx, ev.ID)
	if err != nil {
		return err
	}
	return writeJSON(ctx, fasthttp.StatusCreated, v)
}

// createInventory adds ev to the inventory. When the id exists but the event was left half created (its waiting
// room never configured) by a create with the same definition, it returns the stored event so the caller finishes
// the remaining steps; any other existing id is a conflict. The definition is compared without its creation time.
func (s *Server) createInventory(ctx context.Context, ev inventory.Event) (*inventory.Event, error) {
	err := s.inv.CreateEvent(ctx, ev)
	if err == nil {
		return nil, nil
	}
	if !errors.Is(err, inventory.ErrEventExists) {
		return nil, fmt.Errorf("create event %s: %w", ev.ID, err)
	}
	stored, serr := s.inv.Event(ctx, ev.ID)
	if serr != nil {
		return nil, fmt.Errorf("event %s: %w", ev.ID, serr)
	}
	same, serr := sameDefinition(ev, stored)
	if serr != nil {
		return nil, fmt.Errorf("event %s: %w", ev.ID, serr)
	}
	if !same {
		return nil, fmt.Errorf("create event %s: %w", ev.ID, err)
	}
	switch _, rerr := s.room.Stats(ctx, ev.ID); {
	case rerr == nil:
		return nil, fmt.Errorf("create event %s: %w", ev.ID, err) // complete: the id is in use
	case !errors.Is(rerr, waitroom.ErrNotFound):
		return nil, fmt.Errorf("waiting room of %s: %w", ev.ID, rerr)
	}
	s.log.Info("finishing a half-created event", "event", ev.ID)
	return &stored, nil
}

// sameDefinition compares two events as the inventory stores them, ignoring when each was created.
func sameDefinition(a, b inventory.Event) (bool, error) {
	a.CreatedAt, b.CreatedAt = time.Time{}, time.Time{}
	ja, err := json.Marshal(a)
	if err != nil {
		return false, err
	}
	jb, err := json.Marshal(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(ja, jb), nil
}

// eventView is an event with its live counters.
type eventView struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Currency     string    `json:"currency"`
	HoldTTLS     int       `json:"hold_ttl_s"`
	CheckoutTTLS int       `json:"checkout_ttl_s"`
	MaxPerFan    int       `json:"max_per_fan"`
	ClaimTTLS    int       `json:"claim_ttl_s"`
	IdleTTLS     int       `json:"idle_ttl_s"`
	CreatedAt    time.Time `json:"created_at"`
	statsView
	Paused      bool   `json:"paused"`
	AdmitPerMin int    `json:"admit_per_min"`
	MaxActive   int    `json:"max_active"`
	Wave        string `json:"wave,omitempty"`
	// Status is scheduled, on-sale, sold-out or cancelled.
	Status      string     `json:"status"`
	CancelledAt *time.Time `json:"cancelled_at,omitempty"`
	// Refunds counts the refunds of paid orders (all of them once the event is cancelled).
	Refunds settlement.RefundProgress `json:"refunds"`
	listingView
}

// Event statuses (API.md, Organizer operations).
const (
	statusScheduled = "scheduled"
	statusOnSale    = "on-sale"
	statusSoldOut   = "sold-out"
	statusCancelled = "cancelled"
)

type sectionView struct {
	ID        string          `json:"id"`
	Kind      inventory.Kind  `json:"kind"`
	Price     int64           `json:"price"`
	Rows      []inventory.Row `json:"rows,omitempty"`
	Capacity  int             `json:"capacity"`
	Available int             `json:"available"`
	Held      int             `json:"held"`
	Sold      int             `json:"sold"`
	Withheld  int             `json:"withheld"`
	Revenue   money           `json:"revenue"`
}

// statsView is GET /v1/admin/events/{event}/stats.
type statsView struct {
	Event           string         `json:"event"`
	Queued          int64          `json:"queued"`
	Admitted        int64          `json:"admitted"`
	Active          int64          `json:"active"`
	Held            int            `json:"held"`
	Sold            int            `json:"sold"`
	Available       int            `json:"available"`
	Withheld        int            `json:"withheld"`
	Capacity        int            `json:"capacity"`
	AdmitRatePerMin float64        `json:"admit_rate_per_min"`
	Revenue         money          `json:"revenue"`
	LotterySeed     string         `json:"lottery_seed,omitempty"`
	SectionStats    []sectionView  `json:"sections"`
	CheckedIn       int            `json:"checked_in"`
	Inside          int            `json:"inside"`
	Gates           map[string]int `json:"gates"`     // first entries per gate
	Conflicts       int            `json:"conflicts"` // let in offline, then refused by the ledger
}

func (s *Server) stats(ctx context.Context, event string) (inventory.Event, statsView, waitroom.Stats, error) {
	ev, err := s.inv.Event(ctx, event)
	if err != nil {
		return ev, statsView{}, waitroom.Stats{}, fmt.Errorf("event %s: %w", event, err)
	}
	st, err := s.inv.Stats(ctx, event)
	if err != nil {
		return ev, statsView{}, waitroom.Stats{}, fmt.Errorf("stats of %s: %w", event, err)
	}
	rs, err := s.room.Stats(ctx, event)
	if err != nil {
		return ev, statsView{}, waitroom.Stats{}, fmt.Errorf("waiting room of %s: %w", event, err)
	}
	t := st.Totals()
	v := statsView{Event: event, Queued: rs.Queued, Admitted: rs.Admitted, Active: rs.Active, Held: t.Held, Sold: t.Sold,
		Available: t.Available, Withheld: t.Withheld, Capacity: t.Capacity, AdmitRatePerMin: rs.AdmitRatePerMin,
		Revenue: money{t.Revenue, ev.Currency}, LotterySeed: rs.LotterySeed, SectionStats: make([]sectionView, 0, len(st.Sections))}
	door, err := s.settl.DoorStats(ctx, event)
	if err != nil {
		return ev, statsView{}, waitroom.Stats{}, fmt.Errorf("door stats of %s: %w", event, err)
	}
	v.CheckedIn, v.Inside, v.Gates, v.Conflicts = door.CheckedIn, door.Inside, door.Gates, door.Conflicts
	defs := make(map[string]inventory.Section, len(ev.Sections))
	for _, d := range ev.Sections {
		defs[d.ID] = d
	}
	for _, sec := range st.Sections {
		d := defs[sec.ID]
		v.SectionStats = append(v.SectionStats, sectionView{ID: sec.ID, Kind: d.Kind, Price: sec.Price, Rows: d.Rows,
			Capacity: sec.Capacity, Available: sec.Available, Held: sec.Held, Sold: sec.Sold, Withheld: sec.Withheld,
			Revenue: money{sec.Revenue, ev.Currency}})
	}
	return ev, v, rs, nil
}

func (s *Server) eventView(ctx context.Context, event string) (eventView, error) {
	ev, st, rs, err := s.stats(ctx, event)
	if err != nil {
		return eventView{}, err
	}
	c, err := s.settl.Cancellation(ctx, event)
	if err != nil {
		return eventView{}, err
	}
	v := eventView{ID: ev.ID, Name: ev.Name, Currency: ev.Currency, HoldTTLS: int(ev.HoldTTL / time.Second),
		CheckoutTTLS: int(ev.CheckoutTTL / time.Second),
		ClaimTTLS:    int(rs.ClaimTTL / time.Second), IdleTTLS: int(rs.IdleTTL / time.Second),
		MaxPerFan: ev.MaxPerFan, CreatedAt: ev.CreatedAt, statsView: st,
		Paused: rs.Paused, AdmitPerMin: rs.AdmitPerMin, MaxActive: rs.MaxActive, Wave: rs.Wave,
		Refunds: c.Refunds}
	if l, err := s.catalogue.Get(ctx, event); err == nil {
		v.listingView = viewListing(l)
	}
	if !c.CancelledAt.IsZero() {
		v.Status, v.CancelledAt = statusCancelled, &c.CancelledAt
	} else {
		v.Status = roomStatus(rs.SoldOut, rs.Wave)
	}
	return v, nil
}

// getEvent: GET /v1/admin/events/{event}.
func (s *Server) getEvent(ctx *fasthttp.RequestCtx, event string) error {
	actx, cancel, err := s.organizerEvent(ctx, event)
	if err != nil {
		return err
	}
	defer cancel()
	v, err := s.eventView(actx, event)
	if err != nil {
		return err
	}
	return writeJSON(ctx, fasthttp.StatusOK, v)
}

// eventStats: GET /v1/admin/events/{event}/stats.
func (s *Server) eventStats(ctx *fasthttp.RequestCtx, event string) error {
	actx, cancel, err := s.organizerEvent(ctx, event)
	if err != nil {
		return err
	}
	defer cancel()
	_, v, _, err := s.stats(actx, event)
	if err != nil {
		return err
	}
	return writeJSON(ctx, fasthttp.StatusOK, v)
}

type admissionView struct {
	Event       string `json:"event"`
	Paused      bool   `json:"paused"`
	AdmitPerMin int    `json:"admit_per_min"`
	MaxActive   int    `json:"max_active"`
	Wave        string `json:"wave,omitempty"`
}

// patchAdmission: PATCH /v1/admin/events/{event}/admission.
func (s *Server) patchAdmission(ctx *fasthttp.RequestCtx, event string) error {
	who, err := s.auth.organizer(ctx)
	if err != nil {
		return err
	}
	var body admissionBody
	if err := decodeJSON(ctx.PostBody(), &body, false); err != nil {
		return err
	}
	if err := body.validate(); err != nil {
		return err
	}
	actx, cancel := adminCtx()
	defer cancel()
	if _, err := s.ownedEvent(actx, who, event); err != nil {
		return err
	}
	a := waitroom.Admission{Paused: body.Paused, AdmitPerMin: body.AdmitPerMin, MaxActive: body.MaxActive}
	if err := s.room.SetAdmission(actx, event, a); err != nil {
		return fmt.Errorf("admission of %s: %w", event, err)
	}
	rs, err := s.room.Stats(actx, event)
	if err != nil {
		return fmt.Errorf("waiting room of %s: %w", event, err)
	}
	v := admissionView{Event: event, Paused: rs.Paused, AdmitPerMin: rs.AdmitPerMin, MaxActive: rs.MaxActive, Wave: rs.Wave}
	// The change takes effect on the next admission tick; answer with what was asked where the room has not caught up.
	if body.Paused != nil {
		v.Paused = *body.Paused
	}
	if body.AdmitPerMin != nil {
		v.AdmitPerMin = *body.AdmitPerMin
	}
	if body.MaxActive != nil {
		v.MaxActive = *body.MaxActive
	}
	return writeJSON(ctx, fasthttp.StatusOK, v)
}

// refundOrder: POST /v1/admin/orders/{order}/refund → 202: the money goes back in full and the units go back on
// sale; the saga carries it out (and resumes it after a crash). Repeating it refunds nothing more.
func (s *Server) refundOrder(ctx *fasthttp.RequestCtx, order string) error {
	who, err := s.auth.organizer(ctx)
	if err != nil {
		return err
	}
	actx, cancel := adminCtx()
	defer cancel()
	if _, err := s.ownedOrder(actx, who, order); err != nil {
		return err
	}
	o, err := s.settl.RequestRefund(actx, order)
	if err != nil {
		return fmt.Errorf("refund %s: %w", order, err)
	}
	return writeJSON(ctx, fasthttp.StatusAccepted, refundView{OrderID: o.ID, Status: string(o.Status),
		RefundRequested: o.RefundRequested || o.Status == settlement.Refunded})
}

// cancelEvent: POST /v1/admin/events/{event}/cancel → 202: the queue closes, the settlement records the
// cancellation, and its job ends the holds and refunds every paid order (resumed after a crash, on any replica).
// The queue closes first so that no fan is admitted once the organizer has been answered. Repeating it is
// harmless.
func (s *Server) cancelEvent(ctx *fasthttp.RequestCtx, event string) error {
	actx, cancel, err := s.organizerEvent(ctx, event)
	if err != nil {
		return err
	}
	defer cancel()
	if err := s.room.Close(actx, event); err != nil {
		return fmt.Errorf("close the queue of %s: %w", event, err)
	}
	if _, err := s.settl.CancelEvent(actx, event); err != nil {
		return fmt.Errorf("cancel %s: %w", event, err)
	}
	s.log.Info("event cancelled", "event", event)
	v, err := s.eventView(actx, event)
	if err != nil {
		return err
	}
	return writeJSON(ctx, fasthttp.StatusAccepted, v)
}

type refundView struct {
	OrderID         string `json:"order_id"`
	Status          string `json:"status"`
	RefundRequested bool   `json:"refund_requested"`
}
