package loadtest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onsale/onsale/tickets"
)

func doorTickets(n, revoked int) []doorTicket {
	var ts []doorTicket
	for i := range n {
		ts = append(ts, doorTicket{id: fmt.Sprintf("tk_o%d-1", i), code: "eyJhbGciOiJFZERTQSJ9.eyJ0aWQiOiJ0ayJ9.c2lnbmF0dXJl" + fmt.Sprint(i),
			status: "valid", order: fmt.Sprintf("o%d", i), revoked: i < revoked})
	}
	return ts
}

func TestShareOf(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		share float64
		n     int
		want  int
	}{{0, 100, 0}, {0.05, 0, 0}, {0.05, 100, 5}, {0.05, 3, 1}, {0.5, 3, 2}, {1, 7, 7}, {0.001, 10, 1}} {
		if got := shareOf(c.share, c.n); got != c.want {
			t.Errorf("shareOf(%v, %d) = %d, want %d", c.share, c.n, got, c.want)
		}
	}
}

// TestPlanDoorMix checks the visitors' plan: one visitor per ticket and per forged code, each share of the mix
// as asked, scans of a ticket in a stadium's order, replays right after their original with its nonce, fresh
// nonces unique, gates in range, and the same plan from the same seed.
func TestPlanDoorMix(t *testing.T) {
	t.Parallel()
	ts := doorTickets(100, 10)
	m := doorMix{gates: 4, twice: 0.1, forged: 0.1, reentry: 0.2, replay: 0.05, seed: 9, nonce: "n", other: "other-event-code"}
	vs := planDoor(ts, m)
	counts := map[scanKind]int{}
	nonces := map[string]bool{}
	total := 0
	for _, v := range vs {
		var kinds []scanKind
		for i, s := range v.scans {
			total++
			counts[s.kind]++
			if !strings.HasPrefix(s.gate, "gate-") || s.gate < "gate-1" || s.gate > "gate-4" {
				t.Errorf("gate %q", s.gate)
			}
			if s.kind == scanReplay {
				o := v.scans[s.of]
				if s.of != i-1 || o.nonce != s.nonce || o.code != s.code || o.gate != s.gate || o.direction != s.direction {
					t.Errorf("replay %+v of %+v", s, o)
				}
				continue
			}
			kinds = append(kinds, s.kind)
			if nonces[s.nonce] {
				t.Errorf("nonce %s twice", s.nonce)
			}
			nonces[s.nonce] = true
			if want := "entry"; s.kind == scanExit {
				if s.direction != "exit" {
					t.Errorf("exit scan %+v", s)
				}
			} else if s.direction != want {
				t.Errorf("%s scan %+v", s.kind, s)
			}
		}
		switch kinds[0] {
		case scanEntry:
			ok := slices.Equal(kinds, []scanKind{scanEntry}) || slices.Equal(kinds, []scanKind{scanEntry, scanSecond}) ||
				slices.Equal(kinds, []scanKind{scanEntry, scanExit, scanReentry}) ||
				slices.Equal(kinds, []scanKind{scanEntry, scanSecond, scanExit, scanReentry})
			if !ok {
				t.Errorf("a ticket's scans %v", kinds)
			}
		case scanRevoked, scanForged, scanOther:
			if len(kinds) != 1 {
				t.Errorf("scans %v", kinds)
			}
		default:
			t.Errorf("a visitor starts with %v", kinds)
		}
	}
	want := map[scanKind]int{scanEntry: 90, scanSecond: 9, scanExit: 18, scanReentry: 18, scanRevoked: 10,
		scanForged: 7, scanOther: 2}
	nonReplay := 0
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("%s scans: %d, want %d", k, counts[k], n)
		}
		nonReplay += n
	}
	if want := shareOf(0.05, nonReplay); counts[scanReplay] != want {
		t.Errorf("replays: %d, want %d", counts[scanReplay], want)
	}
	if len(vs) != 90+10+9 {
		t.Errorf("%d visitors", len(vs))
	}
	again := planDoor(ts, m)
	for i := range vs {
		if !slices.EqualFunc(vs[i].scans, again[i].scans, func(a, b doorScan) bool { return a == b }) {
			t.Fatalf("visitor %d differs from the same seed", i)
		}
	}

	// Nothing asked, nothing but honest entries; without another event's code, no wrong-event scans.
	for _, v := range planDoor(ts, doorMix{gates: 1, seed: 9, nonce: "n"}) {
		if len(v.scans) != 1 || (v.scans[0].kind != scanEntry && v.scans[0].kind != scanRevoked) || v.scans[0].gate != "gate-1" {
			t.Errorf("a plain door: %+v", v.scans)
		}
	}
	for _, v := range planDoor(ts, doorMix{gates: 2, forged: 1, seed: 9, nonce: "n"}) {
		if v.scans[0].kind == scanOther {
			t.Fatal("a wrong-event scan without another event's code")
		}
	}
}

// TestForgedCodesDoNotVerify forges codes from a real signed ticket code, as the plan does, and checks each is
// invalid for the event's keys while the original is valid.
func TestForgedCodesDoNotVerify(t *testing.T) {
	t.Parallel()
	k, err := tickets.NewKey("ev", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	code, err := tickets.Sign(k, tickets.Claims{TicketID: "tk_o1-1", Event: "ev", Section: "A", Seat: "A-1-2"})
	if err != nil {
		t.Fatal(err)
	}
	keysOf := func(ev string) []tickets.Key {
		if ev == "ev" {
			return []tickets.Key{k}
		}
		return nil
	}
	if _, v := tickets.Check(code, "ev", keysOf); v != tickets.VerdictValid {
		t.Fatalf("the original: %s", v)
	}
	for seed := range uint64(300) {
		rng := seed
		for name, forged := range map[string]string{"flip": flipByte(code, &rng), "truncate": truncate(code, &rng), "junk": junk(&rng)} {
			if forged == code {
				t.Fatalf("%s (seed %d) left the code as it was", name, seed)
			}
			if _, v := tickets.Check(forged, "ev", keysOf); v != tickets.VerdictInvalid {
				t.Fatalf("%s (seed %d) %q: %s, want invalid", name, seed, forged, v)
			}
		}
	}
	rng := uint64(1)
	if f := flipByte(code, &rng); len(f) != len(code) || strings.Count(f, ".") != 2 {
		t.Errorf("a flipped code is no longer shaped like the original: %q", f)
	}
}

func at(s string) *time.Time {
	v, _ := time.Parse(time.RFC3339, s)
	return &v
}

// answered is an honest door's answers to a plan: the first answer per nonce, a ticket in once per stay.
func answered(vs []*visitor) {
	const first = "2025-06-01T19:00:00Z"
	for _, v := range vs {
		for i := range v.scans {
			s := &v.scans[i]
			s.sent, s.status = true, 200
			switch s.kind {
			case scanReplay:
				o := v.scans[s.of]
				s.result, s.answered, s.first, s.replayed = o.result, o.answered, o.first, true
				continue
			case scanForged:
				s.result = "invalid"
			case scanOther:
				s.result = "wrong-event"
			default:
				s.result, s.answered = s.kind.expect(), s.ticket
			}
			if s.kind == scanEntry || s.kind == scanSecond || s.kind == scanExit || s.kind == scanReentry {
				s.first = at(first)
			}
		}
	}
}

func doorStats(checkedIn, inside int, gates map[string]int) EventStats {
	return EventStats{CheckedIn: checkedIn, Inside: inside, Gates: gates}
}

// honestDoor plans a small door, answers it honestly and returns the stats an honest server would then show.
func honestDoor() ([]*visitor, EventStats, EventStats) {
	vs := planDoor(doorTickets(20, 4), doorMix{gates: 2, twice: 0.25, forged: 0.25, reentry: 0.25, replay: 0.2, seed: 3,
		nonce: "n", other: "code-of-another-event"})
	answered(vs)
	gates := map[string]int{"gate-1": 7}
	for _, v := range vs {
		if s := v.scans[0]; s.kind == scanEntry {
			gates[s.gate]++
		}
	}
	return vs, doorStats(3, 1, map[string]int{"gate-1": 7}), doorStats(3+16, 1+16, gates)
}

func TestAuditDoorPassesAnHonestDoor(t *testing.T) {
	t.Parallel()
	vs, before, after := honestDoor()
	a := auditDoor(vs, before, after, nil)
	if !a.Checked || !a.Passed || len(a.Failures) != 0 {
		t.Fatalf("an honest door: %+v", a)
	}
	if a.Tickets != 20 || a.Revoked != 4 || a.Entered != 16 || a.Inside != 16 || a.StatsCheckedIn != 16 || a.StatsInside != 16 || a.Unexpected != 0 {
		t.Errorf("counts: %+v", a)
	}
	for _, c := range doorClasses(vs) {
		if c.Unexpected != 0 || c.Scans == 0 {
			t.Errorf("class %+v", c)
		}
	}
}

// TestAuditDoorCatchesWhatADoorGetsWrong feeds the audit one wrong thing at a time and checks that it fails and
// says what was wrong.
func TestAuditDoorCatchesWhatADoorGetsWrong(t *testing.T) {
	t.Parallel()
	find := func(vs []*visitor, k scanKind) *doorScan {
		for _, v := range vs {
			for i := range v.scans {
				if v.scans[i].kind == k {
					return &v.scans[i]
				}
			}
		}
		t.Fatalf("no %s scan in the plan", k)
		return nil
	}
	for _, c := range []struct {
		name   string
		break_ func(vs []*visitor, before, after *EventStats) []string
		want   string
	}{
		{"a second scan let in", func(vs []*visitor, _, _ *EventStats) []string {
			find(vs, scanSecond).result = "ok"
			return nil
		}, "second scan of ticket"},
		{"a revoked ticket let in", func(vs []*visitor, _, _ *EventStats) []string {
			find(vs, scanRevoked).result = "ok"
			return nil
		}, "got ok, want revoked"},
		{"a forged code let in", func(vs []*visitor, _, _ *EventStats) []string {
			find(vs, scanForged).result = "ok"
			return nil
		}, "forged scan"},
		{"another event's ticket called invalid", func(vs []*visitor, _, _ *EventStats) []string {
			find(vs, scanOther).result = "invalid"
			return nil
		}, "got invalid, want wrong-event"},
		{"an entry refused", func(vs []*visitor, _, _ *EventStats) []string {
			find(vs, scanEntry).result = "already-used"
			return nil
		}, "entry scan of ticket"},
		{"a 5xx", func(vs []*visitor, _, _ *EventStats) []string {
			s := find(vs, scanExit)
			s.status, s.problem, s.result = 503, "unavailable", ""
			return nil
		}, "scans answered 5xx"},
		{"a scan never sent", func(vs []*visitor, _, _ *EventStats) []string {
			find(vs, scanReentry).sent = false
			return nil
		}, "not sent"},
		{"a replay not marked", func(vs []*visitor, _, _ *EventStats) []string {
			find(vs, scanReplay).replayed = false
			return nil
		}, "not marked replayed"},
		{"a replay with another answer", func(vs []*visitor, _, _ *EventStats) []string {
			s := find(vs, scanReplay)
			s.result = s.result + "-not"
			return nil
		}, "the first answer was"},
		{"a fresh nonce replayed", func(vs []*visitor, _, _ *EventStats) []string {
			find(vs, scanEntry).replayed = true
			return nil
		}, "for a fresh nonce"},
		{"an answer about another ticket", func(vs []*visitor, _, _ *EventStats) []string {
			find(vs, scanSecond).answered = "tk_someone-else"
			return nil
		}, "for ticket tk_someone-else"},
		{"a first entry time that moved", func(vs []*visitor, _, _ *EventStats) []string {
			find(vs, scanSecond).first = at("2025-06-01T20:00:00Z")
			return nil
		}, "says first entry"},
		{"checked_in off by one", func(_ []*visitor, _, after *EventStats) []string {
			after.CheckedIn--
			return nil
		}, "checked_in grew by 15"},
		{"inside off by one", func(_ []*visitor, _, after *EventStats) []string {
			after.Inside++
			return nil
		}, "inside grew by 17"},
		{"a gate miscounted", func(_ []*visitor, _, after *EventStats) []string {
			after.Gates["gate-2"]++
			return nil
		}, "gate gate-2"},
		{"the setup failed", func([]*visitor, *EventStats, *EventStats) []string {
			return []string{"the refund of order o1 was refused: 409 conflict"}
		}, "refund of order o1"},
	} {
		vs, before, after := honestDoor()
		after.Gates = map[string]int{"gate-1": after.Gates["gate-1"], "gate-2": after.Gates["gate-2"]}
		setup := c.break_(vs, &before, &after)
		a := auditDoor(vs, before, after, setup)
		if a.Passed || !strings.Contains(strings.Join(a.Failures, "\n"), c.want) {
			t.Errorf("%s: passed %v, failures %q, want one with %q", c.name, a.Passed, a.Failures, c.want)
		}
		rep := Report{Audit: Audit{Checked: true, Passed: true}, Door: &DoorReport{Audit: a}}
		if v := rep.Check(Budget{Overall: OverallBudget{AuditMustPass: true}}); len(v) != 1 || !strings.Contains(v[0].Detail, "door audit failed") {
			t.Errorf("%s: budget violations %v", c.name, v)
		}
		if s := rep.Summary(); !strings.Contains(s, "door audit: FAILED") {
			t.Errorf("%s: summary %q", c.name, s)
		}
	}
}

func TestAuditDoorListsAtMostSoManyFailures(t *testing.T) {
	t.Parallel()
	vs := planDoor(doorTickets(200, 0), doorMix{gates: 1, seed: 1, nonce: "n"})
	answered(vs)
	for _, v := range vs {
		v.scans[0].result = "invalid"
	}
	a := auditDoor(vs, EventStats{}, EventStats{}, nil)
	if a.Passed || a.Unexpected != 200 || len(a.Failures) != maxDoorFailures+1 || !strings.HasPrefix(a.Failures[maxDoorFailures], "… and ") {
		t.Errorf("unexpected %d, %d failures listed, last %q", a.Unexpected, len(a.Failures), a.Failures[len(a.Failures)-1])
	}
}
