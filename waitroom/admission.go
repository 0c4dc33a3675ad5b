package waitroom

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"
)

// controller is the admission state of an event kept by the process holding its lease.
type controller struct {
	leader bool
	last   time.Time         // the previous tick's time
	carry  float64           // fractional admissions carried across ticks (token bucket without burst)
	rates  [MaxLanes]float64 // moving averages, raw
	rate   float64
	weight float64 // the averages' total weight so far: dividing by it removes the start-up bias toward 0
}

// rateTau is the time constant of the measured-rate moving average: long enough to smooth admissions that come
// in bursts (no-shows expiring together, max active freeing up), short enough to follow a live rate change.
const rateTau = time.Minute

// maxTickGap caps the time one tick accounts for, so a stalled controller does not admit a burst.
const maxTickGap = 5 * time.Second

// Run runs the admission controllers of every configured event (each under its lease, so one process admits per
// event at a time and another takes over when a lease lapses) and refreshes this process's snapshots. It returns
// nil when ctx ends, after giving its leases up.
func (r *Room) Run(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.refreshLoop(ctx)
	}()
	t := time.NewTicker(r.opts.Tick)
	defer t.Stop()
	var (
		names    []string
		listedAt time.Time
	)
	for {
		if time.Since(listedAt) > time.Second || names == nil {
			if n, err := r.store.Events(ctx); err == nil {
				names, listedAt = n, time.Now()
			} else if ctx.Err() == nil {
				r.log.WarnContext(ctx, "list events", "err", err)
			}
		}
		for _, name := range names {
			if err := r.tick(ctx, r.event(name)); err != nil && ctx.Err() == nil {
				r.log.WarnContext(ctx, "admission tick", "event", name, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			<-done
			r.resign()
			return nil
		case <-t.C:
		}
	}
}

// resign gives up the leases this process holds, so another process takes over without waiting for them to lapse.
func (r *Room) resign() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, ev := range r.knownEvents() {
		if ev.ctl.leader {
			ev.ctl.leader = false
			r.m.forget(ev.name)
			if err := r.store.Unlease(ctx, ev.name, r.opts.Owner); err != nil {
				r.log.WarnContext(ctx, "give up lease", "event", ev.name, "err", err)
			}
		}
	}
}

func (r *Room) refreshLoop(ctx context.Context) {
	t := time.NewTicker(r.opts.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, ev := range r.knownEvents() {
			if _, err := r.load(ctx, ev); err != nil && ctx.Err() == nil && !errors.Is(err, ErrNotFound) {
				r.log.WarnContext(ctx, "refresh", "event", ev.name, "err", err)
			}
		}
		r.flushQuiet(ctx)
		r.pruneClaims()
	}
}

func (r *Room) pruneClaims() {
	now := r.now()
	r.claimMu.Lock()
	defer r.claimMu.Unlock()
	for k, c := range r.claims {
		if !now.Before(c.deadline) {
			delete(r.claims, k)
		}
	}
	for k, exp := range r.left {
		if !now.Before(exp) {
			delete(r.left, k)
		}
	}
	r.nleft.Store(int64(len(r.left)))
	r.touchMu.Lock()
	defer r.touchMu.Unlock()
	for k, last := range r.touched {
		if now.Sub(last) > r.ttlsOf(k.event).idle { // a call now writes again anyway
			delete(r.touched, k)
		}
	}
}

// tick is one admission step of one event: take or renew the lease, draw the pre-queue at open, release the waves
// that started, then admit up to rate×elapsed places (plus the carried fraction), bounded by max active and by the
// units left to sell, or close the queue when nothing is left.
func (r *Room) tick(ctx context.Context, ev *eventState) error {
	c := &ev.ctl
	if s := ev.snap.Load(); s != nil && s.view.Closed { // for good: no store call for a cancelled event
		r.resignClosed(ev)
		return nil
	}
	ok, err := r.store.Lease(ctx, ev.name, r.opts.Owner, r.opts.LeaseTTL)
	if err != nil || !ok {
		if c.leader {
			c.leader = false
			r.m.forget(ev.name)
		}
		return err
	}
	now := r.now()
	snap, err := r.load(ctx, ev)
	if err != nil {
		return err
	}
	v := &snap.view
	if v.Closed {
		r.resignClosed(ev)
		return nil
	}
	if !c.leader {
		// Taking over: start from the measured rates the previous controller left.
		*c = controller{leader: true, last: now, rate: v.Rate}
		for i := range MaxLanes {
			c.rates[i] = v.Lanes[i].Rate
		}
		if v.Rate > 0 {
			c.weight = 1 // the stored averages are already corrected
		}
	}
	cfg := snap.cfg
	cur := cfg.current(now)
	if cur < 0 {
		c.last = now
		return nil // the pre-queue is open; nobody is admitted before the first wave
	}
	if v.Seed == nil {
		if err := r.draw(ctx, ev.name); err != nil {
			return err
		}
		if snap, err = r.load(ctx, ev); err != nil {
			return err
		}
		v = &snap.view
	}
	var released []string
	for _, w := range cfg.Config.Waves[:cur+1] {
		if v.Released[w.ID] {
			continue
		}
		if err := r.stock.ReleaseWave(ctx, ev.name, w.ID, w.Release); err != nil {
			r.log.WarnContext(ctx, "release wave", "event", ev.name, "wave", w.ID, "err", err)
			continue // retried next tick
		}
		released = append(released, w.ID)
	}

	dt := min(max(now.Sub(c.last), 0), maxTickGap)
	c.last = now
	w := cfg.Config.Waves[cur]
	ratePerMin, maxActive := effective(w, v.Overrides)
	req := AdmitRequest{
		Owner: r.opts.Owner, Now: now, Arrival: now.Add(r.ttlsOf(ev.name).claim),
		Lanes: cfg.lanesAt(cur), Released: released,
	}
	switch {
	case v.SoldOut:
		c.carry = 0
	default:
		available, held, err := r.stock.Remaining(ctx, ev.name)
		if err != nil {
			return fmt.Errorf("remaining stock: %w", err)
		}
		req.Stocked, req.Available, req.Held = true, int64(available), int64(held)
		if available+held <= 0 && cur == len(cfg.Config.Waves)-1 && len(released) == 0 {
			req.SoldOut = true // nothing to sell and no later wave to release more
			c.carry = 0
			break
		}
		if v.Paused {
			c.carry = 0
			break
		}
		c.carry += float64(ratePerMin) * dt.Minutes()
		room := min(int64(maxActive)-v.Active, int64(available)-v.Active)
		req.N = int(max(0, min(int64(math.Floor(c.carry)), room)))
		c.carry -= math.Floor(c.carry) // unused whole admissions are not saved up
	}
	if c.weight > 0 {
		for i := range MaxLanes {
			req.Rates[i] = c.rates[i] / c.weight
		}
		req.Rate = c.rate / c.weight
	}
	res, err := r.store.Admit(ctx, ev.name, req)
	if errors.Is(err, ErrLeaseLost) {
		c.leader = false
		r.m.forget(ev.name)
		return nil
	}
	if err != nil {
		return fmt.Errorf("admit: %w", err)
	}
	// Moving average of the measured rate, per lane and in all.
	alpha := 1 - math.Exp(-dt.Seconds()/rateTau.Seconds())
	total := 0
	if dt > 0 {
		for i := range MaxLanes {
			inst := float64(res.Admitted[i]) / dt.Minutes()
			c.rates[i] += alpha * (inst - c.rates[i])
			total += res.Admitted[i]
		}
		c.rate += alpha * (float64(total)/dt.Minutes() - c.rate)
		c.weight += alpha * (1 - c.weight)
	}
	if total > 0 {
		r.m.admitted.WithLabelValues(ev.name).Add(float64(total))
	}
	r.m.active.WithLabelValues(ev.name).Set(float64(res.Active))
	r.m.paused.WithLabelValues(ev.name).Set(b2f(v.Paused))
	if c.weight > 0 {
		r.m.rate.WithLabelValues(ev.name).Set(c.rate / c.weight)
	}
	// Reload so this process's polls see the admissions at once, and the queue gauge the new counters.
	snap, err = r.load(ctx, ev)
	if err == nil {
		r.m.queued.WithLabelValues(ev.name).Set(float64(queued(&snap.view)))
	}
	return err
}

// resignClosed stops controlling a closed event; the lease lapses on its own, and no process takes it again.
func (r *Room) resignClosed(ev *eventState) {
	if ev.ctl.leader {
		ev.ctl.leader = false
		r.m.forget(ev.name)
	}
}

// draw fixes the pre-queue at open: freeze its sizes, generate the seed, map the fans who left the pre-queue to
// their drawn positions, and publish the seed, all under the lease.
func (r *Room) draw(ctx context.Context, event string) error {
	if err := r.store.Freeze(ctx, event); err != nil {
		return fmt.Errorf("freeze pre-queue: %w", err)
	}
	ev := r.event(event)
	snap, err := r.load(ctx, ev)
	if err != nil {
		return err
	}
	seed := make([]byte, 32)
	if _, err := rand.Read(seed); err != nil {
		return fmt.Errorf("lottery seed: %w", err)
	}
	var perms [MaxLanes][]int32
	for lane := range MaxLanes {
		if n := snap.view.Lanes[lane].Pre; n > 0 {
			perms[lane] = Draw(seed, snap.cfg.laneName[lane], int(n))
		}
	}
	for attempt := 0; attempt < 5; attempt++ {
		pending, err := r.store.PendingLeaves(ctx, event)
		if err != nil {
			return fmt.Errorf("pending leaves: %w", err)
		}
		drawn := make([]DrawnLeave, 0, len(pending))
		for _, p := range pending {
			if p.Lane < MaxLanes && p.Seq >= 1 && p.Seq <= int64(len(perms[p.Lane])) {
				drawn = append(drawn, DrawnLeave{Lane: p.Lane, Pos: int64(perms[p.Lane][p.Seq-1])})
			}
		}
		err = r.store.Draw(ctx, event, r.opts.Owner, seed, drawn)
		if errors.Is(err, ErrRetry) {
			continue
		}
		if err != nil {
			return fmt.Errorf("draw: %w", err)
		}
		r.log.InfoContext(ctx, "pre-queue drawn", "event", event, "seed", hex.EncodeToString(seed))
		return nil
	}
	return fmt.Errorf("draw: %w", ErrRetry)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
