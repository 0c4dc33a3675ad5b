package core

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"codeberg.org/go-pdf/fpdf"
	"github.com/valyala/fasthttp"
	"rsc.io/qr"

	"github.com/onsale/onsale/settlement"
)

// orderPDF: GET /o/{order}/tickets.pdf?t=<order_token>, the order's tickets to print or keep offline: one A4 half
// page per ticket with its QR code drawn as vector squares, so it prints sharp at any size. Like the page, the
// order's token is the one credential and anything else is not found; an order with no valid ticket has no PDF.
func (s *Server) orderPDF(ctx *fasthttp.RequestCtx, id string) error {
	_, v, err := s.orderByLink(ctx, id)
	if err != nil {
		return err
	}
	name := v.Event
	if ev, err := s.inv.Event(context.Background(), v.Event); err == nil && ev.Name != "" {
		name = ev.Name
	}
	var valid []ticketView
	for _, t := range v.Tickets {
		if settlement.TicketStatus(t.Status) != settlement.TicketRevoked {
			valid = append(valid, t)
		}
	}
	if len(valid) == 0 {
		return problemf(409, typeConflict, "the order has no valid tickets to print")
	}
	b, err := ticketsPDF(name, v.OrderID, valid)
	if err != nil {
		return fmt.Errorf("tickets of %s as PDF: %w", id, err)
	}
	h := &ctx.Response.Header
	h.Set(fasthttp.HeaderCacheControl, "private, no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set(fasthttp.HeaderContentDisposition, `attachment; filename="tickets-`+asciiFileName(v.OrderID)+`.pdf"`)
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/pdf")
	ctx.SetBody(b)
	return nil
}

// ticketsPDF lays out the tickets two to an A4 page.
func ticketsPDF(event, order string, ts []ticketView) ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetTitle("Tickets, order "+order, true)
	pdf.SetCreator("onsale", true)
	pdf.SetAutoPageBreak(false, 0)
	tr := pdf.UnicodeTranslatorFromDescriptor("") // cp1252: the core fonts' accents (é, ü, …)
	for i, t := range ts {
		top := 12.0
		if i%2 == 0 {
			pdf.AddPage()
		} else {
			top = 12 + 148.5
			pdf.SetDrawColor(160, 160, 160)
			pdf.SetDashPattern([]float64{2, 2}, 0)
			pdf.Line(10, 148.5, 200, 148.5)
			pdf.SetDashPattern(nil, 0)
		}
		pdf.SetTextColor(0, 0, 0)
		pdf.SetFont("Helvetica", "B", 18)
		pdf.SetXY(14, top)
		pdf.MultiCell(100, 8, tr(event), "", "L", false)
		pdf.SetFont("Helvetica", "", 12)
		seat := "General admission"
		if t.Seat != "" {
			seat = "Seat " + t.Seat
		}
		pdf.SetX(14)
		pdf.MultiCell(100, 6, tr("Section "+t.Section+"\n"+seat), "", "L", false)
		pdf.SetFont("Helvetica", "", 9)
		pdf.SetTextColor(80, 80, 80)
		pdf.SetX(14)
		pdf.MultiCell(100, 5, tr(fmt.Sprintf("Ticket %s (%d of %d)\nOrder %s\nShow this code at the door, printed or on screen. "+
			"It lets one person in once.", t.TicketID, i+1, len(ts), order)), "", "L", false)
		if err := drawQR(pdf, t.Code, 120, top, 76); err != nil {
			return nil, fmt.Errorf("ticket %s: %w", t.TicketID, err)
		}
	}
	var b bytes.Buffer
	if err := pdf.Output(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// drawQR draws text's QR code with its quiet zone in a square of side mm at (x, y).
func drawQR(pdf *fpdf.Fpdf, text string, x, y, side float64) error {
	c, err := qr.Encode(text, qr.M)
	if err != nil {
		return err
	}
	m := side / float64(c.Size+2*qrQuiet)
	pdf.SetFillColor(0, 0, 0)
	for r := 0; r < c.Size; r++ {
		for col := 0; col < c.Size; {
			if !c.Black(col, r) {
				col++
				continue
			}
			run := 1
			for c.Black(col+run, r) {
				run++
			}
			pdf.Rect(x+float64(col+qrQuiet)*m, y+float64(r+qrQuiet)*m, float64(run)*m, m, "F")
			col += run
		}
	}
	return pdf.Error()
}

// asciiFileName keeps the characters a download's file name can carry anywhere.
func asciiFileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}
