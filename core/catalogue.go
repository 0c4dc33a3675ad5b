package core

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/onsale/onsale/catalogue"
)

// What the public sees: the events' listings (venue, city, show time, description) and their search, the JSON
// API's GET /v1/events and the landing page GET /.

// listingBody is the part of an event's body the catalogue keeps.
type listingBody struct {
	Venue       string     `json:"venue"`
	City        string     `json:"city"`
	Performance *time.Time `json:"starts_at"` // the performance (a wave's starts_at opens its sale)
	Description string     `json:"description"`
}

func (b listingBody) validate() error {
	for _, f := range []struct {
		name, v string
		max     int
	}{{"venue", b.Venue, catalogue.MaxVenueLen}, {"city", b.City, catalogue.MaxCityLen},
		{"description", b.Description, catalogue.MaxDescriptionLen}} {
		if len(f.v) > f.max || !utf8.ValidString(f.v) || bytes.IndexByte([]byte(f.v), 0) >= 0 {
			return badRequest(fmt.Sprintf(`"%s" must be valid text of at most %d bytes`, f.name, f.max))
		}
	}
	return nil
}

func (b listingBody) listing(id, name string) catalogue.Listing {
	l := catalogue.Listing{ID: id, Name: name, Venue: b.Venue, City: b.City, Description: b.Description}
	if b.Performance != nil {
		l.StartsAt = b.Performance.UTC()
	}
	return l
}

// listingView is the listing's part of an event as the organizer API shows it.
type listingView struct {
	Venue       string     `json:"venue,omitempty"`
	City        string     `json:"city,omitempty"`
	Performance *time.Time `json:"starts_at,omitempty"`
	Description string     `json:"description,omitempty"`
}

func viewListing(l catalogue.Listing) listingView {
	v := listingView{Venue: l.Venue, City: l.City, Description: l.Description}
	if !l.StartsAt.IsZero() {
		at := l.StartsAt
		v.Performance = &at
	}
	return v
}

// listingPatch is the body of PATCH /v1/admin/events/{event}: the fields given replace the listing's; a field
// given as "" (or starts_at as null) clears it.
type listingPatch struct {
	Venue       *string         `json:"venue"`
	City        *string         `json:"city"`
	Performance json.RawMessage `json:"starts_at"`
	Description *string         `json:"description"`
}

// patchEvent: PATCH /v1/admin/events/{event}, the organizer edits what the catalogue shows of the event.
func (s *Server) patchEvent(ctx *fasthttp.RequestCtx, event string) error {
	who, err := s.auth.organizer(ctx)
	if err != nil {
		return err
	}
	var p listingPatch
	if err := decodeJSON(ctx.PostBody(), &p, false); err != nil {
		return err
	}
	actx, cancel := adminCtx()
	defer cancel()
	ev, err := s.ownedEvent(actx, who, event)
	if err != nil {
		return err
	}
	l, err := s.catalogue.Get(actx, event)
	if errors.Is(err, catalogue.ErrNotFound) {
		l = catalogue.Listing{ID: event, Name: ev.Name} // an event made before the catalogue
	} else if err != nil {
		return fmt.Errorf("listing of %s: %w", event, err)
	}
	b := listingBody{Venue: l.Venue, City: l.City, Description: l.Description}
	if !l.StartsAt.IsZero() {
		b.Performance = &l.StartsAt
	}
	for _, f := range []struct {
		to   *string
		from *string
	}{{&b.Venue, p.Venue}, {&b.City, p.City}, {&b.Description, p.Description}} {
		if f.from != nil {
			*f.to = *f.from
		}
	}
	switch raw := bytes.TrimSpace(p.Performance); {
	case len(raw) == 0:
	case string(raw) == "null":
		b.Performance = nil
	default:
		var at time.Time
		if err := json.Unmarshal(raw, &at); err != nil {
			return badRequest(`"starts_at" must be an RFC 3339 time or null`)
		}
		b.Performance = &at
	}
	if err := b.validate(); err != nil {
		return err
	}
	if err := s.catalogue.Put(actx, b.listing(event, ev.Name)); err != nil {
		return fmt.Errorf("list %s in the catalogue: %w", event, err)
	}
	v, err := s.eventView(actx, event)
	if err != nil {
		return err
	}
	return writeJSON(ctx, fasthttp.StatusOK, v)
}

// publicEvent is one result of GET /v1/events.
type publicEvent struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Venue       string     `json:"venue"`
	City        string     `json:"city"`
	Performance *time.Time `json:"starts_at"`
	Status      string     `json:"status"`
}

type eventsPage struct {
	Events     []publicEvent `json:"events"`
	NextCursor *string       `json:"next_cursor"`
}

// maxSearchLimit bounds a page of GET /v1/events.
const maxSearchLimit = catalogue.MaxLimit

// searchEvents runs the query of a GET /v1/events or GET / request.
func (s *Server) searchEvents(ctx context.Context, args *fasthttp.Args) (eventsPage, catalogue.Query, error) {
	q := catalogue.Query{Q: string(args.Peek("q")), City: string(args.Peek("city")), Cursor: string(args.Peek("cursor"))}
	switch {
	case len(q.Q) > catalogue.MaxQueryLen || !utf8.ValidString(q.Q):
		return eventsPage{}, q, badRequest(fmt.Sprintf(`"q" must be text of at most %d bytes`, catalogue.MaxQueryLen))
	case len(q.City) > catalogue.MaxCityLen || !utf8.ValidString(q.City):
		return eventsPage{}, q, badRequest(fmt.Sprintf(`"city" must be text of at most %d bytes`, catalogue.MaxCityLen))
	case len(q.Cursor) > 64:
		return eventsPage{}, q, badRequest(`"cursor" is not one this server gave`)
	}
	if l := args.Peek("limit"); len(l) > 0 {
		n, err := strconv.Atoi(string(l))
		if err != nil || n < 1 || n > maxSearchLimit {
			return eventsPage{}, q, badRequest(fmt.Sprintf(`"limit" must be 1 to %d`, maxSearchLimit))
		}
		q.Limit = n
	}
	p, err := s.catalogue.Search(ctx, q)
	if errors.Is(err, catalogue.ErrBadCursor) {
		return eventsPage{}, q, badRequest(`"cursor" is not one this server gave`)
	}
	if err != nil {
		return eventsPage{}, q, fmt.Errorf("search the catalogue: %w", err)
	}
	out := eventsPage{Events: make([]publicEvent, 0, len(p.Listings))}
	for _, l := range p.Listings {
		e := publicEvent{ID: l.ID, Name: l.Name, Venue: l.Venue, City: l.City, Status: s.statuses.of(ctx, s, l.ID)}
		if !l.StartsAt.IsZero() {
			at := l.StartsAt
			e.Performance = &at
		}
		out.Events = append(out.Events, e)
	}
	if p.Next != "" {
		out.NextCursor = &p.Next
	}
	return out, q, nil
}

// listEvents: GET /v1/events, public.
func (s *Server) listEvents(ctx *fasthttp.RequestCtx, _ string) error {
	actx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, _, err := s.searchEvents(actx, ctx.QueryArgs())
	if err != nil {
		return err
	}
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "public, max-age=5")
	return writeJSON(ctx, fasthttp.StatusOK, p)
}

// statusCache keeps each event's public status for a few seconds, so a burst of searches and landing-page loads
// reads the waiting room and the ledger once per event, not once per request.
type statusCache struct {
	mu sync.Mutex
	m  map[string]cachedStatus
}

type cachedStatus struct {
	status string
	at     time.Time
}

const statusTTL = 2 * time.Second

func (c *statusCache) of(ctx context.Context, s *Server, event string) string {
	now := s.now()
	c.mu.Lock()
	if e, ok := c.m[event]; ok && now.Sub(e.at) < statusTTL {
		c.mu.Unlock()
		return e.status
	}
	c.mu.Unlock()
	st := statusScheduled
	if cn, err := s.settl.Cancellation(ctx, event); err == nil && !cn.CancelledAt.IsZero() {
		st = statusCancelled
	} else if rs, err := s.room.Stats(ctx, event); err == nil {
		switch {
		case rs.SoldOut:
			st = statusSoldOut
		case rs.Wave != "":
			st = statusOnSale
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 10_000 {
		c.m = map[string]cachedStatus{}
	}
	c.m[event] = cachedStatus{st, now}
	return st
}

var landingTemplate = template.Must(template.New("landing.html").Funcs(template.FuncMap{
	"when": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format("Mon 2 Jan 2006, 15:04 UTC")
	},
	"iso": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	},
	"label": func(status string) string {
		return map[string]string{statusOnSale: "On sale", statusScheduled: "Coming up", statusSoldOut: "Sold out",
			statusCancelled: "Cancelled"}[status]
	},
}).ParseFS(webFS, "web/landing.html"))

type landingData struct {
	Q, City string
	Events  []publicEvent
	Next    string // the next page's query string
}

// landingPage: GET /, the events on sale and coming up, with a search that works without JavaScript. Cancelled
// events are left out unless searched for. The page carries an ETag of its content.
func (s *Server) landingPage(ctx *fasthttp.RequestCtx, _ string) error {
	actx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, q, err := s.searchEvents(actx, ctx.QueryArgs())
	if err != nil {
		return err // a crafted URL: the form's own limits keep a person's search valid
	}
	d := landingData{Q: q.Q, City: q.City}
	for _, e := range p.Events {
		if e.Status != statusCancelled || q.Q != "" {
			d.Events = append(d.Events, e)
		}
	}
	if p.NextCursor != nil {
		next := fasthttp.AcquireArgs()
		next.Set("q", q.Q)
		next.Set("city", q.City)
		next.Set("cursor", *p.NextCursor)
		d.Next = "/?" + next.String()
		fasthttp.ReleaseArgs(next)
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	var b bytes.Buffer
	if err := landingTemplate.Execute(&b, d); err != nil {
		return err
	}
	sum := sha256.Sum256(b.Bytes())
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	h := &ctx.Response.Header
	h.Set(fasthttp.HeaderETag, etag)
	h.Set(fasthttp.HeaderCacheControl, "public, max-age=10")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'")
	h.Set(fasthttp.HeaderVary, fasthttp.HeaderAcceptEncoding)
	ctx.SetContentType(htmlType)
	if string(ctx.Request.Header.Peek(fasthttp.HeaderIfNoneMatch)) == etag {
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		return nil
	}
	if ctx.Request.Header.HasAcceptEncoding("gzip") {
		h.Set(fasthttp.HeaderContentEncoding, "gzip")
		var z bytes.Buffer
		w, _ := gzip.NewWriterLevel(&z, gzip.DefaultCompression) // the level is valid
		_, _ = w.Write(b.Bytes())                                // a bytes.Buffer does not fail
		_ = w.Close()
		ctx.SetBody(z.Bytes())
		return nil
	}
	ctx.SetBody(b.Bytes())
	return nil
}
