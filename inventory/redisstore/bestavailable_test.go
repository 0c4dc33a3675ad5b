package redisstore

import (
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/onsale/onsale/inventory"
)

// TestBestAvailableMatchesDomain checks the Lua best-available against the domain's SelectSeats on random layouts,
// taken seats, withheld seats, quantities and adjacency: both must pick the same seats or both find none.
func TestBestAvailableMatchesDomain(t *testing.T) {
	b := setup(t, Options{})
	rapid.Check(t, func(rt *rapid.T) {
		rows := rapid.SliceOfN(rapid.IntRange(1, 9), 1, 4).Draw(rt, "rows")
		sec := seatedSection("A", 100, rows...)
		capacity := 0
		for _, n := range rows {
			capacity += n
		}
		withheld := rapid.IntRange(0, capacity/3).Draw(rt, "withheld")
		taken := map[inventory.SeatPos]bool{}
		var takenIDs []string
		pos := 0
		for r, n := range rows {
			for s := 1; s <= n; s++ {
				if pos < capacity-withheld && rapid.IntRange(0, 2).Draw(rt, "taken") == 0 {
					taken[inventory.SeatPos{Row: r, Seat: s}] = true
					takenIDs = append(takenIDs, inventory.SeatID("A", strconv.Itoa(r+1), s))
				}
				pos++
			}
		}
		q := rapid.IntRange(1, 6).Draw(rt, "q")
		adj := rapid.Bool().Draw(rt, "adjacent")

		ev := testEvent(sec)
		ev.MaxPerFan = 1000
		ev.HoldTTL = time.Hour
		if withheld > 0 {
			ev.Withheld = map[string]int{"A": withheld}
		}
		ev = b.create(t, ev)
		if len(takenIDs) > 0 {
			b.hold(t, inventory.HoldRequest{Event: ev.ID, Fan: "other", Seats: takenIDs})
		}
		// Withheld seats are the last ones in row and seat order.
		first := capacity - withheld
		free := func(r, s int) bool {
			i := s - 1
			for _, n := range rows[:r] {
				i += n
			}
			return i < first && !taken[inventory.SeatPos{Row: r, Seat: s}]
		}
		want, ok := inventory.SelectSeats(inventory.SeatLayout{Rows: ev.Sections[0].Rows, Free: free}, q, adj)
		h, err := b.s.Hold(b.ctx, inventory.HoldRequest{Event: ev.ID, Fan: "fan",
			Items: []inventory.Item{{Section: "A", Quantity: q, Adjacent: adj}}})
		if !ok {
			if !errors.Is(err, inventory.ErrSoldOut) {
				rt.Fatalf("domain finds no seats; store: %v, %v", h.Seats, err)
			}
			return
		}
		if err != nil {
			rt.Fatalf("domain picks %v; store: %v", want, err)
		}
		wantIDs := make([]string, len(want))
		for i, p := range want {
			wantIDs[i] = inventory.SeatID("A", strconv.Itoa(p.Row+1), p.Seat)
		}
		if !slices.Equal(h.Seats, wantIDs) {
			rt.Fatalf("store picks %v, domain %v", h.Seats, wantIDs)
		}
	})
}
