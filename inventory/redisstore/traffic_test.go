package redisstore

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onsale/onsale/inventory"
)

// TestAuditDuringTraffic audits while 1,000 goroutines trade: the audit script reads one snapshot, so it must find
// no difference at any moment, not only once the traffic stopped.
func TestAuditDuringTraffic(t *testing.T) {
	b := setup(t, Options{})
	ev := testEvent(gaSection("GA", 200, 100), seatedSection("S", 100, 15, 15, 15, 15, 15, 15))
	ev.HoldTTL = 250 * time.Millisecond
	ev.MaxPerFan = 4
	ev = b.create(t, ev)

	stop := make(chan struct{})
	var audits atomic.Int64
	auditor := make(chan struct{})
	go func() {
		defer close(auditor)
		for {
			select {
			case <-stop:
				return
			default:
			}
			rep, err := b.s.Audit(b.ctx, ev.ID)
			if err != nil || len(rep.Differences) > 0 {
				t.Errorf("audit during traffic: %v %v", err, rep.Differences)
				return
			}
			audits.Add(1)
		}
	}()
	var wg sync.WaitGroup
	for i := range 1000 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			req := inventory.HoldRequest{Event: ev.ID, Fan: "f" + strconv.Itoa(i%300)}
			if rng.IntN(2) == 0 {
				req.Items = []inventory.Item{item("GA", 1+rng.IntN(2))}
			} else {
				req.Items = []inventory.Item{{Section: "S", Quantity: 1 + rng.IntN(3), Adjacent: rng.IntN(2) == 0}}
			}
			h, err := b.s.Hold(b.ctx, req)
			if err != nil {
				if !errors.Is(err, inventory.ErrSoldOut) && !errors.Is(err, inventory.ErrLimitExceeded) {
					t.Errorf("hold: %v", err)
				}
				return
			}
			switch rng.IntN(4) {
			case 0:
				_, err = b.s.Release(b.ctx, h.ID)
			case 1:
				_, err = b.s.Confirm(b.ctx, h.ID)
			case 2:
				_, err = b.s.BeginCheckout(b.ctx, h.ID)
			}
			if err != nil && !errors.Is(err, inventory.ErrHoldExpired) {
				t.Errorf("after hold: %v", err)
			}
		})
	}
	wg.Wait()
	close(stop)
	<-auditor
	if audits.Load() == 0 {
		t.Fatal("no audit ran during the traffic")
	}
	st, err := b.s.Stats(b.ctx, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st.Sections {
		if s.Sold > s.Capacity || s.Available+s.Held+s.Sold+s.Withheld != s.Capacity {
			t.Fatalf("section %+v", s)
		}
	}
	t.Logf("%d audits during the traffic; %+v", audits.Load(), st.Sections)
}
