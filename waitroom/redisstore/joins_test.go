package redisstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/onsale/onsale/internal/testenv"
	"github.com/redis/go-redis/v9"
)

func testStore(t *testing.T) *Store {
	t.Helper()
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	prefix := testenv.Unique("wrjoin")
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Unlink(ctx, iter.Val())
		}
		rdb.Close()
	})
	return New(rdb, prefix)
}

// TestJoinBatchOrder: one call serves its joins in the order given (the order of arrival): places follow it, a fan
// twice in one call gets its place back, and a lane counts apart.
func TestJoinBatchOrder(t *testing.T) {
	t.Parallel()
	s := testStore(t)
	ctx := context.Background()
	if err := s.PutConfig(ctx, "ev", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
	call := func(fan string, lane int) *joinCall {
		b, f := s.keys("ev").bucket(fan)
		return &joinCall{bucket: b, field: f, lane: lane, now: ms(now), openAt: ms(now.Add(time.Hour))}
	}
	calls := []*joinCall{call("a", 0), call("b", 0), call("a", 0), call("c", 1), call("d", 0), call("c", 0)}
	s.runJoins(ctx, "ev", calls)
	want := []struct {
		lane    int
		seq     int64
		created bool
	}{{0, 1, true}, {0, 2, true}, {0, 1, false}, {1, 1, true}, {0, 3, true}, {1, 1, false}}
	for i, c := range calls {
		if c.err != nil || c.place.Lane != want[i].lane || c.place.Seq != want[i].seq || c.place.Created != want[i].created {
			t.Fatalf("join %d: %+v %v, want %+v", i, c.place, c.err, want[i])
		}
	}
	bad := []*joinCall{call("x", 0)}
	s.runJoins(ctx, "no-such-event", bad)
	if bad[0].err == nil {
		t.Fatal("join of an unknown event")
	}
}

// TestConcurrentJoinsBatch: concurrent joins share script calls, every fan (each joining twice) gets one place, the
// places are 1..n, and a join of an unknown event fails alone.
func TestConcurrentJoinsBatch(t *testing.T) {
	t.Parallel()
	s := testStore(t)
	ctx := context.Background()
	if err := s.PutConfig(ctx, "ev", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	const n = 1000
	open := time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
	seqs := make([]int64, 2*n)
	var wg sync.WaitGroup
	for i := range 2 * n {
		wg.Go(func() {
			p, err := s.Join(ctx, "ev", fmt.Sprintf("fan-%d", i%n), 0, open, open)
			if err != nil {
				t.Error(err)
				return
			}
			seqs[i] = p.Seq
		})
	}
	if _, err := s.Join(ctx, "unknown", "fan-1", 0, open, open); err == nil {
		t.Error("join of an unknown event")
	}
	wg.Wait()
	seen := make([]bool, n+1)
	for i := range n {
		if seqs[i] != seqs[i+n] || seqs[i] < 1 || seqs[i] > n || seen[seqs[i]] {
			t.Fatalf("fan %d: places %d and %d", i, seqs[i], seqs[i+n])
		}
		seen[seqs[i]] = true
	}
	calls := s.JoinCalls("ev")
	t.Logf("%d joins in %d script calls", 2*n, calls)
	if calls >= 2*n {
		t.Fatalf("no batching: %d calls for %d joins", calls, 2*n)
	}
}
