package membus_test

import (
	"testing"

	"github.com/onsale/onsale/settlement/membus"
)

func TestMatch(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		pattern, key string
		want         bool
	}{
		{"payment.*", "payment.requested", true},
		{"payment.*", "payment.requested.again", false},
		{"payment.*", "payment", false},
		{"booking.#", "booking", true},
		{"booking.#", "booking.confirmed", true},
		{"booking.#", "booking.a.b", true},
		{"#", "anything.at.all", true},
		{"*.confirmed", "booking.confirmed", true},
		{"booking.*", "payment.requested", false},
		{"a.#.z", "a.b.c.z", true},
		{"a.#.z", "a.z", true},
		{"a.#.z", "a.b.c", false},
	} {
		if got := membus.Match(c.pattern, c.key); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.pattern, c.key, got, c.want)
		}
	}
}
