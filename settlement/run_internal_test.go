package settlement

import (
	"testing"
	"time"
)

// TestRelayLingerFollowsTheBacklog: a round that found few rows lingers briefly, one that found a quarter of a
// RelayBatch or more lingers RelayLinger, and a RelayLinger below the floor is kept.
func TestRelayLingerFollowsTheBacklog(t *testing.T) {
	s := New(nil, nil, nil, nil, Options{RelayBatch: 512, RelayLinger: 100 * time.Millisecond})
	for _, c := range []struct {
		rows int
		want time.Duration
	}{
		{0, minRelayLinger},
		{1, minRelayLinger},
		{32, 25 * time.Millisecond},
		{64, 50 * time.Millisecond},
		{127, 100 * time.Millisecond * 127 / 128},
		{128, 100 * time.Millisecond},
		{256, 100 * time.Millisecond},
		{1000, 100 * time.Millisecond},
	} {
		if got := s.lingerAfter(c.rows); got != c.want {
			t.Errorf("lingerAfter(%d) = %s, want %s", c.rows, got, c.want)
		}
	}
	short := New(nil, nil, nil, nil, Options{RelayBatch: 256, RelayLinger: time.Millisecond})
	if got := short.lingerAfter(0); got != time.Millisecond {
		t.Errorf("lingerAfter(0) with RelayLinger 1ms = %s, want 1ms", got)
	}
	one := New(nil, nil, nil, nil, Options{RelayBatch: 1, RelayLinger: 100 * time.Millisecond})
	if got := one.lingerAfter(1); got != 100*time.Millisecond {
		t.Errorf("lingerAfter(1) with RelayBatch 1 = %s, want 100ms", got)
	}
}
