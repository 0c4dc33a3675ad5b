package amqpbus_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onsale/onsale/internal/testenv"
	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/settlement/amqpbus"
)

// BenchmarkBusRoundTrip publishes b.N saga messages in relay-sized rounds of 256 and consumes them with a
// handler that acknowledges at once, plain (batch=1) and in envelopes. Besides the time it reports the broker's
// CPU per saga message (beam.smp's user and system time from /proc, when the broker runs on this machine).
//
//	go test -run '^$' -bench BusRoundTrip -benchtime 20000x ./settlement/amqpbus/
func BenchmarkBusRoundTrip(b *testing.B) {
	for _, batch := range []int{1, 16, 64, 256} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			bus, err := amqpbus.Dial(ctx, testenv.AMQPURL(b), amqpbus.Options{Prefix: testenv.Unique("onsale_bench_"), Batch: batch})
			if err != nil {
				b.Fatal(err)
			}
			defer func() {
				_ = bus.Teardown(context.Background())
				_ = bus.Close()
			}()
			q := settlement.Queue{Name: "work", Bind: "job.*", Prefetch: 64}
			if err := bus.Declare(ctx, q); err != nil {
				b.Fatal(err)
			}
			var got atomic.Int64
			all := make(chan struct{})
			cctx, stop := context.WithCancel(ctx)
			consumed := make(chan struct{})
			go func() {
				defer close(consumed)
				_ = bus.Consume(cctx, q, func(context.Context, settlement.Delivery) settlement.Outcome {
					if got.Add(1) == int64(b.N) {
						close(all)
					}
					return settlement.Ack
				})
			}()
			body := []byte(`{"hold_id": "h_0123456789abcdef", "order_id": "ord_abcdefghijklmnopqrstuvwxyz"}`)
			beam0 := beamTicks()
			b.ResetTimer()
			for sent := 0; sent < b.N; {
				msgs := make([]settlement.Message, 0, 256)
				for ; sent < b.N && len(msgs) < 256; sent++ {
					msgs = append(msgs, settlement.Message{ID: strconv.Itoa(sent), Topic: "job.x", Body: body})
				}
				if ids, err := bus.Publish(ctx, msgs); err != nil || len(ids) != len(msgs) {
					b.Fatalf("publish: %d of %d: %v", len(ids), len(msgs), err)
				}
			}
			select {
			case <-all:
			case <-ctx.Done():
				b.Fatalf("%d of %d consumed", got.Load(), b.N)
			}
			b.StopTimer()
			if beam0 >= 0 {
				hz := 100.0 // USER_HZ, as /proc counts
				b.ReportMetric(float64(beamTicks()-beam0)/hz/float64(b.N)*1e6, "broker-µs/msg")
			}
			stop()
			<-consumed
		})
	}
}

// beamTicks is the oldest beam.smp process's user and system time in clock ticks, or -1.
func beamTicks() int64 {
	out, err := exec.Command("pgrep", "-o", "beam.smp").Output()
	if err != nil {
		return -1
	}
	stat, err := os.ReadFile("/proc/" + strings.TrimSpace(string(out)) + "/stat")
	if err != nil {
		return -1
	}
	s := string(stat)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from the third on
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return u + st
}
