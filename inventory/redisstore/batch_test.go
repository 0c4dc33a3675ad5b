package redisstore

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/onsale/onsale/internal/testenv"
	"github.com/onsale/onsale/inventory"
)

// TestBatchServesHoldsInOrder sends several holds of two events in one round trip: each hold is all or nothing on
// its own (a failed one leaves no trace for the next), in order, with replays and limits seen across the batch.
func TestBatchServesHoldsInOrder(t *testing.T) {
	b := setup(t, Options{})
	ev := testEvent(gaSection("GA", 3, 100), seatedSection("A", 100, 4))
	ev.MaxPerFan = 5
	ev = b.create(t, ev)
	other := b.create(t, testEvent(gaSection("GA", 5, 100)))
	reqs := []inventory.HoldRequest{
		{Event: ev.ID, Fan: "f1", Items: []inventory.Item{item("A", 2)}},
		{Event: other.ID, Fan: "f1", Items: []inventory.Item{item("GA", 5)}},
		{Event: ev.ID, Fan: "f2", Items: []inventory.Item{item("GA", 2), item("A", 3)}},             // A has 2 left: sold out
		{Event: ev.ID, Fan: "f3", Items: []inventory.Item{item("GA", 3)}},                           // needs f2's GA undone
		{Event: ev.ID, Fan: "f6", Seats: []string{"A-1-3"}, Items: []inventory.Item{item("GA", 1)}}, // GA sold out: A-1-3 undone
		{Event: ev.ID, Fan: "f4", Seats: []string{"A-1-3"}, IdempotencyKey: "k", Fingerprint: "x"},
		{Event: ev.ID, Fan: "f4", Seats: []string{"A-1-3"}, IdempotencyKey: "k", Fingerprint: "x"},  // replay
		{Event: ev.ID, Fan: "f4", Seats: []string{"A-1-4"}, IdempotencyKey: "k", Fingerprint: "y"},  // reused
		{Event: ev.ID, Fan: "f1", Seats: []string{"A-1-4"}, Items: []inventory.Item{item("GA", 3)}}, // f1: 2+4 > 5
		{Event: ev.ID, Fan: "f5", Items: []inventory.Item{item("B", 1)}},                            // unknown section
		{Event: ev.ID, Fan: "f5", Seats: []string{"A-1-1"}},                                         // taken by f1
	}
	calls := make([]*holdCall, len(reqs))
	for i, r := range reqs {
		c, err := b.s.holdCall(r)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		calls[i] = c
	}
	var sd sender // on a connection of its own, as the batcher's senders go
	b.s.batch.exec(context.Background(), &sd, calls)
	sd.drop()
	want := []error{nil, nil, inventory.ErrSoldOut, nil, inventory.ErrSoldOut, nil, nil, inventory.ErrIdempotencyReused,
		inventory.ErrLimitExceeded, inventory.ErrInvalid, inventory.ErrSeatsUnavailable}
	holds := make([]inventory.Hold, len(calls))
	for i, c := range calls {
		err := c.err
		if err == nil {
			holds[i], err = holdFromReply(c, reqs[i].Fan, c.v)
		}
		if !errors.Is(err, want[i]) || (want[i] == nil && err != nil) {
			t.Fatalf("hold %d: got %v, want %v", i, err, want[i])
		}
	}
	if !slices.Equal(holds[0].Seats, []string{"A-1-1", "A-1-2"}) || holds[5].ID != holds[6].ID ||
		holds[6].State != inventory.Held || !slices.Equal(holds[6].Seats, []string{"A-1-3"}) ||
		!holds[6].ExpiresAt.Equal(holds[5].ExpiresAt) || !holds[6].CreatedAt.Equal(holds[5].CreatedAt) {
		t.Fatalf("holds %+v", holds)
	}
	if c := b.counts(t, ev.ID, "GA"); c != [4]int{0, 3, 0, 0} {
		t.Fatalf("GA %v", c)
	}
	if c := b.counts(t, ev.ID, "A"); c != [4]int{1, 3, 0, 0} {
		t.Fatalf("A %v", c)
	}
	if c := b.counts(t, other.ID, "GA"); c != [4]int{0, 5, 0, 0} {
		t.Fatalf("other GA %v", c)
	}
	b.auditClean(t, ev.ID)
	b.auditClean(t, other.ID)
}

// TestCloseFlushes closes the store while holds wait in the batcher: each gets its answer, later ones ErrClosed.
func TestCloseFlushes(t *testing.T) {
	b := setup(t, Options{})
	ev := b.create(t, testEvent(gaSection("GA", 1000, 100)))
	errs := make(chan error, 200)
	for i := range 200 {
		go func() {
			_, err := b.s.Hold(b.ctx, inventory.HoldRequest{Event: ev.ID, Fan: "f" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Items: []inventory.Item{item("GA", 1)}})
			errs <- err
		}()
	}
	_ = b.s.Close()
	held := 0
	for range 200 {
		switch err := <-errs; {
		case err == nil:
			held++
		case !errors.Is(err, ErrClosed):
			t.Fatalf("hold: %v", err)
		}
	}
	if c := b.counts(t, ev.ID, "GA"); c[1] != held {
		t.Fatalf("%d holds answered, %d units held", held, c[1])
	}
	if _, err := b.s.Hold(b.ctx, inventory.HoldRequest{Event: ev.ID, Fan: "late", Items: []inventory.Item{item("GA", 1)}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("hold after close: %v", err)
	}
}

// TestConnectionsKilled drops the store's connections on the server side: the senders' own connections must not
// keep failing holds, and one left idle is checked by the pool before its next use.
func TestConnectionsKilled(t *testing.T) {
	t.Parallel()
	u := testenv.RedisURL(t)
	o, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("parse %s: %v", u, err)
	}
	name := testenv.Unique("killed")
	o.ClientName = name
	c := redis.NewClient(o)
	defer c.Close()
	prefix := testenv.Unique("invt")
	s, err := New(c, Options{Prefix: prefix, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close(); dropPrefix(t, c, prefix) }()
	b := &bundle{s: s, c: c, prefix: prefix, ctx: context.Background()}
	ev := b.create(t, testEvent(gaSection("GA", 1000, 100)))
	admin := redis.NewClient(&redis.Options{Addr: o.Addr, DB: o.DB, Username: o.Username, Password: o.Password})
	defer admin.Close()
	kill := func() {
		t.Helper()
		list, err := admin.ClientList(b.ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(list, "\n") {
			if !strings.Contains(line, " name="+name+" ") {
				continue
			}
			id, _, _ := strings.Cut(strings.TrimPrefix(line, "id="), " ")
			if err := admin.Do(b.ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	fan := 0
	hold := func() error {
		fan++
		_, err := s.Hold(b.ctx, inventory.HoldRequest{Event: ev.ID, Fan: "f" + strconv.Itoa(fan), Items: []inventory.Item{item("GA", 1)}})
		return err
	}
	for range 2 * inflight {
		if err := hold(); err != nil {
			t.Fatal(err)
		}
	}
	// Killed while in use: each sender may lose one round trip, then takes a new connection.
	kill()
	failed := 0
	for range 4 * inflight {
		if hold() != nil {
			failed++
		}
	}
	if failed > inflight {
		t.Fatalf("%d holds failed after the connections were killed", failed)
	}
	if err := hold(); err != nil {
		t.Fatalf("hold after reconnecting: %v", err)
	}
	// Killed while idle: no hold fails.
	kill()
	time.Sleep(connIdle + 100*time.Millisecond)
	for range 2 * inflight {
		if err := hold(); err != nil {
			t.Fatalf("hold after idle connections were killed: %v", err)
		}
	}
}

// TestBatchCommonHolds runs a batch of common holds (one general item, no idempotency key) of a few fans: the fan's
// limit counts its earlier holds of the batch, the section's units run out in order, and each hold made reads back
// with its own fan and line.
func TestBatchCommonHolds(t *testing.T) {
	b := setup(t, Options{})
	ev := testEvent(gaSection("GA", 6, 100), gaSection("GB", 10, 50))
	ev.MaxPerFan = 3
	ev = b.create(t, ev)
	reqs := []inventory.HoldRequest{
		{Event: ev.ID, Fan: "f1", Items: []inventory.Item{item("GA", 2)}},
		{Event: ev.ID, Fan: "f1", Items: []inventory.Item{item("GA", 2)}}, // f1: 2+2 > 3
		{Event: ev.ID, Fan: "f1", Items: []inventory.Item{item("GB", 1)}},
		{Event: ev.ID, Fan: "f2", Items: []inventory.Item{item("GA", 3)}},
		{Event: ev.ID, Fan: "f3", Items: []inventory.Item{item("GA", 2)}}, // 1 left: sold out
		{Event: ev.ID, Fan: "f3", Items: []inventory.Item{item("GA", 1)}},
		{Event: ev.ID, Fan: "f1", Items: []inventory.Item{item("GB", 1)}}, // f1: 3+1 > 3
	}
	calls := make([]*holdCall, len(reqs))
	for i, r := range reqs {
		c, err := b.s.holdCall(r)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		calls[i] = c
	}
	b.s.batch.exec(context.Background(), nil, calls)
	want := []error{nil, inventory.ErrLimitExceeded, nil, nil, inventory.ErrSoldOut, nil, inventory.ErrLimitExceeded}
	for i, c := range calls {
		err := c.err
		var h inventory.Hold
		if err == nil {
			h, err = holdFromReply(c, reqs[i].Fan, c.v)
		}
		if !errors.Is(err, want[i]) || (want[i] == nil && err != nil) {
			t.Fatalf("hold %d: got %v, want %v", i, err, want[i])
		}
		if err != nil {
			continue
		}
		got, err := b.s.Get(context.Background(), h.ID)
		if err != nil {
			t.Fatalf("hold %d: %v", i, err)
		}
		it := reqs[i].Items[0]
		if got.Fan != reqs[i].Fan || got.State != inventory.Held || len(got.Lines) != 1 ||
			got.Lines[0].Section != it.Section || got.Lines[0].Quantity != it.Quantity || !got.ExpiresAt.Equal(h.ExpiresAt) {
			t.Fatalf("hold %d reads back as %+v, made as %+v", i, got, h)
		}
	}
	if c := b.counts(t, ev.ID, "GA"); c != [4]int{0, 6, 0, 0} {
		t.Fatalf("GA %v", c)
	}
	if c := b.counts(t, ev.ID, "GB"); c != [4]int{9, 1, 0, 0} {
		t.Fatalf("GB %v", c)
	}
	b.auditClean(t, ev.ID)
}

// TestBatchWaitsForTheOneOnTheWire holds from many fans at once with a window far longer than the test: a batch
// that is not full may only wait for the one on the wire, so every hold is answered as soon as the batch before its
// own is, and a lone hold on an idle store goes at once.
func TestBatchWaitsForTheOneOnTheWire(t *testing.T) {
	b := setup(t, Options{BatchWindow: time.Hour, MaxBatch: 16})
	ev := b.create(t, testEvent(gaSection("GA", 10000, 100)))
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second) // a hold left waiting fails instead of hanging
	defer cancel()
	hold := func(fan string) error {
		_, err := b.s.Hold(ctx, inventory.HoldRequest{Event: ev.ID, Fan: fan, Items: []inventory.Item{item("GA", 1)}})
		return err
	}
	start := time.Now()
	for i := range 20 {
		if err := hold("lone" + strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	const n = 600
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- hold("f" + strconv.Itoa(i)) }()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("%d holds took %v", n+20, d)
	}
	if c := b.counts(t, ev.ID, "GA"); c[1] != n+20 {
		t.Fatalf("GA %v, want %d held", c, n+20)
	}
	if trips, sent := b.s.batch.trips.Load(), b.s.batch.sent.Load(); sent != n+20 || trips < n/16+20 {
		t.Fatalf("%d holds in %d round trips", sent, trips)
	}
}

// TestBatchPolicy follows the batcher's hand-overs without a server: a hold on an idle store goes at once, the next
// ones gather behind it until the wire is free, a full batch goes as a second one on the wire, a window's end lets the
// holds waiting go while fewer than inflight batches are on the wire, and close sends what is left.
func TestBatchPolicy(t *testing.T) {
	b := &batcher{max: 4, window: time.Hour, batches: make(chan []*holdCall, inflight), spare: make(chan []*holdCall, inflight+1)}
	b.timer = time.AfterFunc(time.Hour, b.windowEnded)
	b.timer.Stop()
	add := func(n int) {
		b.mu.Lock()
		defer b.mu.Unlock()
		for range n {
			b.queue = append(b.queue, &holdCall{})
			b.dispatch()
		}
	}
	sent := func(want ...int) {
		t.Helper()
		var got []int
		for len(b.batches) > 0 {
			got = append(got, len(<-b.batches))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("batches sent %v, want %v", got, want)
		}
	}
	state := func(onWire, queued int, timing bool) {
		t.Helper()
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.onWire != onWire || len(b.queue) != queued || b.timing != timing {
			t.Fatalf("on the wire %d, queued %d, timing %v; want %d, %d, %v", b.onWire, len(b.queue), b.timing, onWire, queued, timing)
		}
	}
	// expire ends the window of the holds waiting as its timer would.
	expire := func() {
		b.mu.Lock()
		b.armed = b.armed.Add(-b.window)
		b.mu.Unlock()
		b.windowEnded()
	}
	add(1)
	sent(1)
	state(1, 0, false)
	add(3)
	sent()
	state(1, 3, true)
	add(1) // full: a second batch on the wire
	sent(4)
	state(2, 0, false)
	add(6) // full, but inflight batches are on the wire
	sent()
	state(2, 6, true)
	expire() // no room on the wire either
	sent()
	state(2, 6, false)
	b.answered() // a full batch goes; the 2 left wait for the next answer or their window
	sent(4)
	state(2, 2, true)
	b.answered()
	sent(2)
	state(2, 0, false)
	b.answered()
	b.answered()
	state(0, 0, false)
	add(1)
	sent(1)
	add(2)
	state(1, 2, true)
	b.windowEnded() // early (a timer stopped too late): the window goes on
	state(1, 2, true)
	expire() // a slow round trip: the 2 go as a second batch
	sent(2)
	state(2, 0, false)
	add(3)
	b.close() // no senders here, so it returns once it has handed over what fits on the wire (nothing)
	sent()
	b.answered() // closed: everything left goes, and the senders end once it is answered
	sent(3)
	b.answered()
	b.answered()
	if _, open := <-b.batches; open {
		t.Fatal("batches still open after the last answer")
	}
}
