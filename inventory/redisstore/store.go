package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/onsale/onsale/inventory"
)

// maxBatchLimit bounds a batch: one script call must not keep Redis busy for long.
const maxBatchLimit = 512

// Options tune a Store; the zero value is usable.
type Options struct {
	Prefix      string        // key prefix, default "onsale"; must not contain '{' or '}'
	BatchWindow time.Duration // how long a batch waits at most for the one on the wire to be answered, default 1 ms
	MaxBatch    int           // holds per round trip, default 64, at most 512; 1 sends every hold on its own
	Registerer  prometheus.Registerer
}

// Store is an inventory.Store on Redis.
type Store struct {
	c       redis.UniversalClient
	prefix  string
	sc      scripts
	m       *metrics
	batch   *batcher
	closeMu sync.Once
}

var _ inventory.Store = (*Store)(nil)

// New returns a Store on client and loads its scripts (a server that later forgets them gets them again).
func New(client redis.UniversalClient, opts Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: nil client")
	}
	if opts.Prefix == "" {
		opts.Prefix = "onsale"
	}
	if strings.ContainsAny(opts.Prefix, "{}") {
		return nil, fmt.Errorf("redisstore: prefix %q: braces would break the per-event hash tag", opts.Prefix)
	}
	if opts.BatchWindow <= 0 {
		opts.BatchWindow = time.Millisecond
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 64
	}
	opts.MaxBatch = min(opts.MaxBatch, maxBatchLimit)
	reg := opts.Registerer
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	s := &Store{c: client, prefix: opts.Prefix, sc: newScripts(), m: newMetrics(reg)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.sc.load(ctx, client); err != nil {
		return nil, fmt.Errorf("redisstore: load scripts: %w", err)
	}
	s.batch = newBatcher(s, opts.MaxBatch, opts.BatchWindow)
	return s, nil
}

// Close flushes the holds waiting in the batcher and stops it. It does not close the client.
func (s *Store) Close() error {
	s.closeMu.Do(s.batch.close)
	return nil
}

// evKey is the key prefix of an event's keys: "<prefix>:{ev:<event>}:".
func (s *Store) evKey(event string) string { return s.prefix + ":{ev:" + event + "}:" }

// base returns the three keys every script starts with: the event prefix, its meta hash and its deadline zset.
func (s *Store) base(event string, extra int) []string {
	p := s.evKey(event)
	k := make([]string, 3, 3+extra)
	k[0], k[1], k[2] = p, p+"meta", p+"deadline"
	return k
}

func (s *Store) eventsKey() string { return s.prefix + ":events" }

// CreateEvent validates ev (filling its defaults) and stores it.
func (s *Store) CreateEvent(ctx context.Context, ev inventory.Event) error {
	if err := ev.Validate(); err != nil {
		return fmt.Errorf("create event: %w", err)
	}
	if ev.CreatedAt.IsZero() {
		ev.CreatedAt = time.Now().UTC()
	}
	def, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("create event %s: %w", ev.ID, err)
	}
	keys := s.base(ev.ID, 1+2*len(ev.Sections))
	p := keys[0]
	keys = append(keys, p+"def")
	ids := make([]string, len(ev.Sections))
	for i, sec := range ev.Sections {
		ids[i] = sec.ID
	}
	args := []any{def, ms(ev.HoldTTL), ms(ev.MaxHoldLife), ms(ev.CheckoutTTL), ev.MaxPerFan, ev.Currency,
		strings.Join(ids, ","), len(ev.Sections)}
	for _, sec := range ev.Sections {
		keys = append(keys, p+"sec:"+sec.ID, p+"seats:"+sec.ID)
		var rows strings.Builder
		off := 0
		for i, r := range sec.Rows {
			if i > 0 {
				rows.WriteByte(',')
			}
			rows.WriteString(r.Row + ":" + strconv.Itoa(off) + ":" + strconv.Itoa(r.Seats))
			off += r.Seats
		}
		args = append(args, string(sec.Kind), sec.Capacity, sec.Price, ev.Withheld[sec.ID], rows.String())
	}
	_, err = s.run(ctx, s.sc.create, keys, args...)
	if err != nil && !errors.Is(err, inventory.ErrEventExists) {
		return fmt.Errorf("create event %s: %w", ev.ID, err)
	}
	// The index is outside the event's slot, so it is written on its own, after the event exists; a create that finds
	// the event already there indexes it too, which repairs an index write lost to a crash in between.
	if ierr := s.c.SAdd(ctx, s.eventsKey(), ev.ID).Err(); ierr != nil {
		return fmt.Errorf("create event %s: index: %w", ev.ID, ierr)
	}
	if err != nil {
		return fmt.Errorf("create event %s: %w", ev.ID, err)
	}
	return nil
}

// ms is d in whole milliseconds, rounded up so a positive duration never becomes 0.
func ms(d time.Duration) int64 { return int64((d + time.Millisecond - 1) / time.Millisecond) }

// Event returns an event's definition.
func (s *Store) Event(ctx context.Context, id string) (inventory.Event, error) {
	if !inventory.ValidEventID(id) {
		return inventory.Event{}, fmt.Errorf("event %q: %w", id, inventory.ErrNotFound)
	}
	b, err := s.c.Get(ctx, s.evKey(id)+"def").Bytes()
	if errors.Is(err, redis.Nil) {
		return inventory.Event{}, fmt.Errorf("event %s: %w", id, inventory.ErrNotFound)
	}
	if err != nil {
		return inventory.Event{}, fmt.Errorf("event %s: %w", id, err)
	}
	var ev inventory.Event
	if err := json.Unmarshal(b, &ev); err != nil {
		return inventory.Event{}, fmt.Errorf("event %s: decode definition: %w", id, err)
	}
	return ev, nil
}

// Events lists the ids of all events, sorted.
func (s *Store) Events(ctx context.Context) ([]string, error) {
	ids, err := s.c.SMembers(ctx, s.eventsKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	slices.Sort(ids)
	return ids, nil
}

// Stats returns the counters of every section of an event, read at one instant.
func (s *Store) Stats(ctx context.Context, event string) (inventory.Stats, error) {
	if !inventory.ValidEventID(event) {
		return inventory.Stats{}, fmt.Errorf("stats %q: %w", event, inventory.ErrNotFound)
	}
	v, err := s.run(ctx, s.sc.stats, s.base(event, 0))
	if err != nil {
		return inventory.Stats{}, fmt.Errorf("stats %s: %w", event, err)
	}
	vals, _ := v.([]any)
	if len(vals) == 0 {
		return inventory.Stats{}, fmt.Errorf("stats %s: empty reply", event)
	}
	st := inventory.Stats{Event: event, Cancelled: toStr(vals[0]) == "1"}
	for i := 1; i+8 <= len(vals); i += 8 {
		n := make([]int64, 7)
		for k := range n {
			n[k], err = toInt(vals[i+1+k])
			if err != nil {
				return inventory.Stats{}, fmt.Errorf("stats %s: %w", event, err)
			}
		}
		st.Sections = append(st.Sections, inventory.SectionStats{
			ID: toStr(vals[i]), Capacity: int(n[0]), Available: int(n[1]), Held: int(n[2]), Sold: int(n[3]),
			Withheld: int(n[4]), Version: n[5], Price: n[6], Revenue: n[3] * n[6],
		})
	}
	return st, nil
}

// Seats reads every seated section's seat string in one MGET (the keys share the event's hash slot).
func (s *Store) Seats(ctx context.Context, event string) ([]inventory.SeatMap, error) {
	ev, err := s.Event(ctx, event)
	if err != nil {
		return nil, err
	}
	p := s.evKey(event)
	var keys []string
	var out []inventory.SeatMap
	for _, sec := range ev.Sections {
		if sec.Kind == inventory.Seated {
			keys = append(keys, p+"seats:"+sec.ID)
			out = append(out, inventory.SeatMap{Section: sec.ID})
		}
	}
	if len(keys) == 0 {
		return out, nil
	}
	vals, err := s.c.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("seats of %s: %w", event, err)
	}
	for i, v := range vals {
		str, _ := v.(string)
		out[i].States = []byte(str)
	}
	return out, nil
}

// ReleaseWave makes withheld units buyable, once per wave id.
func (s *Store) ReleaseWave(ctx context.Context, event, wave string, release map[string]int) error {
	if !inventory.ValidEventID(event) {
		return fmt.Errorf("release wave %q: %w", event, inventory.ErrNotFound)
	}
	if wave == "" {
		return fmt.Errorf("release wave %s: %w: empty wave id", event, inventory.ErrInvalid)
	}
	secs := make([]string, 0, len(release))
	for sec, n := range release {
		if !inventory.ValidSectionID(sec) {
			return fmt.Errorf("release wave %s/%s: %w: unknown section %q", event, wave, inventory.ErrInvalid, sec)
		}
		if n < 0 {
			return fmt.Errorf("release wave %s/%s: %w: section %s: %d units", event, wave, inventory.ErrInvalid, sec, n)
		}
		secs = append(secs, sec)
	}
	slices.Sort(secs)
	keys := s.base(event, 1+2*len(secs))
	p := keys[0]
	keys = append(keys, p+"waves")
	args := []any{wave}
	for _, sec := range secs {
		keys = append(keys, p+"sec:"+sec, p+"seats:"+sec)
		args = append(args, sec, release[sec])
	}
	if _, err := s.run(ctx, s.sc.wave, keys, args...); err != nil {
		return fmt.Errorf("release wave %s/%s: %w", event, wave, err)
	}
	return nil
}

// sweepChunk bounds one sweep script, so a large backlog never blocks Redis for long.
const sweepChunk = 256

// Sweep expires up to limit holds of an event whose deadline has passed.
func (s *Store) Sweep(ctx context.Context, event string, limit int) (int, error) {
	if !inventory.ValidEventID(event) {
		return 0, fmt.Errorf("sweep %q: %w", event, inventory.ErrNotFound)
	}
	done := 0
	for {
		n := min(limit-done, sweepChunk)
		if n <= 0 {
			return done, nil
		}
		v, err := s.run(ctx, s.sc.sweep, s.base(event, 0), n)
		if err != nil {
			return done, fmt.Errorf("sweep %s: %w", event, err)
		}
		got, err := toInt(v)
		if err != nil {
			return done, fmt.Errorf("sweep %s: %w", event, err)
		}
		done += int(got)
		if int(got) < n {
			return done, nil
		}
	}
}

// cancelChunk bounds one cancel script, as sweepChunk does a sweep's.
const cancelChunk = 256

// Cancel closes an event for good and releases up to limit of its live holds, in scripts of at most cancelChunk.
// On an error, released counts what the scripts before it released.
func (s *Store) Cancel(ctx context.Context, event string, limit int) (int, bool, error) {
	if limit < 1 {
		return 0, false, fmt.Errorf("cancel %s: %w: limit %d", event, inventory.ErrInvalid, limit)
	}
	if !inventory.ValidEventID(event) {
		return 0, false, fmt.Errorf("cancel %q: %w", event, inventory.ErrNotFound)
	}
	done, used := 0, 0
	for {
		n := min(limit-used, cancelChunk)
		v, err := s.run(ctx, s.sc.cancel, s.base(event, 0), n)
		if err != nil {
			return done, false, fmt.Errorf("cancel %s: %w", event, err)
		}
		vals, _ := v.([]any)
		if len(vals) != 2 {
			return done, false, fmt.Errorf("cancel %s: unexpected reply %v", event, v)
		}
		released, err := toInt(vals[0])
		if err != nil {
			return done, false, fmt.Errorf("cancel %s: %w", event, err)
		}
		left, err := toInt(vals[1])
		if err != nil {
			return done, false, fmt.Errorf("cancel %s: %w", event, err)
		}
		// With holds left, the script went through n of them (released or expired), as memstore counts its limit.
		done, used = done+int(released), used+n
		if left == 0 || used >= limit {
			return done, left > 0, nil
		}
	}
}
