package core

import (
	"context"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/tickets"
)

// The door: scanners (door staff, authenticated as organizers or with the door role) fetch an event's public keys
// and revocation list to verify offline, and record each scan here; the ledger lets a ticket in once.

const (
	maxNonceLen = 128
	maxGateLen  = 64
)

type checkinBody struct {
	Code      string     `json:"code"`
	Nonce     string     `json:"nonce"`
	Gate      string     `json:"gate"`
	Direction string     `json:"direction"`
	ScannedAt *time.Time `json:"scanned_at"`
	// Admitted: the scanner, offline, already let the holder in; a refusal now is counted as a conflict.
	Admitted bool `json:"admitted"`
}

type checkinView struct {
	Result       string     `json:"result"`
	TicketID     string     `json:"ticket_id,omitempty"`
	FirstEntryAt *time.Time `json:"first_entry_at,omitempty"`
	Section      string     `json:"section,omitempty"`
	Seat         string     `json:"seat,omitempty"`
	Replayed     bool       `json:"replayed,omitempty"`
}

// checkin: POST /v1/events/{event}/checkin.
func (s *Server) checkin(ctx *fasthttp.RequestCtx, event string) error {
	who, err := s.auth.door(ctx)
	if err != nil {
		return err
	}
	var b checkinBody
	if err := decodeJSON(ctx.PostBody(), &b, false); err != nil {
		return err
	}
	switch {
	case b.Nonce == "" || len(b.Nonce) > maxNonceLen || !printableASCII(b.Nonce):
		return badRequest(fmt.Sprintf(`"nonce" must be 1 to %d printable characters`, maxNonceLen))
	case len(b.Gate) > maxGateLen || !printableASCII(b.Gate):
		return badRequest(fmt.Sprintf(`"gate" must be at most %d printable characters`, maxGateLen))
	case b.Direction != "" && b.Direction != "entry" && b.Direction != "exit":
		return badRequest(`"direction" must be entry or exit`)
	}
	dir := b.Direction
	if dir == "" {
		dir = "entry"
	}
	actx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.ownedEvent(actx, who, event); err != nil {
		return err
	}
	scan := settlement.Scan{Event: event, Nonce: b.Nonce, Gate: b.Gate, Direction: dir, Admitted: b.Admitted}
	if b.ScannedAt != nil {
		scan.ScannedAt = b.ScannedAt.UTC()
	}
	var claims tickets.Claims
	if len(b.Code) > tickets.MaxCodeLen {
		scan.Verdict = settlement.ScanInvalid
	} else {
		c, v, err := s.tickets.check(actx, b.Code, event)
		if err != nil {
			return err
		}
		claims = c
		switch v {
		case tickets.VerdictValid:
			scan.TicketID = c.TicketID
		case tickets.VerdictWrongEvent:
			scan.Verdict = settlement.ScanWrongEvent
		default:
			scan.Verdict = settlement.ScanInvalid
		}
	}
	r, err := s.settl.CheckIn(actx, scan)
	if err != nil {
		return err
	}
	s.metrics.scans.WithLabelValues(r.Result).Inc()
	v := checkinView{Result: r.Result, TicketID: r.TicketID, Replayed: r.Replayed}
	if !r.FirstEntryAt.IsZero() {
		v.FirstEntryAt = &r.FirstEntryAt
	}
	if r.TicketID != "" && r.TicketID == claims.TicketID {
		v.Section, v.Seat = claims.Section, claims.Seat
	}
	return writeJSON(ctx, fasthttp.StatusOK, v)
}

// checkinKeys: GET /v1/events/{event}/checkin/keys, the event's public keys as a JWKS.
func (s *Server) checkinKeys(ctx *fasthttp.RequestCtx, event string) error {
	actx, cancel, err := s.atTheDoor(ctx, event)
	if err != nil {
		return err
	}
	defer cancel()
	if _, err := s.tickets.signer(actx, event); err != nil { // an event's first key, if it has none yet
		return fmt.Errorf("ticket keys of %s: %w", event, err)
	}
	keys, err := s.tickets.keys(actx, event)
	if err != nil {
		return fmt.Errorf("ticket keys of %s: %w", event, err)
	}
	return writeJSON(ctx, fasthttp.StatusOK, tickets.PublicJWKS(keys))
}

type revokedView struct {
	Revoked []string  `json:"revoked"`
	AsOf    time.Time `json:"as_of"`
}

// checkinRevoked: GET /v1/events/{event}/checkin/revoked.
func (s *Server) checkinRevoked(ctx *fasthttp.RequestCtx, event string) error {
	actx, cancel, err := s.atTheDoor(ctx, event)
	if err != nil {
		return err
	}
	defer cancel()
	ids, asOf, err := s.settl.RevokedTickets(actx, event)
	if err != nil {
		return fmt.Errorf("revoked tickets of %s: %w", event, err)
	}
	return writeJSON(ctx, fasthttp.StatusOK, revokedView{Revoked: ids, AsOf: asOf})
}

type rotatedView struct {
	Current string `json:"current"` // the kid that signs the event's codes from now on
	tickets.JWKSet
}

// rotateTicketKey: POST /v1/admin/events/{event}/ticket-keys → 201: a new key signs the event's codes from now on;
// the older ones stay in the JWKS and keep verifying what they signed. Scanners fetch the keys again before the
// doors open.
func (s *Server) rotateTicketKey(ctx *fasthttp.RequestCtx, event string) error {
	actx, cancel, err := s.organizerEvent(ctx, event)
	if err != nil {
		return err
	}
	defer cancel()
	k, err := s.tickets.rotate(actx, event, true)
	if err != nil {
		return fmt.Errorf("rotate the ticket key of %s: %w", event, err)
	}
	keys, err := s.tickets.keys(actx, event)
	if err != nil {
		return fmt.Errorf("ticket keys of %s: %w", event, err)
	}
	s.log.Info("ticket key rotated", "event", event, "kid", k.ID)
	return writeJSON(ctx, fasthttp.StatusCreated, rotatedView{Current: k.ID, JWKSet: tickets.PublicJWKS(keys)})
}

// atTheDoor checks door staff's credentials and that the event is one of theirs; cancel ends the returned context.
func (s *Server) atTheDoor(ctx *fasthttp.RequestCtx, event string) (context.Context, context.CancelFunc, error) {
	return s.callerEvent(ctx, event, s.auth.door)
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
