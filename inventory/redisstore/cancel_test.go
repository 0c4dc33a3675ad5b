package redisstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/onsale/onsale/inventory"
)

// TestCancelKeys: the cancel is one field of the meta; released holds leave the deadline index and their records
// expire as a released hold's do; a sold one keeps its record, its place in the confirmed set and its fan's counters.
func TestCancelKeys(t *testing.T) {
	b := setup(t, Options{})
	ev := b.create(t, testEvent(gaSection("GA", 10, 100), seatedSection("A", 100, 5)))
	held := b.hold(t, inventory.HoldRequest{Event: ev.ID, Fan: "alice", Items: []inventory.Item{item("GA", 2)}, Seats: []string{"A-1-1"}})
	paying := b.hold(t, inventory.HoldRequest{Event: ev.ID, Fan: "bob", Items: []inventory.Item{adjacent("A", 2)}})
	if _, err := b.s.BeginCheckout(b.ctx, paying.ID); err != nil {
		t.Fatal(err)
	}
	sold := b.hold(t, inventory.HoldRequest{Event: ev.ID, Fan: "carol", Items: []inventory.Item{item("GA", 1)}, Seats: []string{"A-1-5"}})
	if _, err := b.s.Confirm(b.ctx, sold.ID); err != nil {
		t.Fatal(err)
	}
	p := b.s.evKey(ev.ID)
	if b.c.HExists(b.ctx, p+"meta", "closed").Val() {
		t.Fatal("a new event is closed")
	}
	n, more, err := b.s.Cancel(b.ctx, ev.ID, 10)
	if err != nil || n != 2 || more {
		t.Fatalf("cancel: %d %t %v", n, more, err)
	}
	if v := b.c.HGet(b.ctx, p+"meta", "closed").Val(); v != "1" {
		t.Fatalf("meta closed %q", v)
	}
	if n := b.c.ZCard(b.ctx, p+"deadline").Val(); n != 0 {
		t.Fatalf("deadline index has %d holds", n)
	}
	for _, h := range []inventory.Hold{held, paying} {
		if ttl := b.c.PTTL(b.ctx, p+"hold:"+h.ID).Val(); ttl <= 24*time.Hour {
			t.Fatalf("released hold's record: ttl %s", ttl)
		}
	}
	if ttl := b.c.PTTL(b.ctx, p+"hold:"+sold.ID).Val(); ttl != -1 {
		t.Fatalf("sold hold's record expires in %s", ttl)
	}
	if !b.c.SIsMember(b.ctx, p+"confirmed", sold.ID).Val() {
		t.Fatal("sold hold left the confirmed set")
	}
	f := b.c.MGet(b.ctx, p+"fan:alice", p+"fan:bob", p+"fan:carol", p+"bought:carol").Val()
	if toStr(f[0]) != "0" || toStr(f[1]) != "0" || toStr(f[2]) != "2" || toStr(f[3]) != "2" {
		t.Fatalf("fans' units %v", f)
	}
	if seats := b.c.Get(b.ctx, p+"seats:A").Val(); seats != "0000s" {
		t.Fatalf("seats %q", seats)
	}
	st, err := b.s.Stats(b.ctx, ev.ID)
	if err != nil || !st.Cancelled {
		t.Fatalf("stats: %+v, %v", st, err)
	}
	b.auditClean(t, ev.ID)
}

// TestCancelRefusesBatch: one call of the hold script on a cancelled event refuses every hold it carries, of every
// path (common, general, seated, replay by key), and writes nothing.
func TestCancelRefusesBatch(t *testing.T) {
	b := setup(t, Options{})
	ev := b.create(t, testEvent(gaSection("GA", 10, 100), seatedSection("A", 100, 5)))
	keyed := inventory.HoldRequest{Event: ev.ID, Fan: "alice", Items: []inventory.Item{item("GA", 1)}, IdempotencyKey: "k1"}
	keyed.Fingerprint = inventory.RequestFingerprint(keyed)
	b.hold(t, keyed)
	if _, _, err := b.s.Cancel(b.ctx, ev.ID, 10); err != nil {
		t.Fatal(err)
	}
	before, err := b.s.Stats(b.ctx, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	reqs := []inventory.HoldRequest{
		{Event: ev.ID, Fan: "bob", Items: []inventory.Item{item("GA", 1)}},
		keyed,
		{Event: ev.ID, Fan: "bob", Items: []inventory.Item{item("GA", 1), adjacent("A", 2)}},
		{Event: ev.ID, Fan: "carol", Seats: []string{"A-1-3"}},
		{Event: ev.ID, Fan: "carol", Items: []inventory.Item{item("GA", 2)}},
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
	for i, c := range calls {
		err := c.err
		if err == nil {
			_, err = holdFromReply(c, reqs[i].Fan, c.v)
		}
		if !errors.Is(err, inventory.ErrEventClosed) {
			t.Fatalf("hold %d: %v", i, err)
		}
		if n := b.c.Exists(b.ctx, c.keys[1]).Val(); n != 0 {
			t.Fatalf("hold %d: its record was written", i)
		}
	}
	after, err := b.s.Stats(b.ctx, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !after.Cancelled || len(after.Sections) != len(before.Sections) {
		t.Fatalf("stats %+v", after)
	}
	for i := range after.Sections {
		if after.Sections[i] != before.Sections[i] {
			t.Fatalf("section changed: %+v, was %+v", after.Sections[i], before.Sections[i])
		}
	}
	b.auditClean(t, ev.ID)
}
