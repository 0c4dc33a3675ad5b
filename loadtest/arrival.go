package loadtest

import (
	"fmt"
	"math"
	"time"
)

// Curve says when each of n fans arrives, as an offset from the start of the run. It is deterministic: fan i of n
// always arrives at the same offset, so runs are comparable and the curve is testable.
type Curve struct {
	Kind   string        // "spike", "ramp" or "steady"
	Fans   int           // how many fans arrive
	Window time.Duration // spike and ramp: the span of arrivals; steady: Fans/Rate
	Rate   float64       // steady: fans per second
}

// spikeDecay is how many time constants of the spike's exponential decay fit in its window: e^-5 ≈ 0.7 % of the
// arrival rate at open is left at the window's end, like a crowd that was waiting for the minute of the on-sale.
const spikeDecay = 5

// ParseCurve validates an arrival curve. For steady, rate 0 spreads the fans evenly over the window.
func ParseCurve(kind string, fans int, window time.Duration, rate float64) (Curve, error) {
	c := Curve{Kind: kind, Fans: fans, Window: window, Rate: rate}
	if fans < 1 {
		return Curve{}, fmt.Errorf("%w: at least one fan must arrive", ErrConfig)
	}
	if rate < 0 || math.IsNaN(rate) || math.IsInf(rate, 0) {
		return Curve{}, fmt.Errorf("%w: arrival rate %v", ErrConfig, rate)
	}
	switch kind {
	case "spike", "ramp":
		if window <= 0 {
			return Curve{}, fmt.Errorf("%w: %s arrivals need a positive window", ErrConfig, kind)
		}
	case "steady":
		if rate == 0 {
			if window <= 0 {
				return Curve{}, fmt.Errorf("%w: steady arrivals need a rate or a window", ErrConfig)
			}
			c.Rate = float64(fans) / window.Seconds()
		}
		c.Window = time.Duration(float64(fans) / c.Rate * float64(time.Second))
	default:
		return Curve{}, fmt.Errorf("%w: arrival curve %q is not spike, ramp or steady", ErrConfig, kind)
	}
	return c, nil
}

// At returns when fan i (0 ≤ i < Fans) arrives. Offsets never decrease with i and never exceed Window.
//   - steady: a constant rate, i/Rate.
//   - ramp: the arrival rate grows linearly from 0 to its peak at the window's end, so the number arrived by t is
//     Fans·(t/W)²; inverted, t_i = W·√(i/Fans).
//   - spike: most fans arrive at open and the rate decays exponentially (time constant W/5); the number arrived by
//     t is proportional to 1−e^(−t/τ), inverted for fan i.
func (c Curve) At(i int) time.Duration {
	if i <= 0 || c.Fans <= 1 {
		return 0
	}
	if i >= c.Fans {
		i = c.Fans - 1
	}
	q := float64(i) / float64(c.Fans)
	w := float64(c.Window)
	var t float64
	switch c.Kind {
	case "steady":
		t = float64(i) / c.Rate * float64(time.Second)
	case "ramp":
		t = w * math.Sqrt(q)
	case "spike":
		tau := w / spikeDecay
		t = -tau * math.Log(1-q*(1-math.Exp(-spikeDecay)))
	}
	return min(time.Duration(t), c.Window)
}
