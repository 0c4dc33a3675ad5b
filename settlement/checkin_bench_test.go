package settlement_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onsale/onsale/settlement"
)

// BenchmarkCheckIn: scans recorded in the real PostgreSQL ledger from 64 goroutines (ONSALE_BENCH_CLIENTS), as
// a stadium's gates would: each scan one transaction (its nonce, then the ticket's conditional update). Half the
// scans are first entries, half repeat a ticket already inside (already-used).
//
//	go test -run '^$' -bench CheckIn -benchtime 20000x ./settlement/
func BenchmarkCheckIn(b *testing.B) {
	r := newBenchRig(b, 4)
	ctx := context.Background()
	// Tickets to scan: paid orders of one unit each.
	n := max(b.N/2, 1)
	ids := make([]string, 0, n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan struct{})
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				o, err := r.checkout(ctx)
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				ids = append(ids, o.ID)
				mu.Unlock()
			}
		}()
	}
	for range n {
		next <- struct{}{}
	}
	close(next)
	wg.Wait()
	tickets := make([]string, 0, n)
	deadline := time.Now().Add(2 * time.Minute)
	for _, id := range ids {
		for {
			ts, err := r.led.Tickets(ctx, id)
			if err != nil {
				b.Fatal(err)
			}
			if len(ts) == 1 {
				tickets = append(tickets, ts[0].ID)
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("order %s has no ticket", id)
			}
			time.Sleep(time.Millisecond)
		}
	}
	clients := envInt("ONSALE_BENCH_CLIENTS", 64)
	var seq, ok, used atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var swg sync.WaitGroup
	for range clients {
		swg.Add(1)
		go func() {
			defer swg.Done()
			for {
				i := seq.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				res, err := r.led.CheckIn(ctx, settlement.Scan{Event: r.event, Nonce: "s" + strconv.FormatInt(i, 36),
					TicketID: tickets[int(i)%len(tickets)], Gate: "g" + strconv.FormatInt(i%8, 10), Direction: "entry"})
				if err != nil {
					b.Error(err)
					return
				}
				switch res.Result {
				case settlement.ScanOK:
					ok.Add(1)
				case settlement.ScanAlreadyUsed:
					used.Add(1)
				}
			}
		}()
	}
	swg.Wait()
	b.StopTimer()
	if ok.Load() != int64(min(b.N, len(tickets))) {
		b.Fatalf("%d entries for %d tickets and %d scans", ok.Load(), len(tickets), b.N)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "scans/s")
}
