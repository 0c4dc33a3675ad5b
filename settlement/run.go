package settlement

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Queues the service consumes. A bus declares PaymentsQueue when it starts, so that payment requests published
// before the first worker attaches are kept.
var (
	PaymentsQueue = Queue{Name: "payments", Bind: "payment.*"}
	BookingsQueue = Queue{Name: "bookings", Bind: "booking.*"}
)

// Run runs the outbox relay, the payment workers, the stalled-saga poller, the cancellation jobs and, when
// OnBooking is set, the booking consumer, until ctx ends. It returns nil at ctx end.
func (s *Service) Run(ctx context.Context) error {
	// Declare first, so that nothing the relay publishes finds no queue.
	queues := []Queue{PaymentsQueue}
	if s.opts.OnBooking != nil {
		queues = append(queues, BookingsQueue)
	}
	for _, q := range queues {
		// A broker that is down or restarting now is no reason to stop: wait for it.
		for backoff := 50 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
			err := s.bus.Declare(ctx, q)
			if err == nil {
				break
			}
			s.log.WarnContext(ctx, "declare queue", slog.String("queue", q.Name), slog.Any("err", err))
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
		}
	}
	var wg sync.WaitGroup
	start := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	if !s.opts.DisableRelay {
		for range s.opts.Relays {
			start(s.relay)
		}
	}
	start(s.poll)
	start(s.cancellations)
	q := PaymentsQueue
	q.Prefetch = s.opts.Prefetch
	for range s.opts.Workers {
		start(func(ctx context.Context) { _ = s.bus.Consume(ctx, q, s.consumer(s.handlePayment)) })
	}
	if s.opts.OnBooking != nil {
		bq := BookingsQueue
		bq.Prefetch = s.opts.Prefetch
		// Booking events come one per order, as payment requests do: one consumer per four payment workers keeps
		// their acknowledgements' round trips from capping the outcome rate.
		for range max(1, s.opts.Workers/4) {
			start(func(ctx context.Context) { _ = s.bus.Consume(ctx, bq, s.consumer(s.handleBooking)) })
		}
	}
	wg.Wait()
	return nil
}

// consumer applies the retry policy: a delivery that still fails on its last attempt is parked and counted.
func (s *Service) consumer(h Handler) Handler {
	return func(ctx context.Context, d Delivery) Outcome {
		out := h(ctx, d)
		if out == Retry && d.Attempt >= s.opts.MaxAttempts {
			out = Park
		}
		if out == Park {
			s.m.deadLetters.Inc()
			s.log.ErrorContext(ctx, "message parked", slog.String("message", d.ID), slog.String("topic", d.Topic),
				slog.Int("attempt", d.Attempt))
		}
		return out
	}
}

func (s *Service) handleBooking(ctx context.Context, d Delivery) Outcome {
	ev, err := readBookingEvent(d.Body)
	if err != nil {
		return Park
	}
	s.opts.OnBooking(ctx, ev)
	return Ack
}

// relay publishes outbox rows with publisher confirms; a row leaves the outbox only once the broker confirmed
// it, so rows caught in a broker outage stay unsent and go out again.
func (s *Service) relay(ctx context.Context) {
	idle := time.NewTicker(s.opts.RelayIdle)
	defer idle.Stop()
	backoff := time.Duration(0)
	gaugeAt := time.Time{}
	for {
		n, err := s.ledger.RelayOutbox(ctx, s.opts.RelayBatch, s.bus.Publish)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			backoff = min(max(2*backoff, 50*time.Millisecond), 2*time.Second)
			s.log.WarnContext(ctx, "outbox relay", slog.Any("err", err), slog.Duration("retry_in", backoff))
		} else {
			backoff = 0
		}
		if now := time.Now(); now.Sub(gaugeAt) > time.Second {
			gaugeAt = now
			if p, err := s.ledger.OutboxPending(ctx); err == nil {
				s.m.outbox.Set(float64(p))
			}
		}
		if err == nil && n >= s.opts.RelayBatch {
			continue // more waiting
		}
		linger := s.lingerAfter(n)
		if backoff > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
			// Every saga write wakes the relay: lingering lets the rows of several group commits go out in one
			// publish and one outbox round, instead of a database round per handful of rows, and on RabbitMQ in
			// one envelope per topic, the broker's unit of cost.
			select {
			case <-ctx.Done():
				return
			case <-time.After(linger):
			}
		case <-idle.C:
		}
	}
}

// lingerAfter is how long a woken relay waits after a round that published n rows: in proportion to n, up to
// RelayLinger at a quarter of a RelayBatch. The broker's CPU follows envelopes per second, so a busy outbox waits
// to fill them, while a quiet one, whose rounds find a few rows, goes out promptly and adds little lag. (Reaching
// the longest wait only at a full RelayBatch of 256 left rounds at about 1,000 orders/s a third smaller.)
func (s *Service) lingerAfter(n int) time.Duration {
	full := time.Duration(max(1, s.opts.RelayBatch/4))
	return min(s.opts.RelayLinger, max(minRelayLinger, s.opts.RelayLinger*time.Duration(n)/full))
}

// minRelayLinger keeps a trickle of rows from costing a round (and an envelope per topic) per row.
const minRelayLinger = 2 * time.Millisecond

// poll re-drives orders stalled in pending or paying past their deadline: it re-publishes their payment
// request, and the worker resumes from the persisted state (re-reading the PaymentIntent by its stored key).
func (s *Service) poll(ctx context.Context) {
	every := max(s.opts.StallAfter/4, 20*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		orders, err := s.ledger.Redrive(ctx, s.opts.Now(), 256, s.nextDeadline, paymentMessage)
		if err != nil {
			if ctx.Err() == nil {
				s.log.WarnContext(ctx, "stalled-saga poller", slog.Any("err", err))
			}
			continue
		}
		for _, o := range orders {
			s.log.InfoContext(ctx, "re-driving stalled order", slog.String("order", o.ID),
				slog.String("status", string(o.Status)), slog.Int("attempts", o.Attempts))
		}
		if len(orders) > 0 {
			s.nudge()
		}
	}
}

// nextDeadline backs off: StallAfter × 2^attempts, at most 64×. An order waiting for the fan is also looked at
// shortly before its hold's checkout deadline (a lost webhook must not cost a fan who paid in time the seats) and
// at the deadline itself, when an authorization still missing is cancelled.
func (s *Service) nextDeadline(o Order) time.Time {
	now := s.opts.Now()
	d := now.Add(s.opts.StallAfter << min(o.Attempts, 6))
	if o.Status != RequiresAction || o.PayBy.IsZero() {
		return d
	}
	for _, look := range [...]time.Time{o.PayBy.Add(-s.opts.StallAfter / 2), o.PayBy} {
		if now.Before(look) {
			return minTime(d, look)
		}
	}
	return d
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
