package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"

	"github.com/onsale/onsale/inventory"
)

// Hold takes units out of sale for a fan, all or nothing. Calls are gathered into batches by the batcher.
func (s *Store) Hold(ctx context.Context, req inventory.HoldRequest) (inventory.Hold, error) {
	call, err := s.holdCall(req)
	if err != nil {
		return inventory.Hold{}, err
	}
	v, err := s.batch.do(ctx, call)
	if err != nil {
		// A call given up on may still be answered, so it is not recycled.
		return inventory.Hold{}, fmt.Errorf("hold %s for %s: %w", req.Event, req.Fan, err)
	}
	h, err := holdFromReply(call, req.Fan, v)
	call.free()
	if err != nil {
		if re, ok := err.(*refusal); ok {
			re.event, re.fan, re.named = req.Event, req.Fan, true
			return inventory.Hold{}, re
		}
		return inventory.Hold{}, fmt.Errorf("hold %s for %s: %w", req.Event, req.Fan, err)
	}
	return h, nil
}

// holdCall checks what needs no stored state and builds one hold's part of the hold script's keys and arguments
// (the batch adds the event's keys, its sections and the count of holds).
func (s *Store) holdCall(req inventory.HoldRequest) (*holdCall, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	c := newCall(req.Event)
	// The keys, the hold id and the spec are cut from one string, a region of a shared slab chunk:
	// "<p>fan:<fan><p>hold:<id>[<p>idem:<n>:<fan>:<key>]<spec>", the spec "<i|-> N [sec row n]… M [sec q adj]…".
	pn := len(s.prefix) + len(":{ev:}:") + len(req.Event)
	prefix := func(b []byte) []byte {
		return append(append(append(append(b, s.prefix...), ":{ev:"...), req.Event...), "}:"...)
	}
	n := 2*pn + len("fan:hold:") + len(req.Fan) + inventory.HoldIDLen(req.Event) + 8
	for _, id := range req.Seats {
		n += len(id) + 2
	}
	for _, it := range req.Items {
		n += len(it.Section) + 8
	}
	if req.IdempotencyKey != "" {
		n += pn + 22 + len(req.Fan) + len(req.IdempotencyKey)
	}
	b := callSlab.take(n)[:0]
	b = append(append(prefix(b), "fan:"...), req.Fan...)
	fanEnd := len(b)
	b = append(prefix(b), "hold:"...)
	idAt := len(b)
	b = inventory.AppendHoldID(b, req.Event)
	holdEnd := len(b)
	if req.IdempotencyKey != "" {
		b = append(prefix(b), "idem:"...)
		b = strconv.AppendInt(b, int64(len(req.Fan)), 10)
		b = append(append(append(append(b, ':'), req.Fan...), ':'), req.IdempotencyKey...)
		b = append(b, 'i')
	} else {
		b = append(b, '-')
	}
	idemEnd := len(b) - 1
	b = strconv.AppendInt(append(b, ' '), int64(len(req.Seats)), 10)
	for _, id := range req.Seats {
		sec, row, num, err := inventory.ParseSeatID(id)
		if err != nil {
			c.free()
			return nil, fmt.Errorf("hold: %w", err)
		}
		if err := c.add(sec); err != nil {
			c.free()
			return nil, err
		}
		b = append(append(append(append(append(b, ' '), sec...), ' '), row...), ' ')
		b = strconv.AppendInt(b, int64(num), 10)
	}
	b = strconv.AppendInt(append(b, ' '), int64(len(req.Items)), 10)
	for _, it := range req.Items {
		if err := c.add(it.Section); err != nil {
			c.free()
			return nil, err
		}
		b = append(append(append(b, ' '), it.Section...), ' ')
		b = strconv.AppendInt(b, int64(it.Quantity), 10)
		if it.Adjacent {
			b = append(b, " 1"...)
		} else {
			b = append(b, " 0"...)
		}
	}
	if !inventory.ValidEventID(req.Event) {
		c.free()
		return nil, fmt.Errorf("hold: event %q: %w", req.Event, inventory.ErrNotFound)
	}
	all := unsafe.String(unsafe.SliceData(b), len(b))
	c.keys = [3]string{all[:fanEnd], all[fanEnd:holdEnd], all[holdEnd:idemEnd]}
	c.id = all[idAt:holdEnd]
	c.spec = all[idemEnd:]
	c.fp = req.Fingerprint
	return c, nil
}

// add adds sec to the hold's sections unless it is there already.
func (c *holdCall) add(sec string) error {
	if slices.Contains(c.secs, sec) {
		return nil
	}
	if !inventory.ValidSectionID(sec) {
		return fmt.Errorf("hold: %w: unknown section %q", inventory.ErrInvalid, sec)
	}
	c.secs = append(c.secs, sec)
	return nil
}

// holdFromReply reads one hold's entry v of the hold script's reply: "<lines>\n<seats>" for a new hold (its id is
// c.id, its state held, and the currency, created and expires are the reply's shared last entry), {"replay", id,
// state, lines, seats, created, expires} or {"ERR", "<CODE> <detail>"}. The units and the total are the lines' sums.
func holdFromReply(c *holdCall, fan string, v any) (inventory.Hold, error) {
	if s, ok := v.(string); ok {
		lines, seats, ok := strings.Cut(s, "\n")
		shared, _ := c.shared.([]any)
		if !ok || len(shared) < 3 {
			return inventory.Hold{}, fmt.Errorf("unexpected hold reply %q", s)
		}
		f := holdFields{event: c.event, fan: fan, cur: toStr(shared[0]), st: string(inventory.Held), lines: lines, seats: seats}
		f.ca, f.ex = f.stamp(shared[1]), f.stamp(shared[2])
		return f.hold(c.id)
	}
	vals, ok := v.([]any)
	if !ok || len(vals) < 2 {
		return inventory.Hold{}, fmt.Errorf("unexpected hold reply %v", v)
	}
	if toStr(vals[0]) == "ERR" {
		msg := toStr(vals[1])
		if re := refusalOf(msg); re != nil {
			return inventory.Hold{}, re
		}
		return inventory.Hold{}, fmt.Errorf("hold script: %s", msg)
	}
	shared, _ := c.shared.([]any)
	if len(shared) < 3 {
		return inventory.Hold{}, fmt.Errorf("unexpected hold reply %v", c.shared)
	}
	f := holdFields{fan: fan, cur: toStr(shared[0])}
	if toStr(vals[0]) != "replay" || len(vals) < 7 {
		return inventory.Hold{}, fmt.Errorf("unexpected hold reply %v", v)
	}
	id := toStr(vals[1])
	f.st, f.lines, f.seats = toStr(vals[2]), toStr(vals[3]), toStr(vals[4])
	f.ca, f.ex = f.stamp(vals[5]), f.stamp(vals[6])
	return f.hold(id)
}

// Get returns a hold in any state. A live hold whose deadline has passed reads as expired before it is reclaimed.
func (s *Store) Get(ctx context.Context, holdID string) (inventory.Hold, error) {
	event, ok := inventory.EventOfHold(holdID)
	if !ok {
		return inventory.Hold{}, fmt.Errorf("hold %q: %w", holdID, inventory.ErrNotFound)
	}
	// The hold and its event's currency, in one round trip (same slot).
	p := s.evKey(event)
	pipe := s.c.Pipeline()
	rec := pipe.Get(ctx, p+"hold:"+holdID)
	cur := pipe.HGet(ctx, p+"meta", "cur")
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return inventory.Hold{}, fmt.Errorf("hold %s: %w", holdID, err)
	}
	if errors.Is(rec.Err(), redis.Nil) {
		return inventory.Hold{}, fmt.Errorf("hold %s: %w", holdID, inventory.ErrNotFound)
	}
	f := holdFields{cur: cur.Val()}
	f.set("h", rec.Val())
	h, err := f.hold(holdID)
	if err != nil {
		return inventory.Hold{}, fmt.Errorf("hold %s: %w", holdID, err)
	}
	return h, nil
}

// Extend pushes a held hold's deadline by the event's HoldTTL, capped at CreatedAt+MaxHoldLife.
func (s *Store) Extend(ctx context.Context, holdID string) (inventory.Hold, error) {
	return s.holdOp(ctx, "extend", holdID)
}

// Release gives a live hold's units back to sale at once.
func (s *Store) Release(ctx context.Context, holdID string) (inventory.Hold, error) {
	return s.holdOp(ctx, "release", holdID)
}

// BeginCheckout moves a held hold to checkout with the checkout deadline.
func (s *Store) BeginCheckout(ctx context.Context, holdID string) (inventory.Hold, error) {
	return s.holdOp(ctx, "checkout", holdID)
}

// Confirm sells a hold in checkout or held.
func (s *Store) Confirm(ctx context.Context, holdID string) (inventory.Hold, error) {
	return s.holdOp(ctx, "confirm", holdID)
}

// Return puts a confirmed hold's units back on sale.
func (s *Store) Return(ctx context.Context, holdID string) (inventory.Hold, error) {
	return s.holdOp(ctx, "return", holdID)
}

func (s *Store) holdOp(ctx context.Context, op, holdID string) (inventory.Hold, error) {
	event, ok := inventory.EventOfHold(holdID)
	if !ok {
		return inventory.Hold{}, fmt.Errorf("%s %q: %w", op, holdID, inventory.ErrNotFound)
	}
	keys := s.base(event, 2)
	keys = append(keys, keys[0]+"hold:"+holdID)
	sc := s.sc.extend
	switch op {
	case "release":
		sc = s.sc.release
	case "checkout":
		sc = s.sc.checkout
	case "confirm":
		sc = s.sc.confirm
		keys = append(keys, keys[0]+"confirmed")
	case "return":
		sc = s.sc.ret
		keys = append(keys, keys[0]+"confirmed")
	}
	v, err := s.run(ctx, sc, keys, holdID)
	if err != nil {
		return inventory.Hold{}, fmt.Errorf("%s %s: %w", op, holdID, err)
	}
	vals, _ := v.([]any)
	h, err := holdFromPairs(holdID, vals)
	if err != nil {
		return inventory.Hold{}, fmt.Errorf("%s %s: %w", op, holdID, err)
	}
	return h, nil
}

// holdFields are a hold's stored values: its record (state, deadline, created, lines, seats, alloc and fan, one per
// line, the fan last) and the event's currency.
type holdFields struct {
	event                      string // the hold's event when known, else read from its id
	fan, st, lines, seats, cur string
	ca, ex                     int64 // created and expires, in Unix milliseconds
	stamped                    bool  // ca and ex were given
	err                        error // the first malformed value
}

// num reads a stored integer.
func (f *holdFields) num(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil && f.err == nil {
		f.err = fmt.Errorf("%w: %q", errCorrupt, s)
	}
	return n
}

// stamp reads a time of a script's reply, which comes as a number (no string to format and parse again) or a string.
func (f *holdFields) stamp(v any) int64 {
	f.stamped = true
	if n, ok := v.(int64); ok {
		return n
	}
	return f.num(toStr(v))
}

func (f *holdFields) set(k, v string) {
	switch k {
	case "cur":
		f.cur = v
	case "h":
		parts := strings.SplitN(v, "\n", 7)
		if len(parts) == 7 {
			f.st, f.lines, f.seats, f.fan = parts[0], parts[3], parts[4], parts[6]
			f.ex, f.ca, f.stamped = f.num(parts[1]), f.num(parts[2]), true
		}
	}
}

func holdFromPairs(id string, vals []any) (inventory.Hold, error) {
	if len(vals) == 0 {
		return inventory.Hold{}, inventory.ErrNotFound
	}
	var f holdFields
	for i := 0; i+1 < len(vals); i += 2 {
		f.set(toStr(vals[i]), toStr(vals[i+1]))
	}
	return f.hold(id)
}

var errCorrupt = errors.New("stored hold is malformed")

// hold turns stored fields into a Hold.
func (f *holdFields) hold(id string) (inventory.Hold, error) {
	event := f.event
	if event == "" {
		event, _ = inventory.EventOfHold(id)
	}
	h := inventory.Hold{ID: id, Event: event, Fan: f.fan, State: inventory.State(f.st), Currency: f.cur}
	if !f.stamped {
		return inventory.Hold{}, fmt.Errorf("%w: no times", errCorrupt)
	}
	h.CreatedAt = time.UnixMilli(f.ca).UTC()
	h.ExpiresAt = time.UnixMilli(f.ex).UTC()
	h.Lines, h.Units, h.Total = f.readLines()
	h.Seats = readSeats(f.seats)
	if f.err != nil {
		return inventory.Hold{}, f.err
	}
	// The read-only expired view: the counters change when the hold is reclaimed, the state reads true at once.
	if h.State.Live() && !time.Now().Before(h.ExpiresAt) {
		h.State = inventory.Expired
	}
	return h, nil
}
