// Package storetest is the conformance suite every waitroom.Store passes: the adapters' tests call Run with a
// constructor, so the embedded and the Redis store keep the same semantics.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/onsale/onsale/internal/testenv"
	"github.com/onsale/onsale/waitroom"
)

// Run runs the suite; newStore returns a store for one subtest (it may be shared: every subtest uses its own
// event names).
func Run(t *testing.T, newStore func(t *testing.T) waitroom.Store) {
	tests := map[string]func(t *testing.T, s waitroom.Store, ev string){
		"config":    testConfig,
		"join":      testJoin,
		"freeze":    testFreeze,
		"leave":     testLeave,
		"draw":      testDraw,
		"lease":     testLease,
		"admit":     testAdmit,
		"claim":     testClaim,
		"touch":     testTouch,
		"quiet":     testQuiet,
		"stock":     testStock,
		"overrides": testOverrides,
		"close":     testClose,
		"parallel":  testParallelJoins,
	}
	for name, fn := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			fn(t, s, testenv.Unique("ev-"))
		})
	}
}

var (
	t0   = time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
	open = t0.Add(time.Hour)
	ctx  = context.Background()
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func configure(t *testing.T, s waitroom.Store, ev string) {
	t.Helper()
	must(t, s.PutConfig(ctx, ev, []byte(`{"x":1}`)))
}

func join(t *testing.T, s waitroom.Store, ev, fan string, lane int, now time.Time) waitroom.Place {
	t.Helper()
	p, err := s.Join(ctx, ev, fan, lane, now, open)
	must(t, err)
	return p
}

func view(t *testing.T, s waitroom.Store, ev string, now time.Time) waitroom.View {
	t.Helper()
	v, err := s.View(ctx, ev, now)
	must(t, err)
	return v
}

func lease(t *testing.T, s waitroom.Store, ev, owner string) {
	t.Helper()
	ok, err := s.Lease(ctx, ev, owner, time.Minute)
	must(t, err)
	if !ok {
		t.Fatalf("lease for %s refused", owner)
	}
}

func admit(t *testing.T, s waitroom.Store, ev string, now time.Time, n int, lanes ...int) waitroom.AdmitResult {
	t.Helper()
	r, err := s.Admit(ctx, ev, waitroom.AdmitRequest{Owner: "ctl", Now: now, Arrival: now.Add(time.Minute), Lanes: lanes, N: n})
	must(t, err)
	return r
}

// openEvent configures ev, joins fans into lane 0 after open and draws an empty pre-queue, so positions = seqs.
func openEvent(t *testing.T, s waitroom.Store, ev string, fans int) {
	t.Helper()
	configure(t, s, ev)
	lease(t, s, ev, "ctl")
	for i := range fans {
		join(t, s, ev, fmt.Sprintf("fan-%d", i+1), 0, open)
	}
	must(t, s.Draw(ctx, ev, "ctl", []byte("seed"), nil))
}

func testConfig(t *testing.T, s waitroom.Store, ev string) {
	if _, _, err := s.Config(ctx, ev); !errors.Is(err, waitroom.ErrNotFound) {
		t.Fatalf("unknown event: %v", err)
	}
	if _, err := s.View(ctx, ev, t0); !errors.Is(err, waitroom.ErrNotFound) {
		t.Fatalf("view of unknown event: %v", err)
	}
	if _, err := s.Join(ctx, ev, "a", 0, t0, open); !errors.Is(err, waitroom.ErrNotFound) {
		t.Fatalf("join of unknown event: %v", err)
	}
	must(t, s.PutConfig(ctx, ev, []byte("one")))
	b, v1, err := s.Config(ctx, ev)
	must(t, err)
	if string(b) != "one" {
		t.Fatalf("config %q", b)
	}
	must(t, s.PutConfig(ctx, ev, []byte("two")))
	b, v2, err := s.Config(ctx, ev)
	must(t, err)
	if string(b) != "two" || v2 <= v1 {
		t.Fatalf("config %q version %d after %d", b, v2, v1)
	}
	if view(t, s, ev, t0).ConfigVersion != v2 {
		t.Fatal("view does not carry the config version")
	}
	names, err := s.Events(ctx)
	must(t, err)
	found := false
	for _, n := range names {
		found = found || n == ev
	}
	if !found {
		t.Fatalf("%s not in %v", ev, names)
	}
}

func testJoin(t *testing.T, s waitroom.Store, ev string) {
	configure(t, s, ev)
	a := join(t, s, ev, "alice", 0, t0)
	if !a.Created || a.Seq != 1 || a.Lane != 0 || a.Pre != -1 || !a.Prequeue() {
		t.Fatalf("first join %+v", a)
	}
	again := join(t, s, ev, "alice", 0, t0)
	if again.Created || again.Seq != 1 {
		t.Fatalf("rejoin %+v", again)
	}
	other := join(t, s, ev, "alice", 3, t0) // another lane: still the first place
	if other.Created || other.Lane != 0 || other.Seq != 1 {
		t.Fatalf("rejoin in another lane %+v", other)
	}
	b := join(t, s, ev, "bob", 0, t0)
	if !b.Created || b.Seq != 2 {
		t.Fatalf("second fan %+v", b)
	}
	c := join(t, s, ev, "carol", 3, t0)
	if !c.Created || c.Seq != 1 || c.Lane != 3 {
		t.Fatalf("code lane %+v", c)
	}
	l, err := s.Lookup(ctx, ev, "carol")
	must(t, err)
	if l.Lane != 3 || l.Seq != 1 || l.Created {
		t.Fatalf("lookup %+v", l)
	}
	if _, err := s.Lookup(ctx, ev, "nobody"); !errors.Is(err, waitroom.ErrGone) {
		t.Fatalf("lookup of a stranger: %v", err)
	}
	if _, err := s.Join(ctx, ev, "x", waitroom.MaxLanes, t0, open); !errors.Is(err, waitroom.ErrInvalid) {
		t.Fatalf("bad lane: %v", err)
	}
	v := view(t, s, ev, t0)
	if v.Lanes[0].Seq != 2 || v.Lanes[3].Seq != 1 || v.Frozen {
		t.Fatalf("view %+v", v.Lanes[:4])
	}
}

func testFreeze(t *testing.T, s waitroom.Store, ev string) {
	configure(t, s, ev)
	join(t, s, ev, "a", 0, t0)
	join(t, s, ev, "b", 0, t0)
	join(t, s, ev, "c", 1, t0)
	d := join(t, s, ev, "d", 0, open) // the first join at open freezes the sizes before taking its place
	if d.Pre != 2 || d.Seq != 3 || d.Prequeue() {
		t.Fatalf("join at open %+v", d)
	}
	a := join(t, s, ev, "a", 0, open.Add(time.Minute))
	if a.Pre != 2 || !a.Prequeue() {
		t.Fatalf("pre-queue fan after open %+v", a)
	}
	v := view(t, s, ev, open)
	if !v.Frozen || v.Lanes[0].Pre != 2 || v.Lanes[1].Pre != 1 {
		t.Fatalf("view after freeze %+v", v.Lanes[:2])
	}
	must(t, s.Freeze(ctx, ev)) // idempotent
	if v := view(t, s, ev, open); v.Lanes[0].Pre != 2 {
		t.Fatalf("second freeze changed the size: %d", v.Lanes[0].Pre)
	}
	ev2 := ev + "b"
	configure(t, s, ev2)
	join(t, s, ev2, "a", 0, t0)
	must(t, s.Freeze(ctx, ev2))
	if p := join(t, s, ev2, "b", 0, t0); p.Pre != 1 || p.Prequeue() {
		t.Fatalf("join after an explicit freeze %+v", p)
	}
}

func testLeave(t *testing.T, s waitroom.Store, ev string) {
	openEvent(t, s, ev, 5)
	if err := s.Leave(ctx, ev, "fan-2", 0, 3, 3); !errors.Is(err, waitroom.ErrGone) {
		t.Fatalf("leave with another fan's place: %v", err)
	}
	must(t, s.Leave(ctx, ev, "fan-2", 0, 2, 0)) // after open, position = seq; 0 is fine
	if err := s.Leave(ctx, ev, "fan-2", 0, 2, 2); !errors.Is(err, waitroom.ErrGone) {
		t.Fatalf("second leave: %v", err)
	}
	if v := view(t, s, ev, open); v.Lanes[0].Left != 1 {
		t.Fatalf("holes %d", v.Lanes[0].Left)
	}
	back := join(t, s, ev, "fan-2", 0, open)
	if !back.Created || back.Seq != 6 {
		t.Fatalf("rejoin after leave %+v", back)
	}
	r := admit(t, s, ev, open, 2, 0)
	if r.Admitted[0] != 2 || r.Serving[0] != 3 {
		t.Fatalf("admit over a hole: %+v %+v", r.Admitted[0], r.Serving[0])
	}
	v := view(t, s, ev, open)
	if v.Lanes[0].Left != 0 || v.Active != 2 || v.Admitted != 2 {
		t.Fatalf("after passing the hole: left %d active %d admitted %d", v.Lanes[0].Left, v.Active, v.Admitted)
	}
	must(t, s.Leave(ctx, ev, "fan-1", 0, 1, 1)) // admitted: stops counting as active
	if v := view(t, s, ev, open); v.Active != 1 {
		t.Fatalf("active after an admitted fan left: %d", v.Active)
	}
	if _, _, err := s.Claim(ctx, ev, "fan-1", 0, 1, 1, open, time.Minute, 0); !errors.Is(err, waitroom.ErrGone) {
		t.Fatalf("claim after leaving: %v", err)
	}
}

func testDraw(t *testing.T, s waitroom.Store, ev string) {
	configure(t, s, ev)
	lease(t, s, ev, "ctl")
	for _, f := range []string{"a", "b", "c", "d"} {
		join(t, s, ev, f, 0, t0)
	}
	must(t, s.Leave(ctx, ev, "b", 0, 2, 0))
	pending, err := s.PendingLeaves(ctx, ev)
	must(t, err)
	if len(pending) != 1 || pending[0] != (waitroom.PendingLeave{Lane: 0, Seq: 2}) {
		t.Fatalf("pending %+v", pending)
	}
	if v := view(t, s, ev, t0); v.PendingLeaves != 1 {
		t.Fatalf("pending count %d", v.PendingLeaves)
	}
	must(t, s.Freeze(ctx, ev))
	if err := s.Draw(ctx, ev, "other", []byte("s"), []waitroom.DrawnLeave{{Lane: 0, Pos: 4}}); !errors.Is(err, waitroom.ErrLeaseLost) {
		t.Fatalf("draw without the lease: %v", err)
	}
	if err := s.Draw(ctx, ev, "ctl", []byte("s"), nil); !errors.Is(err, waitroom.ErrRetry) {
		t.Fatalf("draw missing a leave: %v", err)
	}
	must(t, s.Draw(ctx, ev, "ctl", []byte("seed-1"), []waitroom.DrawnLeave{{Lane: 0, Pos: 4}}))
	must(t, s.Draw(ctx, ev, "ctl", []byte("seed-2"), nil)) // no-op
	v := view(t, s, ev, open)
	if string(v.Seed) != "seed-1" || v.PendingLeaves != 0 || v.Lanes[0].Left != 1 || v.Lanes[0].Pre != 4 {
		t.Fatalf("after draw: seed %q pending %d left %d pre %d", v.Seed, v.PendingLeaves, v.Lanes[0].Left, v.Lanes[0].Pre)
	}
	if err := s.Leave(ctx, ev, "c", 0, 3, 0); !errors.Is(err, waitroom.ErrNeedPosition) {
		t.Fatalf("pre-queue leave after the draw without a position: %v", err)
	}
	must(t, s.Leave(ctx, ev, "c", 0, 3, 1))
	r := admit(t, s, ev, open, 10, 0)
	if r.Admitted[0] != 2 || r.Serving[0] != 4 { // positions 1 and 4 are holes
		t.Fatalf("admitted %d serving %d", r.Admitted[0], r.Serving[0])
	}
}

func testLease(t *testing.T, s waitroom.Store, ev string) {
	configure(t, s, ev)
	ok, err := s.Lease(ctx, ev, "a", 100*time.Millisecond)
	must(t, err)
	if !ok {
		t.Fatal("free lease refused")
	}
	if ok, _ := s.Lease(ctx, ev, "b", time.Minute); ok {
		t.Fatal("held lease given to another owner")
	}
	if ok, _ := s.Lease(ctx, ev, "a", 100*time.Millisecond); !ok {
		t.Fatal("renewal refused")
	}
	if _, err := s.Admit(ctx, ev, waitroom.AdmitRequest{Owner: "b", Now: open}); !errors.Is(err, waitroom.ErrLeaseLost) {
		t.Fatalf("admit without the lease: %v", err)
	}
	// The lease lapses when not renewed, and another owner takes it over.
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if ok, _ := s.Lease(ctx, ev, "b", time.Minute); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("lapsed lease never taken over")
		}
		<-tick.C
	}
	if _, err := s.Admit(ctx, ev, waitroom.AdmitRequest{Owner: "a", Now: open}); !errors.Is(err, waitroom.ErrLeaseLost) {
		t.Fatalf("admit by the old owner: %v", err)
	}
	must(t, s.Unlease(ctx, ev, "a")) // not the owner: no effect
	if ok, _ := s.Lease(ctx, ev, "a", time.Minute); ok {
		t.Fatal("unlease by a non-owner freed the lease")
	}
	must(t, s.Unlease(ctx, ev, "b"))
	if ok, _ := s.Lease(ctx, ev, "a", time.Minute); !ok {
		t.Fatal("released lease not free")
	}
}

func testAdmit(t *testing.T, s waitroom.Store, ev string) {
	openEvent(t, s, ev, 3)
	join(t, s, ev, "vip-1", 2, open)
	join(t, s, ev, "vip-2", 2, open)
	r := admit(t, s, ev, open, 3, 2, 0) // code lane first
	if r.Admitted[2] != 2 || r.Admitted[0] != 1 || r.Serving[2] != 2 || r.Serving[0] != 1 {
		t.Fatalf("priority: %+v / %+v", r.Admitted[:3], r.Serving[:3])
	}
	r = admit(t, s, ev, open, 10, 2, 0) // never past a lane's seq
	if r.Admitted[0] != 2 || r.Serving[0] != 3 || r.Active != 5 {
		t.Fatalf("bounded by seq: %+v / %+v active %d", r.Admitted[:3], r.Serving[:3], r.Active)
	}
	v := view(t, s, ev, open)
	if v.Active != 5 || v.Admitted != 5 {
		t.Fatalf("active %d admitted %d", v.Active, v.Admitted)
	}
	// No-shows stop counting at their arrival deadline.
	if v := view(t, s, ev, open.Add(time.Minute)); v.Active != 0 {
		t.Fatalf("active after the arrival deadline: %d", v.Active)
	}
	// Rates, releases and the sold-out close are recorded; a closed queue admits nobody.
	join(t, s, ev, "late", 0, open)
	req := waitroom.AdmitRequest{Owner: "ctl", Now: open, Arrival: open.Add(time.Minute), Lanes: []int{0}, N: 5,
		Rate: 12.5, SoldOut: true, Released: []string{"w1", "w2"}}
	req.Rates[0] = 10
	req.Rates[2] = 2.5
	r, err := s.Admit(ctx, ev, req)
	must(t, err)
	if r.Admitted[0] != 0 {
		t.Fatalf("sold-out queue admitted %d", r.Admitted[0])
	}
	v = view(t, s, ev, open)
	if !v.SoldOut || v.Rate != 12.5 || v.Lanes[0].Rate != 10 || v.Lanes[2].Rate != 2.5 || !v.Released["w1"] || !v.Released["w2"] {
		t.Fatalf("recorded: sold out %v rate %v lanes %v/%v released %v", v.SoldOut, v.Rate, v.Lanes[0].Rate, v.Lanes[2].Rate, v.Released)
	}
	configure(t, s, ev) // a new configuration reopens
	if view(t, s, ev, open).SoldOut {
		t.Fatal("reconfiguration kept the sold-out close")
	}
}

func testClaim(t *testing.T, s waitroom.Store, ev string) {
	openEvent(t, s, ev, 3)
	if _, _, err := s.Claim(ctx, ev, "fan-1", 0, 1, 1, open, time.Minute, 0); !errors.Is(err, waitroom.ErrGone) {
		t.Fatalf("claim before admission: %v", err)
	}
	admit(t, s, ev, open, 2, 0)
	d, first, err := s.Claim(ctx, ev, "fan-1", 0, 1, 1, open, 10*time.Minute, 0)
	must(t, err)
	if !first || !d.Equal(open.Add(10*time.Minute)) {
		t.Fatalf("first claim %v %v", d, first)
	}
	d2, first, err := s.Claim(ctx, ev, "fan-1", 0, 1, 1, open.Add(time.Minute), 10*time.Minute, 0)
	must(t, err)
	if first || !d2.Equal(d) {
		t.Fatalf("second claim %v %v", d2, first)
	}
	if _, _, err := s.Claim(ctx, ev, "fan-2", 0, 1, 1, open, time.Minute, 0); !errors.Is(err, waitroom.ErrGone) {
		t.Fatalf("claim of another fan's place: %v", err)
	}
	// A claimed place counts until its access deadline, past the arrival deadline.
	if v := view(t, s, ev, open.Add(2*time.Minute)); v.Active != 1 {
		t.Fatalf("active past arrival: %d", v.Active)
	}
	if _, _, err := s.Claim(ctx, ev, "fan-1", 0, 1, 1, d, time.Minute, 0); !errors.Is(err, waitroom.ErrGone) {
		t.Fatalf("claim after the access expired: %v", err)
	}
	must(t, s.Finish(ctx, ev, 0, 1))
	if v := view(t, s, ev, open); v.Active != 1 { // fan-2's arrival slot is left
		t.Fatalf("active after finish: %d", v.Active)
	}
	if _, _, err := s.Claim(ctx, ev, "fan-1", 0, 1, 1, open, time.Minute, 0); !errors.Is(err, waitroom.ErrGone) {
		t.Fatalf("claim after finish: %v", err)
	}
	must(t, s.Finish(ctx, ev, 0, 3)) // not admitted: no effect
	admit(t, s, ev, open, 1, 0)
	d3, _, err := s.Claim(ctx, ev, "fan-3", 0, 3, 3, open, 10*time.Minute, time.Minute)
	if err != nil {
		t.Fatalf("claim after an early finish call: %v", err)
	}
	// With an idle life the place stops counting after it, while the access itself lasts until its deadline;
	// a later claim (another process) does not count it again.
	if !d3.Equal(open.Add(10 * time.Minute)) {
		t.Fatalf("idle claim deadline %v", d3)
	}
	if v := view(t, s, ev, open.Add(30*time.Second)); v.Active != 2 { // fan-2's arrival slot and fan-3
		t.Fatalf("active within the idle life: %d", v.Active)
	}
	late := open.Add(3 * time.Minute) // past fan-2's arrival and fan-3's idle life
	if _, first, err := s.Claim(ctx, ev, "fan-3", 0, 3, 3, late, 10*time.Minute, time.Minute); err != nil || first {
		t.Fatalf("claim after the idle life: %v %v", first, err)
	}
	if v := view(t, s, ev, late); v.Active != 0 {
		t.Fatalf("active past the idle life: %d", v.Active)
	}
}

// testStock: the stock a tick read is in every later view, until a tick reads it again.
func testStock(t *testing.T, s waitroom.Store, ev string) {
	openEvent(t, s, ev, 1)
	if v := view(t, s, ev, open); v.Stocked {
		t.Fatalf("stock before any tick: %+v", v)
	}
	_, err := s.Admit(ctx, ev, waitroom.AdmitRequest{Owner: "ctl", Now: open, Arrival: open.Add(time.Minute),
		Stocked: true, Available: 30, Held: 4})
	must(t, err)
	admit(t, s, ev, open, 0, 0)
	if v := view(t, s, ev, open); !v.Stocked || v.Available != 30 || v.Held != 4 {
		t.Fatalf("stock %v %d %d", v.Stocked, v.Available, v.Held)
	}
}

// testQuiet: a quiet place counts until its given time, never longer than before; a touch within that time counts
// it again for an idle life, one after it does not; a place that stopped counting is not counted again.
func testQuiet(t *testing.T, s waitroom.Store, ev string) {
	openEvent(t, s, ev, 4)
	admit(t, s, ev, open, 4, 0) // arrival deadlines: open+1m
	for pos := int64(1); pos <= 3; pos++ {
		_, _, err := s.Claim(ctx, ev, fmt.Sprintf("fan-%d", pos), 0, pos, pos, open, 10*time.Minute, 2*time.Minute)
		must(t, err)
	}
	at := open.Add(10 * time.Second)
	must(t, s.Quiet(ctx, ev, at, []waitroom.QuietPlace{
		{Lane: 0, Pos: 1, Until: at.Add(20 * time.Second)},
		{Lane: 0, Pos: 2, Until: at.Add(20 * time.Second)},
		{Lane: 0, Pos: 3, Until: at.Add(time.Hour)}, // never extended: still open+2m
		{Lane: 0, Pos: 4, Until: at.Add(20 * time.Second)},
	}))
	must(t, s.Quiet(ctx, ev, at, nil))
	if v := view(t, s, ev, at.Add(19*time.Second)); v.Active != 4 {
		t.Fatalf("active within the quiet time: %d", v.Active)
	}
	ok, err := s.Touch(ctx, ev, 0, 2, at.Add(15*time.Second), 2*time.Minute) // fan 2 calls again
	must(t, err)
	if !ok {
		t.Fatal("a touch within the quiet time was refused")
	}
	if v := view(t, s, ev, at.Add(21*time.Second)); v.Active != 2 { // fans 2 and 3
		t.Fatalf("active past the quiet time: %d", v.Active)
	}
	admit(t, s, ev, at.Add(21*time.Second), 0, 0)
	if ok, err := s.Touch(ctx, ev, 0, 1, at.Add(22*time.Second), 2*time.Minute); err != nil || ok {
		t.Fatalf("a touch past the quiet time counted the place again: %v %v", ok, err)
	}
	if v := view(t, s, ev, open.Add(2*time.Minute+time.Second)); v.Active != 1 { // fan 2 touched at +25s
		t.Fatalf("active past fan 3's idle life: %d", v.Active)
	}
}

// testTouch: a claimed place that is touched keeps counting past its idle life from the claim, up to its access
// deadline; an untouched one stops counting after its idle life and a late touch does not count it again, nor does
// a touch of an unclaimed (arrival) place or of a finished one extend anything.
func testTouch(t *testing.T, s waitroom.Store, ev string) {
	openEvent(t, s, ev, 4)
	admit(t, s, ev, open, 4, 0) // arrival deadlines: open+1m
	touch := func(pos int64, at time.Time) bool {
		t.Helper()
		ok, err := s.Touch(ctx, ev, 0, pos, at, time.Minute)
		must(t, err)
		return ok
	}
	for pos := int64(1); pos <= 2; pos++ {
		_, _, err := s.Claim(ctx, ev, fmt.Sprintf("fan-%d", pos), 0, pos, pos, open, 10*time.Minute, time.Minute)
		must(t, err)
	}
	must(t, s.Finish(ctx, ev, 0, 4))
	if touch(3, open.Add(30*time.Second)) || touch(4, open.Add(30*time.Second)) {
		t.Fatal("touched an unclaimed or finished place")
	}
	if v := view(t, s, ev, open.Add(61*time.Second)); v.Active != 0 {
		t.Fatalf("active past the idle life of every place: %d", v.Active)
	}
	if touch(1, open.Add(61*time.Second)) {
		t.Fatal("a touch counted an idle place again")
	}
	// Fan 2 keeps calling: its place counts a minute past each call, whatever the time since the claim.
	if v := view(t, s, ev, open.Add(50*time.Second)); v.Active != 3 { // fans 1, 2 and the arrival slot of 3
		t.Fatalf("active before any idle life ended: %d", v.Active)
	}
	if !touch(2, open.Add(50*time.Second)) || !touch(2, open.Add(40*time.Second)) { // an older call shortens nothing
		t.Fatal("touch of a counted place")
	}
	for at := open.Add(50 * time.Second); at.Before(open.Add(9 * time.Minute)); at = at.Add(50 * time.Second) {
		if !touch(2, at) {
			t.Fatalf("touch at %v refused", at.Sub(open))
		}
		if v := view(t, s, ev, at.Add(55*time.Second)); v.Active != 1 {
			t.Fatalf("active at %v: %d", at.Add(55*time.Second).Sub(open), v.Active)
		}
		admit(t, s, ev, at.Add(55*time.Second), 0, 0) // the controller's drops keep the touched place
	}
	// Never past the access deadline.
	if !touch(2, open.Add(9*time.Minute+10*time.Second)) {
		t.Fatal("touch before the access deadline")
	}
	if v := view(t, s, ev, open.Add(10*time.Minute-time.Second)); v.Active != 1 {
		t.Fatalf("active before the access deadline: %d", v.Active)
	}
	if v := view(t, s, ev, open.Add(10*time.Minute)); v.Active != 0 {
		t.Fatalf("active at the access deadline: %d", v.Active)
	}
	if touch(2, open.Add(10*time.Minute)) {
		t.Fatal("touch at the access deadline")
	}
}

func testOverrides(t *testing.T, s waitroom.Store, ev string) {
	configure(t, s, ev)
	yes, no := true, false
	must(t, s.SetOverrides(ctx, ev, &yes, waitroom.Overrides{Wave: "w1", AdmitPerMin: 100}))
	v := view(t, s, ev, t0)
	if !v.Paused || v.Overrides != (waitroom.Overrides{Wave: "w1", AdmitPerMin: 100}) {
		t.Fatalf("overrides %+v paused %v", v.Overrides, v.Paused)
	}
	must(t, s.SetOverrides(ctx, ev, nil, waitroom.Overrides{Wave: "w1", MaxActive: 7}))
	if v := view(t, s, ev, t0); !v.Paused || v.Overrides != (waitroom.Overrides{Wave: "w1", AdmitPerMin: 100, MaxActive: 7}) {
		t.Fatalf("overrides %+v paused %v", v.Overrides, v.Paused)
	}
	must(t, s.SetOverrides(ctx, ev, &no, waitroom.Overrides{Wave: "w2"}))
	if v := view(t, s, ev, t0); v.Paused || v.Overrides != (waitroom.Overrides{Wave: "w2"}) {
		t.Fatalf("overrides after a new wave %+v paused %v", v.Overrides, v.Paused)
	}
	if err := s.SetOverrides(ctx, ev+"x", &yes, waitroom.Overrides{}); !errors.Is(err, waitroom.ErrNotFound) {
		t.Fatalf("overrides of an unknown event: %v", err)
	}
}

// testClose: a closed event gives no place, claims nothing and admits nobody, whatever the controller asks; neither
// a sold-out close nor a new configuration undoes it.
func testClose(t *testing.T, s waitroom.Store, ev string) {
	if err := s.Close(ctx, ev); !errors.Is(err, waitroom.ErrNotFound) {
		t.Fatalf("close of an unknown event: %v", err)
	}
	openEvent(t, s, ev, 4)
	admit(t, s, ev, open, 2, 0)
	_, _, err := s.Claim(ctx, ev, "fan-1", 0, 1, 1, open, 10*time.Minute, 0)
	must(t, err)
	if view(t, s, ev, open).Closed {
		t.Fatal("closed before Close")
	}
	must(t, s.Close(ctx, ev))
	must(t, s.Close(ctx, ev)) // closing again is a no-op
	before := view(t, s, ev, open)
	if !before.Closed || before.SoldOut {
		t.Fatalf("after close: closed %v sold out %v", before.Closed, before.SoldOut)
	}
	if _, err := s.Join(ctx, ev, "late", 0, open, open); !errors.Is(err, waitroom.ErrClosed) {
		t.Fatalf("join after close: %v", err)
	}
	if _, err := s.Join(ctx, ev, "fan-3", 0, open, open); !errors.Is(err, waitroom.ErrClosed) {
		t.Fatalf("rejoin of a waiting fan after close: %v", err)
	}
	if _, _, err := s.Claim(ctx, ev, "fan-2", 0, 2, 2, open, 10*time.Minute, 0); !errors.Is(err, waitroom.ErrClosed) {
		t.Fatalf("first claim after close: %v", err)
	}
	r, err := s.Admit(ctx, ev, waitroom.AdmitRequest{Owner: "ctl", Now: open, Arrival: open.Add(time.Minute),
		Lanes: []int{0}, N: 10, SoldOut: true})
	must(t, err)
	if r.Admitted[0] != 0 || r.Serving[0] != 2 {
		t.Fatalf("a closed event admitted %d (serving %d)", r.Admitted[0], r.Serving[0])
	}
	configure(t, s, ev)
	v := view(t, s, ev, open)
	if !v.Closed || v.SoldOut {
		t.Fatalf("after admit and reconfiguration: closed %v sold out %v", v.Closed, v.SoldOut)
	}
	if v.Lanes[0].Seq != before.Lanes[0].Seq || v.Lanes[0].Serving != 2 || v.Admitted != 2 {
		t.Fatalf("places moved after close: seq %d serving %d admitted %d", v.Lanes[0].Seq, v.Lanes[0].Serving, v.Admitted)
	}
	if _, err := s.Join(ctx, ev, "later", 0, open, open); !errors.Is(err, waitroom.ErrClosed) {
		t.Fatalf("join after reconfiguration of a closed event: %v", err)
	}
}

func testParallelJoins(t *testing.T, s waitroom.Store, ev string) {
	configure(t, s, ev)
	const n = 200
	var wg sync.WaitGroup
	seqs := make([]int64, 2*n)
	for i := range 2 * n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := s.Join(ctx, ev, fmt.Sprintf("f%d", i%n), 0, open, open)
			if err != nil {
				t.Error(err)
				return
			}
			seqs[i] = p.Seq
		}()
	}
	wg.Wait()
	seen := map[int64]bool{}
	for i := range n {
		if seqs[i] != seqs[i+n] {
			t.Fatalf("fan %d got %d and %d", i, seqs[i], seqs[i+n])
		}
		if seen[seqs[i]] {
			t.Fatalf("place %d given twice", seqs[i])
		}
		seen[seqs[i]] = true
	}
	if v := view(t, s, ev, open); v.Lanes[0].Seq != n {
		t.Fatalf("seq %d after %d fans", v.Lanes[0].Seq, n)
	}
}
