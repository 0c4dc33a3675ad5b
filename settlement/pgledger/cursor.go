package pgledger

import (
	"slices"
	"sync"
	"time"
)

// fullScanEvery is how often the relay reads the outbox from its start instead of from its cursor, for rows the
// cursor passed while another process's relay held them and then gave them back (it died, or its broker failed).
const fullScanEvery = 10 * time.Second

// relayCursor is the seq below which this ledger's relays need not look for unsent rows, so a relay does not step
// over every row deleted before it (dead until a vacuum) on each read.
//
// Rows do not commit in seq order: a transaction that took a seq may commit after a relay read past it. So a
// relay round's reach (the highest seq up to which it confirmed every row it claimed) becomes the cursor only
// once every transaction that could have taken a seq below it has ended: every outbox row is written by a
// transaction that already has an id (its order's row comes first), so a seq at or below the reach was taken by
// a transaction older than the round's snapshot's xmax, and once a later snapshot's xmin passes that xmax, each
// such transaction has committed (its rows are visible to the next read) or rolled back.
type relayCursor struct {
	mu       sync.Mutex
	from     int64   // read after this seq
	pending  []reach // rounds waiting for older transactions to end, in order
	active   []int64 // the starting seq of rounds under way, which may give rows back above it
	fullScan time.Time
}

type reach struct {
	seq  int64 // every row up to here that was visible and free was relayed
	xmax int64 // the first transaction id not yet started when that was known
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

// end closes a round that started at from. A round that committed reports how far it got (top) and the bounds
// of a snapshot taken after its read; a failed round reports ok false and moves nothing.
func (c *relayCursor) end(from int64, ok bool, top, xmin, xmax int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i := slices.Index(c.active, from); i >= 0 {
		c.active = slices.Delete(c.active, i, i+1)
	}
	if !ok {
		return
	}
	if top > c.from && len(c.pending) < 64 && (len(c.pending) == 0 || top > c.pending[len(c.pending)-1].seq) {
		c.pending = append(c.pending, reach{seq: top, xmax: xmax})
	}
	// A round under way may still give back rows after its start: stay at or below it.
	limit := int64(1<<63 - 1)
	for _, f := range c.active {
		limit = min(limit, f)
	}
	for len(c.pending) > 0 && c.pending[0].xmax <= xmin && c.pending[0].seq <= limit {
		c.from = max(c.from, c.pending[0].seq)
		c.pending = c.pending[1:]
	}
}

// low is the cursor: no unsent row this ledger knows of lies at or below it.
func (c *relayCursor) low() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.from
}
