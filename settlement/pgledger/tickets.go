package pgledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/onsale/onsale/settlement"
)

func (l *Ledger) Tickets(ctx context.Context, orderID string) ([]settlement.Ticket, error) {
	rows, err := l.pool.Query(ctx, `SELECT id, order_id, event_id, section, seat, status, inside, first_entry_at
		FROM tickets WHERE order_id = $1`, orderID)
	if err != nil {
		return nil, err
	}
	ts, err := pgx.CollectRows(rows, scanTicket)
	if err != nil {
		return nil, err
	}
	settlement.SortTickets(ts)
	return ts, nil
}

func scanTicket(row pgx.CollectableRow) (settlement.Ticket, error) {
	var t settlement.Ticket
	var status string
	var inside bool
	var first *time.Time
	if err := row.Scan(&t.ID, &t.OrderID, &t.Event, &t.Section, &t.Seat, &status, &inside, &first); err != nil {
		return t, err
	}
	t.Status = settlement.TicketStatus(status)
	if inside && t.Status == settlement.TicketValid {
		t.Status = settlement.TicketCheckedIn
	}
	if first != nil {
		t.FirstEntryAt = first.UTC()
	}
	return t, nil
}

func (l *Ledger) RevokedTickets(ctx context.Context, event string) ([]string, time.Time, error) {
	var ids []string
	var asOf time.Time
	err := pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&asOf); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id FROM tickets WHERE event_id = $1 AND status = 'revoked' ORDER BY id`, event)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("revoked tickets of %s: %w", event, err)
	}
	if ids == nil {
		ids = []string{}
	}
	return ids, asOf.UTC(), nil
}

// CheckIn takes the nonce first: a concurrent scan with the same nonce waits for this one and then replays its
// answer. The ticket's row is then changed by one conditional update, so of concurrent scans of one ticket
// exactly one enters.
func (l *Ledger) CheckIn(ctx context.Context, s settlement.Scan) (settlement.ScanResult, error) {
	var res settlement.ScanResult
	err := pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
		res = settlement.ScanResult{}
		var scanned *time.Time
		if !s.ScannedAt.IsZero() {
			scanned = &s.ScannedAt
		}
		tag, err := tx.Exec(ctx, `INSERT INTO checkin_scans (event_id, nonce, ticket_id, gate, direction, scanned_at, admitted)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id, nonce) DO NOTHING`,
			s.Event, s.Nonce, s.TicketID, s.Gate, s.Direction, scanned, s.Admitted)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var first *time.Time
			if err := tx.QueryRow(ctx, `SELECT result, ticket_id, first_entry_at FROM checkin_scans
				WHERE event_id = $1 AND nonce = $2`, s.Event, s.Nonce).Scan(&res.Result, &res.TicketID, &first); err != nil {
				return err
			}
			if first != nil {
				res.FirstEntryAt = first.UTC()
			}
			res.Replayed = true
			return nil
		}
		res.TicketID = s.TicketID
		if s.Verdict != "" {
			res.Result = s.Verdict
		} else if res.Result, res.FirstEntryAt, err = checkInTicket(ctx, tx, s); err != nil {
			return err
		}
		var first *time.Time
		if !res.FirstEntryAt.IsZero() {
			first = &res.FirstEntryAt
		}
		_, err = tx.Exec(ctx, `UPDATE checkin_scans SET result = $3, first_entry_at = $4 WHERE event_id = $1 AND nonce = $2`,
			s.Event, s.Nonce, res.Result, first)
		return err
	})
	if err != nil {
		return settlement.ScanResult{}, fmt.Errorf("check in %s: %w", s.TicketID, err)
	}
	return res, nil
}

func checkInTicket(ctx context.Context, tx pgx.Tx, s settlement.Scan) (string, time.Time, error) {
	at := s.ScannedAt
	if at.IsZero() {
		at = time.Now()
	}
	var first *time.Time
	var err error
	if s.Direction == "exit" {
		err = tx.QueryRow(ctx, `UPDATE tickets SET inside = false, updated_at = now()
			WHERE id = $1 AND event_id = $2 AND status = 'valid' AND inside RETURNING first_entry_at`,
			s.TicketID, s.Event).Scan(&first)
	} else {
		err = tx.QueryRow(ctx, `UPDATE tickets SET inside = true, entries = entries + 1,
				first_entry_at = coalesce(first_entry_at, $3), first_gate = CASE WHEN first_entry_at IS NULL THEN $4 ELSE first_gate END,
				updated_at = now()
			WHERE id = $1 AND event_id = $2 AND status = 'valid' AND NOT inside RETURNING first_entry_at`,
			s.TicketID, s.Event, at, s.Gate).Scan(&first)
	}
	if err == nil {
		return settlement.ScanOK, first.UTC(), nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return "", time.Time{}, err
	}
	// Nothing changed: say why.
	var status string
	var inside bool
	err = tx.QueryRow(ctx, `SELECT status, inside, first_entry_at FROM tickets WHERE id = $1 AND event_id = $2`,
		s.TicketID, s.Event).Scan(&status, &inside, &first)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return settlement.ScanInvalid, time.Time{}, nil // signed, but no such ticket: never issued here
	case err != nil:
		return "", time.Time{}, err
	}
	var firstAt time.Time
	if first != nil {
		firstAt = first.UTC()
	}
	switch {
	case status == string(settlement.TicketRevoked):
		return settlement.ScanRevoked, firstAt, nil
	case s.Direction == "exit":
		return settlement.ScanOK, firstAt, nil // not inside: nothing to undo
	default:
		return settlement.ScanAlreadyUsed, firstAt, nil
	}
}

func (l *Ledger) DoorStats(ctx context.Context, event string) (settlement.DoorStats, error) {
	st := settlement.DoorStats{Gates: map[string]int{}}
	rows, err := l.pool.Query(ctx, `SELECT first_gate, count(*), count(*) FILTER (WHERE inside)
		FROM tickets WHERE event_id = $1 AND first_entry_at IS NOT NULL GROUP BY first_gate`, event)
	if err != nil {
		return st, fmt.Errorf("door stats of %s: %w", event, err)
	}
	defer rows.Close()
	for rows.Next() {
		var gate string
		var entered, inside int
		if err := rows.Scan(&gate, &entered, &inside); err != nil {
			return st, err
		}
		st.CheckedIn += entered
		st.Inside += inside
		st.Gates[gate] += entered
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("door stats of %s: %w", event, err)
	}
	err = l.pool.QueryRow(ctx, `SELECT count(*) FROM checkin_scans
		WHERE event_id = $1 AND admitted AND result NOT IN ('ok', '')`, event).Scan(&st.Conflicts)
	if err != nil {
		return st, fmt.Errorf("door conflicts of %s: %w", event, err)
	}
	return st, nil
}

func (l *Ledger) SaveTicketKey(ctx context.Context, k settlement.TicketKey) error {
	_, err := l.pool.Exec(ctx, `INSERT INTO ticket_keys (event_id, kid, public_key, sealed, created_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id, kid) DO NOTHING`, k.Event, k.ID, k.Public, k.Sealed, k.CreatedAt)
	if err != nil {
		return fmt.Errorf("save ticket key %s/%s: %w", k.Event, k.ID, err)
	}
	return nil
}

func (l *Ledger) TicketKeys(ctx context.Context, event string) ([]settlement.TicketKey, error) {
	rows, err := l.pool.Query(ctx, `SELECT event_id, kid, public_key, sealed, created_at FROM ticket_keys
		WHERE event_id = $1 ORDER BY created_at, kid`, event)
	if err != nil {
		return nil, fmt.Errorf("ticket keys of %s: %w", event, err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (settlement.TicketKey, error) {
		var k settlement.TicketKey
		err := row.Scan(&k.Event, &k.ID, &k.Public, &k.Sealed, &k.CreatedAt)
		k.CreatedAt = k.CreatedAt.UTC()
		return k, err
	})
}
