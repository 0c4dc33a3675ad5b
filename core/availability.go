package core

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/onsale/onsale/catalogue"
	"github.com/onsale/onsale/inventory"
)

// availabilityCache answers GET /v1/events/{event}/availability from a short-lived rendering per event (see
// snapshots), with the event's total of buyable units beside it for the hold path.
type availabilityCache struct {
	inv   inventory.Store
	cat   catalogue.Index // the event's name, venue and show time, for the fan's page
	snaps *snapshots[availability]
}

type availability struct {
	body      []byte
	available int // units buyable across sections, as rendered in body
}

func newAvailabilityCache(ttl time.Duration, inv inventory.Store, cat catalogue.Index, now func() time.Time) *availabilityCache {
	c := &availabilityCache{inv: inv, cat: cat}
	c.snaps = newSnapshots(ttl, now, c.render)
	return c
}

type availabilityView struct {
	Event       string             `json:"event"`
	Name        string             `json:"name,omitempty"`
	Venue       string             `json:"venue,omitempty"`
	City        string             `json:"city,omitempty"`
	Performance *time.Time         `json:"starts_at,omitempty"`
	Currency    string             `json:"currency"`
	Available   int                `json:"available"`
	SoldOut     bool               `json:"sold_out"`
	Sections    []availabilitySect `json:"sections"`
	AsOf        time.Time          `json:"as_of"`
}

type availabilitySect struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Price     int64  `json:"price"`
	Capacity  int    `json:"capacity"`
	Available int    `json:"available"`
}

// get returns the event's rendered availability and its total of buyable units, at most ttl old.
func (c *availabilityCache) get(ctx context.Context, event string) ([]byte, int, error) {
	a, err := c.snaps.get(ctx, event)
	return a.body, a.available, err
}

func (c *availabilityCache) render(ctx context.Context, event string, now time.Time) (availability, error) {
	ev, err := c.inv.Event(ctx, event)
	if err != nil {
		return availability{}, fmt.Errorf("availability of %s: %w", event, err)
	}
	st, err := c.inv.Stats(ctx, event)
	if err != nil {
		return availability{}, fmt.Errorf("availability of %s: %w", event, err)
	}
	kinds := make(map[string]inventory.Kind, len(ev.Sections))
	for _, sec := range ev.Sections {
		kinds[sec.ID] = sec.Kind
	}
	v := availabilityView{Event: event, Name: ev.Name, Currency: ev.Currency, AsOf: now.UTC(), Sections: make([]availabilitySect, 0, len(st.Sections))}
	if l, err := c.cat.Get(ctx, event); err == nil {
		v.Venue, v.City = l.Venue, l.City
		if !l.StartsAt.IsZero() {
			v.Performance = &l.StartsAt
		}
	}
	for _, sec := range st.Sections {
		v.Available += sec.Available
		v.Sections = append(v.Sections, availabilitySect{ID: sec.ID, Kind: string(kinds[sec.ID]), Price: sec.Price,
			Capacity: sec.Capacity, Available: sec.Available})
	}
	t := st.Totals()
	v.SoldOut = t.Available == 0 && t.Held == 0 && t.Withheld == 0
	body, err := json.Marshal(v)
	return availability{body, v.Available}, err
}

// availability: GET /v1/events/{event}/availability (public).
func (s *Server) availability(ctx *fasthttp.RequestCtx, event string) error {
	actx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	body, _, err := s.avail.get(actx, event)
	if err != nil {
		return err
	}
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "public, max-age=1")
	writeRaw(ctx, fasthttp.StatusOK, body)
	return nil
}
