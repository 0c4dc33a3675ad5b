package core_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"testing"
)

// mapEvent is an event with a curved seated section (an aisle, wheelchair spaces and companions), a straight one
// beside it, a section without geometry and general admission.
func mapEvent(id string) map[string]any {
	def := eventDef(id, 10, 4, 4)
	def["sections"] = []any{
		map[string]any{"id": "GA", "kind": "general", "capacity": 10, "price": 4500},
		map[string]any{"id": "A", "kind": "seated", "price": 9000, "name": "Stalls", "rows": []any{
			map[string]any{"row": "1", "seats": 10, "y": 2, "radius": 30, "gaps": []any{map[string]any{"after": 5, "width": 2}},
				"accessible": []any{1}, "companion": []any{2}},
			map[string]any{"row": "2", "seats": 12, "x": -1, "y": 3.2, "radius": 31.2}}},
		map[string]any{"id": "B", "kind": "seated", "price": 6000, "rows": []any{map[string]any{"row": "1", "seats": 5, "x": 20, "y": 2}}},
		map[string]any{"id": "C", "kind": "seated", "price": 3000, "rows": []any{
			map[string]any{"row": "1", "seats": 3}, map[string]any{"row": "2", "seats": 5}}}}
	return def
}

func gunzip(t *testing.T, b string) []byte {
	t.Helper()
	z, err := gzip.NewReader(strings.NewReader(b))
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	out, err := io.ReadAll(z)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return out
}

// TestSeatLayout: the layout endpoint places every seated section (the one without geometry below the others),
// carries prices and the accessible seats, and is cacheable: a long max-age, an ETag that answers 304, gzip.
func TestSeatLayout(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.createEvent(mapEvent("layout"))
	r := e.do("GET", "/v1/events/layout/seats/layout", nil)
	if r.status != 200 {
		t.Fatalf("layout: %v", r)
	}
	var v struct {
		Currency string
		Bounds   struct {
			MinX float64 `json:"min_x"`
			MinY float64 `json:"min_y"`
			MaxX float64 `json:"max_x"`
			MaxY float64 `json:"max_y"`
		}
		Sections []struct {
			ID, Name string
			Price    int64
			Rows     []struct {
				Row                   string
				Seats                 int
				X, Y, Spacing, Radius float64
				Gaps                  []struct{ After int }
				Accessible, Companion []int
			}
		}
	}
	if err := json.Unmarshal([]byte(r.raw), &v); err != nil {
		t.Fatal(err)
	}
	if v.Currency != "EUR" || len(v.Sections) != 3 || v.Sections[0].ID != "A" || v.Sections[0].Name != "Stalls" ||
		v.Sections[0].Price != 9000 || v.Sections[1].ID != "B" || v.Sections[2].ID != "C" {
		t.Fatalf("layout sections: %s", r.raw)
	}
	a1 := v.Sections[0].Rows[0]
	if a1.Radius != 30 || a1.Spacing != 1 || len(a1.Gaps) != 1 || a1.Gaps[0].After != 5 ||
		len(a1.Accessible) != 1 || a1.Accessible[0] != 1 || a1.Companion[0] != 2 {
		t.Errorf("row A-1: %+v", a1)
	}
	c1, c2 := v.Sections[2].Rows[0], v.Sections[2].Rows[1]
	if c1.Y <= 3.2 || c2.Y <= c1.Y || c1.X != 1 || c2.X != 0 || c1.Spacing != 1 {
		t.Errorf("section C is not stacked below the placed ones: %+v %+v", c1, c2)
	}
	if v.Bounds.MinX != -1 || v.Bounds.MaxX != 24 || v.Bounds.MinY != 2 || v.Bounds.MaxY != c2.Y {
		t.Errorf("bounds %+v", v.Bounds)
	}
	if cc := r.header.Get("Cache-Control"); cc != "public, max-age=300" {
		t.Errorf("Cache-Control %q", cc)
	}
	tag := r.header.Get("ETag")
	if tag == "" {
		t.Fatal("no ETag")
	}
	if nm := e.do("GET", "/v1/events/layout/seats/layout", nil, "If-None-Match", tag); nm.status != 304 || nm.raw != "" {
		t.Errorf("If-None-Match: %d %q", nm.status, nm.raw)
	}
	gz := e.do("GET", "/v1/events/layout/seats/layout", nil, "Accept-Encoding", "gzip")
	if gz.header.Get("Content-Encoding") != "gzip" || string(gunzip(t, gz.raw)) != r.raw {
		t.Errorf("gzip: %v", gz.header)
	}
	if nf := e.do("GET", "/v1/events/nope/seats/layout", nil); nf.status != 404 || nf.str("type") != "not-found" {
		t.Errorf("unknown event: %v", nf)
	}
}

// TestSeatStates: the fan sees o and x, the organizer h, s and w apart; the public map's ETag follows the states,
// not the time of the snapshot.
func TestSeatStates(t *testing.T) {
	t.Parallel()
	e := setup(t)
	def := mapEvent("states")
	def["waves"].([]any)[0].(map[string]any)["release"] = map[string]any{"B": 3} // B-1-4, B-1-5 withheld
	e.createEvent(def)
	tok := e.admit("states", "ann")
	h := e.do("POST", "/v1/events/states/holds", map[string]any{"seats": []any{"A-1-1", "A-1-2", "B-1-1"}}, bearer(tok)...)
	if h.status != 201 {
		t.Fatalf("hold: %v", h)
	}
	sold := e.do("POST", "/v1/events/states/holds", map[string]any{"seats": []any{"C-2-5"}}, bearer(tok)...)
	if sold.status != 201 {
		t.Fatalf("hold: %v", sold)
	}
	co := e.do("POST", "/v1/holds/"+sold.str("hold_id")+"/checkout", map[string]any{"payment_method": "pm_card_visa"}, bearer(tok)...)
	if co.status != 202 {
		t.Fatalf("checkout: %v", co)
	}
	if o := e.waitOrder(co.str("order_id"), tok); o.str("status") != "paid" {
		t.Fatalf("order: %v", o)
	}
	var tag string
	waitFor(t, "the public map to show the held seats", func() bool {
		r := e.do("GET", "/v1/events/states/seats?section=A", nil)
		tag = r.header.Get("ETag")
		return strings.Contains(r.raw, `{"row":"1","seats":"xxoooooooo"}`)
	})
	if r := e.do("GET", "/v1/events/states/seats?section=A", nil, "If-None-Match", tag); r.status != 304 {
		t.Errorf("If-None-Match of unchanged states: %d", r.status)
	}
	waitFor(t, "the organizer's map to show held, sold and withheld seats", func() bool {
		r := e.do("GET", "/v1/admin/events/states/seats", nil, e.adminAuth()...)
		return strings.Contains(r.raw, `{"id":"A","rows":[{"row":"1","seats":"hhoooooooo"}`) &&
			strings.Contains(r.raw, `{"id":"B","rows":[{"row":"1","seats":"hooww"}]}`) &&
			strings.Contains(r.raw, `{"row":"2","seats":"oooos"}`)
	})
	if r := e.do("GET", "/v1/admin/events/states/seats", nil); r.status != 401 {
		t.Errorf("the organizer's map without a token: %v", r)
	}
	if r := e.do("DELETE", "/v1/holds/"+h.str("hold_id"), nil, bearer(tok)...); r.status != 204 {
		t.Fatalf("release: %v", r)
	}
	waitFor(t, "the public map's ETag to change with the states", func() bool {
		r := e.do("GET", "/v1/events/states/seats?section=A", nil, "If-None-Match", tag)
		return r.status == 200 && r.header.Get("ETag") != tag && strings.Contains(r.raw, `"seats":"oooooooooo"`)
	})
}

// TestSeatGeometryRefused: bad geometry is a 400 problem naming what is wrong, and nothing of the event is created.
func TestSeatGeometryRefused(t *testing.T) {
	t.Parallel()
	e := setup(t)
	row := func(extra map[string]any) map[string]any {
		r := map[string]any{"row": "1", "seats": 10, "y": 1}
		for k, v := range extra {
			r[k] = v
		}
		return r
	}
	for _, c := range []struct {
		name string
		rows []any
		want string
	}{
		{"negative spacing", []any{row(map[string]any{"spacing": -1})}, "spacing"},
		{"a gap past the row", []any{row(map[string]any{"gaps": []any{map[string]any{"after": 10}}})}, "gap after seat 10"},
		{"accessible seat 0", []any{row(map[string]any{"accessible": []any{0}})}, "accessible seat 0"},
		{"a row on another", []any{row(nil), map[string]any{"row": "2", "seats": 10, "y": 1.1}}, "overlap"},
		{"a row wrapped round a small circle", []any{row(map[string]any{"radius": 1})}, "wraps"},
		{"a gap without a seat", []any{row(map[string]any{"gaps": []any{map[string]any{"width": 1}}})}, "gap after seat 0"},
		{"a string for a number", []any{row(map[string]any{"x": "left"})}, ""},
		{"an unknown field", []any{row(map[string]any{"curve": 3})}, ""},
	} {
		id := "bad-" + strings.ReplaceAll(c.name, " ", "-")
		def := eventDef(id, 10, 4, 4)
		def["sections"] = []any{map[string]any{"id": "A", "kind": "seated", "price": 1, "rows": c.rows}}
		r := e.do("POST", "/v1/admin/events", def, e.adminAuth()...)
		if r.status != 400 || r.str("type") != "bad-request" || !strings.Contains(r.header.Get("Content-Type"), "problem+json") ||
			!strings.Contains(r.str("detail"), c.want) {
			t.Errorf("%s: %v, want 400 bad-request about %q", c.name, r, c.want)
		}
		if g := e.do("GET", "/v1/admin/events/"+id, nil, e.adminAuth()...); g.status != 404 {
			t.Errorf("%s: the refused event exists: %v", c.name, g)
		}
		if g := e.do("GET", "/v1/events/"+id+"/seats/layout", nil); g.status != 404 {
			t.Errorf("%s: the refused event has a layout: %v", c.name, g)
		}
	}
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(mapEvent("fine"))
	if r := e.do("POST", "/v1/admin/events", b.String(), e.adminAuth()...); r.status != 201 {
		t.Fatalf("a good map: %v", r)
	}
}

// TestSeatMapLargeVenueBytes: a 20,000-seat section of curved rows (100 rows of 200) costs a phone few bytes:
// the layout is parametric (a row is a few numbers, not 200 positions) and the states compress well.
func TestSeatMapLargeVenueBytes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	def := eventDef("big", 10, 4, 4)
	var rows []any
	for i := range 100 {
		rows = append(rows, map[string]any{"row": strconv.Itoa(i + 1), "seats": 200, "x": -0.3 * float64(i),
			"y": 2 + 1.2*float64(i), "radius": 120 + 1.2*float64(i), "accessible": []any{1, 200}, "companion": []any{2, 199}})
	}
	def["sections"] = []any{map[string]any{"id": "A", "kind": "seated", "price": 9000, "rows": rows}}
	e.createEvent(def)
	sizes := map[string][2]int{}
	for _, path := range []string{"/v1/events/big/seats/layout", "/v1/events/big/seats"} {
		raw := e.do("GET", path, nil)
		gz := e.do("GET", path, nil, "Accept-Encoding", "gzip")
		if raw.status != 200 || gz.header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("%s: %d, %v", path, raw.status, gz.header)
		}
		sizes[path] = [2]int{len(raw.raw), len(gz.raw)}
		t.Logf("%s: %d bytes, %d gzipped", path, len(raw.raw), len(gz.raw))
	}
	if s := sizes["/v1/events/big/seats"]; s[0] < 20_000 || s[1] > 4<<10 {
		t.Errorf("states: %d bytes, %d gzipped; want one byte a seat, under 4 KiB gzipped", s[0], s[1])
	}
	if s := sizes["/v1/events/big/seats/layout"]; s[1] > 4<<10 {
		t.Errorf("layout: %d gzipped, want under 4 KiB", s[1])
	}
}
