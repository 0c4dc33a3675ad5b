package pgledger

import (
	"context"
	"hash/fnv"
	"slices"
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
	lead chan struct{} // told to lead the next group
}

// group commits the saga's writes together: PostgreSQL's commit (an fsync) is what bounds how many saga steps
// a second the ledger takes, so statements that arrive while a commit is under way wait and go in the next one,
// pipelined in one transaction. Each statement stays atomic by itself; a failing group is re-run statement by
// statement, so one bad statement cannot fail the others. No goroutine of its own: the caller that finds no
// commit under way leads one group (its own statement and whatever queued), then hands the lead to the oldest
// waiter, so no caller flushes more than one group.
type group struct {
	mu      sync.Mutex
	queue   []*stmt
	leading bool
}

// groupShards is how many groups commit at once. Statements about one order (or one hold) always share a shard,
// so concurrent groups do not wait on each other's rows; two let PostgreSQL use both cores of a small machine.
const groupShards = 2

func (l *Ledger) exec(ctx context.Context, key string, s *stmt) error {
	s.done = make(chan struct{})
	s.lead = make(chan struct{}, 1)
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	g := &l.group[h.Sum32()%groupShards]
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
	n := min(len(g.queue), maxGroup)
	batch := g.queue[:n:n]
	g.queue = g.queue[n:]
	g.mu.Unlock()
	// Others' statements ride on this flush: it must not end with the leader's context.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	l.flush(fctx, batch)
	cancel()
	l.groups.Add(1)
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

// GroupStats reports how many group commits ran and how many statements they carried.
func (l *Ledger) GroupStats() (groups, statements int64) { return l.groups.Load(), l.grouped.Load() }

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
