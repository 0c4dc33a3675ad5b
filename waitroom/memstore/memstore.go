// Package memstore is the embedded waitroom.Store: one process, no services, the same semantics as redisstore
// (both pass waitroom/storetest).
package memstore

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/onsale/onsale/waitroom"
)

const lanes = waitroom.MaxLanes

// Store keeps every event in memory behind one mutex.
type Store struct {
	mu     sync.Mutex
	events map[string]*event
}

type event struct {
	cfg      []byte
	ver      int64
	fans     map[string]int64 // fan → seq×MaxLanes + lane
	seq      [lanes]int64
	serving  [lanes]int64
	pre      [lanes]int64
	frozen   bool
	seed     []byte
	left     [lanes]map[int64]bool // holes above serving, by position
	leftPre  map[waitroom.PendingLeave]bool
	active   map[string]time.Time // member → deadline
	claimed  map[string]int64     // member → access deadline (unix ms); 0 once finished
	admitted int64
	soldOut  bool
	closed   bool
	paused   bool
	ovr      waitroom.Overrides
	rates    [lanes]float64
	rate     float64
	stocked  bool
	avail    int64
	held     int64
	released map[string]bool

	leaseOwner string
	leaseUntil time.Time
}

// New returns an empty Store.
func New() *Store { return &Store{events: map[string]*event{}} }

var _ waitroom.Store = (*Store)(nil)

func (s *Store) get(name string) (*event, error) {
	ev := s.events[name]
	if ev == nil {
		return nil, fmt.Errorf("event %s: %w", name, waitroom.ErrNotFound)
	}
	return ev, nil
}

func checkLane(lane int) error {
	if lane < 0 || lane >= lanes {
		return fmt.Errorf("%w: lane %d", waitroom.ErrInvalid, lane)
	}
	return nil
}

// PutConfig implements waitroom.Store.
func (s *Store) PutConfig(_ context.Context, name string, cfg []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := s.events[name]
	if ev == nil {
		ev = &event{
			fans: map[string]int64{}, leftPre: map[waitroom.PendingLeave]bool{}, active: map[string]time.Time{},
			claimed: map[string]int64{}, released: map[string]bool{},
		}
		for i := range ev.left {
			ev.left[i] = map[int64]bool{}
		}
		s.events[name] = ev
	}
	ev.cfg = slices.Clone(cfg)
	ev.ver++
	ev.soldOut = false
	return nil
}

// Config implements waitroom.Store.
func (s *Store) Config(_ context.Context, name string) ([]byte, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, err := s.get(name)
	if err != nil {
		return nil, 0, err
	}
	return slices.Clone(ev.cfg), ev.ver, nil
}

// Events implements waitroom.Store.
func (s *Store) Events(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.events))
	for name := range s.events {
		out = append(out, name)
	}
	slices.Sort(out)
	return out, nil
}

func (ev *event) freeze() {
	if !ev.frozen {
		ev.pre = ev.seq
		ev.frozen = true
	}
}

func (ev *event) place(v int64, created bool) waitroom.Place {
	p := waitroom.Place{Lane: int(v % lanes), Seq: v / lanes, Created: created, Pre: -1}
	if ev.frozen {
		p.Pre = ev.pre[p.Lane]
	}
	return p
}

// Join implements waitroom.Store.
func (s *Store) Join(_ context.Context, name, fan string, lane int, now, openAt time.Time) (waitroom.Place, error) {
	if err := checkLane(lane); err != nil {
		return waitroom.Place{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, err := s.get(name)
	if err != nil {
		return waitroom.Place{}, err
	}
	if ev.closed {
		return waitroom.Place{}, waitroom.ErrClosed
	}
	if !now.Before(openAt) {
		ev.freeze()
	}
	if v, ok := ev.fans[fan]; ok {
		return ev.place(v, false), nil
	}
	ev.seq[lane]++
	v := ev.seq[lane]*lanes + int64(lane)
	ev.fans[fan] = v
	return ev.place(v, true), nil
}

// Lookup implements waitroom.Store.
func (s *Store) Lookup(_ context.Context, name, fan string) (waitroom.Place, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, err := s.get(name)
	if err != nil {
		return waitroom.Place{}, err
	}
	v, ok := ev.fans[fan]
	if !ok {
		return waitroom.Place{}, waitroom.ErrGone
	}
	return ev.place(v, false), nil
}

// Leave implements waitroom.Store.
func (s *Store) Leave(_ context.Context, name, fan string, lane int, seq, pos int64) error {
	if err := checkLane(lane); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, err := s.get(name)
	if err != nil {
		return err
	}
	if v, ok := ev.fans[fan]; !ok || v != seq*lanes+int64(lane) {
		return waitroom.ErrGone
	}
	if !ev.frozen || seq <= ev.pre[lane] {
		if ev.seed == nil {
			delete(ev.fans, fan)
			ev.leftPre[waitroom.PendingLeave{Lane: lane, Seq: seq}] = true
			return nil
		}
		if pos <= 0 {
			return waitroom.ErrNeedPosition
		}
	} else {
		pos = seq
	}
	delete(ev.fans, fan)
	if pos <= ev.serving[lane] {
		m := waitroom.Member(lane, pos)
		delete(ev.active, m)
		ev.claimed[m] = 0
		return nil
	}
	ev.left[lane][pos] = true
	return nil
}

// Claim implements waitroom.Store.
func (s *Store) Claim(_ context.Context, name, fan string, lane int, seq, pos int64, now time.Time, ttl, idle time.Duration) (time.Time, bool, error) {
	if err := checkLane(lane); err != nil {
		return time.Time{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, err := s.get(name)
	if err != nil {
		return time.Time{}, false, err
	}
	if ev.closed {
		return time.Time{}, false, waitroom.ErrClosed
	}
	if v, ok := ev.fans[fan]; !ok || v != seq*lanes+int64(lane) || pos < 1 || pos > ev.serving[lane] {
		return time.Time{}, false, waitroom.ErrGone
	}
	m := waitroom.Member(lane, pos)
	if d, ok := ev.claimed[m]; ok {
		if d == 0 || d <= now.UnixMilli() {
			return time.Time{}, false, waitroom.ErrGone
		}
		return time.UnixMilli(d), false, nil
	}
	if idle <= 0 || idle > ttl {
		idle = ttl
	}
	d := now.Add(ttl).UnixMilli()
	ev.claimed[m] = d
	ev.active[m] = time.UnixMilli(min(d, now.Add(idle).UnixMilli()))
	return time.UnixMilli(d), true, nil
}

// Touch implements waitroom.Store.
func (s *Store) Touch(_ context.Context, name string, lane int, pos int64, now time.Time, idle time.Duration) (bool, error) {
	if err := checkLane(lane); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, err := s.get(name)
	if err != nil {
		return false, err
	}
	m := waitroom.Member(lane, pos)
	d, claimed := ev.claimed[m]
	until, active := ev.active[m]
	nowMs := now.UnixMilli()
	if !claimed || d <= nowMs || !active || until.UnixMilli() <= nowMs {
		return false, nil
	}
	if next := min(d, now.Add(idle).UnixMilli()); next > until.UnixMilli() {
		ev.active[m] = time.UnixMilli(next)
	}
	return true, nil
}

// Quiet implements waitroom.Store.
func (s *Store) Quiet(_ context.Context, name string, now time.Time, places []waitroom.QuietPlace) error {
	for _, p := range places {
		if err := checkLane(p.Lane); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, err := s.get(name)
	if err != nil {
		return err
	}
	for _, p := range places {
		m := waitroom.Member(p.Lane, p.Pos)
		until, active := ev.active[m]
		if !active || !until.After(now) {
			continue
		}
		if u := time.UnixMilli(p.Until.UnixMilli()); u.Before(until) {
			ev.active[m] = u
		}
	}
	return nil
}

// Finish implements waitroom.Store.
func (s *Store) Finish(_ context.Context, name string, lane int, pos int64) error {
	if err := checkLane(lane); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, err := s.get(name)
	if err != nil {
		return err
	}
	if pos < 1 || pos > ev.serving[lane] {
		return nil
	}
	m := waitroom.Member(lane, pos)
	delete(ev.active, m)
	ev.claimed[m] = 0
	return nil
}

// View implements waitroom.Store.
func (s *Store) View(_ context.Context, name string, now time.Time) (waitroom.View, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, err := s.get(name)
	if err != nil {
		return waitroom.View{}, err
	}
	v := waitroom.View{
		ConfigVersion: ev.ver, Frozen: ev.frozen, Seed: slices.Clone(ev.seed), PendingLeaves: int64(len(ev.leftPre)),
		Admitted: ev.admitted, SoldOut: ev.soldOut, Closed: ev.closed, Paused: ev.paused, Overrides: ev.ovr, Rate: ev.rate,
		Stocked: ev.stocked, Available: ev.avail, Held: ev.held,
		Released: map[string]bool{},
	}
	for i := range lanes {
		v.Lanes[i] = waitroom.LaneView{
			Seq: ev.seq[i], Serving: ev.serving[i], Pre: ev.pre[i], Left: int64(len(ev.left[i])), Rate: ev.rates[i],
		}
	}
	for _, d := range ev.active {
		if d.After(now) {
			v.Active++
		}
	}
	for w := range ev.released {
		v.Released[w] = true
	}
	return v, nil
}

// SetOverrides implements waitroom.Store.
func (s *Store) SetOverrides(_ context.Context, name string, paused *bool, o waitroom.Overrides) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, err := s.get(name)
	if err != nil {
		return err
	}
	if paused != nil {
		ev.paused = *paused
	}
	if o.Wave != ev.ovr.Wave {
		ev.ovr = waitroom.Overrides{Wave: o.Wave}
	}
	if o.AdmitPerMin > 0 {
		ev.ovr.AdmitPerMin = o.AdmitPerMin
	}
	if o.MaxActive > 0 {
		ev.ovr.MaxActive = o.MaxActive
	}
	return nil
}

// Lease implements waitroom.Store; the lease runs on this process's clock.
func (s *Store) Lease(_ context.Context, name, owner string, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, err := s.get(name)
	if err != nil {
		return false, err
	}
	now := time.Now()
	if ev.leaseOwner != "" && ev.leaseOwner != owner && now.Before(ev.leaseUntil) {
		return false, nil
	}
	ev.leaseOwner, ev.leaseUntil = owner, now.Add(ttl)
	return true, nil
}

// Unlease implements waitroom.Store.
func (s *Store) Unlease(_ context.Context, name, owner string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, err := s.get(name)
	if err != nil {
		return err
	}
	if ev.leaseOwner == owner {
		ev.leaseOwner = ""
	}
	return nil
}

func (ev *event) holds(owner string) bool {
	return ev.leaseOwner == owner && time.Now().Before(ev.leaseUntil)
}

// Freeze implements waitroom.Store.
func (s *Store) Freeze(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, err := s.get(name)
	if err != nil {
		return err
	}
	ev.freeze()
	return nil
}

// PendingLeaves implements waitroom.Store.
func (s *Store) PendingLeaves(_ context.Context, name string) ([]waitroom.PendingLeave, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, err := s.get(name)
	if err != nil {
		return nil, err
	}
	out := make([]waitroom.PendingLeave, 0, len(ev.leftPre))
	for p := range ev.leftPre {
		out = append(out, p)
	}
	return out, nil
}

// Draw implements waitroom.Store.
func (s *Store) Draw(_ context.Context, name, owner string, seed []byte, leaves []waitroom.DrawnLeave) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, err := s.get(name)
	if err != nil {
		return err
	}
	if !ev.holds(owner) {
		return waitroom.ErrLeaseLost
	}
	if ev.seed != nil {
		return nil
	}
	if len(seed) == 0 {
		return fmt.Errorf("%w: empty seed", waitroom.ErrInvalid)
	}
	if len(leaves) != len(ev.leftPre) {
		return waitroom.ErrRetry
	}
	for _, l := range leaves {
		if err := checkLane(l.Lane); err != nil {
			return err
		}
	}
	ev.freeze()
	for _, l := range leaves {
		if l.Pos > ev.serving[l.Lane] {
			ev.left[l.Lane][l.Pos] = true
		}
	}
	clear(ev.leftPre)
	ev.seed = slices.Clone(seed)
	return nil
}

// Admit implements waitroom.Store.
func (s *Store) Admit(_ context.Context, name string, req waitroom.AdmitRequest) (waitroom.AdmitResult, error) {
	for _, l := range req.Lanes {
		if err := checkLane(l); err != nil {
			return waitroom.AdmitResult{}, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, err := s.get(name)
	if err != nil {
		return waitroom.AdmitResult{}, err
	}
	if !ev.holds(req.Owner) {
		return waitroom.AdmitResult{}, waitroom.ErrLeaseLost
	}
	for m, d := range ev.active {
		if !d.After(req.Now) {
			delete(ev.active, m)
		}
	}
	ev.rates, ev.rate = req.Rates, req.Rate
	if req.Stocked {
		ev.stocked, ev.avail, ev.held = true, req.Available, req.Held
	}
	for _, w := range req.Released {
		ev.released[w] = true
	}
	if req.SoldOut && !ev.closed {
		ev.soldOut = true
	}
	var res waitroom.AdmitResult
	n := 0
	if !ev.soldOut && !ev.closed {
		for _, lane := range req.Lanes {
			for steps := 0; n < req.N && ev.serving[lane] < ev.seq[lane] && steps < waitroom.AdmitStepLimit(req.N); steps++ {
				ev.serving[lane]++
				pos := ev.serving[lane]
				if ev.left[lane][pos] {
					delete(ev.left[lane], pos)
					continue
				}
				ev.active[waitroom.Member(lane, pos)] = req.Arrival
				res.Admitted[lane]++
				n++
			}
		}
	}
	ev.admitted += int64(n)
	res.Serving = ev.serving
	res.Active = int64(len(ev.active))
	return res, nil
}

// Close implements waitroom.Store.
func (s *Store) Close(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, err := s.get(name)
	if err != nil {
		return err
	}
	ev.closed = true
	return nil
}
