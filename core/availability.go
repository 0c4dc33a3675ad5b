package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/onsale/onsale/catalogue"
	"github.com/onsale/onsale/inventory"
)

// availabilityCache answers GET /v1/events/{event}/availability from a short-lived rendering per event: a crowd
// refreshing the page costs the inventory one Stats call per event per ttl, and concurrent misses wait for the
// one fetch under way instead of each fetching.
type availabilityCache struct {
	ttl time.Duration
	inv inventory.Store
	cat catalogue.Index // the event's name, venue and show time, for the fan's page
	now func() time.Time

	mu      sync.Mutex
	entries map[string]*availEntry
}

type availEntry struct {
	mu        sync.Mutex // held while fetching: the single flight
	body      []byte
	available int // units buyable across sections, as rendered in body
	expires   time.Time
}

// maxAvailEntries bounds the cache; only events that exist get an entry, so this is a guard, not a policy.
const maxAvailEntries = 10_000

func newAvailabilityCache(ttl time.Duration, inv inventory.Store, cat catalogue.Index, now func() time.Time) *availabilityCache {
	return &availabilityCache{ttl: ttl, inv: inv, cat: cat, now: now, entries: map[string]*availEntry{}}
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
	c.mu.Lock()
	e, ok := c.entries[event]
	if !ok {
		if len(c.entries) >= maxAvailEntries {
			clear(c.entries)
		}
		e = &availEntry{}
		c.entries[event] = e
	}
	c.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	now := c.now()
	if e.body != nil && now.Before(e.expires) {
		return e.body, e.available, nil
	}
	body, available, err := c.render(ctx, event, now)
	if err != nil {
		if errors.Is(err, inventory.ErrNotFound) {
			c.mu.Lock()
			delete(c.entries, event)
			c.mu.Unlock()
		}
		return nil, 0, err
	}
	e.body, e.available, e.expires = body, available, now.Add(c.ttl)
	return body, available, nil
}

func (c *availabilityCache) render(ctx context.Context, event string, now time.Time) ([]byte, int, error) {
	ev, err := c.inv.Event(ctx, event)
	if err != nil {
		return nil, 0, fmt.Errorf("availability of %s: %w", event, err)
	}
	st, err := c.inv.Stats(ctx, event)
	if err != nil {
		return nil, 0, fmt.Errorf("availability of %s: %w", event, err)
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
	return body, v.Available, err
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
