package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/waitroom"
)

// Holds, checkout and orders: every call carries the waiting room's access token, which names the fan; a hold or
// order of another fan is answered as not found, so nothing is revealed about it.

const (
	headerIdempotencyKey = "Idempotency-Key"
	maxIdempotencyKey    = 255
	maxPaymentMethod     = 255
)

// admitted returns the fan an access token admits to event.
func (s *Server) admitted(ctx *fasthttp.RequestCtx, event string) (string, error) {
	return s.verify(ctx, event, s.room.VerifyAccess)
}

// reader returns the fan whose access token, unexpired or expired within the room's read grace, names it for
// event: reading one's own hold or order must not end with the access, or a fan whose order is still pending
// when the token expires could never see how it ended. Every call that changes something uses admitted.
func (s *Server) reader(ctx *fasthttp.RequestCtx, event string) (string, error) {
	return s.verify(ctx, event, s.room.VerifyAccessForRead)
}

func (s *Server) verify(ctx *fasthttp.RequestCtx, event string, check func(event, token string) (string, error)) (string, error) {
	tok := bearer(ctx)
	if len(tok) == 0 {
		return "", errNoAccess
	}
	fan, err := check(event, string(tok))
	return fan, accessProblem(err)
}

// admittedAccess is admitted keeping the verified access, for the calls that go on to tell the room about the fan.
func (s *Server) admittedAccess(ctx *fasthttp.RequestCtx, event string) (waitroom.Access, error) {
	tok := bearer(ctx)
	if len(tok) == 0 {
		return waitroom.Access{}, errNoAccess
	}
	a, err := s.room.Admitted(event, string(tok))
	return a, accessProblem(err)
}

func accessProblem(err error) error {
	switch {
	case err == nil, errors.Is(err, waitroom.ErrClosed): // cancelled: nothing more is sold
		return err
	}
	return problemf(403, typeNotAdmitted, "the access token is forged, expired or for another event")
}

// finished frees the fan's active slot in the waiting room (errors are logged: the slot then ends with the fan's
// idle time instead).
func (s *Server) finished(event, fan, why string) {
	if err := s.room.Finished(context.Background(), event, fan); err != nil {
		s.log.Warn("free an active slot", slog.String("event", event), slog.String("why", why), slog.Any("err", err))
	}
}

func idempotencyKey(ctx *fasthttp.RequestCtx) (string, error) {
	k := ctx.Request.Header.Peek(headerIdempotencyKey)
	if len(k) > maxIdempotencyKey {
		return "", badRequest(fmt.Sprintf("Idempotency-Key is longer than %d bytes", maxIdempotencyKey))
	}
	return string(k), nil
}

// createHold: POST /v1/events/{event}/holds.
func (s *Server) createHold(ctx *fasthttp.RequestCtx, event string) error {
	access, err := s.admittedAccess(ctx, event)
	if err != nil {
		return err
	}
	fan := access.Fan
	body, err := s.holdBody(ctx.PostBody())
	if err != nil {
		s.metrics.holdResult(holdInvalid)
		return err
	}
	if err := body.validate(); err != nil {
		s.metrics.holdResult(holdInvalid)
		return err
	}
	req := inventory.HoldRequest{Event: event, Fan: fan, Items: body.Items, Seats: body.Seats}
	if req.IdempotencyKey, err = idempotencyKey(ctx); err != nil {
		return err
	}
	if req.IdempotencyKey != "" {
		req.Fingerprint = inventory.RequestFingerprint(req)
	}
	h, err := s.inv.Hold(context.Background(), req)
	if err != nil {
		res := holdResultOf(err)
		s.metrics.holdResult(res)
		if errors.Is(err, inventory.ErrSoldOut) {
			s.soldOutFan(event, fan)
		}
		if res == holdSoldOut || res == holdSeatsUnavailable || res == holdLimitExceeded {
			// Refused: a fan who does not try again soon has walked away and should not keep a shopper's slot.
			s.room.QuietAccess(access, s.now())
		}
		return fmt.Errorf("hold in %s: %w", event, err)
	}
	// Held units are out of what admission counts as available; the slot matters again only if the hold lapses.
	s.room.QuietAccess(access, h.ExpiresAt)
	s.metrics.holdsCreated.Inc()
	s.ids.add(h.Event)
	for i := range h.Lines {
		s.ids.add(h.Lines[i].Section)
	}
	writeHold(ctx, fasthttp.StatusCreated, &h)
	return nil
}

// holdBody reads a hold's body: the fast parser, or encoding/json for what it does not take (and the precise error).
// The fallback's value is its own, so the common case keeps the body off the heap.
func (s *Server) holdBody(raw []byte) (holdBody, error) {
	var body holdBody
	if len(raw) <= maxBody && parseHoldBody(raw, &body, &s.ids) {
		return body, nil
	}
	slow := new(holdBody)
	if err := decodeJSON(raw, slow, false); err != nil {
		return holdBody{}, err
	}
	return *slow, nil
}

// soldOutFan frees the slot of a fan told sold-out when the event has nothing available at all: nothing they can
// do will buy a unit unless held units come back, and then admission counts them as available again. (A sold-out
// section while others still sell keeps the fan: they may pick another.) It reads the availability cache, not the
// store: at sell-out every hold is answered sold-out, and each asking the store again would double the load then.
func (s *Server) soldOutFan(event, fan string) {
	_, available, err := s.avail.get(context.Background(), event)
	if err != nil {
		s.log.Warn("remaining stock after a sold-out hold", slog.String("event", event), slog.Any("err", err))
		return
	}
	if available <= 0 {
		s.finished(event, fan, "sold out")
	}
}

func holdResultOf(err error) string {
	switch {
	case errors.Is(err, inventory.ErrSoldOut):
		return holdSoldOut
	case errors.Is(err, inventory.ErrSeatsUnavailable):
		return holdSeatsUnavailable
	case errors.Is(err, inventory.ErrLimitExceeded):
		return holdLimitExceeded
	case errors.Is(err, inventory.ErrInvalid), errors.Is(err, inventory.ErrNotFound),
		errors.Is(err, inventory.ErrIdempotencyReused):
		return holdInvalid
	}
	return holdError
}

func writeHold(ctx *fasthttp.RequestCtx, status int, h *inventory.Hold) {
	buf := getBuf()
	b := append(buf.b[:0], `{"hold_id":`...)
	b = appendJSONString(b, h.ID)
	b = append(b, `,"event":`...)
	b = appendJSONString(b, h.Event)
	b = append(b, `,"state":`...)
	b = appendJSONString(b, string(h.State))
	b = append(b, `,"created_at":`...)
	b = appendTime(b, h.CreatedAt)
	b = append(b, `,"expires_at":`...)
	b = appendTime(b, h.ExpiresAt)
	b = append(b, `,"seats":[`...)
	for i, seat := range h.Seats {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, seat)
	}
	b = append(b, `],"items":[`...)
	for i, l := range h.Lines {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"section":`...)
		b = appendJSONString(b, l.Section)
		b = append(b, `,"quantity":`...)
		b = appendInt(b, int64(l.Quantity))
		b = append(b, `,"unit_price":`...)
		b = appendInt(b, l.UnitPrice)
		b = append(b, `,"amount":`...)
		b = appendInt(b, l.Amount)
		b = append(b, '}')
	}
	b = append(b, `],"units":`...)
	b = appendInt(b, int64(h.Units))
	b = append(b, `,"total":`...)
	b = appendMoney(b, h.Total, h.Currency)
	b = append(b, '}')
	writeRaw(ctx, status, b)
	putBuf(buf, b)
}

// holdFan returns the fan the request's access token admits to the event of a hold id (read: a token expired
// within the read grace will do).
func (s *Server) holdFan(ctx *fasthttp.RequestCtx, id string, read bool) (string, error) {
	event, ok := inventory.EventOfHold(id)
	if !ok {
		if len(bearer(ctx)) == 0 {
			return "", errNoAccess
		}
		return "", errNotFound
	}
	if read {
		return s.reader(ctx, event)
	}
	return s.admitted(ctx, event)
}

// ownHold loads a hold of the fan the request's access token admits; another fan's hold is not found.
func (s *Server) ownHold(ctx *fasthttp.RequestCtx, id string, read bool) (inventory.Hold, string, error) {
	fan, err := s.holdFan(ctx, id, read)
	if err != nil {
		return inventory.Hold{}, "", err
	}
	h, err := s.inv.Get(context.Background(), id)
	if err != nil {
		return inventory.Hold{}, "", fmt.Errorf("hold %s: %w", id, err)
	}
	if h.Fan != fan {
		return inventory.Hold{}, "", errNotFound
	}
	return h, fan, nil
}

// getHold: GET /v1/holds/{hold}.
func (s *Server) getHold(ctx *fasthttp.RequestCtx, id string) error {
	h, _, err := s.ownHold(ctx, id, true)
	if err != nil {
		return err
	}
	writeHold(ctx, fasthttp.StatusOK, &h)
	return nil
}

// releaseHold: DELETE /v1/holds/{hold}. A fan who gives a hold back is done shopping: their active slot is freed.
// Another live hold of theirs (the store cannot say cheaply) is harmless to free with it: held units are already
// out of what admission counts as available, and the fan's access token stays valid.
func (s *Server) releaseHold(ctx *fasthttp.RequestCtx, id string) error {
	h, fan, err := s.ownHold(ctx, id, false)
	if err != nil {
		return err
	}
	if _, err := s.inv.Release(context.Background(), id); err != nil {
		return fmt.Errorf("release %s: %w", id, err)
	}
	s.finished(h.Event, fan, "hold released")
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}

// extendHold: POST /v1/holds/{hold}/extend → 200 with the later expires_at. A hold's life is capped
// (MaxHoldLife from its creation): asking past the cap, or for a hold no longer held, is a conflict.
func (s *Server) extendHold(ctx *fasthttp.RequestCtx, id string) error {
	before, _, err := s.ownHold(ctx, id, false)
	if err != nil {
		return err
	}
	actx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ev, err := s.inv.Event(actx, before.Event)
	if err != nil {
		return fmt.Errorf("event %s: %w", before.Event, err)
	}
	h, err := s.inv.Extend(actx, id)
	switch {
	case errors.Is(err, inventory.ErrHoldExpired), errors.Is(err, inventory.ErrInvalidState):
		return problemf(409, typeConflict, "only a held hold can be extended; this one is "+string(before.State))
	case err != nil:
		return fmt.Errorf("extend %s: %w", id, err)
	case !h.ExpiresAt.After(before.ExpiresAt) && !h.ExpiresAt.Before(h.CreatedAt.Add(ev.MaxHoldLife)):
		return problemf(409, typeConflict, "the hold is at its longest life ("+ev.MaxHoldLife.String()+" from its creation)")
	}
	writeHold(ctx, fasthttp.StatusOK, &h)
	return nil
}

// checkout: POST /v1/holds/{hold}/checkout → 202 with a pending order.
func (s *Server) checkout(ctx *fasthttp.RequestCtx, id string) error {
	// The settlement checks the hold is this fan's (another fan's reads as not found), so no lookup here.
	fan, err := s.holdFan(ctx, id, false)
	if err != nil {
		return err
	}
	var body checkoutBody
	if err := decodeJSON(ctx.PostBody(), &body, false); err != nil {
		return err
	}
	method := ""
	if body.PaymentMethod != nil {
		method = *body.PaymentMethod
		if method == "" || len(method) > maxPaymentMethod {
			return badRequest(`"payment_method" must be 1 to 255 bytes (omit it to confirm the payment in the page)`)
		}
	}
	key, err := idempotencyKey(ctx)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	o, err := s.settl.Checkout(cctx, settlement.CheckoutRequest{HoldID: id, Fan: fan, PaymentMethod: method, IdempotencyKey: key})
	if err != nil {
		return fmt.Errorf("checkout %s: %w", id, err)
	}
	// The order holds the fan's units, already out of what admission counts as available: counting the fan as
	// a shopper too would keep a unit's worth of the queue out while it pays.
	if event, ok := inventory.EventOfHold(id); ok {
		s.room.Done(event, string(bearer(ctx)))
	}
	return writeJSON(ctx, fasthttp.StatusAccepted, checkoutView{OrderID: o.ID, HoldID: o.HoldID, Status: string(o.Status),
		OrderToken: s.tickets.orders.Issue(o.ID)})
}

type checkoutView struct {
	OrderID string `json:"order_id"`
	HoldID  string `json:"hold_id"`
	Status  string `json:"status"`
	// OrderToken opens the order and its tickets for as long as the order exists (the access token expires).
	OrderToken string `json:"order_token"`
}

// orderView is an order as fans see it.
type orderView struct {
	OrderID       string           `json:"order_id"`
	HoldID        string           `json:"hold_id"`
	Event         string           `json:"event"`
	Status        string           `json:"status"`
	Seats         []string         `json:"seats"`
	Items         []inventory.Line `json:"items"`
	Total         money            `json:"total"`
	PaymentIntent string           `json:"payment_intent"`
	Payment       *paymentView     `json:"payment,omitempty"`
	FailureReason string           `json:"failure_reason,omitempty"`
	PayBy         *time.Time       `json:"pay_by,omitempty"`
	RefundReason  string           `json:"refund_reason,omitempty"`
	Tickets       []ticketView     `json:"tickets,omitempty"`
	CreatedAt     time.Time        `json:"created_at"`
	UpdatedAt     time.Time        `json:"updated_at"`
}

// getOrder: GET /v1/orders/{order}, with the fan's access token or the order's own token.
func (s *Server) getOrder(ctx *fasthttp.RequestCtx, id string) error {
	tok := bearer(ctx)
	if len(tok) == 0 {
		return errNoAccess
	}
	o, err := s.settl.Order(context.Background(), id)
	if err != nil {
		return fmt.Errorf("order %s: %w", id, err)
	}
	if owner, err := s.tickets.orders.Verify(string(tok)); err == nil {
		if owner != o.ID {
			return errNotFound // another order's token: nothing is revealed about this one
		}
	} else {
		fan, err := s.reader(ctx, o.Event)
		if err != nil {
			return err
		}
		if o.Fan != fan {
			return errNotFound
		}
	}
	v, err := s.viewOrder(o)
	if err != nil {
		return err
	}
	return writeJSON(ctx, fasthttp.StatusOK, v)
}

// viewOrder is an order as its fan sees it, in the API and on the order page: with its tickets and their signed
// codes once paid.
func (s *Server) viewOrder(o settlement.Order) (orderView, error) {
	v := orderView{OrderID: o.ID, HoldID: o.HoldID, Event: o.Event, Status: string(o.Status), Seats: o.Seats,
		Items: o.Lines, Total: money{o.Total, o.Currency}, PaymentIntent: o.PaymentIntent,
		Payment: s.paymentOf(o), FailureReason: o.FailureReason, RefundReason: o.RefundReason,
		CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt}
	if o.Status == settlement.RequiresAction && !o.PayBy.IsZero() {
		v.PayBy = &o.PayBy
	}
	if v.Seats == nil {
		v.Seats = []string{}
	}
	if o.Status == settlement.Paid || o.Status == settlement.Refunded {
		tctx, cancel := adminCtx()
		defer cancel()
		ts, err := s.settl.Tickets(tctx, o.ID)
		if err != nil {
			return orderView{}, err
		}
		if v.Tickets, err = s.tickets.views(tctx, ts, o.Event); err != nil {
			return orderView{}, err
		}
	}
	return v, nil
}

// webhook: POST /v1/webhooks/stripe; the settlement verifies the signature.
func (s *Server) webhook(ctx *fasthttp.RequestCtx, _ string) error {
	body := ctx.PostBody()
	if len(body) > maxBody {
		return errTooLarge
	}
	wctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := s.settl.HandleWebhook(wctx, body, string(ctx.Request.Header.Peek("Stripe-Signature"))); err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	return writeJSON(ctx, fasthttp.StatusOK, map[string]bool{"received": true})
}
