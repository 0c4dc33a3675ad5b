package inventorytest

import (
	"github.com/onsale/onsale/inventory"
)

var waveCases = []testCase{
	{"ReleaseWave", func(f *fixture) {
		ev := newEvent(ga("GA", 20, 100), ga("VIP", 5, 900))
		ev.Withheld = map[string]int{"GA": 10}
		ev = f.create(ev)
		f.wantCounts(ev.ID, "GA", counts{Available: 10, Withheld: 10})
		v0 := f.section(ev.ID, "GA").Version
		mustOK(f.t, "wave 1", f.s.ReleaseWave(f.ctx, ev.ID, "w1", map[string]int{"GA": 4}))
		f.wantCounts(ev.ID, "GA", counts{Available: 14, Withheld: 6})
		if v := f.section(ev.ID, "GA").Version; v <= v0 {
			f.t.Fatalf("version %d did not grow from %d", v, v0)
		}
		// A wave applies once, whatever it says the second time.
		before := f.stats(ev.ID)
		mustOK(f.t, "wave 1 again", f.s.ReleaseWave(f.ctx, ev.ID, "w1", map[string]int{"GA": 4}))
		mustOK(f.t, "wave 1 changed", f.s.ReleaseWave(f.ctx, ev.ID, "w1", map[string]int{"GA": 6}))
		f.sameStats(before, f.stats(ev.ID))
		// Releases are capped at what is still withheld; a section with nothing withheld gets nothing.
		mustOK(f.t, "wave 2", f.s.ReleaseWave(f.ctx, ev.ID, "w2", map[string]int{"GA": 100, "VIP": 3}))
		f.wantCounts(ev.ID, "GA", counts{Available: 20})
		f.wantCounts(ev.ID, "VIP", counts{Available: 5})
		f.hold(ev, "alice", items(qty("GA", 10)))
		f.auditClean(ev.ID)
	}},
	{"ReleaseWave/Invalid", func(f *fixture) {
		ev := newEvent(ga("GA", 20, 100))
		ev.Withheld = map[string]int{"GA": 10}
		ev = f.create(ev)
		before := f.stats(ev.ID)
		wantErr(f.t, "unknown section", f.s.ReleaseWave(f.ctx, ev.ID, "w1", map[string]int{"GA": 2, "B": 1}), inventory.ErrInvalid)
		wantErr(f.t, "negative", f.s.ReleaseWave(f.ctx, ev.ID, "w1", map[string]int{"GA": -2}), inventory.ErrInvalid)
		f.sameStats(before, f.stats(ev.ID))
		// A refused wave was not applied, so its id is still free.
		mustOK(f.t, "wave", f.s.ReleaseWave(f.ctx, ev.ID, "w1", map[string]int{"GA": 2}))
		f.wantCounts(ev.ID, "GA", counts{Available: 12, Withheld: 8})
		f.auditClean(ev.ID)
	}},
}
