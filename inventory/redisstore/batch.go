package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/onsale/onsale/inventory/lua"
)

// ErrClosed is returned by Hold after Close.
var ErrClosed = errors.New("redisstore: store closed")

// holdCall is one Hold waiting for its batch. Calls are recycled (callPool) once their Hold has read the reply.
type holdCall struct {
	event  string
	keys   [3]string // fan, hold, idempotency key ("" for none)
	secs   []string  // the hold's sections in order of first appearance, named seats first
	spec   string    // the hold script's spec of the hold: idempotency flag, seats and items
	fp     string    // the request's fingerprint, sent with an idempotency key
	id     string    // the new hold's id
	v      any       // the hold's entry of the reply
	shared any       // the reply's last entry: what the call's new holds share
	err    error
	done   chan struct{} // one send when the reply is in; buffered, so a sender never waits on a caller gone away
	secBuf [2]string     // room for a common hold's sections
}

var callPool = sync.Pool{New: func() any { return &holdCall{done: make(chan struct{}, 1)} }}

func newCall(event string) *holdCall {
	c := callPool.Get().(*holdCall)
	c.event = event
	c.secs = c.secBuf[:0]
	return c
}

// free recycles c; only once nothing will touch it again (its reply was received, or it never went out).
func (c *holdCall) free() {
	done := c.done
	*c = holdCall{done: done}
	callPool.Put(c)
}

// batcher gathers concurrent holds into batches: one round trip carries up to max holds. The holds of one event go
// in one call of the hold script (it serves them in order, each all or nothing); the calls for several events go in
// one pipeline. An idle store sends a hold at once; while a batch is on the wire the next one gathers until that
// batch is answered, it is full, or window has passed since its first hold. So a batch is on the wire alone unless
// the load fills batches or a round trip is slow, and then up to inflight go at once.
//
// A hold joins the queue under mu and waits on its call; whoever finds a batch ready to go (the hold that fills it or
// finds the store idle, the sender whose batch was answered, the window's timer) hands it to a sender. No goroutine
// is woken per hold but the hold's own, when its reply is in.
type batcher struct {
	s       *Store
	max     int
	window  time.Duration
	mu      sync.Mutex
	closed  bool
	queue   []*holdCall      // holds waiting for a batch, in arrival order
	onWire  int              // batches handed to the senders and not yet answered
	due     bool             // the holds queued may go: their window has passed or a batch was answered
	timer   *time.Timer      // ends the window; armed (timing) while holds wait behind a batch on the wire
	timing  bool             // the timer is armed
	armed   time.Time        // when it was
	batches chan []*holdCall // to the senders; room for inflight, so a hand-over under mu never waits
	drained bool             // batches is closed: the batcher is closed and nothing is left to send
	spare   chan []*holdCall // batch slices the senders are done with
	trips   atomic.Int64     // round trips sent, for the benchmarks' holds per round trip
	sent    atomic.Int64     // holds sent
	wg      sync.WaitGroup
}

// inflight bounds the batches on the wire at once. Redis runs scripts one at a time, so two keep it busy (one runs
// while the next waits); more would only split the waiting holds into smaller batches. A second batch goes out only
// when it is full or the first is slow (see batcher): a script call's own cost (about 216k server instructions: its
// tables, clock, reclaim, reads and writes) is some 6 holds' worth, so where Redis shares the machine's
// CPU two half batches cost it more than one whole one, and the holds gain nothing by waiting in Redis's socket
// instead of in the batcher.
const inflight = 2

// connIdle is how long a sender keeps an unused connection: one idle longer goes back to the client's pool, whose
// health check on the next take finds a connection the server dropped meanwhile (a restart, its idle timeout).
const connIdle = 500 * time.Millisecond

func newBatcher(s *Store, max int, window time.Duration) *batcher {
	b := &batcher{s: s, max: max, window: window, batches: make(chan []*holdCall, inflight),
		spare: make(chan []*holdCall, inflight+1)}
	if max > 1 {
		b.timer = time.AfterFunc(time.Hour, b.windowEnded)
		b.timer.Stop()
		// Long-lived senders keep their grown stacks; a goroutine per batch grew a fresh one inside go-redis each time.
		b.wg.Add(inflight)
		for range inflight {
			go b.sender(b.batches)
		}
	}
	return b
}

// do runs one hold, in a batch unless batching is off (max 1). Once it returns without error, c is the caller's again.
func (b *batcher) do(ctx context.Context, c *holdCall) (any, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, ErrClosed
	}
	if b.max <= 1 {
		b.mu.Unlock()
		b.exec(ctx, nil, []*holdCall{c})
		return c.v, c.err
	}
	b.queue = append(b.queue, c)
	b.dispatch()
	b.mu.Unlock()
	// A context that cannot end (the server's holds) waits on a plain receive, which costs the runtime less than a
	// select.
	cancel := ctx.Done()
	if cancel == nil {
		<-c.done
		return c.v, c.err
	}
	select {
	case <-c.done:
		return c.v, c.err
	case <-cancel:
		// The hold may still be made; a caller that must know repeats the request with its idempotency key.
		return nil, ctx.Err()
	}
}

// dispatch hands the senders what may go now, with mu held: a batch when the wire is idle, a full one or one whose
// window has passed while fewer than inflight are on the wire, everything once the batcher is closed. Holds left
// waiting behind a batch on the wire arm the window's timer.
func (b *batcher) dispatch() {
	for len(b.queue) > 0 && b.onWire < inflight {
		if b.onWire > 0 && len(b.queue) < b.max && !b.due && !b.closed {
			break
		}
		var batch []*holdCall
		select {
		case batch = <-b.spare:
		default:
			batch = make([]*holdCall, 0, b.max)
		}
		n := min(len(b.queue), b.max)
		batch = append(batch, b.queue[:n]...)
		// The queue's slice is reused from its start once emptied, so it stays as large as the largest backlog.
		rest := copy(b.queue, b.queue[n:])
		clear(b.queue[rest:])
		b.queue = b.queue[:rest]
		b.due = false
		if b.timing {
			b.timer.Stop()
			b.timing = false
		}
		b.onWire++
		b.batches <- batch // never waits: the channel has room for inflight, and fewer are on the wire
	}
	if len(b.queue) > 0 && !b.timing && !b.due {
		b.timing = true
		b.armed = time.Now()
		b.timer.Reset(b.window)
	}
}

// windowEnded is the timer's: the holds queued have waited a window, so they may go as a second batch on the wire.
func (b *batcher) windowEnded() {
	b.mu.Lock()
	// A call from a timer stopped too late (a batch took the holds it was for) may find the timer armed again.
	if left := b.window - time.Since(b.armed); b.timing && left > 0 {
		b.timer.Reset(left)
	} else if b.timing {
		b.timing = false
		b.due = true
		b.dispatch()
	}
	b.mu.Unlock()
}

// answered is a sender's: its batch is back, so the holds gathered meanwhile go (and wait no more for another
// batch on the wire).
func (b *batcher) answered() {
	b.mu.Lock()
	b.onWire--
	b.due = len(b.queue) > 0
	b.dispatch()
	b.drain()
	b.mu.Unlock()
}

// sender is one batch in flight at a time, on a connection of its own when the client allows (a single-node client):
// a connection taken from the pool for every batch costs a health check and more.
type sender struct {
	conn *redis.Conn
	used time.Time
}

func (b *batcher) sender(batches <-chan []*holdCall) {
	defer b.wg.Done()
	var sd sender
	defer sd.drop()
	for batch := range batches {
		b.exec(context.Background(), &sd, batch)
		b.answered()
		for _, c := range batch {
			c.done <- struct{}{}
		}
		clear(batch)
		select {
		case b.spare <- batch[:0]:
		default:
		}
	}
}

// processor sends a command: a client, one of its connections or a pipeline.
type processor interface {
	Process(ctx context.Context, cmd redis.Cmder) error
}

// roundTripper is a client or one of its connections.
type roundTripper interface {
	processor
	Pipeline() redis.Pipeliner
}

// client returns what the sender's next round trip goes on: the store's client for no sender.
func (sd *sender) client(s *Store, now time.Time) roundTripper {
	if sd == nil {
		return s.c
	}
	if sd.conn != nil && now.Sub(sd.used) > connIdle {
		sd.drop()
	}
	if sd.conn == nil {
		c, ok := s.c.(*redis.Client)
		if !ok {
			return s.c
		}
		sd.conn = c.Conn()
	}
	sd.used = now
	return sd.conn
}

func (sd *sender) drop() {
	if sd.conn != nil {
		_ = sd.conn.Close()
		sd.conn = nil
	}
}

// drain lets the senders end once the batcher is closed and has nothing left to send; with mu held.
func (b *batcher) drain() {
	if b.closed && !b.drained && b.onWire == 0 && len(b.queue) == 0 {
		b.drained = true
		close(b.batches)
	}
}

// close stops taking holds, sends the ones waiting and waits for every batch in flight.
func (b *batcher) close() {
	b.mu.Lock()
	b.closed = true
	if b.max > 1 {
		if b.timing {
			b.timer.Stop()
			b.timing = false
		}
		b.dispatch() // what fits on the wire goes now, the rest as batches are answered
		b.drain()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// exec sends a batch in one round trip: one hold script call per event, pipelined. Calls the server refused with
// NOSCRIPT (its script cache was flushed) did not run, so they are sent again with EVAL and the script's source,
// which a flush between a reload and the resend cannot refuse.
func (b *batcher) exec(ctx context.Context, sd *sender, batch []*holdCall) {
	s := b.s
	s.m.batchSize.Observe(float64(len(batch)))
	b.trips.Add(1)
	b.sent.Add(int64(len(batch)))
	groups := groupByEvent(batch)
	for attempt := 0; ; attempt++ {
		start := time.Now()
		rc := sd.client(s, start)
		cmds := make([]*redis.Cmd, len(groups))
		run := func(c processor, g eventGroup) *redis.Cmd {
			name, payload := "evalsha", s.sc.hold.Hash()
			if attempt > 0 {
				name, payload = "eval", lua.Hold
			}
			cmd := redis.NewCmd(ctx, g.script(s, name, payload)...)
			cmd.SetFirstKeyPos(3) // what a cluster client routes by
			_ = c.Process(ctx, cmd)
			return cmd
		}
		if len(groups) == 1 {
			cmds[0] = run(rc, groups[0])
		} else {
			pipe := rc.Pipeline()
			for i, g := range groups {
				cmds[i] = run(pipe, g)
			}
			_, _ = pipe.Exec(ctx) // each command carries its own error
		}
		s.m.roundtrip.Observe(time.Since(start).Seconds())
		var again []eventGroup
		for i, g := range groups {
			err := cmds[i].Err()
			if err != nil && sd != nil && !isReply(err) {
				sd.drop() // the connection failed: the next round trip takes another from the pool
			}
			if isNoScript(err) && attempt == 0 {
				again = append(again, g)
				continue
			}
			g.deliver(cmds[i].Val(), scriptErr(err))
		}
		if len(again) == 0 {
			return
		}
		groups = again
	}
}

// isReply reports whether err is the server's error reply, which leaves the connection fit for more.
func isReply(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

// eventGroup is the holds of one event in a batch, in arrival order.
type eventGroup []*holdCall

func groupByEvent(batch []*holdCall) []eventGroup {
	if len(batch) == 1 {
		return []eventGroup{batch}
	}
	idx := make(map[string]int, 4)
	var groups []eventGroup
	for _, c := range batch {
		i, ok := idx[c.event]
		if !ok {
			i = len(groups)
			idx[c.event] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], c)
	}
	return groups
}

// script builds the hold script's command for the group (name and payload: EVALSHA and the hash, or EVAL and the
// source): the event's keys, the sections of all its holds once each, then each hold's keys (fan, hold and, when it
// has one, idempotency key) and its spec (and fingerprint). A hold's strings go as pointers into its call, which
// boxing them would copy.
func (g eventGroup) script(s *Store, name, payload string) []any {
	var secBuf [4]string
	secs := secBuf[:0]
	nk, na := 3, 2
	for _, c := range g {
		nk, na = nk+2, na+1
		if c.keys[2] != "" {
			nk, na = nk+1, na+1
		}
		for _, sec := range c.secs {
			if !slices.Contains(secs, sec) {
				secs = append(secs, sec)
			}
		}
	}
	nk += 2 * len(secs)
	p := s.evKey(g[0].event)
	cmd := make([]any, 0, 3+nk+na+len(secs))
	cmd = append(cmd, name, payload, nk, p, p+"meta", p+"deadline")
	for _, sec := range secs {
		cmd = append(cmd, p+"sec:"+sec, p+"seats:"+sec)
	}
	for _, c := range g {
		cmd = append(cmd, &c.keys[0], &c.keys[1])
		if c.keys[2] != "" {
			cmd = append(cmd, &c.keys[2])
		}
	}
	cmd = append(cmd, len(g), len(secs))
	for _, sec := range secs {
		cmd = append(cmd, sec)
	}
	for _, c := range g {
		cmd = append(cmd, &c.spec)
		if c.keys[2] != "" {
			cmd = append(cmd, &c.fp)
		}
	}
	return cmd
}

// deliver hands each hold its entry of the reply and the shared last entry, or the call's error.
func (g eventGroup) deliver(v any, err error) {
	vals, _ := v.([]any)
	for i, c := range g {
		switch {
		case err != nil:
			c.err = err
		case len(vals) == len(g)+1:
			c.v, c.shared = vals[i], vals[len(g)]
		default:
			c.err = fmt.Errorf("hold script: %d replies for %d holds", len(vals), len(g))
		}
	}
}
