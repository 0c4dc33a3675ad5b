package core_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/onsale/onsale/internal/testenv"
	"github.com/onsale/onsale/waitroom"
	roomredis "github.com/onsale/onsale/waitroom/redisstore"
)

// redisRoom is a waiting-room store on the shared Redis under a key prefix of the test's own, deleted at the end.
func redisRoom(t *testing.T) waitroom.Store {
	t.Helper()
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	prefix := testenv.Unique("coretest")
	t.Cleanup(func() {
		ctx := context.Background()
		var keys []string
		for iter := rdb.Scan(ctx, 0, prefix+":*", 1000).Iterator(); iter.Next(ctx); {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			rdb.Unlink(ctx, keys...)
		}
		rdb.Close()
	})
	return roomredis.New(rdb, prefix)
}

// TestAbandonedFansFreeTheirSlots: a sale with two active slots where admitted fans give up in every way a fan
// can (release the hold, a declined payment, told sold-out while nothing is available, a hold left to expire and
// then idleness) still moves the queue at once and sells out, on both waiting-room stores. Without freeing, each
// of these fans would keep a slot for the whole access (10 min) and the next fan would not be admitted.
func TestAbandonedFansFreeTheirSlots(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"mem", "redis"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			e := setup(t, func(o *options) {
				o.roomOn = true
				if kind == "redis" {
					o.room = redisRoom(t)
				}
			})
			ev := "abandon-" + kind
			e.createEvent(map[string]any{"id": ev, "name": "Abandon", "currency": "EUR", "hold_ttl_s": 60, "max_per_fan": 2, "idle_ttl_s": 120,
				"sections": []any{map[string]any{"id": "GA", "kind": "general", "capacity": 2, "price": 4500}},
				"waves": []any{map[string]any{"id": "all", "starts_at": time.Now().UTC().Add(-time.Second).Format(time.RFC3339),
					"admit_per_min": 60000, "max_active": 2}}})
			queue := map[string]string{}
			for _, fan := range []string{"f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8"} {
				r := e.do("POST", "/v1/events/"+ev+"/queue", map[string]any{"fan": fan})
				if r.status != 201 {
					t.Fatalf("join %s: %v", fan, r)
				}
				queue[fan] = r.str("queue_token")
			}
			stats := func() reply { return e.do("GET", "/v1/admin/events/"+ev+"/stats", nil, e.adminAuth()...) }
			num := func(r reply, k string) int { f, _ := r.body[k].(float64); return int(f) }
			hold := func(tok string, n int) reply {
				return e.do("POST", "/v1/events/"+ev+"/holds", map[string]any{"items": []any{map[string]any{"section": "GA", "quantity": n}}}, bearer(tok)...)
			}
			pay := func(tok, hold, card string) reply {
				o := e.do("POST", "/v1/holds/"+hold+"/checkout", map[string]any{"payment_method": card}, bearer(tok)...)
				if o.status != 202 {
					t.Fatalf("checkout: %v", o)
				}
				return e.waitOrder(o.str("order_id"), tok)
			}
			f1, f2 := e.admit(ev, "f1"), e.admit(ev, "f2")
			if a := num(stats(), "admitted"); a != 2 {
				t.Fatalf("admitted %d with two slots", a)
			}

			// (b) f1 gives its hold back: f3 comes in.
			h := hold(f1, 1)
			if r := e.do("DELETE", "/v1/holds/"+h.str("hold_id"), nil, bearer(f1)...); r.status != 204 {
				t.Fatalf("release: %v", r)
			}
			f3 := e.admit(ev, "f3")

			// (a) f2's payment is declined: the order fails and f4 comes in.
			h = hold(f2, 1)
			if o := pay(f2, h.str("hold_id"), "pm_card_chargeDeclined"); o.str("status") != "failed" {
				t.Fatalf("declined order: %v", o)
			}
			f4 := e.admit(ev, "f4")

			// (c) f3 holds everything; f4 is told sold-out with nothing available and stops counting.
			h3 := hold(f3, 2)
			if h3.status != 201 {
				t.Fatalf("hold all: %v", h3)
			}
			if r := hold(f4, 1); r.status != 409 {
				t.Fatalf("hold with nothing left: %v", r)
			}
			eventually(t, "the sold-out fan's slot is freed", func() bool { return num(stats(), "active") == 1 })

			// f3's hold expires: the units come back and f5 comes in; f3 still counts for a grace after its hold ends.
			e.clock.Advance(61 * time.Second)
			f5 := e.admit(ev, "f5")
			if st := e.do("GET", "/v1/events/"+ev+"/queue", nil, "Queue-Token", queue["f6"]); st.str("state") != "waiting" {
				t.Fatalf("f6 while f3 and f5 are active: %v", st)
			}
			// (d) f3 makes no call during the grace: f6 comes in.
			e.clock.Advance(70 * time.Second)
			f6 := e.admit(ev, "f6")

			// f5 and f6 buy the last two units; the queue closes and nobody waits for a place any more.
			for _, tok := range []string{f5, f6} {
				h := hold(tok, 1)
				if h.status != 201 {
					t.Fatalf("hold: %v", h)
				}
				if o := pay(tok, h.str("hold_id"), "pm_card_visa"); o.str("status") != "paid" {
					t.Fatalf("order: %v", o)
				}
			}
			state := func(fan string) string {
				return e.do("GET", "/v1/events/"+ev+"/queue", nil, "Queue-Token", queue[fan]).str("state")
			}
			eventually(t, "the queue closes as sold out", func() bool { return state("f7") == "sold-out" })
			if st := state("f8"); st != "sold-out" {
				t.Fatalf("f8 after the sale: %s", st)
			}
			// The last buyer's slot is freed by the booking event, which settles after the order reads paid.
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				s := stats()
				if num(s, "queued") == 0 && num(s, "admitted") == 6 && num(s, "active") == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("stats after the sale: %v", s)
				}
			}
		})
	}
}
