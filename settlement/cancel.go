package settlement

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// An event's cancellation is a job in three steps, each recorded in the ledger so that any replica resumes it
// where it stopped (every replica runs the job; each step is safe to run twice or at once):
//
//  1. CancelEvent records the cancellation.
//  2. The inventory is closed (no more holds) and its live holds released, so no unpaid order can still sell
//     seats: an authorization that arrives after that is cancelled, never captured. The unsettled orders are
//     then made due for the poller, which fails them at once instead of at their checkout deadline.
//  3. Every paid order's refund is asked for, in batches, each batch in one transaction with its payment
//     messages; the saga refunds each with the key refund:<pi>, so nobody is refunded twice. The step repeats
//     until no order is left unsettled (one authorized before the close may still become paid), then the job
//     is finished. Refunds that fail are retried by the saga and counted (RefundProgress.Failed).

// cancelBatch is how many holds a Cancel call releases, and how many refunds one ledger transaction asks for.
const cancelBatch = 256

// CancelEvent cancels an event for good and starts its cancellation job (above); it returns the record with the
// refunds' progress. Repeating it is harmless. ErrNotFound for an event the ledger does not know.
func (s *Service) CancelEvent(ctx context.Context, event string) (Cancellation, error) {
	if event == "" || len(event) > maxIDLen {
		return Cancellation{}, fmt.Errorf("cancel event %q: %w", event, ErrNotFound)
	}
	c, err := s.ledger.CancelEvent(ctx, event, s.opts.Now().UTC())
	if err != nil {
		return Cancellation{}, fmt.Errorf("cancel event %s: %w", event, err)
	}
	s.cancelled.Store(event, true)
	if c.FinishedAt.IsZero() {
		s.log.InfoContext(ctx, "event cancelled", slog.String("event", event))
		select {
		case s.cancelWake <- struct{}{}:
		default:
		}
	}
	return s.Cancellation(ctx, event)
}

// Cancellation returns an event's cancellation (zero CancelledAt when it is not cancelled) with its refunds'
// progress; ErrNotFound for an unknown event.
func (s *Service) Cancellation(ctx context.Context, event string) (Cancellation, error) {
	if event == "" || len(event) > maxIDLen {
		return Cancellation{}, fmt.Errorf("event %q: %w", event, ErrNotFound)
	}
	c, err := s.ledger.Cancellation(ctx, event)
	if err != nil {
		return Cancellation{}, fmt.Errorf("cancellation of %s: %w", event, err)
	}
	return c, nil
}

// cancellations runs the open cancellation jobs: when one is started, and every CancelEvery (which is what
// resumes a job after a crash, on any replica).
func (s *Service) cancellations(ctx context.Context) {
	t := time.NewTicker(s.opts.CancelEvery)
	defer t.Stop()
	for ctx.Err() == nil {
		events, err := s.ledger.OpenCancellations(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "cancellation jobs", slog.Any("err", err))
		}
		for _, ev := range events {
			if ctx.Err() != nil {
				return
			}
			s.cancelled.Store(ev, true)
			if err := s.runCancellation(ctx, ev); err != nil && ctx.Err() == nil {
				s.m.cancelErrors.Inc()
				s.log.WarnContext(ctx, "cancellation job step failed; will retry", slog.String("event", ev),
					slog.Any("err", err))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.cancelWake:
		case <-t.C:
		}
	}
}

// runCancellation takes one event's job as far as it goes now.
func (s *Service) runCancellation(ctx context.Context, event string) error {
	c, err := s.ledger.Cancellation(ctx, event)
	if err != nil {
		return err
	}
	if c.CancelledAt.IsZero() || !c.FinishedAt.IsZero() {
		return nil
	}
	if c.HoldsClosedAt.IsZero() {
		if err := s.closeStock(ctx, event); err != nil {
			return err
		}
		if err := s.ledger.HoldsClosed(ctx, event, s.opts.Now().UTC()); err != nil {
			return fmt.Errorf("record closed holds: %w", err)
		}
		s.log.InfoContext(ctx, "cancelled event's holds ended", slog.String("event", event))
	}
	for {
		if err := s.cancelHook(ctx, "refunds", event); err != nil {
			return err
		}
		n, open, err := s.ledger.RequestEventRefunds(ctx, event, ReasonEventCancelled, cancelBatch,
			s.opts.Now().Add(s.opts.StallAfter), paymentMessage)
		if err != nil {
			return fmt.Errorf("ask for refunds: %w", err)
		}
		if n > 0 {
			s.m.cancelRefunds.Add(float64(n))
			s.nudge()
		}
		if n == cancelBatch {
			continue
		}
		if open > 0 {
			return nil // orders still settling: the next round looks again
		}
		if n == 0 {
			if err := s.ledger.FinishCancellation(ctx, event, s.opts.Now().UTC()); err != nil {
				return fmt.Errorf("finish: %w", err)
			}
			s.log.InfoContext(ctx, "cancelled event's refunds all asked for", slog.String("event", event))
			return nil
		}
	}
}

// closeStock closes the event's inventory and releases its live holds.
func (s *Service) closeStock(ctx context.Context, event string) error {
	for {
		if err := s.cancelHook(ctx, "holds", event); err != nil {
			return err
		}
		_, more, err := s.stock.Cancel(ctx, event, cancelBatch)
		if err != nil {
			return fmt.Errorf("close inventory: %w", err)
		}
		if !more {
			return nil
		}
	}
}

// cancelHook lets a test stop the job between steps (Options.CancelHook).
func (s *Service) cancelHook(ctx context.Context, step, event string) error {
	if s.opts.CancelHook == nil {
		return nil
	}
	return s.opts.CancelHook(ctx, step, event)
}

// failReason is why an order that got no seats failed: its event's cancellation when that is what ended it.
func (s *Service) failReason(event, reason string) string {
	if _, ok := s.cancelled.Load(event); ok {
		return ReasonEventCancelled
	}
	return reason
}

// noteRefundFailure counts a refund attempt that failed; the saga retries the refund.
func (s *Service) noteRefundFailure(ctx context.Context, o Order, err error) {
	s.m.refundFailures.Inc()
	if nerr := s.ledger.RefundFailed(ctx, o.ID, err.Error()); nerr != nil && !errors.Is(nerr, ErrNotFound) {
		s.log.WarnContext(ctx, "count a failed refund", slog.String("order", o.ID), slog.Any("err", nerr))
	}
}
