package core

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"html/template"

	"github.com/valyala/fasthttp"

	"github.com/onsale/onsale/settlement"
)

var orderTemplate = template.Must(template.ParseFS(webFS, "web/order.html"))

// orderPageData is what web/order.html shows.
type orderPageData struct {
	Order   orderView
	Status  string // the order's status in words
	Note    string
	Tickets []ticketPage
}

type ticketPage struct {
	ticketView
	StatusText string
	Revoked    bool
	QR         template.HTML
}

var orderStatusText = map[settlement.Status][2]string{
	settlement.Pending:        {"Pending", "The payment is being processed; the tickets appear here once it is paid."},
	settlement.Paying:         {"Pending", "The payment is being processed; the tickets appear here once it is paid."},
	settlement.RequiresAction: {"Requires action", "Confirm the payment on the event's page; the tickets appear here once it is paid."},
	settlement.Paid:           {"Paid", ""},
	settlement.Failed:         {"Failed", "No money was taken and there are no tickets."},
	settlement.Refunded:       {"Refunded", "The order was refunded: its tickets are revoked and admit no one."},
}

var ticketStatusText = map[settlement.TicketStatus]string{
	settlement.TicketValid:     "Valid",
	settlement.TicketCheckedIn: "Checked in",
	settlement.TicketRevoked:   "Revoked",
}

// orderPage: GET /o/{order}?t=<order_token>. The order's token is the page's one credential, so a fan can keep the
// link; a missing, forged or other order's token is answered as not found, like the API does.
func (s *Server) orderPage(ctx *fasthttp.RequestCtx, id string) error {
	owner, err := s.tickets.orders.Verify(string(ctx.QueryArgs().Peek("t")))
	if err != nil || owner != id {
		return errNotFound
	}
	o, err := s.settl.Order(context.Background(), id)
	if err != nil {
		return fmt.Errorf("order %s: %w", id, err)
	}
	v, err := s.viewOrder(o)
	if err != nil {
		return err
	}
	d := orderPageData{Order: v, Status: v.Status}
	if t, ok := orderStatusText[o.Status]; ok {
		d.Status, d.Note = t[0], t[1]
	}
	for _, t := range v.Tickets {
		st := settlement.TicketStatus(t.Status)
		tp := ticketPage{ticketView: t, StatusText: ticketStatusText[st], Revoked: st == settlement.TicketRevoked}
		if tp.StatusText == "" {
			tp.StatusText = t.Status
		}
		if !tp.Revoked {
			label := "Ticket " + t.TicketID + ", section " + t.Section
			if t.Seat != "" {
				label += ", seat " + t.Seat
			}
			svg, err := qrSVG(t.Code, label)
			if err != nil {
				return fmt.Errorf("ticket %s: %w", t.TicketID, err)
			}
			tp.QR = template.HTML(svg) // built from numbers and an escaped label
		}
		d.Tickets = append(d.Tickets, tp)
	}
	var b bytes.Buffer
	if err := orderTemplate.Execute(&b, d); err != nil {
		return err
	}
	h := &ctx.Response.Header
	h.Set(fasthttp.HeaderCacheControl, "private, no-store") // the page holds the tickets' codes
	h.Set("Referrer-Policy", "no-referrer")                 // the token is in the URL
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	h.Set(fasthttp.HeaderVary, fasthttp.HeaderAcceptEncoding)
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType(htmlType)
	if ctx.Request.Header.HasAcceptEncoding("gzip") {
		var z bytes.Buffer
		w, _ := gzip.NewWriterLevel(&z, gzip.DefaultCompression) // the level is valid
		_, _ = w.Write(b.Bytes())                                // a bytes.Buffer does not fail
		_ = w.Close()
		h.Set(fasthttp.HeaderContentEncoding, "gzip")
		ctx.SetBody(z.Bytes())
		return nil
	}
	ctx.SetBody(b.Bytes())
	return nil
}
