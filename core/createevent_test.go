package core_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/onsale/onsale/core"
	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/waitroom"
)

var errInjected = errors.New("injected failure")

// flakyRoom fails the next Configure when armed.
type flakyRoom struct {
	core.Room
	fail atomic.Bool
}

func (r *flakyRoom) Configure(ctx context.Context, cfg waitroom.Config) error {
	if r.fail.CompareAndSwap(true, false) {
		return errInjected
	}
	return r.Room.Configure(ctx, cfg)
}

// flakySettlement fails the next RegisterEvent when armed.
type flakySettlement struct {
	core.Settlement
	fail atomic.Bool
}

func (s *flakySettlement) RegisterEvent(ctx context.Context, ev inventory.Event) error {
	if s.fail.CompareAndSwap(true, false) {
		return errInjected
	}
	return s.Settlement.RegisterEvent(ctx, ev)
}

// TestCreateEventRetry: a create that fails after the inventory step leaves an event a retry with the same
// definition finishes (201), while another definition under the id stays a conflict that changes nothing.
func TestCreateEventRetry(t *testing.T) {
	t.Parallel()
	for _, step := range []string{"settlement", "room"} {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			room, settl := &flakyRoom{}, &flakySettlement{}
			e := setup(t, func(o *options) {
				o.wrapRoom = func(r core.Room) core.Room { room.Room = r; return room }
				o.wrapSettlement = func(s core.Settlement) core.Settlement { settl.Settlement = s; return settl }
			})
			if step == "room" {
				room.fail.Store(true)
			} else {
				settl.fail.Store(true)
			}
			ctx := context.Background()
			id := "half-" + step
			def := eventDef(id, 10, 4, 4)
			adm := e.adminAuth()
			problem(t, "failing step", e.do("POST", "/v1/admin/events", def, adm...), 500, "internal")
			if _, err := e.inv.Event(ctx, id); err != nil {
				t.Fatalf("the inventory step should have happened: %v", err)
			}
			problem(t, "join a half-created event", e.do("POST", "/v1/events/"+id+"/queue", map[string]any{"fan": "alice"}), 404, "not-found")

			// Another definition under the id: a conflict that touches neither the room nor the ledger.
			other := eventDef(id, 11, 4, 4)
			problem(t, "other definition", e.do("POST", "/v1/admin/events", other, adm...), 409, "conflict")
			if _, err := e.room.Stats(ctx, id); !errors.Is(err, waitroom.ErrNotFound) {
				t.Fatalf("room after a conflict: %v, want not found", err)
			}
			if step == "settlement" {
				if _, err := e.ledger.Event(ctx, id); !errors.Is(err, settlement.ErrNotFound) {
					t.Fatalf("ledger after a conflict: %v, want not found", err)
				}
			}

			// The same definition finishes the create.
			r := e.do("POST", "/v1/admin/events", def, adm...)
			if r.status != 201 || r.str("id") != id || r.body["capacity"] != float64(14) {
				t.Fatalf("retry: %v", r)
			}
			stored, err := e.inv.Event(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			ledger, err := e.ledger.Event(ctx, id)
			if err != nil {
				t.Fatalf("ledger after the retry: %v", err)
			}
			if a, b := mustJSON(t, stored), mustJSON(t, ledger); a != b {
				t.Fatalf("ledger holds %s, inventory %s", b, a)
			}
			if st, err := e.room.Stats(ctx, id); err != nil || st.AdmitPerMin != 60000 {
				t.Fatalf("room after the retry: %+v, %v", st, err)
			}
			// Once complete, the id is in use, whatever the definition.
			problem(t, "create a complete event again", e.do("POST", "/v1/admin/events", def, adm...), 409, "conflict")

			// And the event sells.
			tok := e.admit(id, "alice")
			r = e.do("POST", "/v1/events/"+id+"/holds", `{"items":[{"section":"GA","quantity":2}]}`, bearer(tok)...)
			if r.status != 201 {
				t.Fatalf("hold: %v", r)
			}
			r = e.do("POST", "/v1/holds/"+r.str("hold_id")+"/checkout", `{"payment_method":"pm_card_visa"}`, bearer(tok)...)
			if r.status != 202 {
				t.Fatalf("checkout: %v", r)
			}
			if o := e.waitOrder(r.str("order_id"), tok); o.str("status") != "paid" {
				t.Fatalf("order: %v", o)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestEventRoomTTLs: an event may carry its own claim window and idle life; GET shows the ones in force, and a
// value out of range is a 400 that creates nothing.
func TestEventRoomTTLs(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for i, bad := range []any{0, -5, 601, "30", 1.5} {
		for _, field := range []string{"claim_ttl_s", "idle_ttl_s"} {
			def := eventDef(fmt.Sprintf("bad-ttl-%d", i), 10, 4, 4)
			def[field] = bad
			r := e.do("POST", "/v1/admin/events", def, e.adminAuth()...)
			problem(t, fmt.Sprintf("%s %v", field, bad), r, 400, "bad-request")
			if !strings.Contains(r.str("detail"), field) {
				t.Errorf("%s %v: the detail does not name the field: %v", field, bad, r)
			}
		}
	}
	def := eventDef("ttl-own", 10, 4, 4)
	def["claim_ttl_s"], def["idle_ttl_s"] = 20, 40
	e.createEvent(def)
	r := e.do("GET", "/v1/admin/events/ttl-own", nil, e.adminAuth()...)
	if r.status != 200 || r.body["claim_ttl_s"] != float64(20) || r.body["idle_ttl_s"] != float64(40) {
		t.Fatalf("GET the event: %v", r)
	}
	e.createEvent(eventDef("ttl-default", 10, 4, 4))
	r = e.do("GET", "/v1/admin/events/ttl-default", nil, e.adminAuth()...)
	if r.status != 200 || r.body["claim_ttl_s"].(float64) < 1 || r.body["idle_ttl_s"].(float64) < 1 {
		t.Fatalf("GET an event without its own: %v", r)
	}
}
