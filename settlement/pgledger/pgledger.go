// Package pgledger is the settlement ledger on PostgreSQL (pgx/v5): orders (one per hold), the transactional
// outbox, processed message ids and event definitions, with schema migrations embedded in the binary and a few
// reporting views for BI tools. Each saga step is atomic with its outbox rows; steps arriving together are
// committed together, as one multi-row statement per kind (group.go).
package pgledger

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/settlement"
)

// Ledger keeps the saga in PostgreSQL. It is safe for concurrent use.
type Ledger struct {
	pool           *pgxpool.Pool
	relays         atomic.Int64
	cursor         relayCursor
	group          group
	groupFallbacks atomic.Int64
	groups         atomic.Int64
	grouped        atomic.Int64
}

var _ settlement.Ledger = (*Ledger)(nil)

// New returns a ledger over pool; run Migrate first. The pool stays the caller's to close.
func New(pool *pgxpool.Pool) *Ledger { return &Ledger{pool: pool} }

// Close does nothing: the pool belongs to the caller.
func (l *Ledger) Close() error { return nil }

const orderColumns = `id, hold_id, event_id, fan, status, seats, lines, total, currency, payment_method,
	coalesce(payment_key, ''), coalesce(payment_intent, ''), failure_reason, attempts, created_at, updated_at,
	coalesce(client_secret, ''), coalesce(next_action_type, ''), coalesce(next_action_url, ''), pay_by,
	refund_requested_at IS NOT NULL, refund_reason, refund_failures, refund_error`

// scanOrder reads orderColumns, after the columns lead reads when a query returns some first.
func scanOrder(row pgx.Row, lead ...any) (settlement.Order, error) {
	var o settlement.Order
	var lines []byte
	var status, actionType, actionURL string
	var payBy *time.Time
	err := row.Scan(append(lead, &o.ID, &o.HoldID, &o.Event, &o.Fan, &status, &o.Seats, &lines, &o.Total, &o.Currency,
		&o.PaymentMethod, &o.PaymentKey, &o.PaymentIntent, &o.FailureReason, &o.Attempts, &o.CreatedAt, &o.UpdatedAt,
		&o.ClientSecret, &actionType, &actionURL, &payBy, &o.RefundRequested, &o.RefundReason, &o.RefundFailures,
		&o.RefundError)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return o, settlement.ErrNotFound
	}
	if err != nil {
		return o, err
	}
	o.Status = settlement.Status(status)
	if err := json.Unmarshal(lines, &o.Lines); err != nil {
		return o, fmt.Errorf("order %s lines: %w", o.ID, err)
	}
	o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
	if actionType != "" {
		o.NextAction = &settlement.NextAction{Type: actionType, URL: actionURL}
	}
	if payBy != nil {
		o.PayBy = payBy.UTC()
	}
	return o, nil
}

func (l *Ledger) CreateOrder(ctx context.Context, o settlement.Order, key string, deadline time.Time, outbox []settlement.Message) (settlement.Order, bool, error) {
	// One row of a group's INSERT: atomic with its outbox rows, which are written only if the order was.
	st := &stmt{create: &createRow{o: o, key: key, deadline: deadline, outbox: outbox}}
	if err := l.exec(ctx, o.HoldID, st); err != nil {
		return settlement.Order{}, false, fmt.Errorf("create order %s: %w", o.ID, err)
	}
	created := st.created
	if created {
		return o, true, nil
	}
	existing, err := l.OrderByHold(ctx, o.HoldID)
	if errors.Is(err, settlement.ErrNotFound) && key != "" {
		existing, err = l.OrderByIdempotencyKey(ctx, o.Fan, key)
	}
	if err != nil {
		return settlement.Order{}, false, fmt.Errorf("create order %s: existing: %w", o.ID, err)
	}
	return existing, false, nil
}

func insertOutbox(ctx context.Context, tx pgx.Tx, msgs []settlement.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	ids, topics, bodies := outboxColumns(msgs)
	_, err := tx.Exec(ctx, `INSERT INTO outbox (message_id, topic, body)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[])`, ids, topics, bodies)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

func (l *Ledger) Order(ctx context.Context, id string) (settlement.Order, error) {
	return scanOrder(l.pool.QueryRow(ctx, `SELECT `+orderColumns+` FROM orders WHERE id = $1`, id))
}

func (l *Ledger) OrderByHold(ctx context.Context, holdID string) (settlement.Order, error) {
	return scanOrder(l.pool.QueryRow(ctx, `SELECT `+orderColumns+` FROM orders WHERE hold_id = $1`, holdID))
}

func (l *Ledger) OrderByIdempotencyKey(ctx context.Context, fan, key string) (settlement.Order, error) {
	return scanOrder(l.pool.QueryRow(ctx, `SELECT `+orderColumns+` FROM orders WHERE fan = $1 AND idempotency_key = $2`, fan, key))
}

func (l *Ledger) OrderByPaymentIntent(ctx context.Context, pi string) (settlement.Order, error) {
	return scanOrder(l.pool.QueryRow(ctx, `SELECT `+orderColumns+` FROM orders WHERE payment_intent = $1`, pi))
}

func (l *Ledger) Transition(ctx context.Context, t settlement.Transition) (settlement.Order, error) {
	// One row of a group's UPDATE: the processed mark, the update and the outbox rows happen together or not at
	// all. The mark is only taken for an order in a From state, and the update only when the mark was fresh.
	st := &stmt{trans: &transRow{t: t}}
	if err := l.exec(ctx, t.OrderID, st); err != nil {
		return settlement.Order{}, fmt.Errorf("transition %s: %w", t.OrderID, refusal(err))
	}
	if st.applied {
		return st.order, nil
	}
	// Nothing changed: say why.
	cur, err := l.Order(ctx, t.OrderID)
	if err != nil {
		return cur, err // ErrNotFound for an unknown order
	}
	if t.MessageID != "" {
		if done, err := l.Processed(ctx, t.MessageID); err == nil && done {
			return cur, settlement.ErrDuplicate
		}
	}
	return cur, settlement.ErrConflict
}

// refusal translates the guard's errors (a seat in a valid ticket already, a section past its capacity) into
// settlement.ErrOversold.
func refusal(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.ConstraintName == "tickets_seat_sold" || pe.ConstraintName == "section_sales_capacity") {
		return fmt.Errorf("%w: %s", settlement.ErrOversold, pe.Message)
	}
	return err
}

func outboxColumns(msgs []settlement.Message) (ids, topics, bodies []string) {
	ids, topics, bodies = make([]string, len(msgs)), make([]string, len(msgs)), make([]string, len(msgs))
	for i, m := range msgs {
		ids[i], topics[i], bodies[i] = m.ID, m.Topic, string(m.Body)
	}
	return ids, topics, bodies
}

func (l *Ledger) Processed(ctx context.Context, id string) (bool, error) {
	var ok bool
	err := l.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM processed_messages WHERE message_id = $1)`, id).Scan(&ok)
	return ok, err
}

func (l *Ledger) MarkProcessed(ctx context.Context, id string) error {
	_, err := l.pool.Exec(ctx, `INSERT INTO processed_messages (message_id) VALUES ($1) ON CONFLICT DO NOTHING`, id)
	return err
}

// RelayOutbox deletes the rows it publishes in the statement that claims them (FOR UPDATE SKIP LOCKED), and
// commits once the broker answered: several relays share the outbox without publishing a row twice at once, a
// row costs one write, and rows the broker did not confirm are put back in the same transaction, under their seq.
// It reads from the relay's cursor (relayCursor), not over every row deleted before it.
func (l *Ledger) RelayOutbox(ctx context.Context, limit int, publish func(context.Context, []settlement.Message) ([]string, error)) (int, error) {
	n, pubErr, err := l.relayOnce(ctx, limit, publish)
	if err != nil {
		return 0, fmt.Errorf("relay outbox: %w", err)
	}
	if l.relays.Add(1)%512 == 0 {
		// Processed message ids are kept a week, far longer than any redelivery or Stripe's webhook retries
		// (three days). Their block range index covers new pages once summarized, which autovacuum does only where
		// it runs; unsummarized pages are read whole.
		_, _ = l.pool.Exec(ctx, `SELECT brin_summarize_new_values('processed_messages_processed_at_brin')`)
		_, _ = l.pool.Exec(ctx, `DELETE FROM processed_messages WHERE message_id IN (SELECT message_id
			FROM processed_messages WHERE processed_at < now() - interval '7 days' LIMIT 10000)`)
	}
	if pubErr != nil {
		return n, fmt.Errorf("relay outbox: publish: %w", pubErr)
	}
	return n, nil
}

// keyedPlans makes the statements after it in a transaction plan as key lookups. A connection keeps a statement's
// generic plan for its life; planned while the table was small (or never analyzed, as without autovacuum) it
// would scan the whole table every time once the table has grown. These statements touch a few rows by key.
const keyedPlans = `SELECT ` + keyedSettings

const keyedSettings = `set_config('enable_seqscan', 'off', true), set_config('enable_hashjoin', 'off', true),
	set_config('enable_mergejoin', 'off', true)`

// claimSQL deletes and returns the first unsent rows after a seq that no other relay holds.
const claimSQL = `DELETE FROM outbox WHERE seq = ANY(ARRAY(SELECT seq FROM outbox WHERE seq > $1 AND sent_at IS NULL
		ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED))
	RETURNING seq, message_id, topic, body, created_at`

// relayOnce runs one relay transaction in two round trips: BEGIN with the claiming delete, then the rows the
// broker did not confirm put back and COMMIT. The oldest transaction running before the delete and the round's
// own transaction id tell the cursor which rows the read could not have missed. A connection left in a failed
// transaction is dropped when released.
func (l *Ledger) relayOnce(ctx context.Context, limit int, publish func(context.Context, []settlement.Message) ([]string, error)) (n int, pubErr, err error) {
	r := round{from: l.cursor.start()}
	defer func() { l.cursor.end(r) }()
	conn, err := l.pool.Acquire(ctx)
	if err != nil {
		return 0, nil, err
	}
	defer conn.Release()
	var (
		msgs    []settlement.Message
		seqs    []int64
		created []time.Time
	)
	var read pgx.Batch
	read.Queue(`BEGIN`)
	// Deleting relayed rows need not wait for the disk: were the commit lost, the rows would be published again,
	// and consumers drop repeats by message id.
	read.Queue(`SELECT ` + keyedSettings + `, set_config('synchronous_commit', 'off', true)`)
	// Every transaction id below this snapshot's xmin has ended before the delete reads.
	read.Queue(`SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`).QueryRow(func(row pgx.Row) error {
		return row.Scan(&r.xmin)
	})
	read.Queue(claimSQL, r.from, limit).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var m settlement.Message
			var seq int64
			var body []byte
			var at time.Time
			if err := rows.Scan(&seq, &m.ID, &m.Topic, &body, &at); err != nil {
				return err
			}
			m.Body = body
			msgs, seqs, created = append(msgs, m), append(seqs, seq), append(created, at)
		}
		return rows.Err()
	})
	if err := conn.SendBatch(ctx, &read).Close(); err != nil {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `ROLLBACK`)
		return 0, nil, err
	}
	// RETURNING keeps no order: publish in seq order.
	order := make([]int, len(msgs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(seqs[a], seqs[b]) })
	sorted := make([]settlement.Message, len(msgs))
	for i, j := range order {
		sorted[i] = msgs[j]
	}
	var ids []string
	if len(sorted) > 0 {
		ids, pubErr = publish(ctx, sorted)
	}
	confirmed := make(map[string]bool, len(ids))
	for _, id := range ids {
		confirmed[id] = true
	}
	var back struct {
		seq             []int64
		id, topic, body []string
		at              []time.Time
	}
	r.top, r.seen = r.from, everything
	if len(msgs) >= limit {
		r.seen = seqs[order[len(order)-1]] // rows after the last one taken were not read
	}
	for _, j := range order {
		r.top = max(r.top, seqs[j])
		if confirmed[msgs[j].ID] {
			n++
			continue
		}
		r.seen = min(r.seen, seqs[j]-1)
		back.seq, back.id, back.topic = append(back.seq, seqs[j]), append(back.id, msgs[j].ID), append(back.topic, msgs[j].Topic)
		back.body, back.at = append(back.body, string(msgs[j].Body)), append(back.at, created[j])
	}
	var done pgx.Batch
	if len(back.seq) > 0 {
		done.Queue(`INSERT INTO outbox (seq, message_id, topic, body, created_at)
			SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])`,
			back.seq, back.id, back.topic, back.body, back.at)
	}
	// The round's own id, taken by its delete: every transaction that took a seq it deleted, or a lower one, had
	// its id before.
	done.Queue(`SELECT coalesce(pg_current_xact_id_if_assigned()::text::bigint, 0)`).QueryRow(func(row pgx.Row) error {
		return row.Scan(&r.xid)
	})
	done.Queue(`COMMIT`)
	if err := conn.SendBatch(ctx, &done).Close(); err != nil {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `ROLLBACK`)
		return 0, pubErr, err
	}
	r.committed = true
	return n, pubErr, nil
}

func (l *Ledger) OutboxPending(ctx context.Context) (int, error) {
	// Planned for each call (it runs once a second): the outbox's size swings too much for a kept plan.
	var n int
	err := l.pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE seq > $1 AND sent_at IS NULL`,
		pgx.QueryExecModeExec, l.cursor.low()).Scan(&n)
	return n, err
}

func (l *Ledger) Redrive(ctx context.Context, now time.Time, limit int, next func(settlement.Order) time.Time, msg func(settlement.Order) settlement.Message) ([]settlement.Order, error) {
	var out []settlement.Order
	err := pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
		out = out[:0]
		if _, err := tx.Exec(ctx, keyedPlans); err != nil {
			return err
		}
		// settled_at IS NULL (not settled yet) is what orders_unsettled holds.
		rows, err := tx.Query(ctx, `SELECT `+orderColumns+` FROM orders
			WHERE settled_at IS NULL AND (status IN ('pending', 'paying', 'requires_action')
				OR status = 'paid' AND refund_requested_at IS NOT NULL) AND deadline <= $1
			ORDER BY deadline LIMIT $2 FOR UPDATE SKIP LOCKED`, now, limit)
		if err != nil {
			return err
		}
		for rows.Next() {
			o, err := scanOrder(rows)
			if err != nil {
				rows.Close()
				return err
			}
			out = append(out, o)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(out) == 0 {
			return nil
		}
		ids, deadlines := make([]string, len(out)), make([]time.Time, len(out))
		msgs := make([]settlement.Message, len(out))
		for i := range out {
			out[i].Attempts++
			ids[i], deadlines[i], msgs[i] = out[i].ID, next(out[i]), msg(out[i])
		}
		if _, err := tx.Exec(ctx, `UPDATE orders o SET attempts = o.attempts + 1, deadline = d.deadline
			FROM unnest($1::text[], $2::timestamptz[]) AS d(id, deadline) WHERE o.id = d.id`, ids, deadlines); err != nil {
			return err
		}
		return insertOutbox(ctx, tx, msgs)
	})
	if err != nil {
		return nil, fmt.Errorf("redrive: %w", err)
	}
	return out, nil
}

func (l *Ledger) SaveEvent(ctx context.Context, ev inventory.Event) error {
	def, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	// The sections' capacities go with the definition: the guard of every paid transition checks against them.
	// A redefinition keeps what was sold.
	return pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO events (id, definition) VALUES ($1, $2)
			ON CONFLICT (id) DO UPDATE SET definition = excluded.definition, updated_at = now()`, ev.ID, def); err != nil {
			return err
		}
		ids, caps := make([]string, len(ev.Sections)), make([]int32, len(ev.Sections))
		for i, sec := range ev.Sections {
			ids[i], caps[i] = sec.ID, int32(max(sec.Capacity, 0))
		}
		_, err := tx.Exec(ctx, `INSERT INTO section_sales (event_id, section, capacity)
			SELECT $1, * FROM unnest($2::text[], $3::int[])
			ON CONFLICT (event_id, section) DO UPDATE SET capacity = excluded.capacity`, ev.ID, ids, caps)
		return err
	})
}

func (l *Ledger) Event(ctx context.Context, id string) (inventory.Event, error) {
	var def []byte
	err := l.pool.QueryRow(ctx, `SELECT definition FROM events WHERE id = $1`, id).Scan(&def)
	if errors.Is(err, pgx.ErrNoRows) {
		return inventory.Event{}, settlement.ErrNotFound
	}
	if err != nil {
		return inventory.Event{}, err
	}
	var ev inventory.Event
	if err := json.Unmarshal(def, &ev); err != nil {
		return ev, fmt.Errorf("event %s definition: %w", id, err)
	}
	return ev, nil
}

func (l *Ledger) LiveOrders(ctx context.Context, event string) ([]settlement.Order, error) {
	rows, err := l.pool.Query(ctx, `SELECT `+orderColumns+` FROM orders
		WHERE event_id = $1 AND status IN ('paid', 'pending', 'paying', 'requires_action') ORDER BY created_at`, event)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []settlement.Order
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

func (l *Ledger) Orders(ctx context.Context, q settlement.OrderQuery) ([]settlement.Order, error) {
	// Only the conditions asked for, so each shape of query plans on its own index (orders_event_created,
	// orders_fan_created) rather than on a generic plan full of "$1 = '' OR".
	var where []string
	var args []any
	cond := func(sql string, vs ...any) {
		for _, v := range vs {
			args = append(args, v)
			sql = strings.Replace(sql, "?", "$"+strconv.Itoa(len(args)), 1)
		}
		where = append(where, sql)
	}
	if q.Event != "" {
		cond("event_id = ?", q.Event)
	}
	if q.Fan != "" {
		cond("fan = ?", q.Fan)
	}
	if q.Status != "" {
		cond("status = ?", string(q.Status))
	}
	if q.After != nil {
		cond("(created_at, id) < (?, ?)", q.After.CreatedAt, q.After.ID)
	}
	if len(where) == 0 {
		return nil, fmt.Errorf("orders: %w: no condition", settlement.ErrInvalid)
	}
	args = append(args, q.Limit)
	rows, err := l.pool.Query(ctx, `SELECT `+orderColumns+` FROM orders WHERE `+strings.Join(where, " AND ")+
		` ORDER BY created_at DESC, id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []settlement.Order{}
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// AddCounter adds delta to an event's funnel counter (queued, admitted, held) for the funnel view.
func (l *Ledger) AddCounter(ctx context.Context, event, counter string, delta int64) error {
	_, err := l.pool.Exec(ctx, `INSERT INTO event_counters (event_id, counter, value) VALUES ($1, $2, $3)
		ON CONFLICT (event_id, counter) DO UPDATE SET value = event_counters.value + excluded.value, updated_at = now()`,
		event, counter, delta)
	return err
}

func (l *Ledger) Ping(ctx context.Context) error { return l.pool.Ping(ctx) }
