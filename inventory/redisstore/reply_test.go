package redisstore

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/onsale/onsale/inventory"
)

// The entries a hold script call answers a common hold with: one general line, and two adjacent seats.
var (
	benchShared  = []any{"EUR", int64(1795654319568), int64(1795654919568)}
	benchReplies = map[string]any{
		"general": "GA:1:100\n",
		"seated":  "S:2:100\nS-A-1 S-A-2",
		"lines":   "GA:2:100;A:1:50;B:3:75\n",
		"soldout": []any{"ERR", "SOLD_OUT GA"},
		"replay":  []any{"replay", "ev.aaaaaaaaaaaaaaaaaaaa", "held", "GA:2:100", "", int64(1795654319568), int64(1795654919568)},
	}
)

// BenchmarkHoldFromReply measures reading one hold's entry of the hold script's reply into a Hold.
func BenchmarkHoldFromReply(b *testing.B) {
	for _, name := range []string{"general", "seated", "lines", "replay", "soldout"} {
		v := benchReplies[name]
		b.Run(name, func(b *testing.B) {
			c := &holdCall{event: "ev", id: "ev.aaaaaaaaaaaaaaaaaaaa", shared: benchShared}
			b.ReportAllocs()
			for b.Loop() {
				_, err := holdFromReply(c, "fan", v)
				if (err != nil) != (name == "soldout") {
					b.Fatal(err)
				}
				if err != nil {
					_ = err.Error() // as an HTTP answer reads it
				}
			}
		})
	}
}

// BenchmarkHoldCall measures building one hold's part of the hold script's command.
func BenchmarkHoldCall(b *testing.B) {
	s := &Store{prefix: "onsale"}
	for name, req := range map[string]inventory.HoldRequest{
		"general": {Event: "ev1", Fan: "fan-1234", Items: []inventory.Item{{Section: "GA", Quantity: 1}}},
		"seats":   {Event: "ev1", Fan: "fan-1234", Seats: []string{"S-A-1", "S-A-2"}, IdempotencyKey: "k1", Fingerprint: "fp"},
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c, err := s.holdCall(req)
				if err != nil {
					b.Fatal(err)
				}
				c.free()
			}
		})
	}
}

// TestReadLines checks the reply's lines and seats read as a plain split reads them, malformed numbers included.
func TestReadLines(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ lines, seats string }{
		{"", ""}, {"GA:1:100", ""}, {"GA:2:100;A:1:50", "A-1-1"}, {";GA:1:1;;", " "}, {"GA::;:", "a  b "},
		{"GA:-3:+7", "x"}, {"GA:1:99999999999999999999", ""}, {"GA:1", "S-A-1 S-A-2 S-A-3"}, {"GA:x1:2", ""},
	} {
		got := holdFields{lines: tc.lines}
		lines, units, total := got.readLines()
		seats := readSeats(tc.seats)
		want := holdFields{}
		var wantLines []inventory.Line
		var wantUnits int
		var wantTotal int64
		for part := range strings.SplitSeq(tc.lines, ";") {
			if part == "" {
				continue
			}
			sec, rest, _ := strings.Cut(part, ":")
			q, price, _ := strings.Cut(rest, ":")
			l := inventory.Line{Section: sec, Quantity: int(want.num(q)), UnitPrice: want.num(price)}
			l.Amount = l.UnitPrice * int64(l.Quantity)
			wantLines = append(wantLines, l)
			wantUnits += l.Quantity
			wantTotal += l.Amount
		}
		var wantSeats []string
		if tc.seats != "" {
			wantSeats = strings.Split(tc.seats, " ")
		}
		if !slices.Equal(lines, wantLines) || units != wantUnits || total != wantTotal || (got.err == nil) != (want.err == nil) {
			t.Errorf("lines %q: %v %d %d %v, want %v %d %d %v", tc.lines, lines, units, total, got.err, wantLines, wantUnits, wantTotal, want.err)
		}
		if !slices.Equal(seats, wantSeats) || cap(seats) != len(seats) {
			t.Errorf("seats %q: %q (cap %d), want %q", tc.seats, seats, cap(seats), wantSeats)
		}
	}
}

// TestSlab takes slices from many goroutines at once: each is zeroed, of capacity its length, and no two overlap.
func TestSlab(t *testing.T) {
	t.Parallel()
	s := slab[int]{size: 64, max: 8}
	const workers, takes = 8, 2000
	var wg sync.WaitGroup
	got := make([][][]int, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range takes {
				n := 1 + (i+w)%10 // some above max
				x := s.take(n)
				if len(x) != n || cap(x) != n {
					t.Errorf("take(%d): len %d cap %d", n, len(x), cap(x))
					return
				}
				for k := range x {
					if x[k] != 0 {
						t.Errorf("take(%d): not zeroed", n)
						return
					}
					x[k] = w*takes + i + 1
				}
				got[w] = append(got[w], x)
			}
		})
	}
	wg.Wait()
	for w := range got {
		for i, x := range got[w] {
			for k := range x {
				if x[k] != w*takes+i+1 {
					t.Fatalf("worker %d take %d: overwritten by %d", w, i, x[k])
				}
			}
		}
	}
}

// TestRefusal checks a refused hold's error reads as the formatted errors it replaces and unwraps to its domain error.
func TestRefusal(t *testing.T) {
	t.Parallel()
	c := &holdCall{event: "ev", id: "ev.new", shared: benchShared}
	for _, msg := range []string{"SOLD_OUT GA", "LIMIT_EXCEEDED", "SEATS_UNAVAILABLE A-1-1 A-1-2", "INVALID unknown section X"} {
		_, err := holdFromReply(c, "fan", []any{"ERR", msg})
		code, detail, _ := strings.Cut(msg, " ")
		dom := scriptErrors[code]
		want := dom
		if detail != "" {
			want = fmt.Errorf("%w: %s", dom, detail)
		}
		if err == nil || err.Error() != want.Error() || !errors.Is(err, dom) {
			t.Fatalf("%q: %v, want %v", msg, err, want)
		}
		re, ok := err.(*refusal)
		if !ok {
			t.Fatalf("%q: %T", msg, err)
		}
		re.event, re.fan, re.named = "ev", "fan", true
		if wrapped := fmt.Errorf("hold %s for %s: %w", "ev", "fan", want); re.Error() != wrapped.Error() {
			t.Fatalf("%q: %q, want %q", msg, re.Error(), wrapped.Error())
		}
	}
	if _, err := holdFromReply(c, "fan", []any{"ERR", "WRONGTYPE Operation"}); err == nil || errors.As(err, new(*refusal)) {
		t.Fatalf("an unknown code became %v", err)
	}
}
