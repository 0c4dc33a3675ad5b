package pgledger

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/onsale/onsale/settlement"
)

// maxGroup is the most saga writes one group commit carries; a split group carries up to twice as many.
const maxGroup = 256

// stmt is one saga write waiting for a group: an order to create or a transition to apply, each atomic by itself,
// and its result. A write that did not apply (the hold already has an order, the order is not in a From state,
// the message was processed) is a result, not an error.
type stmt struct {
	create *createRow
	trans  *transRow

	created bool             // create: the order was inserted
	applied bool             // trans: the transition applied and order is the row after it
	order   settlement.Order // trans
	err     error
	done    chan struct{}
	lead    chan struct{} // told to lead the next group
	half    uint32        // which half of a split group it goes in: the same for every write about its order
}

type createRow struct {
	o        settlement.Order
	key      string
	deadline time.Time
	outbox   []settlement.Message
}

type transRow struct {
	t settlement.Transition
}

// group commits the saga's writes together: PostgreSQL's commit (an fsync) and its per-statement executor cost
// are what bound how many saga steps a second the ledger takes, so writes that arrive while a commit is under way
// wait and go in the next one, as one multi-row statement per kind (all the group's new orders in one INSERT, all
// its transitions in one UPDATE) in one transaction. Each write keeps its own conditions row by row; a failing
// group is re-run write by write, so one bad write cannot fail the others. No goroutine of its own: the caller
// that finds no commit under way leads one group (its own write and whatever queued), then hands the lead to the
// oldest waiter, so no caller flushes more than one group.
//
// One group commits at a time: each commit has a fixed cost (its statements' start, the WAL flush, the round trip)
// and two at once contend for the same last pages and WAL locks, so fewer, larger groups cost PostgreSQL less per
// write. A group too large for one backend to commit quickly (splitGroup) is committed as two transactions at once,
// on two connections, so PostgreSQL can use both cores of a small machine under load: writes about one order (or
// one hold) always go in the same half, so the halves do not wait on each other's rows.
type group struct {
	mu      sync.Mutex
	queue   []*stmt
	leading bool
}

// splitGroup is the fewest writes a group commits as two halves at once.
const splitGroup = 128

func (l *Ledger) exec(ctx context.Context, key string, s *stmt) error {
	s.done = make(chan struct{})
	s.lead = make(chan struct{}, 1)
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	s.half = h.Sum32() % 2
	g := &l.group
	g.mu.Lock()
	g.queue = append(g.queue, s)
	if g.leading {
		g.mu.Unlock()
		select {
		case <-s.done:
			return s.err
		case <-s.lead:
			// The previous leader finished its own group and handed over.
		case <-ctx.Done():
			g.abandon(s)
			return ctx.Err()
		}
		g.mu.Lock()
	}
	g.leading = true
	n := min(len(g.queue), 2*maxGroup)
	batch := g.queue[:n:n]
	g.queue = g.queue[n:]
	g.mu.Unlock()
	// Others' writes ride on this flush: it must not end with the leader's context.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	if n < splitGroup {
		l.flush(fctx, batch)
		l.groups.Add(1)
	} else {
		halves := [2][]*stmt{make([]*stmt, 0, n), make([]*stmt, 0, n)}
		for _, b := range batch {
			halves[b.half] = append(halves[b.half], b)
		}
		var wg sync.WaitGroup
		for _, part := range halves {
			if len(part) == 0 {
				continue
			}
			l.groups.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				l.flush(fctx, part)
			}()
		}
		wg.Wait()
	}
	cancel()
	l.grouped.Add(int64(len(batch)))
	for _, b := range batch {
		close(b.done)
	}
	// One group per leader, so no caller waits for more than its own: the oldest waiter leads the next one.
	g.mu.Lock()
	if len(g.queue) > 0 {
		g.queue[0].lead <- struct{}{}
	} else {
		g.leading = false
	}
	g.mu.Unlock()
	return s.err
}

// abandon takes a waiter that gives up out of the queue, passing on the lead if it had just been handed it.
func (g *group) abandon(s *stmt) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if i := slices.Index(g.queue, s); i >= 0 {
		g.queue = slices.Delete(g.queue, i, i+1)
	}
	select {
	case <-s.lead:
		if len(g.queue) > 0 {
			g.queue[0].lead <- struct{}{}
		} else {
			g.leading = false
		}
	default:
	}
}

// GroupStats reports how many group commits ran and how many writes they carried.
func (l *Ledger) GroupStats() (groups, statements int64) { return l.groups.Load(), l.grouped.Load() }

// GroupFallbacks reports how many groups failed as a whole and were re-run write by write.
func (l *Ledger) GroupFallbacks() int64 { return l.groupFallbacks.Load() }

func (l *Ledger) flush(ctx context.Context, batch []*stmt) {
	err := l.runGroup(ctx, batch)
	if err == nil || len(batch) == 1 {
		batch[0].err = err
		return
	}
	// One write failed (or the group deadlocked with another process's): nothing of the group was committed.
	l.groupFallbacks.Add(1)
	l.bisect(ctx, batch)
}

// bisect re-runs a failed group as two halves, each split again while it fails, until each write that fails
// does so alone: a write the ledger refuses (a seat sold twice) costs its group a few more commits, not one
// commit per write. The halves run in the group's order, so writes about one order keep theirs.
func (l *Ledger) bisect(ctx context.Context, batch []*stmt) {
	mid := len(batch) / 2
	for _, part := range [][]*stmt{batch[:mid], batch[mid:]} {
		for _, s := range part {
			s.created, s.applied = false, false
		}
		err := l.runGroup(ctx, part)
		if err != nil && len(part) > 1 {
			l.bisect(ctx, part)
			continue
		}
		part[0].err = err
	}
}

// runGroup writes a group's new orders in one statement and its transitions in as few as there are writes about
// one order (a round takes each order and each message id once, so every row of an UPDATE is distinct). The
// statements go in one pipeline with one sync: one round trip, one implicit transaction, all or nothing.
func (l *Ledger) runGroup(ctx context.Context, batch []*stmt) error {
	var creates, trans []*stmt
	for _, s := range batch {
		if s.create != nil {
			creates = append(creates, s)
		} else {
			trans = append(trans, s)
		}
	}
	var pb pgx.Batch
	pb.Queue(keyedPlans) // until the sync that ends the batch's transaction
	if len(creates) > 0 {
		if err := queueCreates(&pb, creates); err != nil {
			return err
		}
	}
	for len(trans) > 0 {
		round, rest := trans, []*stmt(nil)
		if len(trans) > 1 {
			round = make([]*stmt, 0, len(trans))
			seen := make(map[string]bool, 2*len(trans))
			for _, s := range trans {
				id, msg := "o\x00"+s.trans.t.OrderID, "m\x00"+s.trans.t.MessageID
				if seen[id] || (s.trans.t.MessageID != "" && seen[msg]) {
					rest = append(rest, s)
					continue
				}
				seen[id], seen[msg] = true, true
				round = append(round, s)
			}
		}
		queueTransitions(&pb, round)
		trans = rest
	}
	return l.pool.SendBatch(ctx, &pb).Close()
}

// createSQL inserts new orders and, only for the rows inserted, their outbox rows. A row whose hold already has an
// order (or whose fan's idempotency key was used) is skipped, and so are its outbox rows.
const createSQL = `WITH ins AS (
		INSERT INTO orders (id, hold_id, event_id, fan, status, seats, lines, units, total,
			currency, payment_method, idempotency_key, deadline, created_at, updated_at)
		SELECT r.id, r.hold_id, r.event_id, r.fan, r.status, r.seats::text[],
			r.lines, r.units, r.total, r.currency, r.payment_method, nullif(r.idem, ''), r.deadline, r.created_at, r.created_at
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::int[],
			$9::bigint[], $10::text[], $11::text[], $12::text[], $13::timestamptz[], $14::timestamptz[])
			AS r(id, hold_id, event_id, fan, status, seats, lines, units, total, currency, payment_method, idem, deadline, created_at)
		ON CONFLICT DO NOTHING
		RETURNING id
	), ob AS (
		INSERT INTO outbox (message_id, topic, body)
		SELECT m.id, m.topic, m.body FROM unnest($15::text[], $16::text[], $17::text[], $18::text[]) AS m(order_id, id, topic, body)
		WHERE m.order_id IN (SELECT id FROM ins)
	)
	SELECT id FROM ins`

func queueCreates(pb *pgx.Batch, batch []*stmt) error {
	n := len(batch)
	var (
		ids, holds, events, fans, statuses = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		seats, lines                       = make([]string, n), make([]string, n)
		units                              = make([]int32, n)
		totals                             = make([]int64, n)
		currencies, methods, keys          = make([]string, n), make([]string, n), make([]string, n)
		deadlines, createdAt               = make([]time.Time, n), make([]time.Time, n)
		mOrder, mID, mTopic, mBody         []string
	)
	byID := make(map[string]*stmt, n)
	for i, s := range batch {
		c := s.create
		o := c.o
		lb, err := json.Marshal(o.Lines)
		if err != nil {
			return err
		}
		if o.Lines == nil {
			lb = []byte("[]")
		}
		u := 0
		for _, ln := range o.Lines {
			u += ln.Quantity
		}
		ids[i], holds[i], events[i], fans[i], statuses[i] = o.ID, o.HoldID, o.Event, o.Fan, string(o.Status)
		seats[i], lines[i], units[i], totals[i] = arrayLiteral(o.Seats), string(lb), int32(u), o.Total
		currencies[i], methods[i], keys[i] = o.Currency, o.PaymentMethod, c.key
		deadlines[i], createdAt[i] = c.deadline, o.CreatedAt
		for _, m := range c.outbox {
			mOrder, mID, mTopic, mBody = append(mOrder, o.ID), append(mID, m.ID), append(mTopic, m.Topic), append(mBody, string(m.Body))
		}
		byID[o.ID] = s
	}
	pb.Queue(createSQL, ids, holds, events, fans, statuses, seats, lines, units, totals, currencies,
		methods, keys, deadlines, createdAt, mOrder, mID, mTopic, mBody).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return fmt.Errorf("create orders: %w", err)
			}
			if s := byID[id]; s != nil {
				s.created = true
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("create orders: %w", err)
		}
		return nil
	})
	return nil
}

// transitionSQL applies transitions, each to a distinct order: the processed mark is taken only for an order in
// one of its From states, the update applies only when the mark was fresh (or there is no message), and the outbox
// rows are written only for the transitions that applied.
const transitionSQL = `WITH t AS (
		SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
			$8::timestamptz[], $9::text[], $14::text[], $15::text[], $16::text[], $17::timestamptz[], $18::bool[], $19::text[])
			AS t(i, id, to_status, from_states, payment_key, payment_intent, failure_reason, deadline, message_id,
				client_secret, next_action_type, next_action_url, pay_by, refund, refund_reason)
	), dedupe AS (
		INSERT INTO processed_messages (message_id)
		SELECT t.message_id FROM t JOIN orders o ON o.id = t.id
		WHERE t.message_id <> '' AND o.status = ANY(string_to_array(t.from_states, ','))
		ON CONFLICT DO NOTHING
		RETURNING message_id
	), upd AS (
		UPDATE orders o SET
			status = t.to_status,
			payment_key = coalesce(nullif(t.payment_key, ''), o.payment_key),
			payment_intent = coalesce(nullif(t.payment_intent, ''), o.payment_intent),
			failure_reason = CASE WHEN t.failure_reason <> '' THEN t.failure_reason ELSE o.failure_reason END,
			client_secret = coalesce(nullif(t.client_secret, ''), o.client_secret),
			next_action_type = CASE WHEN t.next_action_type <> '' THEN t.next_action_type ELSE o.next_action_type END,
			next_action_url = CASE WHEN t.next_action_type <> '' THEN nullif(t.next_action_url, '') ELSE o.next_action_url END,
			pay_by = coalesce(t.pay_by, o.pay_by),
			refund_requested_at = CASE WHEN t.refund THEN coalesce(o.refund_requested_at, now()) ELSE o.refund_requested_at END,
			refund_reason = CASE WHEN t.refund AND o.refund_reason = '' THEN t.refund_reason ELSE o.refund_reason END,
			deadline = coalesce(t.deadline, o.deadline),
			updated_at = now(),
			settled_at = CASE WHEN t.refund THEN NULL
				WHEN t.to_status IN ('paid', 'failed', 'refunded') THEN now() ELSE o.settled_at END
		FROM t
		WHERE o.id = t.id AND o.status = ANY(string_to_array(t.from_states, ','))
			AND (t.message_id = '' OR t.message_id IN (SELECT message_id FROM dedupe))
		RETURNING t.i, ` + qualifiedOrderColumns + `
	), ob AS (
		INSERT INTO outbox (message_id, topic, body)
		SELECT m.id, m.topic, m.body FROM unnest($10::int[], $11::text[], $12::text[], $13::text[]) AS m(i, id, topic, body)
		WHERE m.i IN (SELECT i FROM upd)
	)`

// ticketsCTE writes the tickets of the transitions to paid that applied; revokeCTE revokes the tickets of the
// orders whose refund was asked for, or that were refunded. Each is in the statement only when its batch needs
// it, so that a batch of payments costs no ticket statement it does not use.
const (
	ticketsCTE = `, tk AS (
		INSERT INTO tickets (id, order_id, event_id, section, seat)
		SELECT k.id, k.order_id, k.event_id, k.section, k.seat
		FROM unnest($20::int[], $21::text[], $22::text[], $23::text[], $24::text[], $25::text[])
			AS k(i, id, order_id, event_id, section, seat)
		WHERE k.i IN (SELECT i FROM upd)
		ON CONFLICT (id) DO NOTHING
		RETURNING event_id, section
	)`
	revokeCTE = `, rv AS (
		UPDATE tickets SET status = 'revoked', inside = false, updated_at = now()
		WHERE order_id IN (SELECT t.id FROM t WHERE (t.refund OR t.to_status = 'refunded') AND t.i IN (SELECT i FROM upd))
			AND status <> 'revoked'
		RETURNING event_id, section
	)`
	// soldCTE moves each section's units sold by the tickets written and revoked, in one update per section (a
	// statement changes a row once): section_sales' trigger fails the statement when an increase passes the
	// section's capacity, and tickets_seat_sold fails the ticket insert of a seat sold already.
	soldCTE = `, sold AS (
		UPDATE section_sales s SET sold = s.sold + d.n
		FROM (SELECT event_id, section, sum(n)::integer AS n FROM (%s) x GROUP BY event_id, section) d
		WHERE s.event_id = d.event_id AND s.section = d.section AND d.n <> 0
	)`
	soldWritten = `SELECT event_id, section, 1 AS n FROM tk`
	soldRevoked = `SELECT event_id, section, -1 AS n FROM rv`
)

// transitionSQLs[tickets][revoke] is transitionSQL with the CTEs a batch needs.
var transitionSQLs = func() (out [2][2]string) {
	for tk := range 2 {
		for rv := range 2 {
			q := transitionSQL
			if tk == 1 {
				q += ticketsCTE
			}
			if rv == 1 {
				q += revokeCTE
			}
			switch {
			case tk == 1 && rv == 1:
				q += fmt.Sprintf(soldCTE, soldWritten+` UNION ALL `+soldRevoked)
			case tk == 1:
				q += fmt.Sprintf(soldCTE, soldWritten)
			case rv == 1:
				q += fmt.Sprintf(soldCTE, soldRevoked)
			}
			out[tk][rv] = q + ` SELECT * FROM upd`
		}
	}
	return out
}()

// qualifiedOrderColumns are orderColumns read from orders o where other tables share column names.
const qualifiedOrderColumns = `o.id, o.hold_id, o.event_id, o.fan, o.status, o.seats, o.lines, o.total, o.currency,
	o.payment_method, coalesce(o.payment_key, ''), coalesce(o.payment_intent, ''), o.failure_reason, o.attempts,
	o.created_at, o.updated_at, coalesce(o.client_secret, ''), coalesce(o.next_action_type, ''),
	coalesce(o.next_action_url, ''), o.pay_by, o.refund_requested_at IS NOT NULL, o.refund_reason, o.refund_failures,
	o.refund_error`

func queueTransitions(pb *pgx.Batch, batch []*stmt) {
	n := len(batch)
	var (
		idx                                          = make([]int32, n)
		ids, tos, froms, keys, intents, reasons, msg = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		deadlines, payBys                            = make([]*time.Time, n), make([]*time.Time, n)
		secrets, actionTypes, actionURLs             = make([]string, n), make([]string, n), make([]string, n)
		refunds                                      = make([]bool, n)
		refundReasons                                = make([]string, n)
		mIdx                                         []int32
		mID, mTopic, mBody                           []string
		kIdx                                         []int32
		revoke                                       bool
		kID, kOrder, kEvent, kSection, kSeat         []string
		from                                         strings.Builder
	)
	for i, s := range batch {
		t := &s.trans.t
		from.Reset()
		for j, st := range t.From {
			if j > 0 {
				from.WriteByte(',')
			}
			from.WriteString(string(st))
		}
		idx[i], ids[i], tos[i], froms[i] = int32(i), t.OrderID, string(t.To), from.String()
		keys[i], intents[i], reasons[i], msg[i] = t.PaymentKey, t.PaymentIntent, t.FailureReason, t.MessageID
		if !t.Deadline.IsZero() {
			deadlines[i] = &t.Deadline
		}
		if !t.PayBy.IsZero() {
			payBys[i] = &t.PayBy
		}
		secrets[i], refunds[i], refundReasons[i] = t.ClientSecret, t.RequestRefund, t.RefundReason
		revoke = revoke || t.RequestRefund || t.To == settlement.Refunded
		if t.NextAction != nil {
			actionTypes[i], actionURLs[i] = t.NextAction.Type, t.NextAction.URL
		}
		for _, m := range t.Outbox {
			mIdx, mID, mTopic, mBody = append(mIdx, int32(i)), append(mID, m.ID), append(mTopic, m.Topic), append(mBody, string(m.Body))
		}
		for _, k := range t.Tickets {
			kIdx, kID, kOrder = append(kIdx, int32(i)), append(kID, k.ID), append(kOrder, t.OrderID)
			kEvent, kSection, kSeat = append(kEvent, k.Event), append(kSection, k.Section), append(kSeat, k.Seat)
		}
	}
	args := []any{idx, ids, tos, froms, keys, intents, reasons, deadlines, msg,
		mIdx, mID, mTopic, mBody, secrets, actionTypes, actionURLs, payBys, refunds, refundReasons}
	withTickets, withRevoke := 0, 0
	if len(kID) > 0 {
		withTickets = 1
		args = append(args, kIdx, kID, kOrder, kEvent, kSection, kSeat)
	}
	if revoke {
		withRevoke = 1
	}
	pb.Queue(transitionSQLs[withTickets][withRevoke], args...).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var i int32
			o, err := scanOrder(rows, &i)
			if err != nil {
				return fmt.Errorf("transitions: %w", err)
			}
			if i < 0 || int(i) >= n {
				return fmt.Errorf("transitions: row %d out of range", i)
			}
			batch[i].order, batch[i].applied = o, true
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("transitions: %w", err)
		}
		return nil
	})
}

// arrayLiteral writes a text array as PostgreSQL reads it ('{"a","b"}'): one string per order, as unnest cannot
// take an array of arrays of different lengths.
func arrayLiteral(ss []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, s := range ss {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		for j := 0; j < len(s); j++ {
			if s[j] == '"' || s[j] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(s[j])
		}
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}
