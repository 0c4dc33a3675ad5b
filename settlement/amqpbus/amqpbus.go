// Package amqpbus is the settlement bus on RabbitMQ (amqp091-go).
//
// Topology, every name under Options.Prefix (P):
//
//	P.events            topic exchange: payment requests and booking events, routed by topic
//	P.dlx               direct exchange the work queues dead-letter into
//	P.<queue>           quorum work queue bound to P.events; a rejected delivery dead-letters to P.dlx …
//	P.<queue>.retry     … into this queue, whose message TTL dead-letters it back to P.<queue> (a retry delay)
//	P.<queue>.parked    quorum queue where deliveries go after their last attempt, for a person to look at
//
// Publishing uses publisher confirms: only ids the broker acknowledged are reported sent. The connection is
// supervised: after it drops it is redialled with backoff, the topology re-declared, and consumers re-consume.
//
// Envelopes: the broker's cost is per AMQP message (routing, a quorum log entry and its fsync, delivery, the ack's
// own log entry, the confirm), so Publish packs the saga messages of one topic from one relay round into one AMQP
// message of content type EnvelopeType, a JSON array of {"id", "topic", "body"}, up to Options.Batch messages.
// A confirmed envelope confirms every id in it. A consumer unpacks an envelope and hands its messages to its
// workers concurrently; once all are decided it acknowledges the envelope, after republishing, with confirms,
// the retried ones as a new envelope straight into P.<queue>.retry (their attempt count in AttemptHeader) and
// the parked ones one by one into P.<queue>.parked. A crash in between redelivers the whole envelope, which is
// safe because every saga step dedupes by message id. A single message, or one whose body is not JSON, travels
// plain, and plain messages are consumed as before (a retried one is rejected into the retry queue).
package amqpbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/onsale/onsale/settlement"
)

// Options configure a Bus. Zero values take the defaults in brackets.
type Options struct {
	Prefix         string        // exchange and queue names start with it [onsale]
	RetryDelay     time.Duration // how long a retried delivery waits in the retry queue [1s]
	PublishTimeout time.Duration // longest wait for the broker's confirms [10s]
	Batch          int           // saga messages of one topic per AMQP message (an envelope) [256]; 1 sends each alone
	Logger         *slog.Logger  // [slog.Default()]
}

// ErrNotConnected is returned while the connection is being re-established.
var ErrNotConnected = errors.New("not connected to the broker")

// Bus is a supervised RabbitMQ connection. It is safe for concurrent use.
type Bus struct {
	url  string
	opts Options
	log  *slog.Logger

	mu     sync.Mutex
	conn   *amqp.Connection
	ready  chan struct{} // closed while conn is up
	queues map[string]settlement.Queue

	pubMu sync.Mutex
	pubCh *amqp.Channel

	done chan struct{}
	wg   sync.WaitGroup

	published, carried atomic.Int64 // AMQP messages the relay published, and the saga messages in them
}

var _ settlement.Bus = (*Bus)(nil)

// Dial connects to url, declares the topology (exchanges and the payments queue) and starts supervising the
// connection until Close.
func Dial(ctx context.Context, url string, opts Options) (*Bus, error) {
	if opts.Prefix == "" {
		opts.Prefix = "onsale"
	}
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = time.Second
	}
	if opts.PublishTimeout <= 0 {
		opts.PublishTimeout = 10 * time.Second
	}
	if opts.Batch <= 0 {
		// Half a relay round of 512 rows: its two topics (payment requests, booking events) in one envelope each.
		opts.Batch = 256
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	b := &Bus{
		url: url, opts: opts, log: opts.Logger.With(slog.String("component", "amqpbus")),
		ready:  make(chan struct{}),
		queues: map[string]settlement.Queue{settlement.PaymentsQueue.Name: settlement.PaymentsQueue},
		done:   make(chan struct{}),
	}
	conn, err := b.dial(ctx)
	if err != nil {
		return nil, err
	}
	b.setConn(conn)
	b.wg.Add(1)
	go b.supervise(conn)
	return b, nil
}

func (b *Bus) name(s string) string { return b.opts.Prefix + "." + s }

// dial opens a connection and declares the topology on it.
func (b *Bus) dial(ctx context.Context) (*amqp.Connection, error) {
	type result struct {
		c   *amqp.Connection
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := amqp.DialConfig(b.url, amqp.Config{Heartbeat: 5 * time.Second, Locale: "en_US",
			Properties: amqp.Table{"connection_name": b.opts.Prefix + " settlement"}})
		ch <- result{c, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.c != nil {
				_ = r.c.Close()
			}
		}()
		return nil, ctx.Err()
	}
	if r.err != nil {
		return nil, fmt.Errorf("dial broker: %w", r.err)
	}
	if err := b.declare(r.c); err != nil {
		_ = r.c.Close()
		return nil, err
	}
	return r.c, nil
}

func (b *Bus) declare(conn *amqp.Connection) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("declare: %w", err)
	}
	defer ch.Close()
	if err := ch.ExchangeDeclare(b.name("events"), amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange: %w", err)
	}
	if err := ch.ExchangeDeclare(b.name("dlx"), amqp.ExchangeDirect, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange: %w", err)
	}
	b.mu.Lock()
	qs := make([]settlement.Queue, 0, len(b.queues))
	for _, q := range b.queues {
		qs = append(qs, q)
	}
	b.mu.Unlock()
	for _, q := range qs {
		if err := b.declareQueue(ch, q); err != nil {
			return err
		}
	}
	return nil
}

// declareQueue declares a work queue with its retry and parking queues.
func (b *Bus) declareQueue(ch *amqp.Channel, q settlement.Queue) error {
	work, retry, parked := b.name(q.Name), b.name(q.Name+".retry"), b.name(q.Name+".parked")
	if _, err := ch.QueueDeclare(work, true, false, false, false, amqp.Table{
		"x-queue-type":              "quorum",
		"x-dead-letter-exchange":    b.name("dlx"),
		"x-dead-letter-routing-key": retry,
	}); err != nil {
		return fmt.Errorf("declare %s: %w", work, err)
	}
	if err := ch.QueueBind(work, q.Bind, b.name("events"), false, nil); err != nil {
		return fmt.Errorf("bind %s: %w", work, err)
	}
	// A classic queue: per-queue message TTL with dead-lettering back to the work queue is the delay.
	if _, err := ch.QueueDeclare(retry, true, false, false, false, amqp.Table{
		"x-message-ttl":             b.opts.RetryDelay.Milliseconds(),
		"x-dead-letter-exchange":    "",
		"x-dead-letter-routing-key": work,
	}); err != nil {
		return fmt.Errorf("declare %s: %w", retry, err)
	}
	if err := ch.QueueBind(retry, retry, b.name("dlx"), false, nil); err != nil {
		return fmt.Errorf("bind %s: %w", retry, err)
	}
	if _, err := ch.QueueDeclare(parked, true, false, false, false, amqp.Table{"x-queue-type": "quorum"}); err != nil {
		return fmt.Errorf("declare %s: %w", parked, err)
	}
	return nil
}

func (b *Bus) setConn(c *amqp.Connection) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.conn = c
	if c != nil {
		close(b.ready)
	} else {
		b.ready = make(chan struct{})
	}
}

// supervise waits for the connection to drop, then redials with backoff until it is back or the bus is closed.
func (b *Bus) supervise(conn *amqp.Connection) {
	defer b.wg.Done()
	for {
		lost := conn.NotifyClose(make(chan *amqp.Error, 1))
		select {
		case <-b.done:
			return
		case err := <-lost:
			select {
			case <-b.done:
				return
			default:
			}
			b.log.Warn("broker connection lost", slog.Any("err", err))
		}
		b.setConn(nil)
		b.pubMu.Lock()
		b.pubCh = nil
		b.pubMu.Unlock()
		backoff := 50 * time.Millisecond
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			c, err := b.dial(ctx)
			cancel()
			if err == nil {
				conn = c
				break
			}
			b.log.Warn("broker redial", slog.Any("err", err), slog.Duration("retry_in", backoff))
			select {
			case <-b.done:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
		}
		select {
		case <-b.done:
			_ = conn.Close()
			return
		default:
		}
		b.setConn(conn)
		b.log.Info("broker connection restored")
	}
}

// waitConn returns the live connection, waiting while it is being re-established.
func (b *Bus) waitConn(ctx context.Context) (*amqp.Connection, error) {
	for {
		b.mu.Lock()
		c, ready := b.conn, b.ready
		b.mu.Unlock()
		if c != nil && !c.IsClosed() {
			return c, nil
		}
		wait := (<-chan time.Time)(nil)
		if c != nil {
			wait = time.After(20 * time.Millisecond) // dropped, the supervisor has not noticed yet
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-b.done:
			return nil, ErrNotConnected
		case <-ready:
		case <-wait:
		}
	}
}

func (b *Bus) current() *amqp.Connection {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conn == nil || b.conn.IsClosed() {
		return nil
	}
	return b.conn
}

// Publish sends msgs to the events exchange and waits for the broker's confirms. It fails at once while the
// connection is down, so the outbox keeps the rows for the next try.
func (b *Bus) Publish(ctx context.Context, msgs []settlement.Message) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, b.opts.PublishTimeout)
	defer cancel()
	// The lock covers sending only; confirms are awaited outside it, so several relays overlap their waits.
	b.pubMu.Lock()
	if b.pubCh == nil || b.pubCh.IsClosed() {
		conn := b.current()
		if conn == nil {
			b.pubMu.Unlock()
			return nil, ErrNotConnected
		}
		ch, err := conn.Channel()
		if err != nil {
			b.pubMu.Unlock()
			return nil, fmt.Errorf("publish channel: %w", err)
		}
		if err := ch.Confirm(false); err != nil {
			_ = ch.Close()
			b.pubMu.Unlock()
			return nil, fmt.Errorf("confirm mode: %w", err)
		}
		b.pubCh = ch
	}
	ch := b.pubCh
	units := group(msgs, b.opts.Batch)
	confs := make([]*amqp.DeferredConfirmation, 0, len(units))
	var pubErr error
	now := time.Now()
	for _, u := range units {
		p := amqp.Publishing{MessageId: u[0].ID, Type: u[0].Topic, ContentType: "application/json",
			DeliveryMode: amqp.Persistent, Timestamp: now, Body: u[0].Body}
		if len(u) > 1 {
			p.ContentType, p.Body = EnvelopeType, encodeEnvelope(items(u))
		}
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, b.name("events"), u[0].Topic, false, false, p)
		if err != nil {
			pubErr = fmt.Errorf("publish %s: %w", u[0].ID, err)
			break
		}
		confs = append(confs, dc)
		b.published.Add(1)
		b.carried.Add(int64(len(u)))
	}
	b.pubMu.Unlock()
	ids := make([]string, 0, len(msgs))
	for i, dc := range confs {
		acked, err := dc.WaitContext(ctx)
		if err != nil {
			pubErr = errors.Join(pubErr, fmt.Errorf("confirm: %w", err))
			break
		}
		if acked {
			for _, m := range units[i] {
				ids = append(ids, m.ID)
			}
		} else if pubErr == nil {
			pubErr = fmt.Errorf("broker refused message %s", units[i][0].ID)
		}
	}
	if pubErr != nil {
		// Unconfirmed messages stay unsent; a fresh channel gets a fresh confirm sequence.
		b.pubMu.Lock()
		if b.pubCh == ch {
			_ = ch.Close()
			b.pubCh = nil
		}
		b.pubMu.Unlock()
	}
	return ids, pubErr
}

// Published reports how many AMQP messages Publish sent and how many saga messages they carried.
func (b *Bus) Published() (amqpMessages, sagaMessages int64) {
	return b.published.Load(), b.carried.Load()
}

// Declare declares q (with its retry and parking queues) now and again after every reconnection.
func (b *Bus) Declare(ctx context.Context, q settlement.Queue) error {
	b.mu.Lock()
	b.queues[q.Name] = q
	b.mu.Unlock()
	conn, err := b.waitConn(ctx)
	if err != nil {
		return err
	}
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("declare %s: %w", q.Name, err)
	}
	defer ch.Close()
	return b.declareQueue(ch, q)
}

// Consume delivers q's messages to h until ctx ends, up to q.Prefetch handler calls at once and q.Prefetch
// unacknowledged AMQP messages (plain messages or envelopes); after a connection loss it re-consumes on the new
// connection.
func (b *Bus) Consume(ctx context.Context, q settlement.Queue, h settlement.Handler) error {
	if q.Prefetch <= 0 {
		q.Prefetch = 16
	}
	b.mu.Lock()
	b.queues[q.Name] = q
	b.mu.Unlock()
	for {
		conn, err := b.waitConn(ctx)
		if err != nil {
			return ctx.Err()
		}
		err = b.consume(ctx, conn, q, h)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		b.log.Warn("consumer interrupted; re-consuming", slog.String("queue", q.Name), slog.Any("err", err))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-b.done:
			return ErrNotConnected
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (b *Bus) consume(ctx context.Context, conn *amqp.Connection, q settlement.Queue, h settlement.Handler) error {
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	if err := b.declareQueue(ch, q); err != nil {
		return err
	}
	if err := ch.Qos(q.Prefetch, 0, false); err != nil {
		return err
	}
	if err := ch.Confirm(false); err != nil { // for retrying and parking with a confirm
		return err
	}
	// Not ConsumeWithContext: its own basic.cancel at ctx end raced the deferred channel close and hung it.
	deliveries, err := ch.Consume(b.name(q.Name), "", false, false, false, false, nil)
	if err != nil {
		return err
	}
	// Messages are handled concurrently by up to Prefetch long-lived workers: the saga's steps wait on the network,
	// so concurrency, not CPU, is what a consumer's throughput needs, and a worker's stack, grown once, stays grown
	// (a goroutine per message paid for growing it every time).
	c := &consumer{b: b, ch: ch, q: q, h: h, quit: make(chan struct{}), freed: make(chan struct{}, 1),
		failed: make(chan error, 1)}
	defer c.workers.Wait() // before the deferred close: in-flight handlers still ack on this channel
	defer close(c.quit)
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-c.failed:
			return err
		case d, ok := <-deliveries:
			if !ok {
				return errors.New("delivery channel closed")
			}
			if err := c.dispatch(ctx, d); err != nil {
				return err
			}
		}
	}
}

// consumer is one consume loop: its channel and its workers.
//
// Workers start when a message finds none idle, up to Prefetch, and a message goes to the worker that went idle
// last. Handed out in turn, every message went to the worker idle longest, so all Prefetch workers took turns:
// the garbage collector shrank each idle one's stack and the next message grew it again, and it scanned them all
// at every cycle. Last idle, first used, the workers a load needs stay busy and grown, and the rest are not made.
type consumer struct {
	b       *Bus
	ch      *amqp.Channel
	q       settlement.Queue
	h       settlement.Handler
	quit    chan struct{} // closed when the loop ends: queued messages are left to the broker's redelivery
	failed  chan error
	workers sync.WaitGroup

	mu      sync.Mutex
	idle    []chan job    // idle workers' inboxes, the last to go idle at the end
	started int           // workers started
	freed   chan struct{} // a worker went idle (for a dispatch waiting for one)
}

// batch is one AMQP delivery, a plain message or an envelope, and what its handler calls decided.
type batch struct {
	d        amqp.Delivery
	envelope bool
	attempt  int // the delivery's attempt, from 1
	items    []item
	outs     []settlement.Outcome
	left     atomic.Int32 // messages not yet decided
}

type job struct {
	b *batch
	i int
}

// dispatch hands d's messages to the workers; it returns only when a worker took each or the loop ends.
func (c *consumer) dispatch(ctx context.Context, d amqp.Delivery) error {
	bt := &batch{d: d, attempt: 1 + rejections(d.Headers, c.b.name(c.q.Name)) + attempts(d.Headers)}
	if d.ContentType == EnvelopeType {
		items, err := decodeEnvelope(d.Body)
		if err != nil {
			c.b.log.Error("unreadable envelope; parking it", slog.String("queue", c.q.Name), slog.Any("err", err))
			return c.park(ctx, d)
		}
		bt.envelope, bt.items = true, items
	} else {
		topic := d.Type
		if topic == "" {
			topic = d.RoutingKey
		}
		bt.items = []item{{ID: d.MessageId, Topic: topic, Body: d.Body}}
	}
	bt.outs = make([]settlement.Outcome, len(bt.items))
	bt.left.Store(int32(len(bt.items)))
	for i := range bt.items {
		inbox, err := c.idleWorker(ctx)
		if inbox == nil {
			return err
		}
		inbox <- job{bt, i} // an idle worker's inbox is empty
	}
	return nil
}

// idleWorker returns the inbox of the worker that went idle last, starting a worker if none is idle and fewer than
// Prefetch run, or waiting for one. It returns nil when the loop is to end (with the error, if one failed).
func (c *consumer) idleWorker(ctx context.Context) (chan job, error) {
	for {
		c.mu.Lock()
		if n := len(c.idle); n > 0 {
			inbox := c.idle[n-1]
			c.idle = c.idle[:n-1]
			c.mu.Unlock()
			return inbox, nil
		}
		if c.started < c.q.Prefetch {
			c.started++
			c.mu.Unlock()
			inbox := make(chan job, 1)
			c.workers.Add(1)
			go func() { defer c.workers.Done(); c.worker(ctx, inbox) }()
			return inbox, nil
		}
		c.mu.Unlock()
		select {
		case <-c.freed:
		case <-ctx.Done():
			return nil, nil
		case err := <-c.failed:
			return nil, err
		}
	}
}

func (c *consumer) worker(ctx context.Context, inbox chan job) {
	for {
		var j job
		select {
		case <-c.quit:
			return
		case j = <-inbox:
		}
		c.handle(ctx, j)
		c.mu.Lock()
		c.idle = append(c.idle, inbox)
		c.mu.Unlock()
		select {
		case c.freed <- struct{}{}:
		default:
		}
	}
}

// handle runs the handler on one message and settles its delivery once all of the delivery's messages are decided.
func (c *consumer) handle(ctx context.Context, j job) {
	it := j.b.items[j.i]
	out := c.h(ctx, settlement.Delivery{Message: settlement.Message{ID: it.ID, Topic: it.Topic, Body: it.Body},
		Attempt: j.b.attempt})
	if ctx.Err() != nil {
		return // shutting down: leave it unacknowledged; the broker redelivers it
	}
	j.b.outs[j.i] = out
	if j.b.left.Add(-1) > 0 {
		return
	}
	if err := c.settle(ctx, j.b); err != nil {
		select {
		case c.failed <- err:
		default:
		}
	}
}

// settle acknowledges a delivery whose messages are all decided. A plain message that is retried is rejected
// into the retry queue, as before envelopes. An envelope's retried messages go to the retry queue as a new
// envelope and its parked ones to the parking queue, each confirmed by the broker before the original is
// acknowledged: a crash in between redelivers the original, and the saga's steps dedupe by message id.
func (c *consumer) settle(ctx context.Context, bt *batch) error {
	if !bt.envelope && bt.outs[0] == settlement.Retry {
		return bt.d.Nack(false, false) // dead-letters into the retry queue
	}
	var retry []item
	var confs []*amqp.DeferredConfirmation
	headers := amqp.Table{AttemptHeader: int32(bt.attempt)}
	for i, out := range bt.outs {
		switch out {
		case settlement.Retry:
			retry = append(retry, bt.items[i])
		case settlement.Park:
			it := bt.items[i]
			h := headers
			if !bt.envelope {
				h = bt.d.Headers // as it came, x-death and all
			}
			dc, err := c.ch.PublishWithDeferredConfirmWithContext(ctx, "", c.b.name(c.q.Name+".parked"), false, false,
				amqp.Publishing{MessageId: it.ID, Type: it.Topic, ContentType: "application/json",
					DeliveryMode: amqp.Persistent, Timestamp: time.Now(), Headers: h, Body: it.Body})
			if err != nil {
				return err
			}
			confs = append(confs, dc)
		}
	}
	if len(retry) > 0 {
		p := amqp.Publishing{MessageId: retry[0].ID, Type: retry[0].Topic, ContentType: EnvelopeType,
			DeliveryMode: amqp.Persistent, Timestamp: time.Now(), Headers: headers, Body: encodeEnvelope(retry)}
		dc, err := c.ch.PublishWithDeferredConfirmWithContext(ctx, "", c.b.name(c.q.Name+".retry"), false, false, p)
		if err != nil {
			return err
		}
		confs = append(confs, dc)
	}
	for _, dc := range confs {
		if acked, err := dc.WaitContext(ctx); err != nil || !acked {
			return errors.Join(errors.New("retry or parking not confirmed"), err, bt.d.Nack(false, true))
		}
	}
	if testBeforeAck != nil {
		testBeforeAck(c.b)
	}
	return bt.d.Ack(false)
}

// park moves an unreadable delivery to the parking queue as it is, confirmed, then acknowledges it.
func (c *consumer) park(ctx context.Context, d amqp.Delivery) error {
	dc, err := c.ch.PublishWithDeferredConfirmWithContext(ctx, "", c.b.name(c.q.Name+".parked"), false, false, amqp.Publishing{
		MessageId: d.MessageId, Type: d.Type, ContentType: d.ContentType, DeliveryMode: amqp.Persistent,
		Timestamp: time.Now(), Headers: d.Headers, Body: d.Body,
	})
	if err != nil {
		return err
	}
	if acked, err := dc.WaitContext(ctx); err != nil || !acked {
		return errors.Join(errors.New("parking not confirmed"), err, d.Nack(false, true))
	}
	return d.Ack(false)
}

// testBeforeAck, when set by a test, runs after an envelope's retries and parks are confirmed and before the
// envelope is acknowledged: the window a crash would leave both the original and its republished messages.
var testBeforeAck func(*Bus)

// attempts reads AttemptHeader: deliveries the messages had before they were republished to the retry queue.
func attempts(h amqp.Table) int {
	switch n := h[AttemptHeader].(type) {
	case int32:
		return int(max(n, 0))
	case int64:
		return int(max(n, 0))
	case int16:
		return int(max(n, 0))
	case int8:
		return int(max(n, 0))
	}
	return 0
}

func items(msgs []settlement.Message) []item {
	out := make([]item, len(msgs))
	for i, m := range msgs {
		out[i] = item(m)
	}
	return out
}

// rejections counts how often a delivery was rejected from queue, from the broker's x-death header.
func rejections(h amqp.Table, queue string) int {
	deaths, _ := h["x-death"].([]any)
	for _, x := range deaths {
		t, ok := x.(amqp.Table)
		if !ok || t["queue"] != queue || t["reason"] != "rejected" {
			continue
		}
		if n, ok := t["count"].(int64); ok {
			return int(n)
		}
	}
	return 0
}

// Ping reports whether the connection is up.
func (b *Bus) Ping(context.Context) error {
	if b.current() == nil {
		return ErrNotConnected
	}
	return nil
}

// Parked counts the messages parked for a queue (ErrNotConnected while down).
func (b *Bus) Parked(ctx context.Context, queue string) (int, error) {
	return b.inspect(ctx, b.name(queue+".parked"))
}

func (b *Bus) inspect(ctx context.Context, name string) (int, error) {
	conn, err := b.waitConn(ctx)
	if err != nil {
		return 0, err
	}
	ch, err := conn.Channel()
	if err != nil {
		return 0, err
	}
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(name, true, false, false, false, nil)
	if err != nil {
		return 0, err
	}
	return q.Messages, nil
}

// Teardown deletes the bus's queues and exchanges (tests, or retiring a prefix).
func (b *Bus) Teardown(ctx context.Context) error {
	conn, err := b.waitConn(ctx)
	if err != nil {
		return err
	}
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	b.mu.Lock()
	var names []string
	for _, q := range b.queues {
		names = append(names, b.name(q.Name), b.name(q.Name+".retry"), b.name(q.Name+".parked"))
	}
	b.mu.Unlock()
	var errs []error
	for _, n := range names {
		if _, err := ch.QueueDelete(n, false, false, false); err != nil {
			return err // the channel is closed after an error
		}
	}
	for _, x := range []string{b.name("events"), b.name("dlx")} {
		errs = append(errs, ch.ExchangeDelete(x, false, false))
	}
	return errors.Join(errs...)
}

// Close stops the supervisor and closes the connection. Consumers return once their ctx ends.
func (b *Bus) Close() error {
	select {
	case <-b.done:
		return nil
	default:
	}
	close(b.done)
	b.mu.Lock()
	c := b.conn
	b.mu.Unlock()
	var err error
	if c != nil && !c.IsClosed() {
		err = c.Close()
	}
	b.wg.Wait()
	return err
}
