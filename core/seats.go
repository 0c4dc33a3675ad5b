package core

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/onsale/onsale/inventory"
)

// seatsCache answers GET /v1/events/{event}/seats from a per-process snapshot of each event's seat maps (see
// snapshots): a spike of map loads costs the inventory one read per event per ttl.
type seatsCache struct {
	inv   inventory.Store
	snaps *snapshots[seatMaps]
}

type seatMaps struct {
	all      []byte
	sections map[string][]byte // one section's answer, by id
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
	Seats string `json:"seats"` // o buyable now, x not
}

func newSeatsCache(ttl time.Duration, inv inventory.Store, now func() time.Time) *seatsCache {
	c := &seatsCache{inv: inv}
	c.snaps = newSnapshots(ttl, now, c.render)
	return c
}

// get returns the rendered seat maps of event, or of one of its seated sections when section is not "".
func (c *seatsCache) get(ctx context.Context, event, section string) ([]byte, error) {
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

func (c *seatsCache) render(ctx context.Context, event string, now time.Time) (seatMaps, error) {
	ev, err := c.inv.Event(ctx, event)
	if err != nil {
		return seatMaps{}, fmt.Errorf("seats of %s: %w", event, err)
	}
	maps, err := c.inv.Seats(ctx, event)
	if err != nil {
		return seatMaps{}, fmt.Errorf("seats of %s: %w", event, err)
	}
	states := make(map[string][]byte, len(maps))
	for _, m := range maps {
		states[m.Section] = m.States
	}
	v := seatsView{Event: event, AsOf: now.UTC()}
	sections := map[string][]byte{}
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
				if i < len(st) && st[i] == inventory.SeatFree {
					b[n] = 'o'
				}
				i++
			}
			out.Rows = append(out.Rows, seatsRow{Row: r.Row, Seats: string(b)})
		}
		v.Sections = append(v.Sections, out)
		one, err := json.Marshal(seatsView{Event: event, AsOf: v.AsOf, Sections: []seatsSection{out}})
		if err != nil {
			return seatMaps{}, err
		}
		sections[sec.ID] = one
	}
	if v.Sections == nil {
		v.Sections = []seatsSection{}
	}
	all, err := json.Marshal(v)
	return seatMaps{all, sections}, err
}

// seats: GET /v1/events/{event}/seats[?section=A] (public): one character per seat, o buyable now, x not.
func (s *Server) seats(ctx *fasthttp.RequestCtx, event string) error {
	section := string(ctx.QueryArgs().Peek("section"))
	actx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	body, err := s.seatMaps.get(actx, event, section)
	if err != nil {
		return err
	}
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "public, max-age=1")
	writeRaw(ctx, fasthttp.StatusOK, body)
	return nil
}
