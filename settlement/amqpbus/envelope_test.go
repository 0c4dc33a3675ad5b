package amqpbus

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/onsale/onsale/internal/testenv"
	"github.com/onsale/onsale/settlement"
)

func TestGroup(t *testing.T) {
	t.Parallel()
	msg := func(id, topic, body string) settlement.Message {
		return settlement.Message{ID: id, Topic: topic, Body: []byte(body)}
	}
	msgs := []settlement.Message{
		msg("1", "a", `{}`), msg("2", "b", `{}`), msg("3", "a", `[1]`), msg("4", "a", `not json`),
		msg("5", "a", `"s"`), msg("6", "b", `{}`),
	}
	got := fmt.Sprint(ids(group(msgs, 2)))
	if want := "[[1 3] [2 6] [4] [5]]"; got != want {
		t.Fatalf("group: %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(ids(group(msgs, 1))), "[[1] [2] [3] [4] [5] [6]]"; got != want {
		t.Fatalf("group of 1: %s, want %s", got, want)
	}
	env := encodeEnvelope([]item{{ID: "x\"1", Topic: "a.b", Body: []byte(`{"k": [1, "é"]}`)}, {ID: "é", Topic: "a", Body: []byte(`2`)}})
	back, err := decodeEnvelope(env)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != 2 || back[0].ID != "x\"1" || back[0].Topic != "a.b" || string(back[0].Body) != `{"k": [1, "é"]}` ||
		back[1].ID != "é" || string(back[1].Body) != "2" {
		t.Fatalf("round trip: %+v", back)
	}
	plain := encodeEnvelope([]item{{ID: "a", Topic: "t", Body: []byte(`{"s": "}]\"", "n": [1, {}]}`)}, {ID: "b", Topic: "t", Body: []byte(`-1.5e3`)},
		{ID: "c", Topic: "t", Body: []byte(`"x,}"`)}, {ID: "d", Topic: "t", Body: []byte(`null`)}})
	fast, ok := scanEnvelope(plain)
	if !ok {
		t.Fatalf("%s not read by the fast path", plain)
	}
	slow := []item{}
	if err := json.Unmarshal(plain, &slow); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%q", fast) != fmt.Sprintf("%q", slow) {
		t.Fatalf("fast %q, encoding/json %q", fast, slow)
	}
	if got, err := decodeEnvelope([]byte(` [ {"topic": "t", "id": "a", "body": {} } ] `)); err != nil || len(got) != 1 || got[0].ID != "a" {
		t.Fatalf("spaced envelope: %q %v", got, err)
	}
	for _, bad := range []string{``, `[]`, `{}`, `[{"id":"a","body":1}]`, `[{"id":1}]`, `[{"id":"a","topic":"t","body":{}`} {
		if _, err := decodeEnvelope([]byte(bad)); err == nil {
			t.Errorf("decoded %q", bad)
		}
	}
}

func ids(units [][]settlement.Message) [][]string {
	out := make([][]string, len(units))
	for i, u := range units {
		for _, m := range u {
			out[i] = append(out[i], m.ID)
		}
	}
	return out
}

func newTestBus(t *testing.T) (*Bus, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	b, err := Dial(ctx, testenv.AMQPURL(t), Options{Prefix: testenv.Unique("onsale_test_"), RetryDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = b.Teardown(context.Background())
		_ = b.Close()
	})
	return b, ctx
}

// publishEnvelope publishes n messages of one topic and checks they went out as one AMQP message.
func publishEnvelope(t *testing.T, ctx context.Context, b *Bus, q settlement.Queue, n int) []string {
	t.Helper()
	if err := b.Declare(ctx, q); err != nil {
		t.Fatal(err)
	}
	var msgs []settlement.Message
	for i := range n {
		msgs = append(msgs, settlement.Message{ID: fmt.Sprintf("m%d", i), Topic: "job.x", Body: []byte(fmt.Sprintf(`{"n":%d}`, i))})
	}
	sent, err := b.Publish(ctx, msgs)
	if err != nil || len(sent) != n {
		t.Fatalf("publish: %v %v", sent, err)
	}
	if depth, err := b.inspect(ctx, b.name(q.Name)); err != nil || depth != 1 {
		t.Fatalf("%d AMQP messages in the queue (%v), want one envelope", depth, err)
	}
	return sent
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (b *Bus) depth(t *testing.T, ctx context.Context, name string) int {
	t.Helper()
	n, err := b.inspect(ctx, b.name(name))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestEnvelopePartialRetryAndPark: of one envelope, acknowledged messages are handled once, retried ones come
// back (alone, as a new envelope) with their attempt counted, and parked ones land one by one in the parking
// queue; nothing is left behind.
func TestEnvelopePartialRetryAndPark(t *testing.T) {
	t.Parallel()
	b, ctx := newTestBus(t)
	q := settlement.Queue{Name: "work", Bind: "job.*", Prefetch: 4}
	sent := publishEnvelope(t, ctx, b, q, 12)
	var mu sync.Mutex
	attempts := map[string][]int{}
	var acked atomic.Int32
	cctx, stop := context.WithCancel(ctx)
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		_ = b.Consume(cctx, q, func(_ context.Context, d settlement.Delivery) settlement.Outcome {
			var n int
			_, _ = fmt.Sscanf(d.ID, "m%d", &n)
			mu.Lock()
			attempts[d.ID] = append(attempts[d.ID], d.Attempt)
			mu.Unlock()
			switch {
			case n%3 == 2:
				return settlement.Park
			case n%3 == 1 && d.Attempt < 3:
				return settlement.Retry
			}
			acked.Add(1)
			return settlement.Ack
		})
	}()
	waitFor(t, "every message acknowledged or parked", func() bool {
		return acked.Load() == 8 && b.depth(t, ctx, "work.parked") == 4
	})
	stop()
	<-consumed
	for i, id := range sent {
		var want string
		switch i % 3 {
		case 0, 2:
			want = "[1]"
		case 1:
			want = "[1 2 3]"
		}
		if got := fmt.Sprint(attempts[id]); got != want {
			t.Errorf("%s: attempts %s, want %s", id, got, want)
		}
	}
	for _, name := range []string{"work", "work.retry"} {
		if n := b.depth(t, ctx, name); n != 0 {
			t.Errorf("%d left in %s", n, name)
		}
	}
}

// TestEnvelopeRedeliveredAfterCrash: the connection dies after an envelope's retried messages were republished
// and before the envelope was acknowledged. The broker redelivers the whole envelope and the retried messages
// come as well: every message is handled again, and a consumer that dedupes by message id (as the saga's steps
// do) still reaches each outcome exactly once.
func TestEnvelopeRedeliveredAfterCrash(t *testing.T) {
	b, ctx := newTestBus(t)
	q := settlement.Queue{Name: "work", Bind: "job.*", Prefetch: 8}
	var crashed atomic.Bool
	testBeforeAck = func(b *Bus) {
		if crashed.CompareAndSwap(false, true) {
			if c := b.current(); c != nil {
				_ = c.Close()
			}
		}
	}
	t.Cleanup(func() { testBeforeAck = nil })
	sent := publishEnvelope(t, ctx, b, q, 10)
	var mu sync.Mutex
	handled := map[string]int{}
	outcome := map[string]int{} // the dedupe record: one outcome per message id
	cctx, stop := context.WithCancel(ctx)
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		_ = b.Consume(cctx, q, func(_ context.Context, d settlement.Delivery) settlement.Outcome {
			var n int
			_, _ = fmt.Sscanf(d.ID, "m%d", &n)
			mu.Lock()
			defer mu.Unlock()
			handled[d.ID]++
			if outcome[d.ID] > 0 {
				return settlement.Ack // a duplicate
			}
			if n%2 == 1 && d.Attempt < 2 {
				return settlement.Retry
			}
			outcome[d.ID]++
			return settlement.Ack
		})
	}()
	waitFor(t, "every outcome and empty queues", func() bool {
		mu.Lock()
		n := len(outcome)
		mu.Unlock()
		return n == len(sent) && b.Ping(ctx) == nil && b.depth(t, ctx, "work") == 0 && b.depth(t, ctx, "work.retry") == 0
	})
	stop()
	<-consumed
	if !crashed.Load() {
		t.Fatal("never crashed")
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range sent {
		if outcome[id] != 1 {
			t.Errorf("%s: %d outcomes", id, outcome[id])
		}
		if handled[id] < 2 {
			t.Errorf("%s handled %d times: the envelope was not redelivered", id, handled[id])
		}
	}
	if n := b.depth(t, ctx, "work.parked"); n != 0 {
		t.Errorf("%d parked", n)
	}
}

// TestUnreadableEnvelopeParked: an envelope that does not decode is parked whole, as it came.
func TestUnreadableEnvelopeParked(t *testing.T) {
	t.Parallel()
	b, ctx := newTestBus(t)
	q := settlement.Queue{Name: "work", Bind: "job.*", Prefetch: 4}
	if err := b.Declare(ctx, q); err != nil {
		t.Fatal(err)
	}
	conn, err := b.waitConn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.PublishWithContext(ctx, b.name("events"), "job.x", false, false,
		amqp.Publishing{ContentType: EnvelopeType, Body: []byte(`[{"id":`)}); err != nil {
		t.Fatal(err)
	}
	_ = ch.Close()
	cctx, stop := context.WithCancel(ctx)
	consumed := make(chan struct{})
	var calls atomic.Int32
	go func() {
		defer close(consumed)
		_ = b.Consume(cctx, q, func(context.Context, settlement.Delivery) settlement.Outcome {
			calls.Add(1)
			return settlement.Ack
		})
	}()
	waitFor(t, "the envelope parked", func() bool { return b.depth(t, ctx, "work.parked") == 1 })
	stop()
	<-consumed
	if calls.Load() != 0 {
		t.Fatalf("handler called %d times", calls.Load())
	}
}

// TestEnvelopeHandlersBoundedByPrefetch: an envelope larger than Prefetch is handled Prefetch messages at a time,
// never more, and a worker that finishes takes the next message.
func TestEnvelopeHandlersBoundedByPrefetch(t *testing.T) {
	t.Parallel()
	b, ctx := newTestBus(t)
	q := settlement.Queue{Name: "work", Bind: "job.*", Prefetch: 3}
	publishEnvelope(t, ctx, b, q, 10)
	var running, most, done atomic.Int32
	release := make(chan struct{})
	cctx, stop := context.WithCancel(ctx)
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		_ = b.Consume(cctx, q, func(ctx context.Context, _ settlement.Delivery) settlement.Outcome {
			n := running.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			select {
			case <-release:
			case <-ctx.Done():
			}
			running.Add(-1)
			done.Add(1)
			return settlement.Ack
		})
	}()
	waitFor(t, "Prefetch handlers running", func() bool { return running.Load() == 3 })
	time.Sleep(50 * time.Millisecond) // room for a fourth, were it allowed
	if n := running.Load(); n != 3 {
		t.Fatalf("%d handlers running, want 3", n)
	}
	close(release)
	waitFor(t, "every message handled", func() bool { return done.Load() == 10 })
	stop()
	<-consumed
	if m := most.Load(); m != 3 {
		t.Errorf("at most %d handlers at once, want 3", m)
	}
	if n := b.depth(t, ctx, "work"); n != 0 {
		t.Errorf("%d left in work", n)
	}
}
