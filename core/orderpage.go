package core

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"html/template"
	"net/url"
	"strings"

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
	PDF     string // the tickets as a PDF, when any is valid
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

// failureText tells a fan why an order failed, in words; a provider's other codes get the generic sentence. Stripe
// asks that a fraud or lost-card decline be shown as a plain decline.
var failureText = map[string]string{
	settlement.ReasonHoldExpired:            "The payment came after your hold on the tickets had ended, so it was cancelled.",
	settlement.ReasonCaptureFailed:          "The payment could not be completed, so the tickets went back on sale.",
	settlement.ReasonEventCancelled:         "The event was cancelled before the payment went through.",
	"card_declined":                         "Your card was declined.",
	"fraudulent":                            "Your card was declined.",
	"lost_card":                             "Your card was declined.",
	"stolen_card":                           "Your card was declined.",
	"generic_decline":                       "Your card was declined.",
	"insufficient_funds":                    "Your card has insufficient funds.",
	"expired_card":                          "Your card has expired.",
	"incorrect_cvc":                         "The card's security code was incorrect.",
	"processing_error":                      "The card could not be processed.",
	"payment_intent_authentication_failure": "The card's 3-D Secure check did not pass.",
	"canceled":                              "The payment was cancelled.",
}

// refundText tells a fan who gave the money back.
var refundText = map[string]string{
	settlement.RefundByOrganizer:    "The organizer refunded this order.",
	settlement.RefundAtProvider:     "The payment was refunded.",
	settlement.ReasonEventCancelled: "The event was cancelled, so the order was refunded.",
}

// orderNote is what the page says of the order beside its status: why it failed or was refunded, or what comes
// next.
func orderNote(o settlement.Order) string {
	base := orderStatusText[o.Status][1]
	switch {
	case o.Status == settlement.Failed && o.FailureReason != "":
		why, ok := failureText[o.FailureReason]
		if !ok {
			why = "The payment did not go through (" + o.FailureReason + ")."
		}
		return why + " " + base
	case o.Status == settlement.Refunded && o.FailureReason == settlement.ReasonOversold:
		return "Someone else had bought these seats a moment before, so no ticket was issued and the payment was refunded in full."
	case o.Status == settlement.Refunded:
		return refundText[o.RefundReason] + " " + base
	case o.RefundRequested || o.RefundReason != "":
		why := refundText[o.RefundReason]
		return why + " The money is on its way back to your card; the tickets are revoked and admit no one."
	}
	return base
}

var ticketStatusText = map[settlement.TicketStatus]string{
	settlement.TicketValid:     "Valid",
	settlement.TicketCheckedIn: "Checked in",
	settlement.TicketRevoked:   "Revoked",
}

// orderByLink reads the order a page's link names: its token is in the query (t), and a missing, forged or other
// order's token is answered as not found, like the API does.
func (s *Server) orderByLink(ctx *fasthttp.RequestCtx, id string) (settlement.Order, orderView, error) {
	owner, err := s.tickets.orders.Verify(string(ctx.QueryArgs().Peek("t")))
	if err != nil || owner != id {
		return settlement.Order{}, orderView{}, errNotFound
	}
	o, err := s.settl.Order(context.Background(), id)
	if err != nil {
		return o, orderView{}, fmt.Errorf("order %s: %w", id, err)
	}
	v, err := s.viewOrder(o)
	return o, v, err
}

// orderPage: GET /o/{order}?t=<order_token>. The order's token is the page's one credential, so a fan can keep the
// link; a missing, forged or other order's token is answered as not found, like the API does.
func (s *Server) orderPage(ctx *fasthttp.RequestCtx, id string) error {
	o, v, err := s.orderByLink(ctx, id)
	if err != nil {
		return err
	}
	d := orderPageData{Order: v, Status: v.Status, Note: strings.TrimSpace(orderNote(o))}
	if t, ok := orderStatusText[o.Status]; ok {
		d.Status = t[0]
	}
	if o.Status == settlement.Paid && (o.RefundRequested || o.RefundReason != "") {
		d.Status = "Refund under way"
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
		if !tp.Revoked {
			d.PDF = "/o/" + url.PathEscape(id) + "/tickets.pdf?t=" + url.QueryEscape(string(ctx.QueryArgs().Peek("t")))
		}
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
