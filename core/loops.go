package core

import (
	"context"
	"log/slog"
	"time"
)

// The background loops keep the inventory tidy and its gauges fresh: the sweeper expires holds past their deadline
// (each hold call also reclaims a few lazily; the sweeper catches the rest), a stats loop refreshes
// onsale_inventory_units, an audit loop checks the counters against the holds, and a probe refreshes
// onsale_backend_up between readiness checks.

// sweepBatch is how many holds one Sweep call may expire; the sweeper repeats while batches come back full.
const sweepBatch = 500

func (s *Server) startLoops() {
	s.every(s.cfg.ReadyEvery, func(ctx context.Context) { s.probe(ctx) })
	if s.auth.keys != nil {
		s.every(s.cfg.OIDCKeyRefresh, s.auth.keys.refresh)
	}
	if !s.cfg.Loops {
		return
	}
	s.every(s.cfg.SweepEvery, s.sweep)
	s.every(s.cfg.StatsEvery, s.refreshUnits)
	s.every(s.cfg.AuditEvery, s.audit)
}

// every runs f now and then every d until shutdown.
func (s *Server) every(d time.Duration, f func(context.Context)) {
	s.loops.Go(func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			f(s.base)
			select {
			case <-s.base.Done():
				return
			case <-t.C:
			}
		}
	})
}

func (s *Server) events(ctx context.Context) []string {
	evs, err := s.inv.Events(ctx)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("list events", slog.Any("err", err))
	}
	return evs
}

func (s *Server) sweep(ctx context.Context) {
	for _, ev := range s.events(ctx) {
		for ctx.Err() == nil {
			n, err := s.inv.Sweep(ctx, ev, sweepBatch)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("sweep", slog.String("event", ev), slog.Any("err", err))
				}
				break
			}
			s.metrics.expired.Add(float64(n))
			if n < sweepBatch {
				break
			}
		}
	}
}

func (s *Server) refreshUnits(ctx context.Context) {
	for _, ev := range s.events(ctx) {
		st, err := s.inv.Stats(ctx, ev)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("inventory stats", slog.String("event", ev), slog.Any("err", err))
			}
			continue
		}
		for _, sec := range st.Sections {
			s.metrics.units.WithLabelValues(ev, sec.ID, "available").Set(float64(sec.Available))
			s.metrics.units.WithLabelValues(ev, sec.ID, "held").Set(float64(sec.Held))
			s.metrics.units.WithLabelValues(ev, sec.ID, "sold").Set(float64(sec.Sold))
			s.metrics.units.WithLabelValues(ev, sec.ID, "withheld").Set(float64(sec.Withheld))
		}
	}
}

func (s *Server) audit(ctx context.Context) {
	for _, ev := range s.events(ctx) {
		r, err := s.inv.Audit(ctx, ev)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("inventory audit", slog.String("event", ev), slog.Any("err", err))
			}
			continue
		}
		s.metrics.auditDiffs.WithLabelValues(ev).Set(float64(len(r.Differences)))
		if len(r.Differences) > 0 {
			s.log.Error("inventory audit found differences", slog.String("event", ev),
				slog.Int("count", len(r.Differences)), slog.Any("differences", first(r.Differences, 10)))
		}
	}
}

func first(xs []string, n int) []string { return xs[:min(n, len(xs))] }
