package loadtest

import (
	"errors"
	"testing"
	"time"
)

func TestCurvesAreMonotoneAndBounded(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"spike", "ramp", "steady"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			c, err := ParseCurve(kind, 10000, 10*time.Second, 0)
			if err != nil {
				t.Fatal(err)
			}
			if c.At(0) != 0 {
				t.Fatalf("first fan arrives at %v, want 0", c.At(0))
			}
			prev := time.Duration(-1)
			for i := range c.Fans {
				at := c.At(i)
				if at < prev {
					t.Fatalf("fan %d arrives at %v before fan %d at %v", i, at, i-1, prev)
				}
				if at > c.Window {
					t.Fatalf("fan %d arrives at %v after the window %v", i, at, c.Window)
				}
				prev = at
			}
			if prev < c.Window*9/10 {
				t.Fatalf("last fan arrives at %v, want close to the window end %v", prev, c.Window)
			}
		})
	}
}

// arrivedBy counts the fans that arrived by d.
func arrivedBy(c Curve, d time.Duration) int {
	n := 0
	for i := range c.Fans {
		if c.At(i) <= d {
			n++
		}
	}
	return n
}

func TestCurveShapes(t *testing.T) {
	t.Parallel()
	const fans = 10000
	w := 10 * time.Second
	spike, _ := ParseCurve("spike", fans, w, 0)
	ramp, _ := ParseCurve("ramp", fans, w, 0)
	steady, _ := ParseCurve("steady", fans, 0, 500)

	// Spike: the first 10 % of the window takes 1−e^−0.5 ≈ 39.5 % of the crowd (normalised by 1−e^−5).
	if got := arrivedBy(spike, w/10); got < 3900 || got > 4000 {
		t.Errorf("spike: %d fans by 1s, want ≈3950", got)
	}
	// Ramp: half the window takes a quarter of the crowd.
	if got := arrivedBy(ramp, w/2); got < 2450 || got > 2550 {
		t.Errorf("ramp: %d fans by 5s, want ≈2500", got)
	}
	// Steady at 500/s: 20 s in all, 500 fans per second throughout.
	if steady.Window != 20*time.Second {
		t.Errorf("steady: window %v, want 20s", steady.Window)
	}
	if got := arrivedBy(steady, 3*time.Second) - arrivedBy(steady, 2*time.Second); got != 500 {
		t.Errorf("steady: %d fans in the third second, want 500", got)
	}
	// Steady without a rate spreads the fans over the window.
	even, _ := ParseCurve("steady", fans, w, 0)
	if even.Rate != 1000 {
		t.Errorf("steady over 10s: rate %v, want 1000", even.Rate)
	}
}

func TestParseCurveRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		kind   string
		fans   int
		window time.Duration
		rate   float64
	}{
		{"flood", 10, time.Second, 0},
		{"spike", 0, time.Second, 0},
		{"spike", 10, 0, 0},
		{"ramp", 10, -time.Second, 0},
		{"steady", 10, 0, 0},
		{"steady", 10, time.Second, -1},
	} {
		if _, err := ParseCurve(tc.kind, tc.fans, tc.window, tc.rate); !errors.Is(err, ErrConfig) {
			t.Errorf("ParseCurve(%q, %d, %v, %v) = %v, want ErrConfig", tc.kind, tc.fans, tc.window, tc.rate, err)
		}
	}
}
