package waitroom_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onsale/onsale/internal/testenv"
	"github.com/onsale/onsale/waitroom"
	"github.com/onsale/onsale/waitroom/memstore"
	"github.com/onsale/onsale/waitroom/redisstore"
	"github.com/prometheus/client_golang/prometheus"
)

// TestClose: a cancelled event's queue closes for good: every fan, waiting or admitted, is told closed and stops
// polling, access tokens stop verifying, joins take no place and the controller admits nobody, whatever the stock
// or a new configuration says.
func TestClose(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		b := setup(t, kind, general(120, 100))
		tickets := b.joinN(t, 6)
		b.tick(t, 0)
		b.tick(t, time.Second) // fans 1 and 2 admitted
		shopper := b.status(t, tickets[0].Token)
		if shopper.State != waitroom.Admitted || shopper.AccessToken == "" {
			t.Fatalf("fan 1 before close %+v", shopper)
		}
		if _, err := b.room.VerifyAccess(b.ev, shopper.AccessToken); err != nil {
			t.Fatalf("access before close: %v", err)
		}
		wctx, cancel := context.WithCancel(b.ctx)
		defer cancel()
		stream, err := b.room.Watch(wctx, b.ev, tickets[5].Token)
		if err != nil {
			t.Fatal(err)
		}
		if st := <-stream; st.State != waitroom.Waiting {
			t.Fatalf("stream before close %+v", st)
		}
		before := b.stats(t)
		seq := laneSeq(t, b)

		if err := b.room.Close(b.ctx, b.ev); err != nil {
			t.Fatal(err)
		}
		if err := b.room.Close(b.ctx, b.ev); err != nil {
			t.Fatalf("closing twice: %v", err)
		}
		for i, tk := range tickets { // the claimed fan, the admitted one who never came, the waiting ones
			st := b.status(t, tk.Token)
			if st.State != waitroom.Closed || st.PollAfter != 0 || st.AccessToken != "" {
				t.Fatalf("fan %d after close %+v", i+1, st)
			}
		}
		if _, err := b.room.VerifyAccess(b.ev, shopper.AccessToken); !errors.Is(err, waitroom.ErrClosed) {
			t.Fatalf("access after close: %v", err)
		}
		if fan, err := b.room.VerifyAccessForRead(b.ev, shopper.AccessToken); err != nil || fan == "" {
			t.Fatalf("read access after close (a fan reads its refund): %q %v", fan, err)
		}
		if _, err := b.room.VerifyAccess(b.ev, "forged"); !errors.Is(err, waitroom.ErrNotAdmitted) {
			t.Fatalf("a forged token after close: %v", err)
		}
		timeout := time.After(5 * time.Second)
		for ended := false; !ended; {
			select {
			case st, ok := <-stream:
				if ok && st.State != waitroom.Closed {
					t.Fatalf("stream after close %+v", st)
				}
				ended = !ok
			case <-timeout:
				t.Fatal("the stream did not end after close")
			}
		}
		for _, fan := range []string{"newcomer", "fan-003"} {
			tk, err := b.room.Join(b.ctx, b.ev, fan, "")
			if err != nil {
				t.Fatalf("join of %s after close: %v", fan, err)
			}
			if tk.State != waitroom.Closed || tk.Token != "" || tk.PollAfter != 0 || tk.Created {
				t.Fatalf("join of %s after close %+v", fan, tk)
			}
		}
		if got := laneSeq(t, b); got != seq {
			t.Fatalf("joins after close took places: seq %d, was %d", got, seq)
		}

		// The controller admits nobody, and a sell-out or a new configuration reopens nothing.
		b.tick(t, time.Second)
		b.stock.set(0, 0)
		b.tick(t, time.Second)
		if err := b.room.Configure(b.ctx, waitroom.Config{Event: b.ev, Waves: general(6000, 100)}); err != nil {
			t.Fatal(err)
		}
		b.stock.set(1000, 0)
		b.tick(t, time.Second)
		s := b.stats(t)
		if !s.Closed || s.SoldOut || s.Queued != 0 || s.Admitted != before.Admitted {
			t.Fatalf("stats after close %+v (admitted before %d)", s, before.Admitted)
		}
		if st := b.status(t, tickets[5].Token); st.State != waitroom.Closed {
			t.Fatalf("waiting fan after reconfiguration %+v", st)
		}
		if err := b.room.Leave(b.ctx, b.ev, tickets[4].Token); err != nil {
			t.Fatalf("leave after close: %v", err)
		}
		if err := b.room.Finished(b.ctx, b.ev, "fan-001"); err != nil {
			t.Fatalf("finished after close: %v", err)
		}

		for _, ev := range []string{"no-such-event", "", "bad id!"} {
			if err := b.room.Close(b.ctx, ev); !errors.Is(err, waitroom.ErrNotFound) {
				t.Fatalf("close of %q: %v", ev, err)
			}
		}
	})
}

// TestClosePrequeue: fans waiting for the on-sale to open are told closed as well, and the draw never happens.
func TestClosePrequeue(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		b := setup(t, kind, []waitroom.Wave{{ID: "general", StartsAt: t0.Add(time.Hour), AdmitPerMin: 60, MaxActive: 10}})
		tickets := b.joinN(t, 3)
		if st := b.status(t, tickets[0].Token); st.State != waitroom.Prequeue {
			t.Fatalf("before close %+v", st)
		}
		if err := b.room.Close(b.ctx, b.ev); err != nil {
			t.Fatal(err)
		}
		for i, tk := range tickets {
			if st := b.status(t, tk.Token); st.State != waitroom.Closed || st.PollAfter != 0 || st.EstimatedWait != 0 {
				t.Fatalf("pre-queue fan %d after close %+v", i+1, st)
			}
		}
		b.tick(t, 2*time.Hour)
		if s := b.stats(t); !s.Closed || s.LotterySeed != "" || s.Admitted != 0 || s.Queued != 0 {
			t.Fatalf("stats after open %+v", s)
		}
		if st := b.status(t, tickets[0].Token); st.State != waitroom.Closed {
			t.Fatalf("pre-queue fan after open %+v", st)
		}
		if err := b.room.Leave(b.ctx, b.ev, tickets[1].Token); err != nil {
			t.Fatalf("leave after close: %v", err)
		}
	})
}

// TestCloseSeenByAnotherProcess: a process that has not refreshed since the close still takes no place and claims
// no access (the store refuses), and stops verifying access tokens at its next refresh.
func TestCloseSeenByAnotherProcess(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		b := setup(t, kind, general(120, 100))
		other, err := waitroom.New(b.store, b.stock, waitroom.Options{Secret: secret, Now: b.clock.Now, Owner: "owner-2",
			Registerer: prometheus.NewRegistry(), AccessTTL: 10 * time.Minute, ArrivalTTL: 2 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		tickets := b.joinN(t, 4)
		b.tick(t, 0)
		b.tick(t, time.Second) // fans 1 and 2 admitted
		st, err := other.Status(b.ctx, b.ev, tickets[0].Token)
		if err != nil || st.AccessToken == "" {
			t.Fatalf("fan 1 on the other process %+v %v", st, err)
		}
		seq := laneSeq(t, b)
		if err := b.room.Close(b.ctx, b.ev); err != nil {
			t.Fatal(err)
		}
		// Not refreshed yet: the token still verifies there, but the store refuses places and claims.
		if _, err := other.VerifyAccess(b.ev, st.AccessToken); err != nil {
			t.Fatalf("access on a process that has not refreshed: %v", err)
		}
		tk, err := other.Join(b.ctx, b.ev, "newcomer", "")
		if err != nil || tk.State != waitroom.Closed || tk.Token != "" {
			t.Fatalf("join on a process that has not refreshed %+v %v", tk, err)
		}
		if got := laneSeq(t, b); got != seq {
			t.Fatalf("the join took a place: seq %d, was %d", got, seq)
		}
		if st, err := other.Status(b.ctx, b.ev, tickets[1].Token); err != nil || st.State != waitroom.Closed || st.AccessToken != "" {
			t.Fatalf("first poll of an admitted fan on a process that has not refreshed %+v %v", st, err)
		}
		if err := other.RefreshForTest(b.ctx, b.ev); err != nil {
			t.Fatal(err)
		}
		if _, err := other.VerifyAccess(b.ev, st.AccessToken); !errors.Is(err, waitroom.ErrClosed) {
			t.Fatalf("access after the refresh: %v", err)
		}
		if st, err := other.Status(b.ctx, b.ev, tickets[3].Token); err != nil || st.State != waitroom.Closed {
			t.Fatalf("waiting fan after the refresh %+v %v", st, err)
		}
	})
}

// TestCloseDuringAdmissions: two processes run their controllers while fans join and poll; once Close returns,
// nothing more is admitted and no place is given.
func TestCloseDuringAdmissions(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		storeA, storeB := sharedStores(t, kind)
		stock := newStock(1_000_000)
		a := realRoom(t, storeA, stock, "room-a")
		b := realRoom(t, storeB, stock, "room-b")
		ev := testenv.Unique("close-")
		ctx := context.Background()
		if err := a.Configure(ctx, waitroom.Config{Event: ev, Waves: []waitroom.Wave{{ID: "g",
			StartsAt: time.Now().Add(-time.Minute), AdmitPerMin: 60000, MaxActive: 1_000_000}}}); err != nil {
			t.Fatal(err)
		}
		run(t, a)
		run(t, b)
		var (
			closed     atomic.Bool
			lateJoins  atomic.Int64 // joins that got a place after Close returned
			wg         sync.WaitGroup
			stopFans   = make(chan struct{})
			rooms      = []*waitroom.Room{a, b}
			fanCounter atomic.Int64
		)
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rooms[w%2]
				for {
					select {
					case <-stopFans:
						return
					default:
					}
					after := closed.Load()
					tk, err := r.Join(ctx, ev, fmt.Sprintf("f%d", fanCounter.Add(1)), "")
					if err != nil {
						t.Error(err)
						return
					}
					if after && tk.State != waitroom.Closed {
						lateJoins.Add(1)
					}
					if tk.Token != "" {
						if _, err := r.Status(ctx, ev, tk.Token); err != nil {
							t.Error(err)
							return
						}
					}
					time.Sleep(time.Millisecond)
				}
			}()
		}
		defer func() {
			close(stopFans)
			wg.Wait()
		}()
		waitFor(t, "admissions", 10*time.Second, func() bool {
			s, err := a.Stats(ctx, ev)
			return err == nil && s.Admitted >= 50
		})
		if err := b.Close(ctx, ev); err != nil {
			t.Fatal(err)
		}
		closed.Store(true)
		s, err := a.Stats(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		admitted := s.Admitted
		time.Sleep(200 * time.Millisecond) // many ticks and refreshes of both rooms
		for _, r := range rooms {
			s, err := r.Stats(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			if !s.Closed || s.Admitted != admitted || s.Queued != 0 {
				t.Fatalf("after close %+v (admitted when closed %d)", s, admitted)
			}
		}
		if n := lateJoins.Load(); n != 0 {
			t.Fatalf("%d joins got a place after close", n)
		}
	})
}

// laneSeq is the general lane's places given so far, read from the store.
func laneSeq(t *testing.T, b *bundle) int64 {
	t.Helper()
	v, err := b.store.View(b.ctx, b.ev, b.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return v.Lanes[0].Seq
}

// sharedStores returns two stores over the same state, as two processes have.
func sharedStores(t *testing.T, kind string) (waitroom.Store, waitroom.Store) {
	t.Helper()
	if kind == "mem" {
		s := memstore.New()
		return s, s
	}
	rdb, prefix := redisClient(t)
	return redisstore.New(rdb, prefix), redisstore.New(rdb, prefix)
}
