package core

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestAppendTime holds the hand-written time format to time.RFC3339Nano, across centuries, leap days, the
// fallback years and fractions with trailing zeros.
func TestAppendTime(t *testing.T) {
	t.Parallel()
	times := []time.Time{
		time.Unix(0, 0), time.Unix(-1, 0), time.Unix(-86400, 1), time.Unix(951782400, 0), // 2000-02-29
		time.Date(1600, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2100, 2, 28, 23, 59, 59, 999999999, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 100, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 26, 4, 0, 0, 120000000, time.FixedZone("x", 5*3600+1800)), time.Now(),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		sec := rng.Int64N(20_000*365*86400) - 10_000*365*86400
		ns := rng.Int64N(1e9)
		switch rng.IntN(3) {
		case 0:
			ns = ns / 1e6 * 1e6
		case 1:
			ns = 0
		}
		times = append(times, time.Unix(sec, ns))
	}
	for _, tm := range times {
		want := `"` + tm.UTC().Format(time.RFC3339Nano) + `"`
		if got := string(appendTime(nil, tm)); got != want {
			t.Fatalf("%v: got %s, want %s", tm, got, want)
		}
	}
}

func BenchmarkAppendTime(b *testing.B) {
	tm := time.Now()
	buf := make([]byte, 0, 64)
	b.Run("own", func(b *testing.B) {
		for b.Loop() {
			buf = appendTime(buf[:0], tm)
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		for b.Loop() {
			buf = append(tm.UTC().AppendFormat(append(buf[:0], '"'), time.RFC3339Nano), '"')
		}
	})
}
