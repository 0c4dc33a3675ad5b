package settlement

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TicketStatus is a ticket's state at the door.
type TicketStatus string

const (
	TicketValid     TicketStatus = "valid"      // paid, not inside
	TicketCheckedIn TicketStatus = "checked-in" // inside: entered and not exited since
	TicketRevoked   TicketStatus = "revoked"    // its order was refunded (or the refund is under way)
)

// Ticket is one unit of a paid order: written in the ledger transaction that marks the order paid, revoked in the
// one that asks for its refund. Its code (what the QR holds) is signed from these fields when it is read.
type Ticket struct {
	ID           string       `json:"ticket_id"`
	OrderID      string       `json:"-"`
	Event        string       `json:"-"`
	Section      string       `json:"section"`
	Seat         string       `json:"seat,omitempty"`
	Status       TicketStatus `json:"status"`
	FirstEntryAt time.Time    `json:"-"`
}

// TicketsOf lists the tickets an order's units get: one per seat of its seated lines (a seat id's section is what
// precedes its first dash: section ids have none), then one per unit of its general admission lines, numbered
// from 1 in that order. The ids are derived from the order's, so writing them again changes nothing.
func TicketsOf(o Order) []Ticket {
	base := "tk_" + strings.TrimPrefix(o.ID, "ord_") + "-"
	seated := make(map[string]int, len(o.Lines))
	out := make([]Ticket, 0, len(o.Seats)+len(o.Lines))
	add := func(section, seat string) {
		out = append(out, Ticket{ID: base + strconv.Itoa(len(out)+1), OrderID: o.ID, Event: o.Event,
			Section: section, Seat: seat, Status: TicketValid})
	}
	for _, seat := range o.Seats {
		sec, _, _ := strings.Cut(seat, "-")
		seated[sec]++
		add(sec, seat)
	}
	for _, l := range o.Lines {
		for range max(0, l.Quantity-seated[l.Section]) {
			add(l.Section, "")
		}
	}
	return out
}

// Tickets returns a paid or refunded order's tickets (none for any other order).
func (s *Service) Tickets(ctx context.Context, orderID string) ([]Ticket, error) {
	ts, err := s.ledger.Tickets(ctx, orderID)
	if err != nil {
		return nil, fmt.Errorf("tickets of %s: %w", orderID, err)
	}
	return ts, nil
}

// SortTickets orders tickets by their number (the id's suffix), as TicketsOf made them.
func SortTickets(ts []Ticket) {
	num := func(id string) int {
		i := strings.LastIndexByte(id, '-')
		n, _ := strconv.Atoi(id[i+1:])
		return n
	}
	slices.SortFunc(ts, func(a, b Ticket) int { return cmp.Compare(num(a.ID), num(b.ID)) })
}

// RevokedTickets, CheckIn, DoorStats, SaveTicketKey and TicketKeys are the ledger's, for core's door and ticket
// signing.
func (s *Service) RevokedTickets(ctx context.Context, event string) ([]string, time.Time, error) {
	return s.ledger.RevokedTickets(ctx, event)
}

func (s *Service) CheckIn(ctx context.Context, sc Scan) (ScanResult, error) {
	res, err := s.ledger.CheckIn(ctx, sc)
	if err != nil {
		return ScanResult{}, fmt.Errorf("check in: %w", err)
	}
	return res, nil
}

func (s *Service) DoorStats(ctx context.Context, event string) (DoorStats, error) {
	return s.ledger.DoorStats(ctx, event)
}

func (s *Service) SaveTicketKey(ctx context.Context, k TicketKey) error {
	return s.ledger.SaveTicketKey(ctx, k)
}

func (s *Service) TicketKeys(ctx context.Context, event string) ([]TicketKey, error) {
	return s.ledger.TicketKeys(ctx, event)
}
