package redisstore

import (
	"errors"
	"testing"

	"github.com/onsale/onsale/inventory"
)

// FuzzHoldFromReply feeds the hold reply decoder arbitrary stored fields (a hash edited by hand, a damaged key):
// it must return a hold or an error, never panic.
func FuzzHoldFromReply(f *testing.F) {
	f.Add("new", "ev.aaaaaaaaaaaaaaaaaaaa", "held", "GA:2:100;A:1:50", "A-1-1", "EUR", "1795654319568", "1795654919568")
	f.Add("replay", "ev.aaaaaaaaaaaaaaaaaaaa", "confirmed", "", "", "", "0", "0")
	f.Add("ERR", "SOLD_OUT GA", "", "", "", "", "", "")
	f.Add("new", "x", "held", "GA::;:", " ", "EUR", "-1", "9999999999999999999999")
	f.Fuzz(func(t *testing.T, kind, id, st, lines, seats, cur, ca, ex string) {
		c := &holdCall{event: "ev", id: "ev.new", shared: []any{cur, ca, ex}}
		for _, v := range []any{kind + lines + "\n" + seats, lines, []any{kind, lines, seats}, []any{kind, id, st, lines, seats, ca, ex}} {
			h, err := holdFromReply(c, "fan", v)
			if err == nil && h.ID != id && h.ID != c.id {
				t.Fatalf("hold id %q from reply id %q", h.ID, id)
			}
		}
	})
}

// FuzzAuditSnapshot feeds the audit comparison arbitrary allocations and seat strings: differences, never a panic.
func FuzzAuditSnapshot(f *testing.F) {
	f.Add("GA|2|;A|1|3", "000hs", "held", int64(3))
	f.Add("A|1|99", "0", "confirmed", int64(1))
	f.Add("||;|x|1,2,", "", "", int64(-1))
	f.Fuzz(func(t *testing.T, alloc, seats, st string, units int64) {
		v := []any{
			[]any{[]any{"GA", "10", "8", "2", "0", "0", "general", ""}, []any{"A", int64(len(seats)), "0", "0", "0", "0", "seated", seats}},
			[]any{[]any{"ev.h", st, units, alloc, "fan", "deadline"}},
			[]any{[]any{"fan", "1", "0"}},
		}
		snap, err := decodeSnapshot(v)
		if err != nil {
			return
		}
		_ = snap.compare()
	})
}

func TestScriptErrors(t *testing.T) {
	t.Parallel()
	for msg, want := range map[string]error{
		"SOLD_OUT GA":            inventory.ErrSoldOut,
		"INVALID unknown seat":   inventory.ErrInvalid,
		"IDEM_REUSED":            inventory.ErrIdempotencyReused,
		"HOLD_EXPIRED released":  inventory.ErrHoldExpired,
		"INVALID_STATE checkout": inventory.ErrInvalidState,
		"NOT_FOUND hold":         inventory.ErrNotFound,
		"EVENT_CLOSED":           inventory.ErrEventClosed,
	} {
		if err := codeErr(msg); !errors.Is(err, want) {
			t.Errorf("%q: got %v, want %v", msg, err, want)
		}
	}
	if err := codeErr("WRONGTYPE Operation against a key"); err != nil {
		t.Errorf("a Redis error became %v", err)
	}
}

// TestHoldTimes reads a hold's times from numbers (a script's reply) and strings (a stored record); a record without
// them or with a malformed one is corrupt, not a hold of 1970.
func TestHoldTimes(t *testing.T) {
	c := &holdCall{event: "ev", id: "ev.new", shared: []any{"EUR", int64(1795654319568), "1795654919568"}}
	h, err := holdFromReply(c, "fan", "GA:2:100\n")
	if err != nil || h.CreatedAt.UnixMilli() != 1795654319568 || h.ExpiresAt.UnixMilli() != 1795654919568 || h.Total != 200 {
		t.Fatalf("hold %+v, %v", h, err)
	}
	for _, rec := range []string{"held", "held\nsoon\n1795654319568\nGA:1:1\n\n\nfan", "held\n1795654919568\n\nGA:1:1\n\n\nfan"} {
		if _, err := holdFromPairs("ev.h", []any{"cur", "EUR", "h", rec}); !errors.Is(err, errCorrupt) {
			t.Fatalf("record %q: %v", rec, err)
		}
	}
	if _, err := holdFromPairs("ev.h", []any{"cur", "EUR", "h", "held\n1795654919568\n1795654319568\nGA:1:1\n\n\nfan"}); err != nil {
		t.Fatal(err)
	}
}
