// Package redisstore is the production waitroom.Store on Redis. Every key of an event shares the hash tag
// {ev:<event>}, so an event is one Redis Cluster slot and each Lua script is atomic over it:
//
//	<prefix>:{ev:<event>}:q:config         the configuration (string)
//	<prefix>:{ev:<event>}:q:state          hash: ver, frozen, seed (the lottery seed), paused, soldout, closed,
//	                                       ovr_wave, ovr_rate, ovr_max (live overrides), admitted, rate, r<lane>,
//	                                       rel:<wave>
//	<prefix>:{ev:<event>}:q:seq            hash lane → places given
//	<prefix>:{ev:<event>}:q:serving        hash lane → serving position
//	<prefix>:{ev:<event>}:q:pre            hash lane → pre-queue size frozen at open
//	<prefix>:{ev:<event>}:q:fans:<xxxx>    the fans, in 65536 bucket hashes: field = 6 bytes of SHA-256(fan),
//	                                       value = seq×32 + lane
//	<prefix>:{ev:<event>}:q:left           holes: set of "lane:pos" whose fans left; q:leftcount counts them per lane
//	<prefix>:{ev:<event>}:q:preleft        pre-queue leaves before the draw: set of "lane:seq"
//	<prefix>:{ev:<event>}:q:active         zset "lane:pos" → deadline ms (arrival, then access)
//	<prefix>:{ev:<event>}:q:claims         hash "lane:pos" → access deadline ms (0 once finished)
//	<prefix>:{ev:<event>}:q:lease          the controller lease (owner, PX)
//	<prefix>:events                        set of configured events (discovery only; no script touches it)
//
// Memory: a queued fan is one entry in a bucket hash: a 6-byte field and a small integer, about 14 bytes in a
// listpack. With 65536 buckets, 1,000,000 fans average 15 per bucket, far under hash-max-listpack-entries
// (128 or more), so the buckets stay listpack-encoded; scripts/waitroom-memory.sh measures the bytes per fan.
// Fans are told apart by 64 bits of SHA-256 (16 select the bucket, 48 the field): two fans of one event collide
// with probability about n²/2⁶⁵ (3·10⁻⁸ at a million fans), in which case the second gets the first's place.
//
// Concurrent joins of one event share script calls (joins.go): the joins that arrive while a call is in flight go
// together in the next one, served in order of arrival.
package redisstore

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/onsale/onsale/waitroom"
	"github.com/redis/go-redis/v9"
)

const lanes = waitroom.MaxLanes

var (
	//go:embed lua/join.lua
	joinSrc string
	//go:embed lua/joins.lua
	joinsSrc string
	//go:embed lua/leave.lua
	leaveSrc string
	//go:embed lua/claim.lua
	claimSrc string
	//go:embed lua/touch.lua
	touchSrc string
	//go:embed lua/quiet.lua
	quietSrc string
	//go:embed lua/finish.lua
	finishSrc string
	//go:embed lua/view.lua
	viewSrc string
	//go:embed lua/lease.lua
	leaseSrc string
	//go:embed lua/unlease.lua
	unleaseSrc string
	//go:embed lua/freeze.lua
	freezeSrc string
	//go:embed lua/draw.lua
	drawSrc string
	//go:embed lua/admit.lua
	admitSrc string
	//go:embed lua/overrides.lua
	overridesSrc string
	//go:embed lua/config.lua
	configSrc string
	//go:embed lua/close.lua
	closeSrc string

	joinScript      = redis.NewScript(joinSrc)
	joinsScript     = redis.NewScript(joinsSrc)
	leaveScript     = redis.NewScript(leaveSrc)
	claimScript     = redis.NewScript(claimSrc)
	touchScript     = redis.NewScript(touchSrc)
	quietScript     = redis.NewScript(quietSrc)
	finishScript    = redis.NewScript(finishSrc)
	viewScript      = redis.NewScript(viewSrc)
	leaseScript     = redis.NewScript(leaseSrc)
	unleaseScript   = redis.NewScript(unleaseSrc)
	freezeScript    = redis.NewScript(freezeSrc)
	drawScript      = redis.NewScript(drawSrc)
	admitScript     = redis.NewScript(admitSrc)
	overridesScript = redis.NewScript(overridesSrc)
	configScript    = redis.NewScript(configSrc)
	closeScript     = redis.NewScript(closeSrc)
)

// Store is the Redis waitroom.Store.
type Store struct {
	rdb       redis.UniversalClient
	prefix    string
	joinBatch int
	joins     sync.Map // event → *joinGroup
}

var _ waitroom.Store = (*Store)(nil)

// New returns a Store whose keys start with prefix (default "onsale").
func New(client redis.UniversalClient, prefix string) *Store {
	if prefix == "" {
		prefix = "onsale"
	}
	return &Store{rdb: client, prefix: prefix, joinBatch: defaultJoinBatch}
}

type keys struct{ base string }

func (s *Store) keys(event string) keys { return keys{base: s.prefix + ":{ev:" + event + "}:"} }

func (k keys) k(name string) string { return k.base + name }

// FanKey returns the bucket suffix and the field of fan: 64 bits of SHA-256, 16 for the bucket, 48 for the field.
func FanKey(fan string) (bucket, field string) {
	h := sha256.Sum256([]byte(fan))
	return hex.EncodeToString(h[:2]), string(h[2:8])
}

func (k keys) bucket(fan string) (key, field string) {
	b, f := FanKey(fan)
	return k.base + "q:fans:" + b, f
}

// translate maps script errors to the domain's.
func translate(event string, err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "NOTFOUND"):
		return fmt.Errorf("event %s: %w", event, waitroom.ErrNotFound)
	case strings.Contains(msg, "LEASE"):
		return waitroom.ErrLeaseLost
	case strings.Contains(msg, "CLOSED"):
		return fmt.Errorf("event %s: %w", event, waitroom.ErrClosed)
	}
	return fmt.Errorf("event %s: redis: %w", event, err)
}

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

func checkLane(lane int) error {
	if lane < 0 || lane >= lanes {
		return fmt.Errorf("%w: lane %d", waitroom.ErrInvalid, lane)
	}
	return nil
}

// PutConfig implements waitroom.Store.
func (s *Store) PutConfig(ctx context.Context, event string, cfg []byte) error {
	k := s.keys(event)
	if err := configScript.Run(ctx, s.rdb, []string{k.k("q:config"), k.k("q:state")}, cfg).Err(); err != nil {
		return translate(event, err)
	}
	if err := s.rdb.SAdd(ctx, s.prefix+":events", event).Err(); err != nil {
		return translate(event, err)
	}
	return nil
}

// Config implements waitroom.Store.
func (s *Store) Config(ctx context.Context, event string) ([]byte, int64, error) {
	k := s.keys(event)
	p := s.rdb.Pipeline()
	cfg := p.Get(ctx, k.k("q:config"))
	ver := p.HGet(ctx, k.k("q:state"), "ver")
	if _, err := p.Exec(ctx); err != nil {
		if errors.Is(err, redis.Nil) {
			return nil, 0, fmt.Errorf("event %s: %w", event, waitroom.ErrNotFound)
		}
		return nil, 0, translate(event, err)
	}
	v, err := ver.Int64()
	if err != nil {
		return nil, 0, translate(event, err)
	}
	return []byte(cfg.Val()), v, nil
}

// Events implements waitroom.Store.
func (s *Store) Events(ctx context.Context) ([]string, error) {
	names, err := s.rdb.SMembers(ctx, s.prefix+":events").Result()
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return names, nil
}

func placeOf(v, created, pre int64) waitroom.Place {
	return waitroom.Place{Lane: int(v % lanes), Seq: v / lanes, Created: created == 1, Pre: pre}
}

// Join implements waitroom.Store. Concurrent joins of one event share script calls (joins.go).
func (s *Store) Join(ctx context.Context, event, fan string, lane int, now, openAt time.Time) (waitroom.Place, error) {
	if err := checkLane(lane); err != nil {
		return waitroom.Place{}, err
	}
	bucket, field := s.keys(event).bucket(fan)
	return s.join(ctx, event, &joinCall{bucket: bucket, field: field, lane: lane, now: ms(now), openAt: ms(openAt)})
}

// JoinArgs returns the keys and arguments of one join call, so a benchmark or a loader can pipeline joins.
func (s *Store) JoinArgs(event, fan string, lane int, now, openAt time.Time) (keys []string, args []any) {
	k := s.keys(event)
	bucket, field := k.bucket(fan)
	return []string{k.k("q:state"), k.k("q:seq"), k.k("q:pre"), bucket}, []any{field, lane, ms(now), ms(openAt), lanes}
}

// JoinScript is the join script, for pipelining with JoinArgs.
func JoinScript() *redis.Script { return joinScript }

// Lookup implements waitroom.Store.
func (s *Store) Lookup(ctx context.Context, event, fan string) (waitroom.Place, error) {
	k := s.keys(event)
	bucket, field := k.bucket(fan)
	p := s.rdb.Pipeline()
	ver := p.HGet(ctx, k.k("q:state"), "ver")
	frozen := p.HGet(ctx, k.k("q:state"), "frozen")
	val := p.HGet(ctx, bucket, field)
	pre := p.HGetAll(ctx, k.k("q:pre"))
	if _, err := p.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return waitroom.Place{}, translate(event, err)
	}
	if ver.Err() != nil {
		return waitroom.Place{}, fmt.Errorf("event %s: %w", event, waitroom.ErrNotFound)
	}
	v, err := val.Int64()
	if err != nil {
		return waitroom.Place{}, waitroom.ErrGone
	}
	pl := placeOf(v, 0, -1)
	if frozen.Err() == nil {
		pl.Pre, _ = strconv.ParseInt(pre.Val()[strconv.Itoa(pl.Lane)], 10, 64)
	}
	return pl, nil
}

// Leave implements waitroom.Store.
func (s *Store) Leave(ctx context.Context, event, fan string, lane int, seq, pos int64) error {
	if err := checkLane(lane); err != nil {
		return err
	}
	k := s.keys(event)
	bucket, field := k.bucket(fan)
	r, err := leaveScript.Run(ctx, s.rdb, []string{k.k("q:state"), k.k("q:pre"), bucket, k.k("q:serving"), k.k("q:left"), k.k("q:leftcount"),
		k.k("q:preleft"), k.k("q:active"), k.k("q:claims")}, field, lane, seq, pos, lanes).Text()
	if err != nil {
		return translate(event, err)
	}
	switch r {
	case "OK":
		return nil
	case "GONE":
		return waitroom.ErrGone
	case "NEEDPOS":
		return waitroom.ErrNeedPosition
	}
	return fmt.Errorf("event %s: leave: unexpected reply %q", event, r)
}

// Claim implements waitroom.Store.
func (s *Store) Claim(ctx context.Context, event, fan string, lane int, seq, pos int64, now time.Time, ttl, idle time.Duration) (time.Time, bool, error) {
	if err := checkLane(lane); err != nil {
		return time.Time{}, false, err
	}
	k := s.keys(event)
	bucket, field := k.bucket(fan)
	r, err := claimScript.Run(ctx, s.rdb, []string{k.k("q:state"), bucket, k.k("q:serving"), k.k("q:active"), k.k("q:claims")},
		field, lane, seq, pos, ms(now), ttl.Milliseconds(), lanes, idleOr(idle, ttl).Milliseconds()).Int64Slice()
	if err != nil {
		return time.Time{}, false, translate(event, err)
	}
	if len(r) != 2 {
		return time.Time{}, false, fmt.Errorf("event %s: claim: unexpected reply %v", event, r)
	}
	if r[0] < 0 {
		return time.Time{}, false, waitroom.ErrGone
	}
	return time.UnixMilli(r[0]), r[1] == 1, nil
}

// Touch implements waitroom.Store.
func (s *Store) Touch(ctx context.Context, event string, lane int, pos int64, now time.Time, idle time.Duration) (bool, error) {
	if err := checkLane(lane); err != nil {
		return false, err
	}
	k := s.keys(event)
	n, err := touchScript.Run(ctx, s.rdb, []string{k.k("q:active"), k.k("q:claims")},
		waitroom.Member(lane, pos), ms(now), idle.Milliseconds()).Int64()
	if err != nil {
		return false, translate(event, err)
	}
	return n == 1, nil
}

// Quiet implements waitroom.Store.
func (s *Store) Quiet(ctx context.Context, event string, now time.Time, places []waitroom.QuietPlace) error {
	if len(places) == 0 {
		return nil
	}
	args := make([]any, 0, 1+2*len(places))
	args = append(args, ms(now))
	for _, p := range places {
		if err := checkLane(p.Lane); err != nil {
			return err
		}
		args = append(args, waitroom.Member(p.Lane, p.Pos), ms(p.Until))
	}
	k := s.keys(event)
	err := quietScript.Run(ctx, s.rdb, []string{k.k("q:active")}, args...).Err()
	return translate(event, err)
}

// Finish implements waitroom.Store.
func (s *Store) Finish(ctx context.Context, event string, lane int, pos int64) error {
	if err := checkLane(lane); err != nil {
		return err
	}
	k := s.keys(event)
	err := finishScript.Run(ctx, s.rdb, []string{k.k("q:state"), k.k("q:serving"), k.k("q:active"), k.k("q:claims")}, lane, pos).Err()
	return translate(event, err)
}

// View implements waitroom.Store.
func (s *Store) View(ctx context.Context, event string, now time.Time) (waitroom.View, error) {
	k := s.keys(event)
	r, err := viewScript.Run(ctx, s.rdb, []string{k.k("q:state"), k.k("q:seq"), k.k("q:serving"), k.k("q:pre"), k.k("q:leftcount"), k.k("q:preleft"),
		k.k("q:active")}, ms(now)).Slice()
	if err != nil {
		return waitroom.View{}, translate(event, err)
	}
	if len(r) != 7 {
		return waitroom.View{}, fmt.Errorf("event %s: view: unexpected reply", event)
	}
	st := pairs(r[0])
	v := waitroom.View{Released: map[string]bool{}}
	v.ConfigVersion, _ = strconv.ParseInt(st["ver"], 10, 64)
	v.Frozen = st["frozen"] != ""
	if seed, ok := st["seed"]; ok {
		v.Seed = []byte(seed)
	}
	v.Admitted, _ = strconv.ParseInt(st["admitted"], 10, 64)
	v.SoldOut = st["soldout"] != ""
	v.Closed = st["closed"] != ""
	v.Paused = st["paused"] != ""
	v.Overrides.Wave = st["ovr_wave"]
	v.Overrides.AdmitPerMin, _ = strconv.Atoi(st["ovr_rate"])
	v.Overrides.MaxActive, _ = strconv.Atoi(st["ovr_max"])
	v.Rate, _ = strconv.ParseFloat(st["rate"], 64)
	if a, h, ok := strings.Cut(st["stock"], ":"); ok {
		v.Stocked = true
		v.Available, _ = strconv.ParseInt(a, 10, 64)
		v.Held, _ = strconv.ParseInt(h, 10, 64)
	}
	for f, val := range st {
		switch {
		case strings.HasPrefix(f, "rel:"):
			v.Released[f[4:]] = true
		case len(f) > 1 && f[0] == 'r' && f != "rate":
			if lane, err := strconv.Atoi(f[1:]); err == nil && lane >= 0 && lane < lanes {
				v.Lanes[lane].Rate, _ = strconv.ParseFloat(val, 64)
			}
		}
	}
	laneInts(r[1], func(l int, n int64) { v.Lanes[l].Seq = n })
	laneInts(r[2], func(l int, n int64) { v.Lanes[l].Serving = n })
	laneInts(r[3], func(l int, n int64) { v.Lanes[l].Pre = n })
	laneInts(r[4], func(l int, n int64) { v.Lanes[l].Left = n })
	v.PendingLeaves, _ = r[5].(int64)
	v.Active, _ = r[6].(int64)
	return v, nil
}

// pairs turns an HGETALL reply inside a script reply into a map.
func pairs(x any) map[string]string {
	out := map[string]string{}
	items, _ := x.([]any)
	for i := 0; i+1 < len(items); i += 2 {
		k, _ := items[i].(string)
		v, _ := items[i+1].(string)
		out[k] = v
	}
	return out
}

func laneInts(x any, set func(int, int64)) {
	for f, val := range pairs(x) {
		l, err := strconv.Atoi(f)
		n, err2 := strconv.ParseInt(val, 10, 64)
		if err == nil && err2 == nil && l >= 0 && l < lanes {
			set(l, n)
		}
	}
}

// SetOverrides implements waitroom.Store.
func (s *Store) SetOverrides(ctx context.Context, event string, paused *bool, o waitroom.Overrides) error {
	p := "-1"
	if paused != nil {
		p = "0"
		if *paused {
			p = "1"
		}
	}
	k := s.keys(event)
	err := overridesScript.Run(ctx, s.rdb, []string{k.k("q:state")}, p, o.Wave, o.AdmitPerMin, o.MaxActive).Err()
	return translate(event, err)
}

// Lease implements waitroom.Store.
func (s *Store) Lease(ctx context.Context, event, owner string, ttl time.Duration) (bool, error) {
	k := s.keys(event)
	n, err := leaseScript.Run(ctx, s.rdb, []string{k.k("q:lease"), k.k("q:state")}, owner, ttl.Milliseconds()).Int()
	if err != nil {
		return false, translate(event, err)
	}
	return n == 1, nil
}

// Unlease implements waitroom.Store.
func (s *Store) Unlease(ctx context.Context, event, owner string) error {
	k := s.keys(event)
	return translate(event, unleaseScript.Run(ctx, s.rdb, []string{k.k("q:lease")}, owner).Err())
}

// Freeze implements waitroom.Store.
func (s *Store) Freeze(ctx context.Context, event string) error {
	k := s.keys(event)
	return translate(event, freezeScript.Run(ctx, s.rdb, []string{k.k("q:state"), k.k("q:seq"), k.k("q:pre")}).Err())
}

// PendingLeaves implements waitroom.Store.
func (s *Store) PendingLeaves(ctx context.Context, event string) ([]waitroom.PendingLeave, error) {
	members, err := s.rdb.SMembers(ctx, s.keys(event).k("q:preleft")).Result()
	if err != nil {
		return nil, translate(event, err)
	}
	out := make([]waitroom.PendingLeave, 0, len(members))
	for _, m := range members {
		l, seq, ok := strings.Cut(m, ":")
		lane, err1 := strconv.Atoi(l)
		n, err2 := strconv.ParseInt(seq, 10, 64)
		if ok && err1 == nil && err2 == nil {
			out = append(out, waitroom.PendingLeave{Lane: lane, Seq: n})
		}
	}
	return out, nil
}

// Draw implements waitroom.Store.
func (s *Store) Draw(ctx context.Context, event, owner string, seed []byte, leaves []waitroom.DrawnLeave) error {
	if len(seed) == 0 {
		return fmt.Errorf("%w: empty seed", waitroom.ErrInvalid)
	}
	args := []any{owner, seed, len(leaves)}
	for _, l := range leaves {
		if err := checkLane(l.Lane); err != nil {
			return err
		}
		args = append(args, l.Lane, l.Pos)
	}
	k := s.keys(event)
	r, err := drawScript.Run(ctx, s.rdb, []string{k.k("q:state"), k.k("q:lease"), k.k("q:seq"), k.k("q:pre"), k.k("q:preleft"),
		k.k("q:left"), k.k("q:leftcount")}, args...).Text()
	if err != nil {
		return translate(event, err)
	}
	switch r {
	case "OK":
		return nil
	case "LEASE":
		return waitroom.ErrLeaseLost
	case "RETRY":
		return waitroom.ErrRetry
	}
	return fmt.Errorf("event %s: draw: unexpected reply %q", event, r)
}

// Admit implements waitroom.Store.
func (s *Store) Admit(ctx context.Context, event string, req waitroom.AdmitRequest) (waitroom.AdmitResult, error) {
	sold := "0"
	if req.SoldOut {
		sold = "1"
	}
	args := []any{req.Owner, ms(req.Now), ms(req.Arrival), max(req.N, 0), sold,
		strconv.FormatFloat(req.Rate, 'g', 8, 64), "", len(req.Lanes)}
	if req.Stocked {
		args[6] = strconv.FormatInt(req.Available, 10) + ":" + strconv.FormatInt(req.Held, 10)
	}
	inLanes := [lanes]bool{}
	for _, l := range req.Lanes {
		if err := checkLane(l); err != nil {
			return waitroom.AdmitResult{}, err
		}
		inLanes[l] = true
		args = append(args, l)
	}
	var rates []any
	for l, r := range req.Rates {
		if r != 0 || inLanes[l] {
			rates = append(rates, l, strconv.FormatFloat(r, 'g', 8, 64))
		}
	}
	args = append(args, len(rates)/2)
	args = append(args, rates...)
	for _, w := range req.Released {
		args = append(args, w)
	}
	k := s.keys(event)
	r, err := admitScript.Run(ctx, s.rdb, []string{k.k("q:state"), k.k("q:lease"), k.k("q:seq"), k.k("q:serving"), k.k("q:left"),
		k.k("q:leftcount"), k.k("q:active")}, args...).Slice()
	if err != nil {
		return waitroom.AdmitResult{}, translate(event, err)
	}
	var res waitroom.AdmitResult
	if len(r) != 3 {
		return res, fmt.Errorf("event %s: admit: unexpected reply", event)
	}
	got, _ := r[0].([]any)
	for i := 0; i+1 < len(got); i += 2 {
		l, _ := strconv.Atoi(fmt.Sprint(got[i]))
		n, _ := got[i+1].(int64)
		if l >= 0 && l < lanes {
			res.Admitted[l] += int(n)
		}
	}
	laneInts(r[1], func(l int, n int64) { res.Serving[l] = n })
	res.Active, _ = r[2].(int64)
	return res, nil
}

// Close implements waitroom.Store.
func (s *Store) Close(ctx context.Context, event string) error {
	return translate(event, closeScript.Run(ctx, s.rdb, []string{s.keys(event).k("q:state")}).Err())
}

// idleOr is the claim's active life: idle, or the whole access when idle is 0.
func idleOr(idle, ttl time.Duration) time.Duration {
	if idle <= 0 || idle > ttl {
		return ttl
	}
	return idle
}
