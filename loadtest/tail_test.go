package loadtest

import "testing"

// TestTailAndStall: the tail runs from few units left to sold out (or nobody waiting), and a stall from the first
// stalled sample to the next one that is not.
func TestTailAndStall(t *testing.T) {
	st := func(sold, queued int) *EventStats {
		return &EventStats{Capacity: 100, Sold: sold, Queued: int64(queued), Available: 100 - sold}
	}
	series := []Sample{
		{T: 1, Stats: st(50, 300)},
		{T: 2, Stats: st(96, 200)}, // 4 left: a twentieth is 5
		{T: 3, Stats: st(97, 150), Stalled: true},
		{T: 4, Stats: st(97, 150), Stalled: true},
		{T: 6, Stats: st(98, 100)},
		{T: 7, Stats: st(98, 100), Stalled: true},
		{T: 8, Stats: st(99, 50)},
		{T: 9.5, Stats: st(100, 0)},
	}
	if got := tail(series); got == nil || *got != 7.5 {
		t.Errorf("tail %v, want 7.5", got)
	}
	if got := longestStall(series); got != 3 {
		t.Errorf("longest stall %v, want 3", got)
	}
	// Nobody left waiting ends the tail too, sold out or not.
	if got := tail([]Sample{{T: 1, Stats: st(99, 10)}, {T: 3, Stats: st(99, 0)}}); got == nil || *got != 2 {
		t.Errorf("tail without a sell-out %v", got)
	}
	if tail(series[:1]) != nil || longestStall(series[:1]) != 0 {
		t.Error("a sale that never came to its last units has no tail")
	}
}
