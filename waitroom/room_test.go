package waitroom_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/onsale/onsale/waitroom"
)

func TestJoinRejoinLeave(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		b := setup(t, kind, general(60, 10))
		a := b.join(t, "alice")
		if !a.Created || a.Position != 1 || a.State != waitroom.Waiting || a.PollAfter < time.Second {
			t.Fatalf("first join %+v", a)
		}
		again := b.join(t, "alice")
		if again.Created || again.Position != 1 {
			t.Fatalf("rejoin %+v", again)
		}
		if st := b.status(t, again.Token); st.Position != 1 {
			t.Fatalf("status of the rejoin token %+v", st)
		}
		bob := b.join(t, "bob")
		if bob.Position != 2 {
			t.Fatalf("bob %+v", bob)
		}
		if st := b.status(t, bob.Token); st.Ahead != 1 || st.State != waitroom.Waiting {
			t.Fatalf("bob status %+v", st)
		}
		if q := b.stats(t).Queued; q != 2 {
			t.Fatalf("queued %d", q)
		}
		if err := b.room.Leave(b.ctx, b.ev, a.Token); err != nil {
			t.Fatal(err)
		}
		if err := b.room.Leave(b.ctx, b.ev, a.Token); err != nil {
			t.Fatalf("leaving twice: %v", err)
		}
		// The process that saw the leave answers closed at once, to polls and to streams.
		if st := b.status(t, a.Token); st.State != waitroom.Closed || st.AccessToken != "" {
			t.Fatalf("status right after leave %+v", st)
		}
		wctx, cancel := context.WithCancel(b.ctx)
		ch, err := b.room.Watch(wctx, b.ev, again.Token)
		if err != nil {
			t.Fatal(err)
		}
		if st := <-ch; st.State != waitroom.Closed {
			t.Fatalf("stream right after leave %+v", st)
		}
		cancel()
		if q := b.stats(t).Queued; q != 1 {
			t.Fatalf("queued after leave %d", q)
		}
		back := b.join(t, "alice")
		if !back.Created || back.Position != 3 {
			t.Fatalf("rejoin after leave %+v", back)
		}
		// The hole alice left is skipped: one admission admits bob, not the empty place.
		b.tick(t, 0)
		b.tick(t, time.Second)
		if st := b.status(t, bob.Token); st.State != waitroom.Admitted || st.AccessToken == "" {
			t.Fatalf("bob after one admission %+v", st)
		}
		if st := b.status(t, back.Token); st.State != waitroom.Waiting {
			t.Fatalf("alice's new place %+v", st)
		}
		if st := b.status(t, a.Token); st.State == waitroom.Admitted {
			t.Fatalf("the old token of a fan who left was admitted: %+v", st)
		}
	})
}

func TestJoinValidation(t *testing.T) {
	t.Parallel()
	waves := []waitroom.Wave{
		{ID: "presale", StartsAt: t0.Add(-time.Hour), AdmitPerMin: 60, MaxActive: 10, Codes: []string{"FANCLUB"}},
		{ID: "general", StartsAt: t0.Add(time.Hour), AdmitPerMin: 60, MaxActive: 10},
	}
	b := setup(t, "mem", waves)
	if _, err := b.room.Join(b.ctx, b.ev, "a", "NOPE"); !errors.Is(err, waitroom.ErrBadCode) {
		t.Fatalf("unknown code: %v", err)
	}
	tk, err := b.room.Join(b.ctx, b.ev, "a", "fanclub")
	if err != nil || tk.Position != 1 {
		t.Fatalf("code join %+v %v", tk, err)
	}
	if st := b.status(t, tk.Token); st.Lane != "presale" {
		t.Fatalf("lane %q", st.Lane)
	}
	if _, err := b.room.Join(b.ctx, "no-such-event", "a", ""); !errors.Is(err, waitroom.ErrNotFound) {
		t.Fatalf("unknown event: %v", err)
	}
	if _, err := b.room.Join(b.ctx, "bad id/../x", "a", ""); !errors.Is(err, waitroom.ErrNotFound) {
		t.Fatalf("malformed event id: %v", err)
	}
	for _, fan := range []string{"", "a\nb", string(make([]byte, 300)), "\xff"} {
		if _, err := b.room.Join(b.ctx, b.ev, fan, ""); !errors.Is(err, waitroom.ErrInvalid) {
			t.Fatalf("fan %q: %v", fan, err)
		}
	}
	only := setup(t, "mem", waves[:1])
	if _, err := only.room.Join(only.ctx, only.ev, "a", ""); !errors.Is(err, waitroom.ErrBadCode) {
		t.Fatalf("no code when only code holders are admitted: %v", err)
	}
	bad := []waitroom.Config{
		{Event: "", Waves: waves},
		{Event: "e", Waves: nil},
		{Event: "e", Waves: []waitroom.Wave{{ID: "w", StartsAt: t0, AdmitPerMin: 0, MaxActive: 1}}},
		{Event: "e", Waves: []waitroom.Wave{{ID: "w", StartsAt: t0, AdmitPerMin: 1, MaxActive: 0}}},
		{Event: "e", Waves: []waitroom.Wave{{ID: "w", AdmitPerMin: 1, MaxActive: 1}}},
		{Event: "e", Waves: []waitroom.Wave{waves[1], waves[1]}},
		{Event: "e", Waves: []waitroom.Wave{waves[0], {ID: "x", StartsAt: t0.Add(2 * time.Hour), AdmitPerMin: 1, MaxActive: 1, Codes: []string{"fanclub"}}}},
	}
	for i, c := range bad {
		if err := b.room.Configure(b.ctx, c); !errors.Is(err, waitroom.ErrInvalid) {
			t.Errorf("config %d: %v", i, err)
		}
	}
	if err := b.room.SetAdmission(b.ctx, b.ev, waitroom.Admission{AdmitPerMin: new(0)}); !errors.Is(err, waitroom.ErrInvalid) {
		t.Fatalf("zero rate: %v", err)
	}
}

// TestLottery: fans who join before open get a drawn order that anyone can recompute from the published seed.
func TestLottery(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		waves := []waitroom.Wave{{ID: "general", StartsAt: t0.Add(time.Minute), AdmitPerMin: 60, MaxActive: 10}}
		b := setup(t, kind, waves)
		const n = 40
		tickets := b.joinN(t, n)
		for _, tk := range tickets {
			if tk.State != waitroom.Prequeue || tk.Position != 0 {
				t.Fatalf("pre-queue join %+v", tk)
			}
		}
		if err := b.room.Leave(b.ctx, b.ev, tickets[4].Token); err != nil { // leaves before the draw
			t.Fatal(err)
		}
		b.tick(t, 0)
		if st := b.stats(t); st.LotterySeed != "" {
			t.Fatal("seed published before open")
		}
		b.tick(t, time.Minute)
		late := b.join(t, "late")
		if late.Position != n+1 || late.State != waitroom.Waiting {
			t.Fatalf("join after open %+v", late)
		}
		st := b.stats(t)
		if len(st.LotterySeed) != 64 || st.PrequeueSizes[""] != n {
			t.Fatalf("stats %+v", st)
		}
		seed := mustHex(t, st.LotterySeed)
		order := waitroom.Draw(seed, "", n)
		seen := map[int64]bool{}
		for i, tk := range tickets {
			s := b.status(t, tk.Token)
			if i == 4 {
				if s.State == waitroom.Admitted {
					t.Fatal("a fan who left was admitted")
				}
				continue
			}
			want := int64(order[i])
			if s.Position != want || seen[want] {
				t.Fatalf("fan %d: position %d, the draw says %d", i+1, s.Position, want)
			}
			seen[want] = true
			if s.QueueToken == "" {
				t.Fatal("no fresh queue token after the draw")
			}
			if s2 := b.status(t, s.QueueToken); s2.Position != want || s2.QueueToken != "" {
				t.Fatalf("fresh token resolves to %+v", s2)
			}
			if again := b.join(t, fmt.Sprintf("fan-%03d", i+1)); again.Position != want || again.Created {
				t.Fatalf("rejoin after the draw %+v", again)
			}
		}
	})
}

func TestDrawIsAPermutationAndReproducible(t *testing.T) {
	t.Parallel()
	seed := []byte("0123456789abcdef0123456789abcdef")
	a := waitroom.Draw(seed, "", 1000)
	b := waitroom.Draw(seed, "", 1000)
	c := waitroom.Draw([]byte("another seed"), "", 1000)
	d := waitroom.Draw(seed, "presale", 1000)
	seen := make([]bool, 1001)
	same, sameLane := 0, 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("same seed, different draw")
		}
		if a[i] < 1 || a[i] > 1000 || seen[a[i]] {
			t.Fatalf("not a permutation at %d: %d", i, a[i])
		}
		seen[a[i]] = true
		if a[i] == c[i] {
			same++
		}
		if a[i] == d[i] {
			sameLane++
		}
	}
	if same > 20 || sameLane > 20 {
		t.Fatalf("draws of other seeds or lanes agree too often: %d, %d", same, sameLane)
	}
	if got := waitroom.Draw(seed, "", 1); len(got) != 1 || got[0] != 1 {
		t.Fatalf("draw of one %v", got)
	}
	if waitroom.Draw(seed, "", 0) != nil {
		t.Fatal("draw of none")
	}
}

// TestAdmissionRate: the serving counter moves by rate×elapsed with the fraction carried across ticks.
func TestAdmissionRate(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		b := setup(t, kind, general(600, 1000)) // 10 per second: 2.5 per 250 ms tick
		b.joinN(t, 100)
		b.tick(t, 0)
		var got []int64
		for range 8 {
			b.tick(t, 250*time.Millisecond)
			got = append(got, b.stats(t).Admitted)
		}
		want := []int64{2, 5, 7, 10, 12, 15, 17, 20}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("admitted after each tick %v, want %v", got, want)
		}
		if r := b.stats(t).AdmitRatePerMin; r <= 0 || r > 600 {
			t.Fatalf("measured rate %v", r)
		}
	})
}

// TestMaxActiveAndNoShows: admission stops at max_active; no-shows stop counting after ArrivalTTL, claimed fans
// after AccessTTL or Finished.
func TestMaxActiveAndNoShows(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		// An idle life as long as the access: a claimed fan counts until the access expires.
		b := setup(t, kind, general(6000, 3), func(o *waitroom.Options) { o.IdleTTL = o.AccessTTL })
		tickets := b.joinN(t, 20)
		b.tick(t, 0)
		b.tick(t, time.Second)
		if a := b.stats(t); a.Admitted != 3 || a.Active != 3 {
			t.Fatalf("after the first tick %+v", a)
		}
		b.tick(t, time.Second)
		if a := b.stats(t).Admitted; a != 3 {
			t.Fatalf("max active exceeded: %d", a)
		}
		// fan 1 shows up; fans 2 and 3 never come.
		st := b.status(t, tickets[0].Token)
		if st.State != waitroom.Admitted || st.AccessToken == "" || !st.AccessExpiresAt.After(b.clock.Now()) {
			t.Fatalf("fan 1 %+v", st)
		}
		if fan, err := b.room.VerifyAccess(b.ev, st.AccessToken); err != nil || fan != "fan-001" {
			t.Fatalf("verify access %q %v", fan, err)
		}
		b.tick(t, 2*time.Minute+time.Second) // past the arrival deadline: the no-shows' slots are free
		if a := b.stats(t); a.Admitted != 5 || a.Active != 3 {
			t.Fatalf("after the no-shows expired %+v", a)
		}
		if err := b.room.Finished(b.ctx, b.ev, "fan-001"); err != nil {
			t.Fatal(err)
		}
		b.tick(t, time.Second)
		if a := b.stats(t).Admitted; a != 6 {
			t.Fatalf("Finished did not free the slot: admitted %d", a)
		}
		if st := b.status(t, tickets[0].Token); st.State == waitroom.Admitted {
			t.Fatalf("finished fan %+v", st)
		}
		// A claimed fan counts until the access expires, and its token stops working then.
		st = b.status(t, tickets[5].Token)
		if st.State != waitroom.Admitted {
			t.Fatalf("fan 6 %+v", st)
		}
		b.tick(t, 10*time.Minute)
		if _, err := b.room.VerifyAccess(b.ev, st.AccessToken); !errors.Is(err, waitroom.ErrNotAdmitted) {
			t.Fatalf("expired access token: %v", err)
		}
		if st := b.status(t, tickets[5].Token); st.State != waitroom.Closed {
			t.Fatalf("fan 6 after its access expired %+v", st)
		}
	})
}

// TestIdleFansStopCounting: a fan who claimed access and then does nothing stops counting as active after
// IdleTTL (another fan comes in) while its access token stays valid; fans who give up are freed by Finished, and
// a sale whose admitted fans walk away still sells out.
func TestIdleFansStopCounting(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		b := setup(t, kind, general(6000, 2))
		b.stock.set(2, 0)
		tickets := b.joinN(t, 6)
		b.tick(t, 0)
		b.tick(t, time.Second)
		idle := b.status(t, tickets[0].Token) // fan 1 comes in and does nothing
		leaver := b.status(t, tickets[1].Token)
		if idle.State != waitroom.Admitted || leaver.State != waitroom.Admitted {
			t.Fatalf("first two fans %+v %+v", idle, leaver)
		}
		if err := b.room.Finished(b.ctx, b.ev, "fan-002"); err != nil { // fan 2 gives up
			t.Fatal(err)
		}
		b.tick(t, time.Second)
		if s := b.stats(t); s.Admitted != 3 || s.Active != 2 {
			t.Fatalf("after fan 2 gave up %+v", s)
		}
		b.tick(t, time.Minute)
		if s := b.stats(t); s.Admitted != 3 {
			t.Fatalf("admitted while both slots are in use %+v", s)
		}
		third := b.status(t, tickets[2].Token) // fan 3 comes in a minute after its admission
		b.tick(t, time.Minute+time.Second)     // past fan 1's idle time (2 min from its claim), not fan 3's
		if s := b.stats(t); s.Admitted != 4 || s.Active != 2 {
			t.Fatalf("after fan 1's idle time %+v", s)
		}
		if fan, err := b.room.VerifyAccess(b.ev, idle.AccessToken); err != nil || fan != "fan-001" {
			t.Fatalf("the idle fan's access token: %q %v", fan, err)
		}
		// Fans 3 and 4 buy the two units and are finished; nothing is left and the queue closes.
		if third.State != waitroom.Admitted || b.status(t, tickets[3].Token).State != waitroom.Admitted {
			t.Fatalf("fans 3 and 4 not admitted")
		}
		b.stock.set(0, 0)
		for _, fan := range []string{"fan-003", "fan-004"} {
			if err := b.room.Finished(b.ctx, b.ev, fan); err != nil {
				t.Fatal(err)
			}
		}
		b.tick(t, time.Second)
		if s := b.stats(t); !s.SoldOut || s.Active != 0 {
			t.Fatalf("after the last units sold %+v", s)
		}
		if st := b.status(t, tickets[5].Token); st.State != waitroom.SoldOut {
			t.Fatalf("fan 6 after the sale %+v", st)
		}
	})
}

// TestActiveFansKeepTheirSlot: idleness counts from a fan's last call, not from its admission. A fan who keeps
// using its access token (holds) or keeps polling keeps its slot past IdleTTL; one who stops is freed IdleTTL after
// its last call, and a no-show after ArrivalTTL, so the queue goes on.
func TestActiveFansKeepTheirSlot(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		b := setup(t, kind, general(6000, 3)) // IdleTTL = ArrivalTTL = 2 min
		tickets := b.joinN(t, 8)
		b.tick(t, 0)
		b.tick(t, time.Second)
		holder := b.status(t, tickets[0].Token) // uses its access token every 40 s
		poller := b.status(t, tickets[1].Token) // keeps polling its status every 40 s
		// fan 3 is a no-show
		if holder.State != waitroom.Admitted || poller.State != waitroom.Admitted {
			t.Fatalf("first fans %+v %+v", holder, poller)
		}
		for range 8 { // 5 min 20 s: far past the idle life from admission
			b.tick(t, 40*time.Second)
			if _, err := b.room.VerifyAccess(b.ev, holder.AccessToken); err != nil {
				t.Fatal(err)
			}
			if st := b.status(t, tickets[1].Token); st.State != waitroom.Admitted {
				t.Fatalf("the polling fan %+v", st)
			}
		}
		// Only the no-show's slot was given again (to fan 4, a no-show too, then fan 5 ...): the two busy fans count.
		s := b.stats(t)
		if s.Active != 3 {
			t.Fatalf("active while two fans are busy %+v", s)
		}
		if s.Admitted < 4 || s.Admitted > 6 {
			t.Fatalf("the no-shows' slot was not passed on, or the busy fans were evicted %+v", s)
		}
		before := s.Admitted
		// Both stop: their slots are free IdleTTL after their last call (the no-show slot turns over meanwhile).
		b.tick(t, 2*time.Minute+time.Second)
		b.tick(t, time.Second)
		if s := b.stats(t); s.Admitted < before+2 {
			t.Fatalf("idle fans still hold their slots %+v (admitted before %d)", s, before)
		}
		if fan, err := b.room.VerifyAccess(b.ev, holder.AccessToken); err != nil || fan != "fan-001" {
			t.Fatalf("the idle fan's access token: %q %v", fan, err)
		}
		// A late call does not count the freed place again.
		b.tick(t, time.Second)
		if s := b.stats(t); s.Active > 3 {
			t.Fatalf("more active than max_active after a late call %+v", s)
		}
	})
}

// TestStockBound: never more shoppers active than units left to sell; close the queue at sell-out.
func TestStockBoundAndSellOut(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		b := setup(t, kind, general(6000, 100))
		b.stock.set(2, 0)
		tickets := b.joinN(t, 10)
		b.tick(t, 0)
		b.tick(t, time.Second)
		if a := b.stats(t).Admitted; a != 2 {
			t.Fatalf("admitted %d with 2 units left", a)
		}
		b.stock.set(0, 2) // both units held: not sold out yet
		b.tick(t, time.Second)
		if s := b.stats(t); s.SoldOut || s.Admitted != 2 {
			t.Fatalf("with units held %+v", s)
		}
		b.stock.set(0, 0)
		b.tick(t, time.Second)
		if s := b.stats(t); !s.SoldOut || s.Queued != 0 {
			t.Fatalf("not closed at sell-out, or fans told sold-out still count as queued %+v", s)
		}
		if st := b.status(t, tickets[5].Token); st.State != waitroom.SoldOut || st.PollAfter != 0 {
			t.Fatalf("waiting fan at sell-out %+v", st)
		}
		if st := b.status(t, tickets[0].Token); st.State != waitroom.Admitted {
			t.Fatalf("admitted fan at sell-out %+v", st)
		}
		b.stock.set(5, 0) // stock coming back does not reopen a closed queue
		b.tick(t, time.Second)
		if a := b.stats(t).Admitted; a != 2 {
			t.Fatalf("a closed queue admitted: %d", a)
		}
	})
}

// TestCodeLanes: a presale wave admits only its code holders; in the general wave, code holders not admitted yet
// go first; each wave's units are released once.
func TestCodeLanes(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		waves := []waitroom.Wave{
			{ID: "presale", StartsAt: t0.Add(-time.Minute), AdmitPerMin: 120, MaxActive: 100, Codes: []string{"FAN"},
				Release: map[string]int{"GA": 10}},
			{ID: "general", StartsAt: t0.Add(time.Minute), AdmitPerMin: 240, MaxActive: 100, Release: map[string]int{"GA": 10}},
		}
		b := setup(t, kind, waves)
		var code, gen []waitroom.Ticket
		for i := range 6 {
			tk, err := b.room.Join(b.ctx, b.ev, fmt.Sprintf("vip-%d", i), "FAN")
			if err != nil {
				t.Fatal(err)
			}
			code = append(code, tk)
			gen = append(gen, b.join(t, fmt.Sprintf("gen-%d", i)))
		}
		if code[0].Position != 1 || gen[0].Position != 1 {
			t.Fatalf("lanes have their own counters: %d %d", code[0].Position, gen[0].Position)
		}
		b.tick(t, 0)
		b.tick(t, time.Second) // 2 per second
		b.tick(t, time.Second)
		if st := b.status(t, code[3].Token); st.State != waitroom.Admitted {
			t.Fatalf("code holder 4 during presale %+v", st)
		}
		if st := b.status(t, code[4].Token); st.State != waitroom.Waiting {
			t.Fatalf("code holder 5 during presale %+v", st)
		}
		if st := b.status(t, gen[0].Token); st.State != waitroom.Waiting {
			t.Fatalf("general fan during presale %+v", st)
		}
		b.tick(t, time.Minute-2*time.Second+250*time.Millisecond) // the general wave starts: 4 per second
		b.tick(t, 500*time.Millisecond)                           // 2 admissions: the two code holders left
		if st := b.status(t, code[5].Token); st.State != waitroom.Admitted {
			t.Fatalf("code holder 6 in the general wave %+v", st)
		}
		b.tick(t, 500*time.Millisecond)
		if st := b.status(t, gen[1].Token); st.State != waitroom.Admitted {
			t.Fatalf("general fan 2 %+v", st)
		}
		b.stock.mu.Lock()
		releases := fmt.Sprint(b.stock.releases)
		b.stock.mu.Unlock()
		if releases != "map[general:1 presale:1]" {
			t.Fatalf("releases %s", releases)
		}
		if s := b.stats(t); s.Wave != "general" || s.AdmitPerMin != 240 {
			t.Fatalf("stats %+v", s)
		}
	})
}

func TestPauseAndLiveChanges(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		b := setup(t, kind, general(60, 100))
		b.joinN(t, 50)
		b.tick(t, 0)
		yes, no := true, false
		if err := b.room.SetAdmission(b.ctx, b.ev, waitroom.Admission{Paused: &yes}); err != nil {
			t.Fatal(err)
		}
		b.tick(t, 10*time.Second)
		if s := b.stats(t); s.Admitted != 0 || !s.Paused {
			t.Fatalf("paused %+v", s)
		}
		rate, maxActive := 600, 5
		if err := b.room.SetAdmission(b.ctx, b.ev, waitroom.Admission{Paused: &no, AdmitPerMin: &rate, MaxActive: &maxActive}); err != nil {
			t.Fatal(err)
		}
		b.tick(t, 500*time.Millisecond)
		if s := b.stats(t); s.Admitted != 5 || s.AdmitPerMin != 600 || s.MaxActive != 5 || s.Paused {
			t.Fatalf("after the live change %+v", s)
		}
	})
}

func TestUnknownEvent(t *testing.T) {
	t.Parallel()
	b := setup(t, "mem", general(60, 10))
	if _, err := b.room.Stats(b.ctx, "nope"); !errors.Is(err, waitroom.ErrNotFound) {
		t.Fatalf("stats: %v", err)
	}
	if err := b.room.SetAdmission(b.ctx, "nope", waitroom.Admission{}); !errors.Is(err, waitroom.ErrNotFound) {
		t.Fatalf("set admission: %v", err)
	}
	if err := b.room.Finished(b.ctx, "nope", "a"); !errors.Is(err, waitroom.ErrNotFound) {
		t.Fatalf("finished: %v", err)
	}
	if err := b.room.Finished(b.ctx, b.ev, "stranger"); err != nil {
		t.Fatalf("finished by a fan without a place: %v", err)
	}
}

// TestQuietFansStopCounting: a fan with nothing left to do (a refused hold, an expired hold) stops counting
// QuietGrace after it unless it calls again; a fan who calls again keeps its slot for an idle life.
func TestQuietFansStopCounting(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		b := setup(t, kind, general(6000, 3))
		tickets := b.joinN(t, 5)
		b.tick(t, 0)
		b.tick(t, time.Second)
		var access [3]string
		for i := range access {
			st := b.status(t, tickets[i].Token)
			if st.State != waitroom.Admitted {
				t.Fatalf("fan %d %+v", i+1, st)
			}
			access[i] = st.AccessToken
		}
		now := b.clock.Now()
		b.room.Quiet(b.ev, access[0], now)                    // refused, leaves
		b.room.Quiet(b.ev, access[1], now)                    // refused, tries again
		b.room.Quiet(b.ev, access[2], now.Add(5*time.Minute)) // a long hold: its idle life ends first
		b.room.Quiet(b.ev, "forged", now)
		b.clock.Advance(10 * time.Second)
		if _, err := b.room.VerifyAccess(b.ev, access[1]); err != nil {
			t.Fatal(err)
		}
		if err := b.room.RefreshForTest(b.ctx, b.ev); err != nil {
			t.Fatal(err)
		}
		b.tick(t, 11*time.Second) // past fan 1's grace
		if s := b.stats(t); s.Admitted != 4 || s.Active != 3 {
			t.Fatalf("after fan 1's grace %+v", s)
		}
		b.tick(t, time.Minute)
		if s := b.stats(t); s.Admitted != 4 {
			t.Fatalf("admitted while fans 2 and 3 shop %+v", s)
		}
	})
}

// TestEventTTLs: an event's claim window and idle life replace the room's.
func TestEventTTLs(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		b := setup(t, kind, general(6000, 1))
		if err := b.room.Configure(b.ctx, waitroom.Config{Event: b.ev, Waves: general(6000, 1),
			ClaimTTL: 10 * time.Second, IdleTTL: 20 * time.Second}); err != nil {
			t.Fatal(err)
		}
		if s := b.stats(t); s.ClaimTTL != 10*time.Second || s.IdleTTL != 20*time.Second {
			t.Fatalf("stats %+v", s)
		}
		tickets := b.joinN(t, 3)
		b.tick(t, 0)
		b.tick(t, time.Second) // fan 1 admitted, never shows up
		b.tick(t, 11*time.Second)
		if s := b.stats(t); s.Admitted != 2 {
			t.Fatalf("after fan 1's claim window %+v", s)
		}
		if st := b.status(t, tickets[1].Token); st.State != waitroom.Admitted {
			t.Fatalf("fan 2 %+v", st)
		}
		b.tick(t, 21*time.Second)
		if s := b.stats(t); s.Admitted != 3 {
			t.Fatalf("after fan 2's idle life %+v", s)
		}
		bad := waitroom.Config{Event: b.ev, Waves: general(6000, 1), IdleTTL: time.Millisecond}
		if err := b.room.Configure(b.ctx, bad); !errors.Is(err, waitroom.ErrInvalid) {
			t.Fatalf("a 1 ms idle life: %v", err)
		}
	})
}

// TestRemaining: a waiting fan is told the units left as the controller last read them, in coarse figures.
func TestRemaining(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		b := setup(t, kind, general(6000, 1))
		tickets := b.joinN(t, 3)
		if st := b.status(t, tickets[2].Token); st.Remaining != -1 {
			t.Fatalf("before any tick %+v", st)
		}
		for _, c := range []struct {
			available, held, want int
			allHeld               bool
		}{{4567, 10, 4500, false}, {30, 2, 32, false}, {0, 7, 7, true}} {
			b.stock.set(c.available, c.held)
			b.tick(t, time.Second)
			if err := b.room.RefreshForTest(b.ctx, b.ev); err != nil {
				t.Fatal(err)
			}
			st := b.status(t, tickets[2].Token)
			if st.State != waitroom.Waiting || st.Remaining != int64(c.want) || st.RemainingHeld != c.allHeld {
				t.Fatalf("with %d available and %d held: %+v", c.available, c.held, st)
			}
		}
	})
}

// TestDoneFansStopCounting: a fan who checked out stops counting at the next refresh, and its later calls (paying,
// reading its order) do not count it again; its access token stays valid.
func TestDoneFansStopCounting(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		b := setup(t, kind, general(6000, 1))
		tickets := b.joinN(t, 2)
		b.tick(t, 0)
		b.tick(t, time.Second)
		st := b.status(t, tickets[0].Token)
		if st.State != waitroom.Admitted {
			t.Fatalf("fan 1 %+v", st)
		}
		b.room.Done(b.ev, st.AccessToken)
		b.clock.Advance(time.Second)
		if err := b.room.RefreshForTest(b.ctx, b.ev); err != nil {
			t.Fatal(err)
		}
		b.tick(t, time.Second)
		if s := b.stats(t); s.Admitted != 2 || s.Active != 1 {
			t.Fatalf("after fan 1 checked out %+v", s)
		}
		for range 3 {
			b.clock.Advance(10 * time.Second)
			if fan, err := b.room.VerifyAccessForRead(b.ev, st.AccessToken); err != nil || fan != "fan-001" {
				t.Fatalf("the done fan's token: %q %v", fan, err)
			}
		}
		if s := b.stats(t); s.Active != 1 { // fan 2's arrival slot alone
			t.Fatalf("the done fan counted again %+v", s)
		}
	})
}
