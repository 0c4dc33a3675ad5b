package waitroom_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/onsale/onsale/waitroom"
	"github.com/onsale/onsale/waitroom/redisstore"
	"github.com/prometheus/client_golang/prometheus"
)

// waitFor polls cond every few milliseconds until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// realRoom is a room on the real clock, for tests that run Run.
func realRoom(t *testing.T, store waitroom.Store, stock waitroom.Stock, owner string) *waitroom.Room {
	t.Helper()
	r, _ := realRoomWith(t, store, stock, owner, 300*time.Millisecond)
	return r
}

func realRoomWith(t *testing.T, store waitroom.Store, stock waitroom.Stock, owner string, lease time.Duration) (*waitroom.Room, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	r, err := waitroom.New(store, stock, waitroom.Options{Secret: secret, Tick: 20 * time.Millisecond,
		Refresh: 10 * time.Millisecond, LeaseTTL: lease, Owner: owner, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	return r, reg
}

// counter reads a counter of reg, summed over its labels.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var v float64
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				v += m.GetCounter().GetValue()
			}
		}
	}
	return v
}

func run(t *testing.T, r *waitroom.Room) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := r.Run(ctx); err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

func TestStatusMakesNoStoreCall(t *testing.T) {
	t.Parallel()
	b := setup(t, "mem", general(60, 10))
	cs := &countingStore{Store: b.store}
	room, err := waitroom.New(cs, b.stock, waitroom.Options{Secret: secret, Now: b.clock.Now, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	tickets := b.joinN(t, 50)
	if _, err := room.Status(b.ctx, b.ev, tickets[0].Token); err != nil { // loads the snapshot once
		t.Fatal(err)
	}
	before := cs.calls.Load()
	for range 20 {
		for _, tk := range tickets {
			if st, err := room.Status(b.ctx, b.ev, tk.Token); err != nil || st.State != waitroom.Waiting {
				t.Fatalf("%+v %v", st, err)
			}
		}
	}
	if n := cs.calls.Load() - before; n != 0 {
		t.Fatalf("1000 polls made %d store calls", n)
	}
}

func TestPollAfterAndEstimate(t *testing.T) {
	t.Parallel()
	b := setup(t, "mem", general(60, 1000))
	tickets := b.joinN(t, 2000)
	near := b.status(t, tickets[0].Token)
	far := b.status(t, tickets[1999].Token)
	if near.PollAfter != time.Second || far.PollAfter != 30*time.Second {
		t.Fatalf("poll after: near %v far %v", near.PollAfter, far.PollAfter)
	}
	if far.EstimatedWait < 30*time.Minute || near.EstimatedWait > 5*time.Second {
		t.Fatalf("estimates before any admission (configured rate): near %v far %v", near.EstimatedWait, far.EstimatedWait)
	}
	mid := b.status(t, tickets[199].Token)
	if mid.PollAfter <= near.PollAfter || mid.PollAfter >= far.PollAfter {
		t.Fatalf("poll after does not grow with distance: %v %v %v", near.PollAfter, mid.PollAfter, far.PollAfter)
	}
}

// TestEstimateUsesMeasuredRate: with max active as the bottleneck the measured rate is far below the configured
// one, and the estimate follows the measured one.
func TestEstimateUsesMeasuredRate(t *testing.T) {
	t.Parallel()
	b := setup(t, "mem", general(6000, 10)) // 100 per second configured; 10 no-shows per 2 minutes measured
	tickets := b.joinN(t, 400)
	b.tick(t, 0)
	for range 600 {
		b.tick(t, time.Second)
	}
	s := b.stats(t)
	if s.AdmitRatePerMin > 30 || s.AdmitRatePerMin <= 0 {
		t.Fatalf("measured rate %v", s.AdmitRatePerMin)
	}
	st := b.status(t, tickets[399].Token)
	configured := time.Duration(float64(st.Ahead) / 6000 * float64(time.Minute))
	if st.EstimatedWait < 20*configured {
		t.Fatalf("estimate %v for %d ahead looks like the configured rate (%v)", st.EstimatedWait, st.Ahead, configured)
	}
}

func TestWatch(t *testing.T) {
	t.Parallel()
	store := newStore(t, "mem")
	room := realRoom(t, store, newStock(1000), "w")
	ctx := context.Background()
	ev := "watch-ev"
	if err := room.Configure(ctx, waitroom.Config{Event: ev, Waves: []waitroom.Wave{{ID: "g", StartsAt: time.Now().Add(-time.Minute),
		AdmitPerMin: 1200, MaxActive: 1000}}}); err != nil {
		t.Fatal(err)
	}
	var last waitroom.Ticket
	for i := range 10 {
		tk, err := room.Join(ctx, ev, fmt.Sprintf("f%d", i), "")
		if err != nil {
			t.Fatal(err)
		}
		last = tk
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := room.Watch(wctx, ev, last.Token)
	if err != nil {
		t.Fatal(err)
	}
	other, err := room.Watch(wctx, ev, last.Token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := room.Watch(wctx, ev, "forged"); err == nil {
		t.Fatal("watch with a forged token")
	}
	first := <-ch
	if first.State != waitroom.Waiting || first.Position != 10 {
		t.Fatalf("first status %+v", first)
	}
	run(t, room)
	var final waitroom.Status
	n := 0
	for st := range ch {
		final = st
		n++
	}
	if final.State != waitroom.Admitted || final.AccessToken == "" || n < 1 {
		t.Fatalf("stream ended with %+v after %d statuses", final, n)
	}
	cancel() // the other watcher ends with its context
	for range other {
	}
}

// TestFairness: among fans who joined after open, nobody is admitted before a fan whose join completed before
// theirs started, by more than one admission tick. Joins run concurrently with the controller's ticks on Redis;
// after every tick every fan's status is read, so each fan's admission tick is known exactly.
func TestFairness(t *testing.T) {
	t.Parallel()
	b := setup(t, "redis", general(2400, 100000)) // 10 per 250 ms tick
	type fan struct {
		start, end time.Time
		tok        string
		pos        int64
		tick       int
	}
	const workers, perWorker = 6, 30
	fans := make([]*fan, 0, workers*perWorker)
	var mu sync.Mutex
	var joining sync.WaitGroup
	for w := range workers {
		joining.Add(1)
		go func() {
			defer joining.Done()
			for i := range perWorker {
				f := &fan{start: time.Now()}
				tk, err := b.room.Join(b.ctx, b.ev, fmt.Sprintf("f-%d-%d", w, i), "")
				if err != nil {
					t.Error(err)
					return
				}
				f.tok, f.pos = tk.Token, tk.Position
				mu.Lock()
				fans = append(fans, f)
				mu.Unlock()
				f.end = time.Now() // the join counts as done once the checker can see the fan
			}
		}()
	}
	joined := make(chan struct{})
	go func() { joining.Wait(); close(joined) }()
	b.tick(t, 0)
ticks:
	for tick := 1; ; tick++ {
		b.tick(t, 250*time.Millisecond)
		mu.Lock()
		snapshot := slices.Clone(fans)
		mu.Unlock()
		pending := 0
		for _, f := range snapshot {
			if f.tick != 0 {
				continue
			}
			if b.status(t, f.tok).State == waitroom.Admitted {
				f.tick = tick
			} else {
				pending++
			}
		}
		select {
		case <-joined:
			if pending == 0 && len(snapshot) == len(fans) {
				break ticks
			}
		default:
		}
		if tick > 10000 {
			t.Fatal("fans never all admitted")
		}
	}
	if len(fans) != workers*perWorker {
		t.Fatalf("%d fans joined", len(fans))
	}
	for i, a := range fans {
		for j, c := range fans {
			if !a.end.Before(c.start) {
				continue
			}
			if a.pos >= c.pos {
				t.Fatalf("fan %d joined before fan %d but has position %d ≥ %d", i, j, a.pos, c.pos)
			}
			if a.tick > c.tick+1 {
				t.Fatalf("fan %d (pos %d) admitted at tick %d, after later fan %d (pos %d) at tick %d", i, a.pos, a.tick, j, c.pos, c.tick)
			}
		}
	}
}

// TestLeaseTakeover: two rooms on one Redis; one controller at a time, the other takes over when the lease
// lapses or is given up.
func TestLeaseTakeover(t *testing.T) {
	t.Parallel()
	rdb, prefix := redisClient(t)
	ctx := context.Background()
	stock := newStock(100000)
	const leaseTTL = time.Second
	a, regA := realRoomWith(t, redisstore.New(rdb, prefix), stock, "room-a", leaseTTL)
	b, regB := realRoomWith(t, redisstore.New(rdb, prefix), stock, "room-b", leaseTTL)
	ev := "lease-ev"
	if err := a.Configure(ctx, waitroom.Config{Event: ev, Waves: []waitroom.Wave{{ID: "g", StartsAt: time.Now().Add(-time.Minute),
		AdmitPerMin: 6000, MaxActive: 100000}}}); err != nil {
		t.Fatal(err)
	}
	var joins sync.WaitGroup
	for w := range 8 {
		joins.Add(1)
		go func() {
			defer joins.Done()
			for i := range 60 {
				if _, err := a.Join(ctx, ev, fmt.Sprintf("f%d-%d", w, i), ""); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	joins.Wait()
	admittedBy := func(reg *prometheus.Registry) float64 { return counter(t, reg, "onsale_waitroom_admitted_total") }
	// a takes the lease with one tick and then stops renewing it: b admits only once it has lapsed.
	if err := a.TickForTest(ctx, ev); err != nil {
		t.Fatal(err)
	}
	taken := time.Now()
	stopB := run(t, b)
	waitFor(t, "b to admit", 10*time.Second, func() bool { return admittedBy(regB) > 0 })
	if since := time.Since(taken); since < leaseTTL-100*time.Millisecond {
		t.Fatalf("b admitted %v after a took a %v lease", since, leaseTTL)
	}
	if ok, _ := redisstore.New(rdb, prefix).Lease(ctx, ev, "room-a", time.Second); ok {
		t.Fatal("a got the lease while b holds it")
	}
	// Both run: only the lease holder admits.
	run(t, a)
	b0 := admittedBy(regB)
	waitFor(t, "admissions with two rooms", 10*time.Second, func() bool { return admittedBy(regB) >= b0+100 })
	if n := admittedBy(regA); n != 0 {
		t.Fatalf("a admitted %v while b held the lease", n)
	}
	// b stops and gives the lease up: a takes over at once, without waiting for the lease to lapse.
	stopB()
	stopped := time.Now()
	waitFor(t, "a to take over", 10*time.Second, func() bool { return admittedBy(regA) > 0 })
	if since := time.Since(stopped); since > leaseTTL {
		t.Logf("a took over %v after b stopped (slow machine?)", since)
	}
}
