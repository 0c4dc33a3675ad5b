package inventorytest

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/onsale/onsale/inventory"
)

// RunConcurrency has n goroutines (at least 1,000) hold, extend, release, check out, confirm, return and abandon
// holds at random on one event with a general and a seated section, while others sweep, release waves and read
// stats. Afterwards no seat is in two holds, no fan is over the limit, and once every hold has expired and been swept
// the counters equal what the confirmed holds say and Audit finds no difference.
func RunConcurrency(t *testing.T, newStore func(t *testing.T) inventory.Store, n int) {
	n = max(n, 1000)
	t.Run("Concurrency", func(t *testing.T) {
		f := setup(t, newStore)
		def := newEvent(ga("GA", 300, 1000), seated("S", 5000, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20))
		def.MaxPerFan = 6
		def.HoldTTL = 150 * time.Millisecond
		def.CheckoutTTL = 250 * time.Millisecond
		def.Withheld = map[string]int{"GA": 50, "S": 20}
		ev := f.create(def)
		r := &recorder{holds: make(map[string]bool), returned: make(map[string]bool), waves: make(map[string]bool)}

		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { f.shopper(ev, i, n, r) })
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		f.checkSettled(ev, r)
	})
}

// recorder collects what the goroutines did, for the checks afterwards.
type recorder struct {
	mu       sync.Mutex
	holds    map[string]bool // hold id → a Confirm of it succeeded
	returned map[string]bool // holds a Return answered released
	waves    map[string]bool
}

func (r *recorder) hold(id string, confirmed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.holds[id] = r.holds[id] || confirmed
}

// expected are the errors the random traffic may meet; anything else fails the test.
var expected = []error{
	inventory.ErrSoldOut, inventory.ErrSeatsUnavailable, inventory.ErrLimitExceeded,
	inventory.ErrIdempotencyReused, inventory.ErrHoldExpired, inventory.ErrInvalidState,
}

func (f *fixture) unexpected(what string, err error) bool {
	if err == nil {
		return false
	}
	for _, e := range expected {
		if errors.Is(err, e) {
			return false
		}
	}
	f.t.Errorf("%s: %v", what, err)
	return true
}

// shopper is one goroutine of RunConcurrency.
func (f *fixture) shopper(ev inventory.Event, i, n int, r *recorder) {
	rng := rand.New(rand.NewPCG(uint64(i), uint64(n)))
	fan := "fan" + strconv.Itoa(i%(n/4))
	switch {
	case i%97 == 5:
		_, err := f.s.Sweep(f.ctx, ev.ID, 1+rng.IntN(20))
		f.unexpected("sweep", err)
		return
	case i%100 == 1:
		wave := "w" + strconv.Itoa(i%3)
		err := f.s.ReleaseWave(f.ctx, ev.ID, wave, map[string]int{"GA": 20, "S": 10})
		if !f.unexpected("wave", err) {
			r.mu.Lock()
			r.waves[wave] = true
			r.mu.Unlock()
		}
		return
	case i%50 == 7:
		st, err := f.s.Stats(f.ctx, ev.ID)
		if !f.unexpected("stats", err) {
			checkBalance(f.t, st)
		}
		return
	}
	for round := 0; round < 2; round++ {
		req := inventory.HoldRequest{Event: ev.ID, Fan: fan}
		switch rng.IntN(4) {
		case 0:
			req.Items = items(qty("GA", 1+rng.IntN(3)))
		case 1:
			req.Items = items(inventory.Item{Section: "S", Quantity: 1 + rng.IntN(4), Adjacent: rng.IntN(2) == 0})
		case 2:
			for k := 1 + rng.IntN(2); len(req.Seats) < k; {
				s := inventory.SeatID("S", strconv.Itoa(1+rng.IntN(10)), 1+rng.IntN(20))
				if !slices.Contains(req.Seats, s) {
					req.Seats = append(req.Seats, s)
				}
			}
		default:
			req.Items = items(qty("GA", 1), qty("S", 1+rng.IntN(2)))
		}
		if rng.IntN(3) == 0 { // shared keys among a fan's goroutines: replays and reuse
			req.IdempotencyKey = "k" + strconv.Itoa(rng.IntN(3))
			req.Fingerprint = inventory.RequestFingerprint(req)
		}
		h, err := f.s.Hold(f.ctx, req)
		if f.unexpected("hold", err) || err != nil {
			continue
		}
		r.hold(h.ID, false)
		if rng.IntN(5) == 0 {
			_, err := f.s.Extend(f.ctx, h.ID)
			f.unexpected("extend", err)
		}
		switch rng.IntN(6) {
		case 0:
			_, err := f.s.Release(f.ctx, h.ID)
			f.unexpected("release", err)
		case 1, 2:
			if _, err := f.s.BeginCheckout(f.ctx, h.ID); f.unexpected("checkout", err) || err != nil {
				continue
			}
			c, err := f.s.Confirm(f.ctx, h.ID)
			if !f.unexpected("confirm", err) && err == nil {
				if c.State != inventory.Confirmed {
					f.t.Errorf("confirm %s: state %s", h.ID, c.State)
				}
				r.hold(h.ID, true)
				if rng.IntN(4) == 0 { // a refund
					f.giveBackSold(h.ID, r)
				}
			}
		case 3:
			c, err := f.s.Confirm(f.ctx, h.ID)
			if !f.unexpected("confirm", err) && err == nil {
				r.hold(h.ID, c.State == inventory.Confirmed)
			}
		case 4:
			_, err := f.s.BeginCheckout(f.ctx, h.ID)
			f.unexpected("checkout", err) // and abandon it: the checkout deadline reclaims it
		case 5:
			if i%4 == 0 {
				f.tooLate(h.ID)
			}
			// else abandon: the hold deadline reclaims it
		}
	}
}

// giveBackSold returns a hold that was confirmed and records it.
func (f *fixture) giveBackSold(id string, r *recorder) {
	g, err := f.s.Return(f.ctx, id)
	if f.unexpected("return", err) || err != nil {
		return
	}
	if g.State != inventory.Released {
		f.t.Errorf("return %s: state %s", id, g.State)
		return
	}
	r.mu.Lock()
	r.returned[id] = true
	r.mu.Unlock()
}

// tooLate waits until a hold has expired (expiry is the subject: the wait is bounded and polls), then checks that
// it can be neither checked out nor confirmed: a payment that comes late must not be kept.
func (f *fixture) tooLate(id string) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		h, err := f.s.Get(f.ctx, id)
		if err != nil {
			f.t.Errorf("get %s: %v", id, err)
			return
		}
		switch h.State {
		case inventory.Expired:
			if _, err := f.s.BeginCheckout(f.ctx, id); !errors.Is(err, inventory.ErrHoldExpired) {
				f.t.Errorf("checkout of expired hold %s: %v, want ErrHoldExpired", id, err)
			}
			if _, err := f.s.Confirm(f.ctx, id); !errors.Is(err, inventory.ErrHoldExpired) {
				f.t.Errorf("confirm of expired hold %s: %v, want ErrHoldExpired", id, err)
			}
			return
		case inventory.Held, inventory.Checkout:
		default:
			return // another goroutine of the fan replayed the key and finished the hold
		}
		if time.Now().After(deadline) {
			f.t.Errorf("hold %s still %s long after its deadline %s", id, h.State, h.ExpiresAt)
			return
		}
		select {
		case <-f.ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// checkSettled checks the invariants after the traffic stopped.
func (f *fixture) checkSettled(ev inventory.Event, r *recorder) {
	t := f.t
	holds := make(map[string]inventory.Hold, len(r.holds))
	for id := range r.holds {
		holds[id] = f.get(id)
	}
	// No seat is in two live or confirmed holds; no fan is over the limit; general units fit.
	owner := make(map[string]string)
	perFan := make(map[string]int)
	perSection := make(map[string]int)
	var lastDeadline time.Time
	for id, h := range holds {
		if r.holds[id] && h.State != inventory.Confirmed && (!r.returned[id] || h.State != inventory.Released) {
			t.Errorf("hold %s was confirmed, now %s", id, h.State)
		}
		if !h.State.Live() && h.State != inventory.Confirmed {
			continue
		}
		if h.State.Live() && h.ExpiresAt.After(lastDeadline) {
			lastDeadline = h.ExpiresAt
		}
		for _, s := range h.Seats {
			if other, ok := owner[s]; ok {
				t.Errorf("seat %s is in holds %s and %s", s, other, id)
			}
			owner[s] = id
		}
		perFan[h.Fan] += h.Units
		for _, l := range h.Lines {
			perSection[l.Section] += l.Quantity
		}
	}
	for fan, units := range perFan {
		if units > ev.MaxPerFan {
			t.Errorf("fan %s has %d units live or bought, limit %d", fan, units, ev.MaxPerFan)
		}
	}
	for _, sec := range ev.Sections {
		if perSection[sec.ID] > sec.Capacity {
			t.Errorf("section %s: %d units live or sold, capacity %d", sec.ID, perSection[sec.ID], sec.Capacity)
		}
	}

	// Let every live hold run out (expiry is the subject here), sweep, then the counters must match the sales.
	// Polling Sweep and Stats rather than the local clock keeps this right whatever clock the store uses.
	f.waitFor("every hold to expire and be swept", max(time.Until(lastDeadline), 0)+5*time.Second, func() bool {
		for {
			n, err := f.s.Sweep(f.ctx, ev.ID, 100)
			mustOK(t, "sweep", err)
			if n == 0 {
				break
			}
		}
		return f.stats(ev.ID).Totals().Held == 0
	})
	sold := make(map[string]int)
	confirmed := 0
	for id := range r.holds {
		h := f.get(id)
		switch h.State {
		case inventory.Confirmed:
			confirmed++
			for _, l := range h.Lines {
				sold[l.Section] += l.Quantity
			}
		case inventory.Held, inventory.Checkout:
			t.Errorf("hold %s still %s after every deadline passed", id, h.State)
		}
	}
	st := f.stats(ev.ID)
	waves := len(r.waves)
	wantWithheld := map[string]int{"GA": max(0, 50-20*waves), "S": max(0, 20-10*waves)}
	for _, s := range st.Sections {
		if s.Held != 0 || s.Sold != sold[s.ID] || s.Withheld != wantWithheld[s.ID] || s.Sold > s.Capacity {
			t.Errorf("section %s: %+v; want held 0, sold %d, withheld %d", s.ID, s, sold[s.ID], wantWithheld[s.ID])
		}
	}
	f.auditClean(ev.ID)
	t.Logf("%d holds, %d confirmed, %d returned, %d waves; stats %+v", len(r.holds), confirmed, len(r.returned), waves, st.Sections)
}
