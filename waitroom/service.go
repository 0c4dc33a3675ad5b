package waitroom

import (
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options configure a Room.
type Options struct {
	Secret     []byte        // HMAC key for queue and access tokens (required, at least 16 bytes)
	AccessTTL  time.Duration // how long an admitted fan may shop (default 10 min)
	Tick       time.Duration // admission tick (default 250 ms)
	Owner      string        // lease owner id of this process (default a random id)
	Registerer prometheus.Registerer
	Now        func() time.Time

	// ArrivalTTL is how long an admitted fan has to show up (claim access) before the place stops counting as
	// active (default 45 s, at most AccessTTL; an event's ClaimTTL replaces it). A late fan is still let in. A
	// waiting fan polls at most every 30 s, so the default covers one poll interval and a few retries.
	ArrivalTTL time.Duration
	// IdleTTL is how long a fan who claimed access counts as active after its last call (default 30 s, at most
	// AccessTTL; an event's IdleTTL replaces it) unless core frees the slot sooner (Finished, Quiet). A call is a status poll once admitted or any
	// check of the access token (VerifyAccess, VerifyAccessForRead); each process writes it to the store at most
	// every IdleTTL/4 per fan, so a fan who calls at least every 3/4 of IdleTTL keeps its slot. Shopping outlives
	// it: the access token stays valid until AccessTTL; the fan's held units are already out of what admission
	// counts as available.
	IdleTTL time.Duration
	// QuietGrace is how long a fan with nothing left to do (Quiet) still counts as active, so that a fan who
	// tries again at once keeps its slot (default 20 s).
	QuietGrace time.Duration
	// ReadGrace is how long past its expiry an access token still reads the fan's holds and orders
	// (VerifyAccessForRead; default 24 h).
	ReadGrace time.Duration
	// Refresh is how often Run refreshes the in-process view that answers polls (default 200 ms).
	Refresh time.Duration
	// LeaseTTL is the controller lease's life; a lease not renewed for that long is taken over (default 10 ticks,
	// at least 200 ms).
	LeaseTTL time.Duration
	// QueueTTL is a queue token's life; Status hands out a fresh one past half of it (default 24 h).
	QueueTTL time.Duration
	Logger   *slog.Logger
}

// Room is the waiting room of every configured event.
type Room struct {
	store Store
	stock Stock
	opts  Options
	sig   signer
	m     *metrics
	log   *slog.Logger

	mu     sync.Mutex
	events map[string]*eventState
	// closed names the events this process has seen closed, so VerifyAccess checks it without a lock or a store
	// call: copied on write under mu (closures are rare and permanent).
	closed atomic.Pointer[map[string]struct{}]

	claimMu sync.Mutex
	claims  map[claimKey]claim // access already claimed in this process: no store call for repeated polls
	// left are the places given up through this process, until their queue token could have expired: polls of
	// their tokens here answer closed at once. Other processes learn it when the serving counter reaches the place
	// (the claim finds it gone).
	left  map[claimKey]time.Time
	nleft atomic.Int64 // len(left)

	touchMu sync.Mutex
	touched map[placeKey]time.Time // when this process last kept an admitted place active in the store
	quiet   map[placeKey]time.Time // places to shorten in the store at the next refresh (under touchMu)

	ttls sync.Map // event → eventTTLs, so calls find an event's idle life without a lock
}

// eventTTLs are an event's claim window and idle life in force.
type eventTTLs struct{ claim, idle time.Duration }

// placeKey names an admitted place.
type placeKey struct {
	event string
	lane  int
	pos   int64
}

type claimKey struct {
	event, fan string
	lane       int
	seq        int64
}

type claim struct {
	deadline time.Time
	token    string
}

// New returns a Room over store and stock.
func New(store Store, stock Stock, opts Options) (*Room, error) {
	if store == nil || stock == nil {
		return nil, fmt.Errorf("%w: a store and a stock are required", ErrInvalid)
	}
	if len(opts.Secret) < 16 {
		return nil, fmt.Errorf("%w: the token secret must have at least 16 bytes", ErrInvalid)
	}
	opts.AccessTTL = cmp.Or(opts.AccessTTL, 10*time.Minute)
	opts.Tick = cmp.Or(opts.Tick, 250*time.Millisecond)
	opts.ArrivalTTL = min(cmp.Or(opts.ArrivalTTL, 45*time.Second), opts.AccessTTL)
	opts.IdleTTL = min(cmp.Or(opts.IdleTTL, 30*time.Second), opts.AccessTTL)
	opts.QuietGrace = cmp.Or(opts.QuietGrace, 20*time.Second)
	opts.ReadGrace = cmp.Or(opts.ReadGrace, 24*time.Hour)
	opts.Refresh = cmp.Or(opts.Refresh, 200*time.Millisecond)
	opts.LeaseTTL = cmp.Or(opts.LeaseTTL, max(10*opts.Tick, 200*time.Millisecond))
	opts.QueueTTL = cmp.Or(opts.QueueTTL, 24*time.Hour)
	if opts.AccessTTL < time.Second || opts.Tick < time.Millisecond || opts.Refresh < time.Millisecond ||
		opts.LeaseTTL <= opts.Tick || opts.QueueTTL < time.Minute || opts.IdleTTL < time.Millisecond || opts.ReadGrace < 0 ||
		opts.QuietGrace < 0 {
		return nil, fmt.Errorf("%w: durations out of range", ErrInvalid)
	}
	if opts.Owner == "" {
		opts.Owner = randomHex(8)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	reg := opts.Registerer
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	return &Room{
		store:  store,
		stock:  stock,
		opts:   opts,
		sig:    newSigner(opts.Secret),
		m:      newMetrics(reg),
		log:    opts.Logger.With("component", "waitroom"),
		events: map[string]*eventState{},
		claims: map[claimKey]claim{},
		left:   map[claimKey]time.Time{},

		touched: map[placeKey]time.Time{},
		quiet:   map[placeKey]time.Time{},
	}, nil
}

func (r *Room) now() time.Time { return r.opts.Now() }

// ttlsOf returns the event's claim window and idle life: its configuration's, else the room's.
func (r *Room) ttlsOf(event string) eventTTLs {
	if v, ok := r.ttls.Load(event); ok {
		return v.(eventTTLs)
	}
	return eventTTLs{claim: r.opts.ArrivalTTL, idle: r.opts.IdleTTL}
}

func (r *Room) setTTLs(event string, c *eventConfig) {
	t := eventTTLs{
		claim: min(cmp.Or(c.Config.ClaimTTL, r.opts.ArrivalTTL), r.opts.AccessTTL),
		idle:  min(cmp.Or(c.Config.IdleTTL, r.opts.IdleTTL), r.opts.AccessTTL),
	}
	if old, ok := r.ttls.Load(event); !ok || old.(eventTTLs) != t {
		r.ttls.Store(event, t)
	}
}

// eventState is this process's knowledge of one event: the snapshot that answers polls, the watchers, and the
// controller's state while this process holds the lease.
type eventState struct {
	name   string
	snap   atomic.Pointer[snapshot]
	loadMu sync.Mutex

	watchMu sync.Mutex
	subs    map[*subscriber]struct{}
	wake    chan struct{}
	running bool

	ctl controller // touched only by the controller loop
}

// snapshot is an immutable copy of an event's state; polls read it without locks.
type snapshot struct {
	cfg   *eventConfig
	view  View
	perms [MaxLanes][]int32 // the drawn pre-queue order per lane, once the seed is known
}

func (r *Room) event(name string) *eventState {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := r.events[name]
	if ev == nil {
		ev = &eventState{name: name, wake: make(chan struct{}, 1)}
		r.events[name] = ev
	}
	return ev
}

func (r *Room) knownEvents() []*eventState {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*eventState, 0, len(r.events))
	for _, ev := range r.events {
		out = append(out, ev)
	}
	return out
}

// snapshot returns the event's cached snapshot, loading it once when this process has none yet.
func (r *Room) snapshot(ctx context.Context, event string) (*eventState, *snapshot, error) {
	if !validID(event) {
		return nil, nil, ErrNotFound
	}
	ev := r.event(event)
	if s := ev.snap.Load(); s != nil {
		return ev, s, nil
	}
	s, err := r.load(ctx, ev)
	return ev, s, err
}

// load reads the event's view (and its configuration when it changed) and publishes a new snapshot.
func (r *Room) load(ctx context.Context, ev *eventState) (*snapshot, error) {
	ev.loadMu.Lock()
	defer ev.loadMu.Unlock()
	v, err := r.store.View(ctx, ev.name, r.now())
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			r.mu.Lock()
			if r.events[ev.name] == ev && ev.snap.Load() == nil {
				delete(r.events, ev.name) // do not keep state for ids that name nothing
			}
			r.mu.Unlock()
		}
		return nil, fmt.Errorf("event %s: %w", ev.name, err)
	}
	old := ev.snap.Load()
	s := &snapshot{view: v}
	if old != nil && old.cfg.version == v.ConfigVersion {
		s.cfg = old.cfg
	} else {
		b, ver, err := r.store.Config(ctx, ev.name)
		if err != nil {
			return nil, fmt.Errorf("event %s: %w", ev.name, err)
		}
		if s.cfg, err = parseStored(b, ver); err != nil {
			return nil, fmt.Errorf("event %s: %w", ev.name, err)
		}
		r.setTTLs(ev.name, s.cfg)
	}
	if v.Seed != nil {
		for lane := range MaxLanes {
			n := v.Lanes[lane].Pre
			switch {
			case n <= 0:
			case old != nil && string(old.view.Seed) == string(v.Seed) && len(old.perms[lane]) == int(n):
				s.perms[lane] = old.perms[lane]
			default:
				s.perms[lane] = Draw(v.Seed, s.cfg.laneName[lane], int(n))
			}
		}
	}
	ev.snap.Store(s)
	if v.Closed && !r.isClosed(ev.name) {
		r.markClosed(ev.name)
	}
	if old == nil || changed(old, s) {
		select {
		case ev.wake <- struct{}{}:
		default:
		}
	}
	return s, nil
}

// changed reports whether a watcher could see a different status.
func changed(a, b *snapshot) bool {
	if a.view.Stocked != b.view.Stocked || band(a.view.Available+a.view.Held) != band(b.view.Available+b.view.Held) ||
		(a.view.Available > 0) != (b.view.Available > 0) {
		return true // a waiting fan is told the units left
	}
	if a.view.SoldOut != b.view.SoldOut || a.view.Closed != b.view.Closed || (a.view.Seed == nil) != (b.view.Seed == nil) || a.cfg != b.cfg {
		return true
	}
	for i := range MaxLanes {
		if a.view.Lanes[i].Serving != b.view.Lanes[i].Serving || a.view.Lanes[i].Pre != b.view.Lanes[i].Pre {
			return true
		}
	}
	return false
}

// isClosed reports whether this process has seen event closed.
func (r *Room) isClosed(event string) bool {
	m := r.closed.Load()
	if m == nil {
		return false
	}
	_, ok := (*m)[event]
	return ok
}

func (r *Room) markClosed(event string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var m map[string]struct{}
	if old := r.closed.Load(); old != nil {
		if _, ok := (*old)[event]; ok {
			return
		}
		m = make(map[string]struct{}, len(*old)+1)
		for k := range *old {
			m[k] = struct{}{}
		}
	} else {
		m = map[string]struct{}{}
	}
	m[event] = struct{}{}
	r.closed.Store(&m)
}

// Close closes an event's queue for good (the event is cancelled): nobody else is admitted, a waiting or
// pre-queue fan's status becomes Closed, an admitted fan's status too, and Join answers Closed without taking
// a place. Access tokens already issued stop verifying for changes (VerifyAccess fails with ErrClosed; reads still pass)
// once this process has seen the closure (within one snapshot refresh). Closing a closed room is a no-op;
// ErrNotFound for an unknown event.
func (r *Room) Close(ctx context.Context, event string) error {
	if !validID(event) {
		return ErrNotFound
	}
	if err := r.store.Close(ctx, event); err != nil {
		return fmt.Errorf("close %s: %w", event, err)
	}
	r.markClosed(event)
	if _, err := r.load(ctx, r.event(event)); err != nil { // polls and streams here answer closed at once
		return fmt.Errorf("close %s: %w", event, err)
	}
	return nil
}

// Configure creates or replaces an event's waves.
func (r *Room) Configure(ctx context.Context, cfg Config) error {
	cfg, err := validate(cfg)
	if err != nil {
		return err
	}
	var prev map[string]int
	if b, _, err := r.store.Config(ctx, cfg.Event); err == nil {
		var s stored
		if err := json.Unmarshal(b, &s); err == nil {
			prev = s.Lanes
		}
	} else if !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("configure %s: %w", cfg.Event, err)
	}
	lanes := assignLanes(cfg, prev)
	for id, n := range lanes {
		if n >= MaxLanes {
			return fmt.Errorf("%w: wave %q: too many presale lanes over this event's life", ErrInvalid, id)
		}
	}
	b, err := json.Marshal(stored{Config: cfg, Lanes: lanes})
	if err != nil {
		return fmt.Errorf("configure %s: %w", cfg.Event, err)
	}
	if err := r.store.PutConfig(ctx, cfg.Event, b); err != nil {
		return fmt.Errorf("configure %s: %w", cfg.Event, err)
	}
	if _, err := r.load(ctx, r.event(cfg.Event)); err != nil {
		return fmt.Errorf("configure %s: %w", cfg.Event, err)
	}
	return nil
}

// Join gives fan a place in event's queue; code puts the fan in a presale lane.
func (r *Room) Join(ctx context.Context, event, fan, code string) (Ticket, error) {
	if !validFan(fan) {
		return Ticket{}, fmt.Errorf("%w: fan id must be 1..256 printable bytes", ErrInvalid)
	}
	if len(code) > 64 {
		return Ticket{}, ErrBadCode
	}
	ev, snap, err := r.snapshot(ctx, event)
	if err != nil {
		return Ticket{}, err
	}
	if snap.view.Closed {
		return Ticket{State: Closed}, nil
	}
	lane, err := snap.cfg.laneOf(code)
	if err != nil {
		return Ticket{}, err
	}
	now := r.now()
	p, err := r.store.Join(ctx, event, fan, lane, now, snap.cfg.openAt())
	if errors.Is(err, ErrClosed) { // closed by another process since the last refresh
		return Ticket{State: Closed}, nil
	}
	if err != nil {
		return Ticket{}, fmt.Errorf("join %s: %w", event, err)
	}
	if p.Created {
		r.m.joins.WithLabelValues(event).Inc()
	}
	if p.Pre >= 0 && !snap.view.Frozen {
		// This join froze the pre-queue; read the sizes now so this fan's answer is right.
		if s, err := r.load(ctx, ev); err == nil {
			snap = s
		}
	}
	t := queueToken{Event: event, Fan: fan, Lane: p.Lane, Seq: p.Seq, Issued: now, Joined: now, Expires: now.Add(r.opts.QueueTTL)}
	if p.Prequeue() {
		t.Prequeue = true
	} else {
		t.Pos = p.Seq
	}
	st := r.evaluate(snap, t, now)
	tok := st.QueueToken
	if tok == "" {
		tok = r.sig.queue(t)
	}
	return Ticket{Token: tok, State: st.State, Position: st.Position, PollAfter: st.PollAfter, Created: p.Created}, nil
}

// Status answers a poll from the token and the in-process snapshot; only the poll that first finds the fan
// admitted reaches the store (to claim the access), once per fan and process.
func (r *Room) Status(ctx context.Context, event, queueToken string) (Status, error) {
	now := r.now()
	t, err := r.sig.parseQueue(queueToken, event, now)
	return r.answer(ctx, event, t, err, now)
}

// StatusBytes is Status for a token held as bytes (a request header); it does not keep them, so the caller
// need not copy them into a string.
func (r *Room) StatusBytes(ctx context.Context, event string, queueToken []byte) (Status, error) {
	now := r.now()
	t, err := r.sig.parseQueueBytes(queueToken, event, now)
	return r.answer(ctx, event, t, err, now)
}

// answer is a poll's answer once its token is parsed (err is the parse's).
func (r *Room) answer(ctx context.Context, event string, t queueToken, err error, now time.Time) (Status, error) {
	if err != nil {
		return Status{}, ErrBadToken
	}
	_, snap, err := r.snapshot(ctx, event)
	if err != nil {
		return Status{}, err
	}
	return r.status(ctx, snap, t, now)
}

func (r *Room) status(ctx context.Context, snap *snapshot, t queueToken, now time.Time) (Status, error) {
	st := r.evaluate(snap, t, now)
	k := claimKey{event: t.Event, fan: t.Fan, lane: t.Lane, seq: t.Seq}
	if r.nleft.Load() > 0 { // most polls: nobody left through this process, so no lock to share between cores
		r.claimMu.Lock()
		_, gone := r.left[k]
		r.claimMu.Unlock()
		if gone {
			return Status{State: Closed, Position: st.Position, Lane: st.Lane}, nil
		}
	}
	if st.State != Admitted {
		return st, nil
	}
	r.claimMu.Lock()
	c, ok := r.claims[k]
	r.claimMu.Unlock()
	if !ok {
		deadline, first, err := r.store.Claim(ctx, t.Event, t.Fan, t.Lane, t.Seq, st.Position, now, r.opts.AccessTTL, r.ttlsOf(t.Event).idle)
		if errors.Is(err, ErrGone) || errors.Is(err, ErrClosed) {
			return Status{State: Closed, Position: st.Position, Lane: st.Lane}, nil
		}
		if err != nil {
			return Status{}, fmt.Errorf("claim access %s: %w", t.Event, err)
		}
		if first {
			r.m.queueWait.WithLabelValues(t.Event).Observe(max(0, now.Sub(t.Joined).Seconds()))
		}
		exp := time.Unix(deadline.Unix(), 0) // tokens carry whole seconds
		c = claim{deadline: exp, token: r.sig.access(accessToken{Event: t.Event, Fan: t.Fan, Expires: exp,
			Lane: t.Lane, Pos: st.Position})}
		r.claimMu.Lock()
		r.claims[k] = c
		r.claimMu.Unlock()
		if first { // the claim itself counted the place active from now
			r.touchMu.Lock()
			r.touched[placeKey{t.Event, t.Lane, st.Position}] = now
			r.touchMu.Unlock()
		}
	}
	if !now.Before(c.deadline) {
		return Status{State: Closed, Position: st.Position, Lane: st.Lane}, nil
	}
	r.touch(t.Event, t.Lane, st.Position, now)
	st.AccessToken, st.AccessExpiresAt = c.token, c.deadline
	return st, nil
}

// evaluate computes a token's status from a snapshot; it makes no store call and mints no access token.
func (r *Room) evaluate(snap *snapshot, t queueToken, now time.Time) Status {
	v := &snap.view
	lv := v.Lanes[t.Lane]
	st := Status{Lane: snap.cfg.laneName[t.Lane]}
	pos := t.Pos
	if pos == 0 {
		switch {
		case v.Frozen && t.Seq > lv.Pre:
			pos = t.Seq // joined after open although the token was minted as pre-queue
		case v.Seed != nil && t.Seq <= int64(len(snap.perms[t.Lane])):
			pos = int64(snap.perms[t.Lane][t.Seq-1])
		}
	}
	if v.Closed { // the position still matters to Leave and Finished
		st.State, st.Position = Closed, pos
		return st
	}
	if t.Pos == 0 {
		if pos != 0 {
			nt := t
			nt.Prequeue, nt.Pos, nt.Issued, nt.Expires = false, pos, now, now.Add(r.opts.QueueTTL)
			st.QueueToken = r.sig.queue(nt)
		}
	} else if now.Sub(t.Issued) > r.opts.QueueTTL/2 {
		nt := t
		nt.Issued, nt.Expires = now, now.Add(r.opts.QueueTTL)
		st.QueueToken = r.sig.queue(nt)
	}
	if pos == 0 {
		st.State = Prequeue
		st.EstimatedWait = max(0, snap.cfg.openAt().Sub(now))
		st.PollAfter = pollAfter(st.EstimatedWait / 2)
		if v.SoldOut {
			st.State, st.PollAfter, st.EstimatedWait = SoldOut, 0, 0
		}
		return st
	}
	st.Position = pos
	if pos <= lv.Serving {
		st.State = Admitted
		return st
	}
	if v.SoldOut {
		st.State = SoldOut
		return st
	}
	st.State = Waiting
	st.Remaining = -1
	if v.Stocked {
		st.Remaining = band(max(0, v.Available) + max(0, v.Held))
		st.RemainingHeld = v.Available <= 0 && v.Held > 0
	}
	ahead := pos - lv.Serving - 1
	if behind := lv.Seq - lv.Serving; behind > 0 && lv.Left > 0 {
		// Holes left by fans who left are spread over the queue; remove their share of the places ahead.
		ahead -= ahead * min(lv.Left, behind) / behind
	}
	st.Ahead = max(0, ahead)
	st.EstimatedWait = r.estimate(snap, t.Lane, st.Ahead, now)
	st.PollAfter = pollAfter(st.EstimatedWait / 20)
	return st
}

// estimate is the wait for ahead places from the measured admission rate (the lane's moving average, else the
// event's; the configured rate only before anything was admitted), plus the time until the lane's wave starts.
func (r *Room) estimate(snap *snapshot, lane int, ahead int64, now time.Time) time.Duration {
	rate := snap.view.Lanes[lane].Rate
	if rate <= 0 {
		rate = snap.view.Rate
	}
	var start time.Time
	for _, w := range snap.cfg.Config.Waves {
		if (lane == 0) == (len(w.Codes) == 0) && (lane == 0 || snap.cfg.Lanes[w.ID] == lane) {
			start = w.StartsAt
			if rate <= 0 {
				rate = float64(w.AdmitPerMin)
			}
			break
		}
	}
	const maxWait = 24 * time.Hour
	d := maxWait
	if mins := float64(ahead+1) / max(rate, 1e-3); mins < maxWait.Minutes() {
		d = time.Duration(mins * float64(time.Minute))
	}
	if start.After(now) {
		d += start.Sub(now)
	}
	return min(d, maxWait).Round(time.Second)
}

// band rounds n down to two significant digits above 100: a waiting fan needs the size, and a count that moves
// at every sale would only make the figure look precise when it is a few ticks old.
func band(n int64) int64 {
	if n <= 100 {
		return n
	}
	p := int64(1)
	for n/p >= 100 {
		p *= 10
	}
	return n / p * p
}

// pollAfter keeps polls rare far from the front: 1 s near it, up to 30 s far back.
func pollAfter(d time.Duration) time.Duration {
	return min(max(d, time.Second), 30*time.Second).Round(time.Second)
}

// Leave gives up the fan's place: it is not counted any more, and a later join gets a new place at the back.
func (r *Room) Leave(ctx context.Context, event, queueToken string) error {
	now := r.now()
	t, err := r.sig.parseQueue(queueToken, event, now)
	if err != nil {
		return ErrBadToken
	}
	ev, snap, err := r.snapshot(ctx, event)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		pos := r.evaluate(snap, t, now).Position
		err = r.store.Leave(ctx, event, t.Fan, t.Lane, t.Seq, pos)
		if !errors.Is(err, ErrNeedPosition) || attempt > 0 {
			break
		}
		if snap, err = r.load(ctx, ev); err != nil {
			break
		}
	}
	k := claimKey{event: event, fan: t.Fan, lane: t.Lane, seq: t.Seq}
	r.forgetClaim(k)
	if err != nil && !errors.Is(err, ErrGone) { // leaving twice is fine
		return fmt.Errorf("leave %s: %w", event, err)
	}
	r.claimMu.Lock()
	r.left[k] = t.Expires
	r.nleft.Store(int64(len(r.left)))
	r.claimMu.Unlock()
	select { // streams of this token answer closed now too
	case ev.wake <- struct{}{}:
	default:
	}
	return nil
}

func (r *Room) forgetClaim(k claimKey) {
	r.claimMu.Lock()
	delete(r.claims, k)
	r.claimMu.Unlock()
}

// VerifyAccess checks an access token for event and returns its fan. It reads nothing but the token and the
// events this process has seen closed (ErrClosed); every IdleTTL/4 per fan it also writes to the store that the fan
// is still there (see Options.IdleTTL).
func (r *Room) VerifyAccess(event, accessToken string) (string, error) {
	a, err := r.Admitted(event, accessToken)
	return a.Fan, err
}

// Access is a verified access token: its fan and admitted place, so later calls of the same request (Quiet) need
// not verify the token again.
type Access struct {
	Event, Fan string
	lane       int
	pos        int64
}

// Admitted is VerifyAccess returning the whole access.
func (r *Room) Admitted(event, accessToken string) (Access, error) {
	now := r.now()
	t, err := r.sig.parseAccess(accessToken, event, now)
	if err != nil {
		return Access{}, ErrNotAdmitted
	}
	if r.isClosed(event) {
		return Access{}, ErrClosed
	}
	if t.Pos > 0 {
		r.touch(event, t.Lane, t.Pos, now)
	}
	return Access{Event: event, Fan: t.Fan, lane: t.Lane, pos: t.Pos}, nil
}

// touchTimeout bounds the store write that keeps a place active; a failed one is retried by a later call.
const touchTimeout = 2 * time.Second

// touch keeps the admitted place (lane, pos) counted as active for another IdleTTL, writing to the store only when
// this process last did so IdleTTL/4 ago or more.
func (r *Room) touch(event string, lane int, pos int64, now time.Time) {
	k := placeKey{event, lane, pos}
	idle := r.ttlsOf(event).idle
	r.touchMu.Lock()
	last, ok := r.touched[k]
	if ok && now.Sub(last) < idle/4 {
		r.touchMu.Unlock()
		return
	}
	r.touched[k] = now
	delete(r.quiet, k) // the fan called again: it is still shopping
	r.touchMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), touchTimeout)
	defer cancel()
	counted, err := r.store.Touch(ctx, event, lane, pos, now, idle)
	switch {
	case err != nil:
		r.touchMu.Lock()
		delete(r.touched, k)
		r.touchMu.Unlock()
		r.log.Warn("keep an admitted fan active", slog.String("event", event), slog.Any("err", err))
	case !counted: // the slot is gone for good (idle too long, finished, expired): stop writing
		r.touchMu.Lock()
		r.touched[k] = now.Add(r.opts.AccessTTL)
		r.touchMu.Unlock()
	}
}

// Quiet says that the fan of accessToken has nothing left to do after until (a refused hold: now; a hold: its
// expiry): unless the fan calls again, its place stops counting as active Options.QuietGrace after until, instead
// of an idle life after its last call. It makes no store call: the places are written together at the next refresh.
func (r *Room) Quiet(event, accessToken string, until time.Time) {
	t, err := r.sig.parseAccess(accessToken, event, r.now())
	if err != nil {
		return
	}
	r.QuietAccess(Access{Event: event, Fan: t.Fan, lane: t.Lane, pos: t.Pos}, until)
}

// QuietAccess is Quiet for an access verified by Admitted.
func (r *Room) QuietAccess(a Access, until time.Time) {
	if a.pos <= 0 {
		return
	}
	now := r.now()
	end := until.Add(r.opts.QuietGrace)
	if !end.Before(now.Add(r.ttlsOf(a.Event).idle)) {
		return // the idle life ends first
	}
	k := placeKey{a.Event, a.lane, a.pos}
	r.touchMu.Lock()
	delete(r.touched, k) // the fan's next call counts the place again
	if old, ok := r.quiet[k]; !ok || end.Before(old) {
		r.quiet[k] = end
	}
	r.touchMu.Unlock()
}

// Done says that the fan of accessToken is done shopping (it checked out: its units are held by its order, out
// of what admission counts as available): its place stops counting at the next refresh, and this process no
// longer counts it again for the fan's later calls (paying, reading its order). The access token stays valid.
// Like Quiet, it makes no store call.
func (r *Room) Done(event, accessToken string) {
	now := r.now()
	t, err := r.sig.parseAccess(accessToken, event, now)
	if err != nil || t.Pos <= 0 {
		return
	}
	k := placeKey{event, t.Lane, t.Pos}
	r.touchMu.Lock()
	r.touched[k] = now.Add(r.opts.AccessTTL) // as for a place that stopped counting: no more writes
	r.quiet[k] = now
	r.touchMu.Unlock()
}

// flushQuiet writes the places made quiet since the last refresh, one store call per event.
func (r *Room) flushQuiet(ctx context.Context) {
	r.touchMu.Lock()
	if len(r.quiet) == 0 {
		r.touchMu.Unlock()
		return
	}
	byEvent := map[string][]QuietPlace{}
	for k, until := range r.quiet {
		byEvent[k.event] = append(byEvent[k.event], QuietPlace{Lane: k.lane, Pos: k.pos, Until: until})
	}
	clear(r.quiet)
	r.touchMu.Unlock()
	now := r.now()
	for event, places := range byEvent {
		if err := r.store.Quiet(ctx, event, now, places); err != nil && ctx.Err() == nil {
			// Not retried: those places end with their idle life instead.
			r.log.WarnContext(ctx, "end quiet places", "event", event, "err", err)
		}
	}
}

// VerifyAccessForRead is VerifyAccess for read-only calls: it also accepts an authentic token of event that
// expired less than Options.ReadGrace ago, so a fan can still read a hold or an order (a payment still pending)
// after the access ended. Anything that changes state must use VerifyAccess.
func (r *Room) VerifyAccessForRead(event, accessToken string) (string, error) {
	now := r.now()
	t, err := r.sig.parseAccess(accessToken, event, now.Add(-r.opts.ReadGrace))
	if err != nil {
		return "", ErrNotAdmitted
	}
	// A closed event's fans still read their holds and orders: they watch their refunds arrive.
	if t.Pos > 0 && now.Before(t.Expires) && !r.isClosed(event) {
		r.touch(event, t.Lane, t.Pos, now)
	}
	return t.Fan, nil
}

// Finished ends the fan's shopping: its active slot is freed at once (the next tick can admit someone else).
func (r *Room) Finished(ctx context.Context, event, fan string) error {
	if !validFan(fan) {
		return fmt.Errorf("%w: fan id", ErrInvalid)
	}
	ev, snap, err := r.snapshot(ctx, event)
	if err != nil {
		return err
	}
	p, err := r.store.Lookup(ctx, event, fan)
	if errors.Is(err, ErrGone) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("finished %s: %w", event, err)
	}
	t := queueToken{Event: event, Fan: fan, Lane: p.Lane, Seq: p.Seq, Issued: r.now()}
	if !p.Prequeue() {
		t.Pos = p.Seq
	}
	pos := r.evaluate(snap, t, r.now()).Position
	if pos == 0 && p.Prequeue() && snap.view.Seed == nil {
		if snap, err = r.load(ctx, ev); err != nil {
			return err
		}
		pos = r.evaluate(snap, t, r.now()).Position
	}
	r.forgetClaim(claimKey{event: event, fan: fan, lane: p.Lane, seq: p.Seq})
	if pos == 0 {
		return nil // not drawn yet, so not admitted: nothing to free
	}
	if err := r.store.Finish(ctx, event, p.Lane, pos); err != nil {
		return fmt.Errorf("finished %s: %w", event, err)
	}
	return nil
}

// SetAdmission pauses or resumes admission, or changes the current wave's rate and max active; the controller
// applies it on its next tick. Rate and max active overrides last until the next wave starts.
func (r *Room) SetAdmission(ctx context.Context, event string, a Admission) error {
	if a.AdmitPerMin != nil && (*a.AdmitPerMin < 1 || *a.AdmitPerMin > 10_000_000) {
		return fmt.Errorf("%w: admit_per_min must be 1..10000000", ErrInvalid)
	}
	if a.MaxActive != nil && (*a.MaxActive < 1 || *a.MaxActive > 100_000_000) {
		return fmt.Errorf("%w: max_active must be 1..100000000", ErrInvalid)
	}
	ev, _, err := r.snapshot(ctx, event)
	if err != nil {
		return err
	}
	snap, err := r.load(ctx, ev)
	if err != nil {
		return err
	}
	cur := max(snap.cfg.current(r.now()), 0)
	o := Overrides{Wave: snap.cfg.Config.Waves[cur].ID}
	if a.AdmitPerMin != nil {
		o.AdmitPerMin = *a.AdmitPerMin
	}
	if a.MaxActive != nil {
		o.MaxActive = *a.MaxActive
	}
	if err := r.store.SetOverrides(ctx, event, a.Paused, o); err != nil {
		return fmt.Errorf("set admission %s: %w", event, err)
	}
	return nil
}

// Stats reads the event's counters from the store.
func (r *Room) Stats(ctx context.Context, event string) (Stats, error) {
	ev, _, err := r.snapshot(ctx, event)
	if err != nil {
		return Stats{}, err
	}
	snap, err := r.load(ctx, ev)
	if err != nil {
		return Stats{}, err
	}
	v := &snap.view
	ttls := r.ttlsOf(event)
	s := Stats{Admitted: v.Admitted, Active: v.Active, AdmitRatePerMin: v.Rate, Paused: v.Paused, SoldOut: v.SoldOut,
		Closed: v.Closed, ClaimTTL: ttls.claim, IdleTTL: ttls.idle}
	s.Queued = queued(v)
	cur := snap.cfg.current(r.now())
	if cur >= 0 {
		w := snap.cfg.Config.Waves[cur]
		s.Wave = w.ID
		s.AdmitPerMin, s.MaxActive = effective(w, v.Overrides)
	} else {
		s.AdmitPerMin, s.MaxActive = effective(snap.cfg.Config.Waves[0], v.Overrides)
	}
	if v.Seed != nil {
		s.LotterySeed = hex.EncodeToString(v.Seed)
		s.PrequeueSizes = map[string]int64{}
		for lane := range MaxLanes {
			if n := v.Lanes[lane].Pre; n > 0 {
				s.PrequeueSizes[snap.cfg.laneName[lane]] = n
			}
		}
	}
	return s, nil
}

// queued counts the places not admitted yet whose fans did not leave and can still be served: none once the queue
// is closed, sold out or for good (those fans are told so; counting them would report a queue that will never move).
func queued(v *View) int64 {
	if v.SoldOut || v.Closed {
		return 0
	}
	var n int64
	for _, l := range v.Lanes {
		n += max(0, l.Seq-l.Serving-l.Left)
	}
	return max(0, n-v.PendingLeaves)
}

// effective returns a wave's rate and max active after the organizer's overrides.
func effective(w Wave, o Overrides) (rate, maxActive int) {
	rate, maxActive = w.AdmitPerMin, w.MaxActive
	if o.Wave == w.ID {
		rate = cmp.Or(o.AdmitPerMin, rate)
		maxActive = cmp.Or(o.MaxActive, maxActive)
	}
	return rate, maxActive
}
