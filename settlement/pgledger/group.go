package pgledger

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// maxGroup is the most statements one group commit carries.
const maxGroup = 256

// stmt is one self-contained statement (atomic on its own) and how to read its single result row. scan returns
// an error only for a failure of the statement itself; "no row" outcomes are results it records.
type stmt struct {
	sql  string
	args []any
	scan func(pgx.Row) error
	err  error
	done chan struct{}
}

// group commits the saga's writes together: PostgreSQL's commit (an fsync) is what bounds how many saga steps
// a second the ledger takes, so statements that arrive while a commit is under way wait and go in the next one,
// pipelined in one transaction. Each statement stays atomic by itself; a failing group is re-run statement by
// statement, so one bad statement cannot fail the others. No goroutine of its own: the first caller to find no
// commit under way leads and flushes until the queue is empty.
type group struct {
	mu      sync.Mutex
	queue   []*stmt
	leading bool
}

func (l *Ledger) exec(ctx context.Context, s *stmt) error {
	s.done = make(chan struct{})
	g := &l.group
	g.mu.Lock()
	g.queue = append(g.queue, s)
	if g.leading {
		g.mu.Unlock()
		select {
		case <-s.done:
			return s.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	g.leading = true
	for len(g.queue) > 0 {
		n := min(len(g.queue), maxGroup)
		batch := g.queue[:n:n]
		g.queue = g.queue[n:]
		g.mu.Unlock()
		// Others' statements ride on this flush: it must not end with the leader's context.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		l.flush(fctx, batch)
		cancel()
		for _, b := range batch {
			close(b.done)
		}
		g.mu.Lock()
	}
	g.leading = false
	g.mu.Unlock()
	return s.err
}

func (l *Ledger) flush(ctx context.Context, batch []*stmt) {
	if len(batch) == 1 {
		batch[0].err = batch[0].scan(l.pool.QueryRow(ctx, batch[0].sql, batch[0].args...))
		return
	}
	err := pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
		var pb pgx.Batch
		for _, s := range batch {
			pb.Queue(s.sql, s.args...)
		}
		br := tx.SendBatch(ctx, &pb)
		for _, s := range batch {
			if err := s.scan(br.QueryRow()); err != nil {
				_ = br.Close()
				return err
			}
		}
		return br.Close()
	})
	if err == nil {
		return
	}
	// One statement failed (or the group deadlocked with another process's): nothing of the group was
	// committed, so run each alone and let each fail on its own.
	l.groupFallbacks.Add(1)
	for _, s := range batch {
		s.err = s.scan(l.pool.QueryRow(ctx, s.sql, s.args...))
	}
}
