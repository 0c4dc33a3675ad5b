package pgledger

import (
	"math"
	"slices"
	"sync"
	"time"
)

// fullScanEvery is how often the relay reads the outbox from its start instead of from its cursor, for rows the
// cursor passed while another process's relay held them and then gave them back (it died, or its broker failed).
const fullScanEvery = 10 * time.Second

// relayCursor is the seq up to which this ledger's relays need not look for unsent rows, so a relay does not step
// over every row deleted before it (dead until a vacuum) on each read.
//
// Rows do not commit in seq order: a transaction that took a seq may commit after a relay read past it. Every
// outbox row is written by a transaction that already has an id (its order's row comes first), and ids are given
// out in order, so the seqs up to the highest one a round deleted were taken by transactions with lower ids than
// the round's own. Once a later round reads from a snapshot whose xmin is past that id, each of them has committed
// or rolled back, so that read sees every row they wrote: when it saw all rows up to that seq (it was not cut by
// its limit, and the broker confirmed all it took), the cursor moves there.
type relayCursor struct {
	mu       sync.Mutex
	from     int64   // read after this seq
	pending  []reach // rounds waiting for older transactions to end, in seq order
	active   []int64 // the starting seq of rounds under way, which may give rows back above it
	fullScan time.Time
}

type reach struct {
	seq int64 // the highest seq a round deleted
	xid int64 // that round's transaction id
}

// round is what one relay round reports to the cursor.
type round struct {
	from      int64 // where it read from
	committed bool
	xmin      int64 // of a snapshot taken before its read
	xid       int64 // its own transaction id (0: it wrote nothing)
	top       int64 // the highest seq it deleted
	seen      int64 // every row its read saw up to here went out
}

// start begins a relay round and says where it reads from.
func (c *relayCursor) start() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	from := c.from
	if now := time.Now(); now.Sub(c.fullScan) >= fullScanEvery {
		c.fullScan, from = now, 0
	}
	c.active = append(c.active, from)
	return from
}

// end closes a round; one that did not commit moves nothing.
func (c *relayCursor) end(r round) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i := slices.Index(c.active, r.from); i >= 0 {
		c.active = slices.Delete(c.active, i, i+1)
	}
	if !r.committed {
		return
	}
	// A round under way may still give back rows after its start.
	limit := r.seen
	for _, f := range c.active {
		limit = min(limit, f)
	}
	for len(c.pending) > 0 && c.pending[0].xid < r.xmin {
		to := min(c.pending[0].seq, limit)
		c.from = max(c.from, to)
		if to < c.pending[0].seq {
			break
		}
		c.pending = c.pending[1:]
	}
	if r.xid > 0 && r.top > c.from && len(c.pending) < 64 && (len(c.pending) == 0 || r.top > c.pending[len(c.pending)-1].seq) {
		c.pending = append(c.pending, reach{seq: r.top, xid: r.xid})
	}
}

// low is the cursor: no unsent row this ledger knows of lies at or below it.
func (c *relayCursor) low() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.from
}

// everything is a round's seen when its read was not cut short.
const everything = math.MaxInt64
