package inventory

import (
	"errors"
	"strings"
	"testing"
)

func TestValidEventID(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]bool{
		"spring-tour_2026":      true,
		"a":                     true,
		"9":                     true,
		strings.Repeat("a", 64): true,
		strings.Repeat("a", 65): false,
		"":                      false,
		"-a":                    false,
		"_a":                    false,
		"a.b":                   false,
		"a b":                   false,
		"é":                     false,
	} {
		if got := ValidEventID(id); got != want {
			t.Errorf("ValidEventID(%q) = %t, want %t", id, got, want)
		}
	}
}

func TestHoldID(t *testing.T) {
	t.Parallel()
	seen := make(map[string]bool)
	for range 1000 {
		id := NewHoldID("tour-1")
		if seen[id] {
			t.Fatalf("NewHoldID repeated %s", id)
		}
		seen[id] = true
		ev, ok := EventOfHold(id)
		if !ok || ev != "tour-1" || len(id) != len("tour-1")+21 {
			t.Fatalf("EventOfHold(%q) = %q, %t", id, ev, ok)
		}
	}
	for _, bad := range []string{
		"", "tour-1", "tour-1.", ".abcdefghijklmnopqrst", "tour-1.abcdefghijklmnopqrs", "tour-1.abcdefghijklmnopqrstu",
		"tour-1.ABCDEFGHIJKLMNOPQRST", "tour-1.abcdefghijklmnopqrs1", "to ur.abcdefghijklmnopqrst",
		"a.b.abcdefghijklmnopqrst",
	} {
		if ev, ok := EventOfHold(bad); ok {
			t.Errorf("EventOfHold(%q) = %q, ok", bad, ev)
		}
	}
}

func TestParseSeatID(t *testing.T) {
	t.Parallel()
	good := []struct {
		id, section, row string
		n                int
	}{
		{"A-1-5", "A", "1", 5},
		{"Floor_B-AA-2000", "Floor_B", "AA", 2000},
		{"x-y-123456789", "x", "y", 123456789},
	}
	for _, c := range good {
		s, r, n, err := ParseSeatID(c.id)
		if err != nil || s != c.section || r != c.row || n != c.n {
			t.Errorf("ParseSeatID(%q) = %q, %q, %d, %v", c.id, s, r, n, err)
		}
		if back := SeatID(s, r, n); back != c.id {
			t.Errorf("SeatID(%q, %q, %d) = %q", s, r, n, back)
		}
	}
	for _, bad := range []string{
		"", "A", "A-1", "A-1-", "-1-1", "A--1", "A-1-0", "A-1-05", "A-1--5", "A-1-5-6", "A-1-+5", "A-1-5a",
		"A-1-1234567890", "A.B-1-1", "A-1 -1", strings.Repeat("A", 33) + "-1-1", "A-" + strings.Repeat("1", 17) + "-1",
	} {
		if s, r, n, err := ParseSeatID(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseSeatID(%q) = %q, %q, %d, %v; want ErrInvalid", bad, s, r, n, err)
		}
	}
}

func FuzzParseSeatID(f *testing.F) {
	for _, s := range []string{"A-1-5", "A-1-05", "Floor_B-AA-2000", "A--1", "A-1-5-6", "", "-", "--", "A-1-999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		s, r, n, err := ParseSeatID(id)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseSeatID(%q): %v is not ErrInvalid", id, err)
			}
			return
		}
		if !ValidSectionID(s) || !ValidRowLabel(r) || n < 1 {
			t.Fatalf("ParseSeatID(%q) accepted %q, %q, %d", id, s, r, n)
		}
		if back := SeatID(s, r, n); back != id {
			t.Fatalf("ParseSeatID(%q) does not round-trip: %q", id, back)
		}
	})
}

func FuzzEventOfHold(f *testing.F) {
	for _, s := range []string{"tour-1.abcdefghijklmnopqrst", "tour-1.", ".", "a.b.c", "x.abcdefghijklmnopqrs7", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		ev, ok := EventOfHold(id)
		if !ok {
			return
		}
		if !ValidEventID(ev) || !strings.HasPrefix(id, ev+".") || len(id) != len(ev)+21 {
			t.Fatalf("EventOfHold(%q) = %q", id, ev)
		}
		for _, c := range id[len(ev)+1:] {
			if !strings.ContainsRune(holdAlphabet, c) {
				t.Fatalf("EventOfHold(%q) accepted suffix character %q", id, c)
			}
		}
	})
}

func TestFingerprint(t *testing.T) {
	t.Parallel()
	if Fingerprint("ab", "c") == Fingerprint("a", "bc") {
		t.Fatal("Fingerprint does not separate parts")
	}
	if got := Fingerprint("a", "b"); got != Fingerprint("a", "b") || len(got) != 64 {
		t.Fatalf("Fingerprint: %q", got)
	}
	req := HoldRequest{Event: "e", Fan: "f", Items: []Item{{Section: "A", Quantity: 2}}, Seats: []string{"A-1-2", "A-1-1"}}
	same := req
	same.Seats = []string{"A-1-1", "A-1-2"}
	if RequestFingerprint(req) != RequestFingerprint(same) {
		t.Fatal("RequestFingerprint depends on seat order")
	}
	other := req
	other.Items = []Item{{Section: "A", Quantity: 2, Adjacent: true}}
	if RequestFingerprint(req) == RequestFingerprint(other) {
		t.Fatal("RequestFingerprint ignores adjacent")
	}
}
