package core

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/onsale/onsale/settlement"
)

// Orders as lists: an event's for its organizer (JSON pages, or all of them as CSV), and a fan's own across events.

const (
	defaultOrderPage  = 50
	maxAdminOrderPage = 200
	maxFanOrderPage   = 100
	csvOrderPage      = 500 // ledger reads per CSV chunk
	maxCursorLen      = 200
	maxCSVRows        = 1_000_000
	csvExportTimeout  = 5 * time.Minute
)

var errBadCursor = badRequest(`"cursor" is not one this server gave`)

// encodeCursor makes the opaque cursor of the place after which the next page starts: the order's creation time
// and id, with a checksum so that a cursor mistyped or made up is refused rather than read as some other place.
func encodeCursor(k settlement.OrderKey) string {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(k.ID)+cursorSumLen), uint64(k.CreatedAt.UnixNano()))
	b = append(b, k.ID...)
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(append(b, sum[:cursorSumLen]...))
}

const cursorSumLen = 6

func decodeCursor(c string) (settlement.OrderKey, error) {
	if len(c) > maxCursorLen {
		return settlement.OrderKey{}, errBadCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) < 8+1+cursorSumLen {
		return settlement.OrderKey{}, errBadCursor
	}
	body, sum := b[:len(b)-cursorSumLen], b[len(b)-cursorSumLen:]
	if want := sha256.Sum256(body); !bytes.Equal(sum, want[:cursorSumLen]) || !printableASCII(string(body[8:])) {
		return settlement.OrderKey{}, errBadCursor
	}
	at := time.Unix(0, int64(binary.BigEndian.Uint64(body[:8]))).UTC()
	return settlement.OrderKey{CreatedAt: at, ID: string(body[8:])}, nil
}

// orderQuery reads the filters of an orders listing: status, fan, limit (up to max, 0: no limit given) and cursor.
func orderQuery(args *fasthttp.Args, max int) (q settlement.OrderQuery, limit int, err error) {
	if st := string(args.Peek("status")); st != "" {
		if !settlement.ValidStatus(settlement.Status(st)) {
			return q, 0, badRequest(`"status" must be pending, paying, requires_action, paid, failed or refunded`)
		}
		q.Status = settlement.Status(st)
	}
	if fan := args.Peek("fan"); len(fan) > 0 {
		if len(fan) > maxFanLen || !utf8.Valid(fan) {
			return q, 0, badRequest(fmt.Sprintf(`"fan" must be 1 to %d bytes of text`, maxFanLen))
		}
		q.Fan = string(fan)
	}
	if l := args.Peek("limit"); len(l) > 0 {
		n, err := strconv.Atoi(string(l))
		if err != nil || n < 1 || n > max {
			return q, 0, badRequest(fmt.Sprintf(`"limit" must be 1 to %d`, max))
		}
		limit = n
	}
	if args.Has("cursor") {
		k, err := decodeCursor(string(args.Peek("cursor")))
		if err != nil {
			return q, 0, err
		}
		q.After = &k
	}
	return q, limit, nil
}

// adminOrder is an order as its organizer sees it in a listing: the fan's view and who the fan is.
type adminOrder struct {
	orderView
	Fan string `json:"fan"`
}

type adminOrdersView struct {
	Orders     []adminOrder `json:"orders"`
	NextCursor *string      `json:"next_cursor"`
}

// ordersPage reads one page of q: limit orders, and the cursor of the next page when there is one.
func (s *Server) ordersPage(ctx context.Context, q settlement.OrderQuery, limit int) ([]settlement.Order, *string, error) {
	q.Limit = limit + 1 // one more says whether a next page exists
	list, err := s.settl.Orders(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	if len(list) <= limit {
		return list, nil, nil
	}
	list = list[:limit]
	next := encodeCursor(list[limit-1].Key())
	return list, &next, nil
}

// eventOrders: GET /v1/admin/events/{event}/orders, a page of the event's orders, newest first.
func (s *Server) eventOrders(ctx *fasthttp.RequestCtx, event string) error {
	actx, cancel, err := s.organizerEvent(ctx, event)
	if err != nil {
		return err
	}
	defer cancel()
	q, limit, err := orderQuery(ctx.QueryArgs(), maxAdminOrderPage)
	if err != nil {
		return err
	}
	q.Event, limit = event, cmp.Or(limit, defaultOrderPage)
	list, next, err := s.ordersPage(actx, q, limit)
	if err != nil {
		return fmt.Errorf("orders of %s: %w", event, err)
	}
	out := adminOrdersView{Orders: make([]adminOrder, 0, len(list)), NextCursor: next}
	for _, o := range list {
		v, err := s.viewOrder(o)
		if err != nil {
			return err
		}
		v.Payment = nil // the fan's client secret is the fan's
		out.Orders = append(out.Orders, adminOrder{orderView: v, Fan: o.Fan})
	}
	return writeJSON(ctx, fasthttp.StatusOK, out)
}

// csvHeader names the columns of the orders export.
var csvHeader = []string{"order_id", "created_at", "updated_at", "status", "fan", "items", "seats", "total",
	"currency", "payment_intent", "failure_reason", "refund_reason", "hold_id"}

// csvRow is one order of the export. Amounts are in minor units, like the JSON API.
func csvRow(o settlement.Order) []string {
	items := make([]string, len(o.Lines))
	for i, l := range o.Lines {
		items[i] = l.Section + " x" + strconv.Itoa(l.Quantity)
	}
	row := []string{o.ID, o.CreatedAt.UTC().Format(time.RFC3339Nano), o.UpdatedAt.UTC().Format(time.RFC3339Nano),
		string(o.Status), o.Fan, strings.Join(items, "; "), strings.Join(o.Seats, " "), strconv.FormatInt(o.Total, 10),
		o.Currency, o.PaymentIntent, o.FailureReason, o.RefundReason, o.HoldID}
	for i, c := range row {
		row[i] = csvSafe(c)
	}
	return row
}

// csvSafe keeps a spreadsheet from reading a cell as a formula (CSV injection): text that begins with = + - @, a
// tab or a carriage return gets a leading apostrophe, which spreadsheets show as text and do not evaluate. Quoting
// and escaping are encoding/csv's.
func csvSafe(c string) string {
	if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
		return "'" + c
	}
	return c
}

// eventOrdersCSV: GET /v1/admin/events/{event}/orders.csv, the orders the same filters select, all of them (or
// limit) from the cursor on, streamed. The first chunk is read before the answer starts, so a ledger that cannot
// be read answers a problem; a failure later ends the file early (and is logged).
func (s *Server) eventOrdersCSV(ctx *fasthttp.RequestCtx, event string) error {
	actx, cancel, err := s.organizerEvent(ctx, event)
	if err != nil {
		return err
	}
	defer cancel()
	q, limit, err := orderQuery(ctx.QueryArgs(), maxCSVRows)
	if err != nil {
		return err
	}
	q.Event = event
	chunk := func(ctx context.Context, left int) ([]settlement.Order, error) {
		q.Limit = csvOrderPage
		if limit > 0 {
			q.Limit = min(q.Limit, left)
		}
		list, err := s.settl.Orders(ctx, q)
		if len(list) > 0 {
			k := list[len(list)-1].Key()
			q.After = &k
		}
		return list, err
	}
	first, err := chunk(actx, limit)
	if err != nil {
		return fmt.Errorf("orders of %s: %w", event, err)
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("text/csv; charset=utf-8")
	h := &ctx.Response.Header
	h.Set(fasthttp.HeaderContentDisposition, `attachment; filename="`+event+`-orders.csv"`) // event ids are [A-Za-z0-9_-]
	h.Set(fasthttp.HeaderCacheControl, "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	ctx.SetBodyStreamWriter(func(bw *bufio.Writer) {
		sctx, cancel := context.WithTimeout(s.base, csvExportTimeout)
		defer cancel()
		w := csv.NewWriter(bw)
		_ = w.Write(csvHeader)
		list, written := first, 0
		for {
			for _, o := range list {
				_ = w.Write(csvRow(o))
			}
			written += len(list)
			if w.Flush(); w.Error() != nil || bw.Flush() != nil {
				return // the client went away
			}
			if len(list) < q.Limit || limit > 0 && written >= limit {
				return
			}
			var err error
			if list, err = chunk(sctx, limit-written); err != nil {
				s.log.Error("orders export cut short", "event", event, "rows", written, "err", err)
				return
			}
		}
	})
	return nil
}

type fanOrder struct {
	orderView
	// OrderToken opens the order and its page (/o/{order}?t=…) without the fan's sign-in, as checkout's does.
	OrderToken string `json:"order_token"`
}

type fanOrdersView struct {
	Orders     []fanOrder `json:"orders"`
	NextCursor *string    `json:"next_cursor"`
}

var errFanSignIn = problemf(401, typeUnauthorized,
	"a fan's orders are listed for an OIDC sign-in; without an issuer each order opens with its order_token")

// myOrders: GET /v1/me/orders, the signed-in fan's orders across events, newest first, with their tickets.
func (s *Server) myOrders(ctx *fasthttp.RequestCtx, _ string) error {
	fan, identified, err := s.auth.fan(ctx)
	if err != nil {
		return err
	}
	if !identified {
		return errFanSignIn // dev mode names fans by a field anyone may write: no credential to list by
	}
	q, limit, err := orderQuery(ctx.QueryArgs(), maxFanOrderPage)
	if err != nil {
		return err
	}
	if q.Fan != "" {
		return badRequest(`"fan" is the token's subject here`)
	}
	q.Fan, limit = fan, cmp.Or(limit, defaultOrderPage)
	actx, cancel := adminCtx()
	defer cancel()
	list, next, err := s.ordersPage(actx, q, limit)
	if err != nil {
		return fmt.Errorf("orders of a fan: %w", err)
	}
	out := fanOrdersView{Orders: make([]fanOrder, 0, len(list)), NextCursor: next}
	for _, o := range list {
		v, err := s.viewOrder(o)
		if err != nil {
			return err
		}
		out.Orders = append(out.Orders, fanOrder{orderView: v, OrderToken: s.tickets.orders.Issue(o.ID)})
	}
	return writeJSON(ctx, fasthttp.StatusOK, out)
}
