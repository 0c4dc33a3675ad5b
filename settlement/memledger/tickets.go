package memledger

import (
	"context"
	"sort"
	"time"

	"github.com/onsale/onsale/settlement"
)

// revoke revokes an order's tickets; l.mu is held.
func (l *Ledger) revoke(orderID string) {
	for _, id := range l.byOrder[orderID] {
		t := l.tickets[id]
		if t.Status != settlement.TicketRevoked {
			l.sell(t.Ticket, -1)
		}
		t.Status, t.inside = settlement.TicketRevoked, false
	}
}

func (t *ticket) view() settlement.Ticket {
	v := t.Ticket
	if t.inside && v.Status == settlement.TicketValid {
		v.Status = settlement.TicketCheckedIn
	}
	return v
}

func (l *Ledger) Tickets(_ context.Context, orderID string) ([]settlement.Ticket, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]settlement.Ticket, 0, len(l.byOrder[orderID]))
	for _, id := range l.byOrder[orderID] {
		out = append(out, l.tickets[id].view())
	}
	settlement.SortTickets(out)
	return out, nil
}

func (l *Ledger) RevokedTickets(_ context.Context, event string) ([]string, time.Time, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := []string{}
	for id, t := range l.tickets {
		if t.Event == event && t.Status == settlement.TicketRevoked {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, l.now().UTC(), nil
}

func (l *Ledger) CheckIn(_ context.Context, s settlement.Scan) (settlement.ScanResult, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := s.Event + "\x00" + s.Nonce
	if r, ok := l.scans[key]; ok {
		r.Replayed = true
		return r, nil
	}
	r := settlement.ScanResult{TicketID: s.TicketID, Result: s.Verdict}
	if r.Result == "" {
		r.Result, r.FirstEntryAt = l.checkInTicket(s)
	}
	if s.Admitted && r.Result != settlement.ScanOK {
		l.conflicts[s.Event]++
	}
	l.scans[key] = r
	return r, nil
}

func (l *Ledger) checkInTicket(s settlement.Scan) (string, time.Time) {
	t, ok := l.tickets[s.TicketID]
	switch {
	case !ok || t.Event != s.Event:
		return settlement.ScanInvalid, time.Time{}
	case t.Status == settlement.TicketRevoked:
		return settlement.ScanRevoked, t.FirstEntryAt
	case s.Direction == "exit":
		t.inside = false
		return settlement.ScanOK, t.FirstEntryAt
	case t.inside:
		return settlement.ScanAlreadyUsed, t.FirstEntryAt
	}
	t.inside = true
	if t.FirstEntryAt.IsZero() {
		at := s.ScannedAt
		if at.IsZero() {
			at = l.now()
		}
		t.FirstEntryAt, t.firstGate = at.UTC(), s.Gate
	}
	return settlement.ScanOK, t.FirstEntryAt
}

func (l *Ledger) DoorStats(_ context.Context, event string) (settlement.DoorStats, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := settlement.DoorStats{Gates: map[string]int{}, Conflicts: l.conflicts[event]}
	for _, t := range l.tickets {
		if t.Event != event || t.FirstEntryAt.IsZero() {
			continue
		}
		st.CheckedIn++
		st.Gates[t.firstGate]++
		if t.inside {
			st.Inside++
		}
	}
	return st, nil
}

func (l *Ledger) SaveTicketKey(_ context.Context, k settlement.TicketKey) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, have := range l.keys[k.Event] {
		if have.ID == k.ID {
			return nil
		}
	}
	l.keys[k.Event] = append(l.keys[k.Event], k)
	return nil
}

func (l *Ledger) TicketKeys(_ context.Context, event string) ([]settlement.TicketKey, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]settlement.TicketKey(nil), l.keys[event]...), nil
}
