package amqpbus_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/onsale/onsale/internal/testenv"
	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/settlement/amqpbus"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDialUnreachable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := amqpbus.Dial(ctx, "amqp://guest:guest@127.0.0.1:1/", amqpbus.Options{}); err == nil {
		t.Fatal("dialled nothing")
	}
}

// TestRetryQueueCountsAttempts: a rejected delivery comes back through the retry queue with its attempt counted
// from the broker's x-death header, and a parked one lands in the parking queue.
func TestRetryQueueCountsAttempts(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := amqpbus.Dial(ctx, testenv.AMQPURL(t), amqpbus.Options{Prefix: testenv.Unique("onsale_test_"), RetryDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = b.Teardown(context.Background())
		_ = b.Close()
	}()
	q := settlement.Queue{Name: "work", Bind: "job.*", Prefetch: 4}
	if err := b.Declare(ctx, q); err != nil {
		t.Fatal(err)
	}
	ids, err := b.Publish(ctx, []settlement.Message{
		{ID: "a", Topic: "job.retry", Body: []byte(`{}`)},
		{ID: "b", Topic: "job.park", Body: []byte(`{}`)},
	})
	if err != nil || len(ids) != 2 {
		t.Fatalf("publish: %v %v", ids, err)
	}
	var mu sync.Mutex
	attempts := map[string][]int{}
	finished := make(chan struct{})
	cctx, stop := context.WithCancel(ctx)
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		_ = b.Consume(cctx, q, func(_ context.Context, d settlement.Delivery) settlement.Outcome {
			mu.Lock()
			defer mu.Unlock()
			attempts[d.ID] = append(attempts[d.ID], d.Attempt)
			switch {
			case d.Topic == "job.park":
				return settlement.Park
			case d.Attempt < 3:
				return settlement.Retry
			}
			close(finished)
			return settlement.Ack
		})
	}()
	select {
	case <-finished:
	case <-ctx.Done():
		t.Fatal("the retried message never came back a third time")
	}
	stop()
	<-consumed
	mu.Lock()
	got := attempts["a"]
	mu.Unlock()
	if len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Fatalf("attempts %v, want [1 2 3]", got)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		n, err := b.Parked(ctx, "work")
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d parked, want 1", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := b.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}
