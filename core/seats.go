package core

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/onsale/onsale/inventory"
)

// seatsCache answers GET /v1/events/{event}/seats from a per-process snapshot of each event's seat maps (see
// snapshots): a spike of map loads costs the inventory one read per event per ttl. The layout (where each seat is
// drawn) has a cache of its own with a longer life: it never changes once the event exists.
type seatsCache struct {
	inv     inventory.Store
	snaps   *snapshots[seatMaps]
	layouts *snapshots[*rendered]
}

// rendered is a response body made once for a crowd: its gzipped form and its ETag beside it.
type rendered struct {
	raw, gzipped []byte
	etag         string
}

func render(b []byte) *rendered {
	var z bytes.Buffer
	w, _ := gzip.NewWriterLevel(&z, gzip.BestSpeed) // the level is valid
	_, _ = w.Write(b)                               // a bytes.Buffer does not fail
	_ = w.Close()
	return &rendered{raw: b, gzipped: z.Bytes(), etag: etagOf(b)}
}

func etagOf(b ...[]byte) string {
	h := sha256.New()
	for _, p := range b {
		h.Write(p)
	}
	return `"` + hex.EncodeToString(h.Sum(nil)[:12]) + `"`
}

// serve answers with r: 304 when the client has it, gzipped when the client takes it.
func (r *rendered) serve(ctx *fasthttp.RequestCtx, cacheControl string) {
	h := &ctx.Response.Header
	h.Set(fasthttp.HeaderCacheControl, cacheControl)
	h.Set(fasthttp.HeaderETag, r.etag)
	h.Set(fasthttp.HeaderVary, fasthttp.HeaderAcceptEncoding)
	if inm := ctx.Request.Header.Peek(fasthttp.HeaderIfNoneMatch); len(inm) > 0 && bytes.Contains(inm, []byte(r.etag)) {
		ctx.SetContentType("application/json")
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		return
	}
	if ctx.Request.Header.HasAcceptEncoding("gzip") {
		h.Set(fasthttp.HeaderContentEncoding, "gzip")
		writeRaw(ctx, fasthttp.StatusOK, r.gzipped)
		return
	}
	writeRaw(ctx, fasthttp.StatusOK, r.raw)
}

type seatMaps struct {
	all      *rendered
	sections map[string]*rendered // one section's answer, by id
}

type seatsView struct {
	Event    string         `json:"event"`
	AsOf     time.Time      `json:"as_of"`
	Sections []seatsSection `json:"sections"`
}

type seatsSection struct {
	ID   string     `json:"id"`
	Rows []seatsRow `json:"rows"`
}

type seatsRow struct {
	Row   string `json:"row"`
	Seats string `json:"seats"` // o buyable now, x not; the organizer's map tells h held, s sold, w withheld
}

func newSeatsCache(ttl time.Duration, inv inventory.Store, now func() time.Time) *seatsCache {
	c := &seatsCache{inv: inv}
	c.snaps = newSnapshots(ttl, now, c.render)
	c.layouts = newSnapshots(time.Minute, now, c.renderLayout)
	return c
}

// get returns the rendered seat maps of event, or of one of its seated sections when section is not "".
func (c *seatsCache) get(ctx context.Context, event, section string) (*rendered, error) {
	m, err := c.snaps.get(ctx, event)
	if err != nil {
		return nil, err
	}
	if section == "" {
		return m.all, nil
	}
	b, ok := m.sections[section]
	if !ok {
		return nil, problemf(404, typeNotFound, fmt.Sprintf("event %s has no seated section %q", event, section))
	}
	return b, nil
}

// publicStates maps the inventory's seat states to what a fan may know: o buyable now, x not.
var publicStates = func() (t [256]byte) {
	for i := range t {
		t[i] = 'x'
	}
	t[inventory.SeatFree] = 'o'
	return t
}()

// organizerStates: o free, h held, s sold, w withheld.
var organizerStates = func() (t [256]byte) {
	for i := range t {
		t[i] = 'x'
	}
	t[inventory.SeatFree], t[inventory.SeatHeld], t[inventory.SeatSold], t[inventory.SeatWithheld] = 'o', 'h', 's', 'w'
	return t
}()

// seatsOf reads the event's seat states and writes them row by row through the table.
func seatsOf(ctx context.Context, inv inventory.Store, event string, now time.Time, table *[256]byte) (seatsView, error) {
	ev, err := inv.Event(ctx, event)
	if err != nil {
		return seatsView{}, fmt.Errorf("seats of %s: %w", event, err)
	}
	maps, err := inv.Seats(ctx, event)
	if err != nil {
		return seatsView{}, fmt.Errorf("seats of %s: %w", event, err)
	}
	states := make(map[string][]byte, len(maps))
	for _, m := range maps {
		states[m.Section] = m.States
	}
	v := seatsView{Event: event, AsOf: now.UTC(), Sections: []seatsSection{}}
	for _, sec := range ev.Sections {
		st, ok := states[sec.ID]
		if sec.Kind != inventory.Seated || !ok {
			continue
		}
		out := seatsSection{ID: sec.ID, Rows: make([]seatsRow, 0, len(sec.Rows))}
		i := 0
		for _, r := range sec.Rows {
			b := make([]byte, r.Seats)
			for n := range b {
				b[n] = 'x'
				if i < len(st) {
					b[n] = table[st[i]]
				}
				i++
			}
			out.Rows = append(out.Rows, seatsRow{Row: r.Row, Seats: string(b)})
		}
		v.Sections = append(v.Sections, out)
	}
	return v, nil
}

func (c *seatsCache) render(ctx context.Context, event string, now time.Time) (seatMaps, error) {
	v, err := seatsOf(ctx, c.inv, event, now, &publicStates)
	if err != nil {
		return seatMaps{}, err
	}
	sections := make(map[string]*rendered, len(v.Sections))
	for _, sec := range v.Sections {
		one, err := json.Marshal(seatsView{Event: event, AsOf: v.AsOf, Sections: []seatsSection{sec}})
		if err != nil {
			return seatMaps{}, err
		}
		r := render(one)
		r.etag = statesETag(sec) // as_of changes every render; the states are what a client caches
		sections[sec.ID] = r
	}
	all, err := json.Marshal(v)
	if err != nil {
		return seatMaps{}, err
	}
	r := render(all)
	r.etag = statesETag(v.Sections...)
	return seatMaps{r, sections}, nil
}

func statesETag(secs ...seatsSection) string {
	var parts [][]byte
	for _, s := range secs {
		parts = append(parts, []byte(s.ID), []byte{0})
		for _, r := range s.Rows {
			parts = append(parts, []byte(r.Seats), []byte{1})
		}
	}
	return etagOf(parts...)
}

// seats: GET /v1/events/{event}/seats[?section=A] (public): one character per seat, o buyable now, x not.
func (s *Server) seats(ctx *fasthttp.RequestCtx, event string) error {
	section := string(ctx.QueryArgs().Peek("section"))
	actx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := s.seatMaps.get(actx, event, section)
	if err != nil {
		return err
	}
	r.serve(ctx, "public, max-age=1")
	return nil
}

// adminSeats: GET /v1/admin/events/{event}/seats, every seat's state for the organizer (o free, h held, s sold,
// w withheld), read from the inventory at once: organizers are few.
func (s *Server) adminSeats(ctx *fasthttp.RequestCtx, event string) error {
	actx, cancel, err := s.organizerEvent(ctx, event)
	if err != nil {
		return err
	}
	defer cancel()
	v, err := seatsOf(actx, s.inv, event, s.now(), &organizerStates)
	if err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	render(b).serve(ctx, "private, no-cache")
	return nil
}

// layoutView is GET /v1/events/{event}/seats/layout: every seated section with its rows placed (see
// inventory.Event.Layout), what a client needs to draw each seat; the seats endpoint then tells their states.
type layoutView struct {
	Event    string          `json:"event"`
	Currency string          `json:"currency"`
	Bounds   layoutBounds    `json:"bounds"`
	Sections []layoutSection `json:"sections"`
}

// layoutBounds is the box around every seat's centre.
type layoutBounds struct {
	MinX float64 `json:"min_x"`
	MinY float64 `json:"min_y"`
	MaxX float64 `json:"max_x"`
	MaxY float64 `json:"max_y"`
}

type layoutSection struct {
	ID    string          `json:"id"`
	Name  string          `json:"name,omitempty"`
	Price int64           `json:"price"`
	Rows  []inventory.Row `json:"rows"`
}

func (c *seatsCache) renderLayout(ctx context.Context, event string, _ time.Time) (*rendered, error) {
	ev, err := c.inv.Event(ctx, event)
	if err != nil {
		return nil, fmt.Errorf("layout of %s: %w", event, err)
	}
	v := layoutView{Event: event, Currency: ev.Currency, Sections: []layoutSection{}}
	b := layoutBounds{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}
	var pts []inventory.Point
	for _, sec := range ev.Layout() {
		for i := range sec.Rows {
			pts = sec.Rows[i].Positions(pts[:0])
			for _, p := range pts {
				b.MinX, b.MinY, b.MaxX, b.MaxY = min(b.MinX, p.X), min(b.MinY, p.Y), max(b.MaxX, p.X), max(b.MaxY, p.Y)
			}
		}
		v.Sections = append(v.Sections, layoutSection{ID: sec.ID, Name: sec.Name, Price: sec.Price, Rows: sec.Rows})
	}
	if len(v.Sections) > 0 {
		v.Bounds = b
	}
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return render(body), nil
}

// seatLayout: GET /v1/events/{event}/seats/layout (public): where each seat is drawn, cacheable for long.
func (s *Server) seatLayout(ctx *fasthttp.RequestCtx, event string) error {
	actx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := s.seatMaps.layouts.get(actx, event)
	if err != nil {
		return err
	}
	r.serve(ctx, "public, max-age=300")
	return nil
}
