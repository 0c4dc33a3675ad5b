package waitroom_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onsale/onsale/internal/testenv"
	"github.com/onsale/onsale/waitroom"
	"github.com/onsale/onsale/waitroom/memstore"
	"github.com/onsale/onsale/waitroom/redisstore"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	secret = []byte("0123456789abcdef0123456789abcdef")
	t0     = time.Date(2030, 6, 1, 18, 0, 0, 0, time.UTC)
)

// clock is a test clock that moves only when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// stock is a Stock whose figures the test sets.
type stock struct {
	mu        sync.Mutex
	available int
	held      int
	releases  map[string]int // wave → ReleaseWave calls
}

func newStock(available int) *stock { return &stock{available: available, releases: map[string]int{}} }

func (s *stock) Remaining(context.Context, string) (int, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.available, s.held, nil
}

func (s *stock) ReleaseWave(_ context.Context, _, wave string, release map[string]int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releases[wave]++
	for _, n := range release {
		s.available += n
	}
	return nil
}

func (s *stock) set(available, held int) {
	s.mu.Lock()
	s.available, s.held = available, held
	s.mu.Unlock()
}

// countingStore counts the store calls made through it.
type countingStore struct {
	waitroom.Store
	calls atomic.Int64
}

func (c *countingStore) View(ctx context.Context, ev string, now time.Time) (waitroom.View, error) {
	c.calls.Add(1)
	return c.Store.View(ctx, ev, now)
}

func (c *countingStore) Claim(ctx context.Context, ev, fan string, lane int, seq, pos int64, now time.Time, ttl, idle time.Duration) (time.Time, bool, error) {
	c.calls.Add(1)
	return c.Store.Claim(ctx, ev, fan, lane, seq, pos, now, ttl, idle)
}

func (c *countingStore) Config(ctx context.Context, ev string) ([]byte, int64, error) {
	c.calls.Add(1)
	return c.Store.Config(ctx, ev)
}

// storeKinds are the stores the room tests run against.
var storeKinds = []string{"mem", "redis"}

func newStore(t testing.TB, kind string) waitroom.Store {
	t.Helper()
	if kind == "mem" {
		return memstore.New()
	}
	rdb, prefix := redisClient(t)
	return redisstore.New(rdb, prefix)
}

// redisClient returns a client and a key prefix of the test's own; its keys are deleted at the end.
func redisClient(t testing.TB) (*redis.Client, string) {
	t.Helper()
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	prefix := testenv.Unique("wrtest")
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			rdb.Unlink(ctx, keys...)
		}
		rdb.Close()
	})
	return rdb, prefix
}

type bundle struct {
	room  *waitroom.Room
	clock *clock
	stock *stock
	store waitroom.Store
	ev    string
	ctx   context.Context
}

// setup configures an event whose waves are given relative to t0 on a room with a test clock at t0.
func setup(t *testing.T, kind string, waves []waitroom.Wave, opts ...func(*waitroom.Options)) *bundle {
	t.Helper()
	b := &bundle{clock: &clock{now: t0}, stock: newStock(1000), store: newStore(t, kind), ev: testenv.Unique("ev-"),
		ctx: context.Background()}
	o := waitroom.Options{Secret: secret, Tick: 250 * time.Millisecond, Owner: "owner-1", Now: b.clock.Now,
		Registerer: prometheus.NewRegistry(), AccessTTL: 10 * time.Minute, ArrivalTTL: 2 * time.Minute,
		IdleTTL: 2 * time.Minute}
	for _, f := range opts {
		f(&o)
	}
	room, err := waitroom.New(b.store, b.stock, o)
	if err != nil {
		t.Fatal(err)
	}
	b.room = room
	if err := room.Configure(b.ctx, waitroom.Config{Event: b.ev, Waves: waves}); err != nil {
		t.Fatal(err)
	}
	return b
}

// general is one general wave that started before t0.
func general(rate, maxActive int) []waitroom.Wave {
	return []waitroom.Wave{{ID: "general", StartsAt: t0.Add(-time.Minute), AdmitPerMin: rate, MaxActive: maxActive}}
}

func (b *bundle) join(t *testing.T, fan string) waitroom.Ticket {
	t.Helper()
	tk, err := b.room.Join(b.ctx, b.ev, fan, "")
	if err != nil {
		t.Fatalf("join %s: %v", fan, err)
	}
	return tk
}

func (b *bundle) joinN(t *testing.T, n int) []waitroom.Ticket {
	t.Helper()
	out := make([]waitroom.Ticket, n)
	for i := range n {
		out[i] = b.join(t, fmt.Sprintf("fan-%03d", i+1))
	}
	return out
}

func (b *bundle) status(t *testing.T, tok string) waitroom.Status {
	t.Helper()
	st, err := b.room.Status(b.ctx, b.ev, tok)
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	return st
}

// tick advances the clock by d and runs one admission tick.
func (b *bundle) tick(t *testing.T, d time.Duration) {
	t.Helper()
	b.clock.Advance(d)
	if err := b.room.TickForTest(b.ctx, b.ev); err != nil {
		t.Fatalf("tick: %v", err)
	}
}

func (b *bundle) stats(t *testing.T) waitroom.Stats {
	t.Helper()
	s, err := b.room.Stats(b.ctx, b.ev)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// forEachStore runs fn as a parallel subtest per store kind.
func forEachStore(t *testing.T, fn func(t *testing.T, kind string)) {
	t.Parallel()
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			fn(t, kind)
		})
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
