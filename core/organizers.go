package core

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/waitroom"
)

// Events belong to the organizer who created them (API.md, Organizer operations): every organizer and door call
// reads its event through ownedEvent or ownedOrder, which answer another organizer's event or order exactly as
// they answer an unknown one.

var (
	errNoEvent = problemf(404, typeNotFound, "no such event")
	errNoOrder = problemf(404, typeNotFound, "no such order")
)

// ownedEvent reads an event who may run; another organizer's is not found.
func (s *Server) ownedEvent(ctx context.Context, who caller, event string) (inventory.Event, error) {
	ev, err := s.inv.Event(ctx, event)
	switch {
	case errors.Is(err, inventory.ErrNotFound):
		return inventory.Event{}, errNoEvent
	case err != nil:
		return inventory.Event{}, fmt.Errorf("event %s: %w", event, err)
	case !who.owns(ev.Owner):
		return inventory.Event{}, errNoEvent
	}
	return ev, nil
}

// organizerEvent authenticates an organizer and checks that event is theirs; cancel ends the returned context.
func (s *Server) organizerEvent(ctx *fasthttp.RequestCtx, event string) (context.Context, context.CancelFunc, error) {
	return s.callerEvent(ctx, event, s.auth.organizer)
}

// callerEvent authenticates the caller with authn and checks that event is theirs; cancel ends the returned
// context.
func (s *Server) callerEvent(ctx *fasthttp.RequestCtx, event string, authn func(*fasthttp.RequestCtx) (caller, error)) (context.Context, context.CancelFunc, error) {
	who, err := authn(ctx)
	if err != nil {
		return nil, nil, err
	}
	actx, cancel := adminCtx()
	if _, err := s.ownedEvent(actx, who, event); err != nil {
		cancel()
		return nil, nil, err
	}
	return actx, cancel, nil
}

// ownedOrder reads an order of one of who's events; another organizer's order is not found.
func (s *Server) ownedOrder(ctx context.Context, who caller, order string) (settlement.Order, error) {
	o, err := s.settl.Order(ctx, order)
	switch {
	case errors.Is(err, settlement.ErrNotFound):
		return settlement.Order{}, errNoOrder
	case err != nil:
		return settlement.Order{}, fmt.Errorf("order %s: %w", order, err)
	}
	if _, err := s.ownedEvent(ctx, who, o.Event); err != nil {
		if err == errNoEvent {
			return settlement.Order{}, errNoOrder
		}
		return settlement.Order{}, err
	}
	return o, nil
}

// adminEvent is one of GET /v1/admin/events.
type adminEvent struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Status    string    `json:"status"`
	Currency  string    `json:"currency"`
	CreatedAt time.Time `json:"created_at"`
	listingView
}

type adminEventsView struct {
	Events []adminEvent `json:"events"`
}

// adminEvents: GET /v1/admin/events, the caller's events (every event for the operator), newest first.
func (s *Server) adminEvents(ctx *fasthttp.RequestCtx, _ string) error {
	who, err := s.auth.organizer(ctx)
	if err != nil {
		return err
	}
	actx, cancel := adminCtx()
	defer cancel()
	ids, err := s.inv.Events(actx)
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	out := adminEventsView{Events: []adminEvent{}}
	for _, id := range ids {
		ev, err := s.inv.Event(actx, id)
		if errors.Is(err, inventory.ErrNotFound) {
			continue // removed since the listing
		}
		if err != nil {
			return fmt.Errorf("event %s: %w", id, err)
		}
		if !who.owns(ev.Owner) {
			continue
		}
		st, err := s.eventStatus(actx, id)
		if err != nil {
			return err
		}
		v := adminEvent{ID: ev.ID, Name: ev.Name, Status: st, Currency: ev.Currency, CreatedAt: ev.CreatedAt}
		if l, err := s.catalogue.Get(actx, id); err == nil {
			v.listingView = viewListing(l)
		}
		out.Events = append(out.Events, v)
	}
	slices.SortFunc(out.Events, func(a, b adminEvent) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return writeJSON(ctx, fasthttp.StatusOK, out)
}

// eventStatus is an event's status as the organizer sees it now (the public catalogue caches its own).
func (s *Server) eventStatus(ctx context.Context, event string) (string, error) {
	c, err := s.settl.Cancellation(ctx, event)
	if err != nil && !errors.Is(err, settlement.ErrNotFound) {
		return "", fmt.Errorf("cancellation of %s: %w", event, err)
	}
	if !c.CancelledAt.IsZero() {
		return statusCancelled, nil
	}
	rs, err := s.room.Stats(ctx, event)
	if errors.Is(err, waitroom.ErrNotFound) {
		return statusScheduled, nil // left half created: a retry of its create finishes it
	}
	if err != nil {
		return "", fmt.Errorf("waiting room of %s: %w", event, err)
	}
	return roomStatus(rs.SoldOut, rs.Wave), nil
}

// roomStatus is the status of an event that is not cancelled.
func roomStatus(soldOut bool, wave string) string {
	switch {
	case soldOut:
		return statusSoldOut
	case wave != "":
		return statusOnSale
	}
	return statusScheduled // no wave has started
}
