package pgledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/onsale/onsale/settlement"
)

func (l *Ledger) CancelEvent(ctx context.Context, event string, at time.Time) (settlement.Cancellation, error) {
	// The insert's foreign key refuses an unknown event; a repeat keeps the first record.
	_, err := l.pool.Exec(ctx, `INSERT INTO cancellations (event_id, cancelled_at)
		SELECT id, $2 FROM events WHERE id = $1 ON CONFLICT (event_id) DO NOTHING`, event, at)
	if err != nil {
		return settlement.Cancellation{}, fmt.Errorf("cancel event %s: %w", event, err)
	}
	c, err := l.cancellation(ctx, l.pool, event)
	if err != nil {
		return c, err
	}
	if c.CancelledAt.IsZero() {
		return c, settlement.ErrNotFound
	}
	return c, nil
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// cancellation reads an event's cancellation record (zero times when it has none); ErrNotFound for an unknown
// event.
func (l *Ledger) cancellation(ctx context.Context, q querier, event string) (settlement.Cancellation, error) {
	c := settlement.Cancellation{Event: event}
	var cancelled, closed, finished *time.Time
	err := q.QueryRow(ctx, `SELECT c.cancelled_at, c.holds_closed_at, c.finished_at
		FROM events e LEFT JOIN cancellations c ON c.event_id = e.id WHERE e.id = $1`, event).
		Scan(&cancelled, &closed, &finished)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, settlement.ErrNotFound
	}
	if err != nil {
		return c, fmt.Errorf("cancellation of %s: %w", event, err)
	}
	for _, f := range []struct {
		src *time.Time
		dst *time.Time
	}{{cancelled, &c.CancelledAt}, {closed, &c.HoldsClosedAt}, {finished, &c.FinishedAt}} {
		if f.src != nil {
			*f.dst = f.src.UTC()
		}
	}
	return c, nil
}

func (l *Ledger) Cancellation(ctx context.Context, event string) (settlement.Cancellation, error) {
	c, err := l.cancellation(ctx, l.pool, event)
	if err != nil {
		return c, err
	}
	// Paid orders count towards the total once the event is cancelled: all of them are to be refunded.
	err = l.pool.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE refund_requested_at IS NOT NULL OR status = 'paid' AND $2),
			count(*) FILTER (WHERE status = 'refunded' AND refund_requested_at IS NOT NULL),
			count(*) FILTER (WHERE status = 'paid' AND refund_requested_at IS NOT NULL AND refund_failures > 0)
		FROM orders WHERE event_id = $1 AND status IN ('paid', 'refunded')`, event, !c.CancelledAt.IsZero()).
		Scan(&c.Refunds.Total, &c.Refunds.Done, &c.Refunds.Failed)
	if err != nil {
		return c, fmt.Errorf("refunds of %s: %w", event, err)
	}
	return c, nil
}

func (l *Ledger) OpenCancellations(ctx context.Context) ([]string, error) {
	rows, err := l.pool.Query(ctx, `SELECT event_id FROM cancellations WHERE finished_at IS NULL ORDER BY cancelled_at`)
	if err != nil {
		return nil, fmt.Errorf("open cancellations: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("open cancellations: %w", err)
	}
	return ids, nil
}

func (l *Ledger) HoldsClosed(ctx context.Context, event string, at time.Time) error {
	return pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE cancellations SET holds_closed_at = coalesce(holds_closed_at, $2)
			WHERE event_id = $1`, event, at)
		if err != nil {
			return fmt.Errorf("holds closed %s: %w", event, err)
		}
		if tag.RowsAffected() == 0 {
			return settlement.ErrNotFound
		}
		if _, err := tx.Exec(ctx, `UPDATE orders SET deadline = $2 WHERE event_id = $1
			AND status IN ('pending', 'paying', 'requires_action') AND deadline > $2`, event, at); err != nil {
			return fmt.Errorf("holds closed %s: orders due: %w", event, err)
		}
		return nil
	})
}

func (l *Ledger) RequestEventRefunds(ctx context.Context, event, reason string, limit int, deadline time.Time, msg func(settlement.Order) settlement.Message) (int, int, error) {
	var requested, open int
	err := pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
		requested, open = 0, 0
		// Counted first, in its own snapshot (read committed): an order paid after it is seen by the update.
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM orders WHERE event_id = $1
			AND status IN ('pending', 'paying', 'requires_action')`, event).Scan(&open); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `UPDATE orders o SET refund_requested_at = now(), refund_reason = $2,
				deadline = $4, settled_at = NULL, updated_at = now()
			WHERE o.id IN (SELECT id FROM orders WHERE event_id = $1 AND status = 'paid'
				AND refund_requested_at IS NULL ORDER BY created_at LIMIT $3 FOR UPDATE SKIP LOCKED)
			RETURNING `+qualifiedOrderColumns, event, reason, limit, deadline)
		if err != nil {
			return err
		}
		orders, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (settlement.Order, error) {
			return scanOrder(row)
		})
		if err != nil {
			return err
		}
		requested = len(orders)
		msgs := make([]settlement.Message, len(orders))
		ids := make([]string, len(orders))
		for i, o := range orders {
			msgs[i], ids[i] = msg(o), o.ID
		}
		if len(ids) > 0 {
			if _, err := tx.Exec(ctx, `WITH rv AS (
					UPDATE tickets SET status = 'revoked', inside = false, updated_at = now()
					WHERE order_id = ANY($1) AND status <> 'revoked' RETURNING event_id, section
				)
				UPDATE section_sales s SET sold = s.sold - d.n
				FROM (SELECT event_id, section, count(*)::integer AS n FROM rv GROUP BY event_id, section) d
				WHERE s.event_id = d.event_id AND s.section = d.section`, ids); err != nil {
				return err
			}
		}
		return insertOutbox(ctx, tx, msgs)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("refunds of %s: %w", event, err)
	}
	return requested, open, nil
}

func (l *Ledger) FinishCancellation(ctx context.Context, event string, at time.Time) error {
	tag, err := l.pool.Exec(ctx, `UPDATE cancellations SET finished_at = coalesce(finished_at, $2) WHERE event_id = $1`,
		event, at)
	if err != nil {
		return fmt.Errorf("finish cancellation %s: %w", event, err)
	}
	if tag.RowsAffected() == 0 {
		return settlement.ErrNotFound
	}
	return nil
}

func (l *Ledger) RefundFailed(ctx context.Context, orderID, reason string) error {
	tag, err := l.pool.Exec(ctx, `UPDATE orders SET refund_failures = refund_failures + 1, refund_error = left($2, 500)
		WHERE id = $1`, orderID, reason)
	if err != nil {
		return fmt.Errorf("refund failed %s: %w", orderID, err)
	}
	if tag.RowsAffected() == 0 {
		return settlement.ErrNotFound
	}
	return nil
}
