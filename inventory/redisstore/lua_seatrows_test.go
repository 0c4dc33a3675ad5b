package redisstore

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onsale/onsale/inventory"
)

// TestHoldBatchSeatRows checks the seat string a batch of holds leaves, whichever way the hold script writes it back
// (the rows it changed one by one while they are few, else the whole string): every seat of every hold the batch made
// is held, every other seat free, a hold refused within the batch changes nothing, and a later batch sees the seats.
// Best-available holds and named seats mix in one batch, as the script reads the rows' definitions as it needs them.
func TestHoldBatchSeatRows(t *testing.T) {
	for _, rows := range []int{3, 17, 40} {
		t.Run(strconv.Itoa(rows), func(t *testing.T) {
			b := setup(t, Options{MaxBatch: 1})
			const perRow = 4
			layout := make([]int, 40)
			for i := range layout {
				layout[i] = perRow
			}
			ev := testEvent(seatedSection("A", 100, layout...))
			ev.MaxPerFan = 1000
			ev.HoldTTL = time.Hour
			ev = b.create(t, ev)

			held := map[string]bool{}
			batch := func(reqs []inventory.HoldRequest) []error {
				calls := make([]*holdCall, len(reqs))
				for i, req := range reqs {
					c, err := b.s.holdCall(req)
					if err != nil {
						t.Fatal(err)
					}
					calls[i] = c
				}
				b.s.batch.exec(b.ctx, nil, calls)
				errs := make([]error, len(calls))
				for i, c := range calls {
					if c.err != nil {
						t.Fatal(c.err)
					}
					h, err := holdFromReply(c, reqs[i].Fan, c.v)
					errs[i] = err
					for _, id := range h.Seats {
						held[id] = true
					}
				}
				return errs
			}
			// One named seat in each of the first rows, a hold refused on the first one's seat, then best-available
			// holds of 2 adjacent seats.
			var reqs []inventory.HoldRequest
			for r := 1; r <= rows; r++ {
				reqs = append(reqs, inventory.HoldRequest{Event: ev.ID, Fan: "f" + strconv.Itoa(r),
					Seats: []string{inventory.SeatID("A", strconv.Itoa(r), 1+r%perRow)}})
			}
			reqs = append(reqs, inventory.HoldRequest{Event: ev.ID, Fan: "late",
				Seats: []string{inventory.SeatID("A", "2", 1), inventory.SeatID("A", "1", 1+1%perRow)}})
			for i := 0; i < 3; i++ {
				reqs = append(reqs, inventory.HoldRequest{Event: ev.ID, Fan: "best",
					Items: []inventory.Item{{Section: "A", Quantity: 2, Adjacent: true}}})
			}
			errs := batch(reqs)
			for i, err := range errs {
				if i == rows {
					if !errors.Is(err, inventory.ErrSeatsUnavailable) {
						t.Fatalf("hold of a seat taken in the batch: %v", err)
					}
				} else if err != nil {
					t.Fatalf("hold %d: %v", i, err)
				}
			}
			check := func() {
				t.Helper()
				got, err := b.c.Get(b.ctx, b.s.evKey(ev.ID)+"seats:A").Result()
				if err != nil {
					t.Fatal(err)
				}
				var want strings.Builder
				for r := 1; r <= len(layout); r++ {
					for n := 1; n <= perRow; n++ {
						if held[inventory.SeatID("A", strconv.Itoa(r), n)] {
							want.WriteByte('h')
						} else {
							want.WriteByte('0')
						}
					}
				}
				if got != want.String() {
					t.Fatalf("seat string\n got %s\nwant %s", got, want.String())
				}
			}
			check()
			// A later batch reads what this one wrote: a held seat is taken, the first free one is not.
			free := ""
			for r := 1; r <= len(layout) && free == ""; r++ {
				for n := 1; n <= perRow && free == ""; n++ {
					if id := inventory.SeatID("A", strconv.Itoa(r), n); !held[id] {
						free = id
					}
				}
			}
			errs = batch([]inventory.HoldRequest{
				{Event: ev.ID, Fan: "again", Seats: []string{inventory.SeatID("A", "1", 1+1%perRow)}},
				{Event: ev.ID, Fan: "again", Seats: []string{free}},
			})
			if !errors.Is(errs[0], inventory.ErrSeatsUnavailable) || errs[1] != nil {
				t.Fatalf("second batch: %v", errs)
			}
			check()
			// A named seat in the last row after a best-available hold: the script has read only the first rows'
			// definitions by then.
			errs = batch([]inventory.HoldRequest{
				{Event: ev.ID, Fan: "third", Items: []inventory.Item{{Section: "A", Quantity: 2, Adjacent: true}}},
				{Event: ev.ID, Fan: "third", Seats: []string{inventory.SeatID("A", strconv.Itoa(len(layout)), 3)}},
			})
			if errs[0] != nil || errs[1] != nil {
				t.Fatalf("third batch: %v", errs)
			}
			check()
		})
	}
}
