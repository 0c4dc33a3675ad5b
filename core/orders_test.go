package core_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/settlement"
)

// seedOrders writes orders of event straight into the ledger: n of them over a few fans and every status, many
// created in the same second. It returns them newest first, as the listing sorts them.
func seedOrders(t *testing.T, e *env, event string, n int, fans []string) []settlement.Order {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	statuses := []settlement.Status{settlement.Pending, settlement.RequiresAction, settlement.Paid, settlement.Failed, settlement.Refunded}
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	var all []settlement.Order
	for i := range n {
		at := base.Add(time.Duration(rng.IntN(n/3+1)) * time.Second)
		o := settlement.Order{ID: fmt.Sprintf("ord_%s_%04d_%05d", event, rng.IntN(10000), i), HoldID: fmt.Sprintf("%s.h%05d", event, i),
			Event: event, Fan: fans[rng.IntN(len(fans))], Status: statuses[rng.IntN(len(statuses))], Seats: []string{},
			Lines: []inventory.Line{{Section: "GA", Quantity: 1 + rng.IntN(3), UnitPrice: 4500}}, Currency: "EUR",
			CreatedAt: at, UpdatedAt: at}
		o.Lines[0].Amount = int64(o.Lines[0].Quantity) * 4500
		o.Total = o.Lines[0].Amount
		if _, created, err := e.ledger.CreateOrder(context.Background(), o, "", at.Add(time.Hour), nil); err != nil || !created {
			t.Fatalf("seed %s: %v %v", o.ID, created, err)
		}
		all = append(all, o)
	}
	slices.SortFunc(all, func(a, b settlement.Order) int {
		if a.Key().Before(b.Key()) {
			return -1
		}
		return 1
	})
	return all
}

func selectIDs(all []settlement.Order, keep func(settlement.Order) bool) []string {
	var ids []string
	for _, o := range all {
		if keep(o) {
			ids = append(ids, o.ID)
		}
	}
	return ids
}

// listPages follows next_cursor from the first page of path (a query string included) to the last.
func (e *env) listPages(t interface{ Fatalf(string, ...any) }, path string, limit int) (ids []string, pages int) {
	cursor := ""
	for {
		p := path + "&limit=" + fmt.Sprint(limit)
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		r := e.do("GET", p, nil, e.adminAuth()...)
		if r.status != 200 {
			t.Fatalf("%s: %v", p, r)
		}
		os, _ := r.body["orders"].([]any)
		if len(os) > limit {
			t.Fatalf("%s: %d orders on a page of %d", p, len(os), limit)
		}
		for _, x := range os {
			ids = append(ids, x.(map[string]any)["order_id"].(string))
		}
		pages++
		next, isString := r.body["next_cursor"].(string)
		if _, present := r.body["next_cursor"]; !present {
			t.Fatalf("%s: no next_cursor field: %v", p, r)
		}
		if !isString {
			return ids, pages
		}
		if len(os) != limit {
			t.Fatalf("%s: a short page (%d of %d) with a next cursor", p, len(os), limit)
		}
		cursor = next
	}
}

func TestOrganizerOrdersList(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.createEvent(eventDef("listed", 50, 4, 4))
	e.createEvent(eventDef("elsewhere", 5, 4, 4))
	all := seedOrders(t, e, "listed", 240, []string{"alice", "bob", "carol"})
	seedOrders(t, e, "elsewhere", 20, []string{"alice"})
	bought := buyTickets(t, e, "listed", "dora", 2) // the newest, with its tickets
	path := "/v1/admin/events/listed/orders?"

	// The first page: newest first, the paid order with its tickets and its fan, and no payment secrets.
	r := e.do("GET", path, nil, e.adminAuth()...)
	os, _ := r.body["orders"].([]any)
	if r.status != 200 || len(os) != 50 {
		t.Fatalf("default page: %v", r)
	}
	first := os[0].(map[string]any)
	if ts, _ := first["tickets"].([]any); first["order_id"] != bought.order || first["fan"] != "dora" || len(ts) != 2 || first["payment"] != nil {
		t.Errorf("newest order: %v", first)
	}

	want := append([]string{bought.order}, selectIDs(all, func(settlement.Order) bool { return true })...)
	for _, c := range []struct {
		query string
		keep  func(settlement.Order) bool
	}{
		{"status=paid", func(o settlement.Order) bool { return o.Status == settlement.Paid }},
		{"fan=alice", func(o settlement.Order) bool { return o.Fan == "alice" }},
		{"fan=bob&status=requires_action", func(o settlement.Order) bool { return o.Fan == "bob" && o.Status == settlement.RequiresAction }},
		{"fan=nobody", func(settlement.Order) bool { return false }},
	} {
		got, _ := e.listPages(t, path+c.query, 200)
		w := selectIDs(all, c.keep)
		if c.query == "status=paid" {
			w = append([]string{bought.order}, w...)
		}
		if !slices.Equal(got, w) {
			t.Errorf("%s: %d orders %v, want %d %v", c.query, len(got), got, len(w), w)
		}
	}

	// Pages of any size list every order once, in order.
	rapid.Check(t, func(rt *rapid.T) {
		limit := rapid.IntRange(1, 120).Draw(rt, "limit")
		got, pages := e.listPages(rt, path+"x=1", limit)
		if !slices.Equal(got, want) {
			rt.Fatalf("pages of %d: %d orders, want %d", limit, len(got), len(want))
		}
		if wantPages := (len(want) + limit - 1) / limit; pages != wantPages { // no empty last page
			rt.Fatalf("pages of %d: %d pages, want %d", limit, pages, wantPages)
		}
	})
}

func TestOrganizerOrdersBadQuery(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.createEvent(eventDef("bad-q", 5, 4, 4))
	seedOrders(t, e, "bad-q", 3, []string{"alice"})
	short := base64.RawURLEncoding.EncodeToString([]byte("abc"))
	ctrl := cursorOf(time.Unix(0, 0), "id\x01")
	real := e.do("GET", "/v1/admin/events/bad-q/orders?limit=1", nil, e.adminAuth()...).str("next_cursor")
	tampered := []byte(real)
	tampered[3] ^= 1 // another place, its checksum no longer agreeing
	unchecked := base64.RawURLEncoding.EncodeToString(append(make([]byte, 8), "ord_bad-q"...))
	for _, path := range []string{"/orders", "/orders.csv"} {
		for _, q := range []string{"cursor=", "cursor=!!!", "cursor=" + short, "cursor=" + ctrl, "cursor=" + string(tampered), "cursor=" + unchecked, "cursor=not-a-cursor", "cursor=" + strings.Repeat("A", 300),
			"limit=0", "limit=-1", "limit=x", "limit=1e3", "status=sold", "status=PAID", "fan=" + url.QueryEscape("\xff\xfe"),
			"fan=" + strings.Repeat("f", 300)} {
			problem(t, path+"?"+q, e.do("GET", "/v1/admin/events/bad-q"+path+"?"+q, nil, e.adminAuth()...), 400, "bad-request")
		}
	}
	problem(t, "page over 200", e.do("GET", "/v1/admin/events/bad-q/orders?limit=201", nil, e.adminAuth()...), 400, "bad-request")
	problem(t, "unknown event", e.do("GET", "/v1/admin/events/nope/orders", nil, e.adminAuth()...), 404, "not-found")
	problem(t, "no token", e.do("GET", "/v1/admin/events/bad-q/orders", nil), 401, "unauthorized")
	problem(t, "no token, CSV", e.do("GET", "/v1/admin/events/bad-q/orders.csv", nil), 401, "unauthorized")
	// A cursor of this server's shape but a place no order has still pages from there.
	far := cursorOf(time.Unix(0, 0), "ord")
	if r := e.do("GET", "/v1/admin/events/bad-q/orders?cursor="+far, nil, e.adminAuth()...); r.status != 200 || len(r.body["orders"].([]any)) != 0 {
		t.Errorf("a cursor before any order: %v", r)
	}
}

// cursorOf makes a cursor as the server does (the time, the id, a checksum), for places no page ended at.
func cursorOf(at time.Time, id string) string {
	b := binary.BigEndian.AppendUint64(nil, uint64(at.UnixNano()))
	b = append(b, id...)
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(append(b, sum[:6]...))
}

func TestOrganizerOrdersCSV(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.createEvent(eventDef("csv", 5, 4, 4))
	fans := []string{`=HYPERLINK("http://evil.example","click")`, "+33 6 12", "-2+3", "@SUM(A1)", "\tTAB", "\rCR",
		`a "quoted", fan`, "multi\nline", "plain", "ünïcode"}
	all := seedOrders(t, e, "csv", 1203, fans) // more than two of the export's chunks

	r := e.do("GET", "/v1/admin/events/csv/orders.csv", nil, e.adminAuth()...)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(r.header.Get("Content-Disposition"), `filename="csv-orders.csv"`) {
		t.Fatalf("export: %d %v", r.status, r.header)
	}
	rows, err := csv.NewReader(strings.NewReader(r.raw)).ReadAll()
	if err != nil {
		t.Fatalf("the export does not parse as CSV: %v", err)
	}
	header := rows[0]
	if !slices.Equal(header[:5], []string{"order_id", "created_at", "updated_at", "status", "fan"}) {
		t.Fatalf("header %v", header)
	}
	col := func(name string) int { return slices.Index(header, name) }
	if len(rows)-1 != len(all) {
		t.Fatalf("%d rows, want %d", len(rows)-1, len(all))
	}
	safe := map[string]string{fans[0]: "'" + fans[0], fans[1]: "'" + fans[1], fans[2]: "'" + fans[2], fans[3]: "'" + fans[3],
		fans[4]: "'" + fans[4], fans[5]: "'" + fans[5]}
	for i, o := range all {
		row := rows[i+1]
		wantFan := o.Fan
		if s, ok := safe[o.Fan]; ok {
			wantFan = s
		}
		if row[col("order_id")] != o.ID || row[col("fan")] != wantFan || row[col("status")] != string(o.Status) ||
			row[col("total")] != fmt.Sprint(o.Total) || row[col("items")] != fmt.Sprintf("GA x%d", o.Lines[0].Quantity) {
			t.Fatalf("row %d = %q, want order %+v", i+1, row, o)
		}
	}
	for _, c := range []string{`'=HYPERLINK(""http://evil.example"",""click"")"`, `"a ""quoted"", fan"`, "\"multi\nline\""} {
		if !strings.Contains(r.raw, c) {
			t.Errorf("the export lacks %q", c)
		}
	}

	// The same filters as the JSON list, and limit and cursor from it.
	r = e.do("GET", "/v1/admin/events/csv/orders.csv?status=paid&fan=plain", nil, e.adminAuth()...)
	rows, _ = csv.NewReader(strings.NewReader(r.raw)).ReadAll()
	want := selectIDs(all, func(o settlement.Order) bool { return o.Status == settlement.Paid && o.Fan == "plain" })
	if len(rows) != len(want)+1 || len(want) == 0 {
		t.Fatalf("filtered export: %d rows, want %d", len(rows)-1, len(want))
	}
	for i, id := range want {
		if rows[i+1][0] != id {
			t.Errorf("filtered row %d: %s, want %s", i+1, rows[i+1][0], id)
		}
	}
	page := e.do("GET", "/v1/admin/events/csv/orders?limit=7", nil, e.adminAuth()...)
	r = e.do("GET", "/v1/admin/events/csv/orders.csv?limit=600&cursor="+url.QueryEscape(page.str("next_cursor")), nil, e.adminAuth()...)
	rows, _ = csv.NewReader(strings.NewReader(r.raw)).ReadAll()
	if len(rows) != 601 || rows[1][0] != all[7].ID || rows[600][0] != all[606].ID {
		t.Errorf("export from the cursor of a page of 7, 600 rows: %d rows from %v", len(rows)-1, rows[1])
	}
	if r := e.do("GET", "/v1/admin/events/csv/orders.csv?fan=nobody", nil, e.adminAuth()...); r.status != 200 || strings.Count(r.raw, "\n") != 1 {
		t.Errorf("an empty export is its header: %q", r.raw)
	}
}

// TestMyOrders: a signed-in fan lists its own orders across events, with tickets and the token that opens each;
// nobody else's, and nothing without an OIDC sign-in.
func TestMyOrders(t *testing.T) {
	t.Parallel()
	o := setupOrgs(t, func(op *options) { op.cfg.CORSOrigins = []string{"https://app.example"} })
	o.create(o.acme, "me-a")
	o.create(o.globex, "me-b")
	first, _, _ := o.buy("me-a", "u-fan", 2)
	second, _, _ := o.buy("me-b", "u-fan", 1)
	other, _, _ := o.buy("me-a", "u-other", 1)

	r := o.do("GET", "/v1/me/orders", nil, append(o.fan, "Origin", "https://app.example")...)
	os, _ := r.body["orders"].([]any)
	if r.status != 200 || len(os) != 2 || r.body["next_cursor"] != nil {
		t.Fatalf("my orders: %v", r)
	}
	if r.header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Errorf("the fan API answers an app's origin: %v", r.header)
	}
	for i, want := range []struct {
		id      string
		tickets int
	}{{second, 1}, {first, 2}} {
		got := os[i].(map[string]any)
		ts, _ := got["tickets"].([]any)
		if got["order_id"] != want.id || len(ts) != want.tickets || got["status"] != "paid" || ts[0].(map[string]any)["code"] == "" {
			t.Fatalf("order %d: %v, want %s with %d tickets", i, got, want.id, want.tickets)
		}
		// The order's token opens it as checkout's does: the app can show its page.
		tok, _ := got["order_token"].(string)
		if r := o.do("GET", "/v1/orders/"+want.id, nil, bearer(tok)...); r.status != 200 || r.str("order_id") != want.id {
			t.Errorf("the listed order token: %v", r)
		}
	}
	// Pages, as the organizer's list.
	p1 := o.do("GET", "/v1/me/orders?limit=1", nil, o.fan...)
	p2 := o.do("GET", "/v1/me/orders?limit=1&cursor="+url.QueryEscape(p1.str("next_cursor")), nil, o.fan...)
	if ids := [2]any{p1.body["orders"].([]any)[0].(map[string]any)["order_id"], p2.body["orders"].([]any)[0].(map[string]any)["order_id"]}; ids != [2]any{second, first} || p2.body["next_cursor"] != nil {
		t.Errorf("pages of one: %v then %v", p1, p2)
	}
	mine := func(sub string) []string {
		r := o.do("GET", "/v1/me/orders", nil, bearer(o.is.token(nil, map[string]any{"sub": sub}))...)
		if r.status != 200 {
			t.Fatalf("orders of %s: %v", sub, r)
		}
		var ids []string
		for _, x := range r.body["orders"].([]any) {
			ids = append(ids, x.(map[string]any)["order_id"].(string))
		}
		return ids
	}
	if got := mine("u-other"); !slices.Equal(got, []string{other}) {
		t.Errorf("another fan's orders: %v, want %s alone", got, other)
	}
	if got := mine("u-nobody"); len(got) != 0 {
		t.Errorf("a fan without orders: %v", got)
	}
	problem(t, "no token", o.do("GET", "/v1/me/orders", nil), 401, "unauthorized")
	problem(t, "forged token", o.do("GET", "/v1/me/orders", nil, bearer("x.y.z")...), 401, "unauthorized")
	problem(t, "asking for another fan", o.do("GET", "/v1/me/orders?fan=u-other", nil, o.fan...), 400, "bad-request")
	problem(t, "bad cursor", o.do("GET", "/v1/me/orders?cursor=zz", nil, o.fan...), 400, "bad-request")
	problem(t, "page over 100", o.do("GET", "/v1/me/orders?limit=101", nil, o.fan...), 400, "bad-request")
	// The organizer API is never offered to other origins.
	if r := o.do("GET", "/v1/admin/events/me-a/orders", nil, append(o.acme, "Origin", "https://app.example")...); r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("organizer orders to another origin: %d %v", r.status, r.header)
	}

	// Without an issuer there is no sign-in to list by.
	dev := setup(t)
	problem(t, "dev mode", dev.do("GET", "/v1/me/orders", nil), 401, "unauthorized")
	problem(t, "dev mode with the admin token", dev.do("GET", "/v1/me/orders", nil, dev.adminAuth()...), 401, "unauthorized")
}
