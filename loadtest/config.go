package loadtest

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"math"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("invalid load test configuration")

// Config says what to rehearse. The zero value of a field takes the default Flags registers.
type Config struct {
	Base  string // server base URL, e.g. http://127.0.0.1:8080
	Admin string // organizer token (static admin token in dev mode)
	Event string // an existing event to target; empty creates one through the admin API

	// The event created when Event is empty.
	Sections    string        // "GA:general:5000:4500,A:seated:20x25:9000" (id:kind:capacity or ROWSxSEATS:price)
	Capacity    int           // when Sections is empty: one general section "GA" of this capacity
	HoldTTL     time.Duration // hold_ttl_s
	CheckoutTTL time.Duration // checkout_ttl_s: how long an order may take to be authorized (pay_by)
	MaxPerFan   int           // max_per_fan
	AdmitPerMin int           // the wave's admit_per_min
	MaxActive   int           // the wave's max_active
	OpenIn      time.Duration // the wave starts this long after the run starts; fans arriving earlier pre-queue

	// The crowd.
	Fans     int           // how many fans arrive
	Arrival  string        // "spike", "ramp" or "steady"
	Window   time.Duration // spike and ramp: the time over which fans arrive
	Rate     float64       // steady: fans per second (default Fans/Window)
	Quantity int           // each fan wants 1..Quantity units
	MixGA    float64       // share of fans asking for a general quantity (when the event has both kinds of section)
	MixSeats float64       // share naming seats; the rest ask for best-available adjacent seats

	// How fans pay, as shares of the fans; the rest confirm pm_card_visa in the page. See payPath.
	PayServer  float64 // check out with payment_method pm_card_visa, confirmed by the server (no page)
	Pay3DS     float64 // confirm pm_card_threeDSecure2Required in the page, then pass 3-D Secure
	Pay3DSFail float64 // the same, then fail 3-D Secure
	Decline    float64 // confirm pm_card_chargeDeclined in the page
	PayLate    float64 // confirm pm_card_authenticationRequired, then pass 3-D Secure only after pay_by

	SSE      float64       // share of fans that follow the status stream instead of polling
	MaxSSE   int           // at most this many open streams; fans beyond it poll
	Think    time.Duration // a fan's pause between steps is uniform in [0, Think]
	Patience time.Duration // a fan who gives up in the queue leaves after uniform [0, Patience] of waiting

	// Abandonment: the probability that a fan gives up at each step.
	AbandonQueue    float64 // leaves the waiting room (DELETE queue)
	AbandonAdmitted float64 // admitted, never holds
	AbandonHold     float64 // holds, then releases the hold (DELETE hold)
	AbandonCheckout float64 // holds, then never checks out (the hold expires)

	// The door, once the sale is over and its payments settled (off unless Door): gates scan every paid ticket.
	Door        bool
	DoorGates   int     // gates scanning at once
	DoorRate    float64 // scans per second over all gates
	DoorTwice   float64 // share of valid tickets scanned again while inside (must be already-used)
	DoorForged  float64 // forged codes, per valid ticket (must be invalid, or wrong-event for another event's)
	DoorRevoked float64 // share of paid orders the organizer refunds before the doors open (must be revoked)
	DoorReentry float64 // share of valid tickets that go out and come back in (ok both times)
	DoorReplay  float64 // share of scans sent again with the same nonce (must replay the first answer)

	// The generator.
	Workers       int           // concurrent requests in flight
	MaxConns      int           // fasthttp connections to the server
	Timeout       time.Duration // per request
	Retries       int           // retries of a timed-out or 5xx request, same Idempotency-Key
	Duration      time.Duration // the run stops after this long, whatever is left
	Settle        time.Duration // after the fans are done, how long to wait for pending orders to settle
	OrderPoll     time.Duration // how often a paying fan polls its order
	Sample        time.Duration // how often the organizer stats are sampled (and progress redrawn)
	Seed          uint64        // seeds the fans' choices; 0 picks one
	RunID         string        // prefixes fan names and the created event id; empty picks one
	DisplayPeriod time.Duration // plain-line progress: one line per this period (a terminal redraws every Sample)

	// What the binary does with the result (Execute; Run ignores them).
	BudgetPath string // budget file; empty checks nothing
	JSONOut    string // report JSON path ("-" for stdout); empty writes none
	HTMLOut    string // report HTML path; empty writes none
}

// Flags registers the load test's flags on fs and returns the Config they fill once fs is parsed.
// Defaults come from ONSALE_LOADTEST_BASE and ONSALE_ADMIN_TOKEN where set.
func Flags(fs *flag.FlagSet) *Config {
	c := &Config{}
	d := Defaults()
	fs.StringVar(&c.Base, "base", cmp.Or(os.Getenv("ONSALE_LOADTEST_BASE"), d.Base), "server base URL")
	fs.StringVar(&c.Admin, "admin", os.Getenv("ONSALE_ADMIN_TOKEN"), "organizer token (to create the event and read its stats)")
	fs.StringVar(&c.Event, "event", "", "target this existing event instead of creating one")
	fs.StringVar(&c.Sections, "sections", "", "sections of the created event: id:general:CAPACITY:PRICE or id:seated:ROWSxSEATS:PRICE, comma separated")
	fs.IntVar(&c.Capacity, "capacity", d.Capacity, "capacity of the created event's single general section when -sections is empty")
	fs.DurationVar(&c.HoldTTL, "hold-ttl", d.HoldTTL, "hold TTL of the created event")
	fs.DurationVar(&c.CheckoutTTL, "checkout-ttl", d.CheckoutTTL, "checkout TTL of the created event: how long an order may take to be paid (pay_by)")
	fs.IntVar(&c.MaxPerFan, "max-per-fan", d.MaxPerFan, "max_per_fan of the created event")
	fs.IntVar(&c.AdmitPerMin, "admit-per-min", d.AdmitPerMin, "admit_per_min of the created event's wave")
	fs.IntVar(&c.MaxActive, "max-active", d.MaxActive, "max_active of the created event's wave")
	fs.DurationVar(&c.OpenIn, "open-in", 0, "open the created event's wave this long after the start (earlier fans pre-queue)")
	fs.IntVar(&c.Fans, "fans", d.Fans, "simulated fans")
	fs.StringVar(&c.Arrival, "arrival", d.Arrival, "arrival curve: spike, ramp or steady")
	fs.DurationVar(&c.Window, "window", d.Window, "spike and ramp: time over which the fans arrive")
	fs.Float64Var(&c.Rate, "rate", 0, "steady: fans per second (default fans/window)")
	fs.IntVar(&c.Quantity, "quantity", d.Quantity, "each fan asks for 1..quantity units")
	fs.Float64Var(&c.MixGA, "mix-general", d.MixGA, "share of holds asking for a general-admission quantity")
	fs.Float64Var(&c.MixSeats, "mix-seats", d.MixSeats, "share of holds naming seats (the rest ask for best-available adjacent seats)")
	fs.Float64Var(&c.PayServer, "pay-server", d.PayServer, "share of checkouts with payment_method pm_card_visa, confirmed by the server (fans in no -pay-* or -decline share confirm pm_card_visa in the page)")
	fs.Float64Var(&c.Pay3DS, "pay-3ds", d.Pay3DS, "share of checkouts confirmed with a 3-D Secure card that passes authentication")
	fs.Float64Var(&c.Pay3DSFail, "pay-3ds-fail", d.Pay3DSFail, "share of checkouts confirmed with a 3-D Secure card that fails authentication")
	fs.Float64Var(&c.Decline, "decline", d.Decline, "share of checkouts confirmed in the page with a declining card (pm_card_chargeDeclined)")
	fs.Float64Var(&c.PayLate, "pay-late", d.PayLate, "share of checkouts that pass 3-D Secure only after pay_by (must end failed hold-expired)")
	fs.Float64Var(&c.SSE, "sse", d.SSE, "share of fans following the status stream instead of polling")
	fs.IntVar(&c.MaxSSE, "max-sse", d.MaxSSE, "most status streams open at once")
	fs.DurationVar(&c.Think, "think", d.Think, "a fan's pause between steps, uniform in [0, think]")
	fs.DurationVar(&c.Patience, "patience", d.Patience, "a fan who leaves the queue does so within this much waiting")
	fs.Float64Var(&c.AbandonQueue, "abandon-queue", d.AbandonQueue, "probability a fan leaves the waiting room")
	fs.Float64Var(&c.AbandonAdmitted, "abandon-admitted", d.AbandonAdmitted, "probability an admitted fan never holds")
	fs.Float64Var(&c.AbandonHold, "abandon-hold", d.AbandonHold, "probability a fan releases its hold")
	fs.Float64Var(&c.AbandonCheckout, "abandon-checkout", d.AbandonCheckout, "probability a fan never checks out its hold")
	fs.BoolVar(&c.Door, "door", false, "after the sale, open the doors: gates scan every paid ticket, with the adversarial mix of the -door-* shares, and the door is audited")
	fs.IntVar(&c.DoorGates, "door-gates", d.DoorGates, "gates scanning at once")
	fs.Float64Var(&c.DoorRate, "door-rate", d.DoorRate, "scans per second over all gates")
	fs.Float64Var(&c.DoorTwice, "door-twice", d.DoorTwice, "share of valid tickets scanned a second time, at the same or another gate (must be already-used)")
	fs.Float64Var(&c.DoorForged, "door-forged", d.DoorForged, "forged codes per valid ticket: a flipped byte, truncated, junk, another event's (must be invalid or wrong-event)")
	fs.Float64Var(&c.DoorRevoked, "door-revoked", d.DoorRevoked, "share of paid orders refunded by the organizer before the doors open (their tickets must be revoked)")
	fs.Float64Var(&c.DoorReentry, "door-reentry", d.DoorReentry, "share of valid tickets that exit and enter again")
	fs.Float64Var(&c.DoorReplay, "door-replay", d.DoorReplay, "share of scans sent again with the same nonce (must replay the first answer)")
	fs.IntVar(&c.Workers, "workers", d.Workers, "requests in flight at most")
	fs.IntVar(&c.MaxConns, "max-conns", d.MaxConns, "connections to the server at most")
	fs.DurationVar(&c.Timeout, "timeout", d.Timeout, "per-request timeout")
	fs.IntVar(&c.Retries, "retries", d.Retries, "retries of a timed-out or 5xx request (same Idempotency-Key)")
	fs.DurationVar(&c.Duration, "duration", d.Duration, "stop the run after this long")
	fs.DurationVar(&c.Settle, "settle", d.Settle, "wait this long for pending orders to settle before the audit")
	fs.DurationVar(&c.OrderPoll, "order-poll", d.OrderPoll, "how often a paying fan polls its order")
	fs.DurationVar(&c.Sample, "sample", d.Sample, "how often to sample the event's stats")
	fs.Uint64Var(&c.Seed, "seed", 0, "seed of the fans' choices (0 picks one)")
	fs.StringVar(&c.RunID, "run-id", "", "prefix of fan names and of the created event id (default random)")
	fs.StringVar(&c.BudgetPath, "budget", "", "budget file; a missed budget exits with status 1")
	fs.StringVar(&c.JSONOut, "json", "", "write the JSON report here (- for stdout)")
	fs.StringVar(&c.HTMLOut, "html", "", "write the HTML report here")
	return c
}

// Defaults returns the configuration every zero field falls back on.
func Defaults() Config {
	return Config{
		Base:            "http://127.0.0.1:8080",
		Capacity:        1000,
		HoldTTL:         2 * time.Minute,
		CheckoutTTL:     30 * time.Second,
		MaxPerFan:       4,
		AdmitPerMin:     60000,
		MaxActive:       2000,
		Fans:            10000,
		Arrival:         "spike",
		Window:          10 * time.Second,
		Quantity:        2,
		MixGA:           0.5,
		MixSeats:        0.5,
		PayServer:       0.10,
		Pay3DS:          0.15,
		Pay3DSFail:      0.05,
		Decline:         0.05,
		PayLate:         0.05,
		SSE:             0.05,
		MaxSSE:          500,
		Think:           500 * time.Millisecond,
		Patience:        30 * time.Second,
		AbandonQueue:    0.05,
		AbandonAdmitted: 0.02,
		AbandonHold:     0.03,
		AbandonCheckout: 0.02,
		DoorGates:       4,
		DoorRate:        200,
		DoorTwice:       0.05,
		DoorForged:      0.02,
		DoorRevoked:     0.05,
		DoorReentry:     0.02,
		DoorReplay:      0.01,
		Workers:         256,
		MaxConns:        512,
		Timeout:         5 * time.Second,
		Retries:         3,
		Duration:        5 * time.Minute,
		Settle:          30 * time.Second,
		OrderPoll:       250 * time.Millisecond,
		Sample:          time.Second,
		DisplayPeriod:   5 * time.Second,
	}
}

// withDefaults fills zero fields. Shares and probabilities are taken as given: 0 is a meaningful share.
func (c Config) withDefaults() Config {
	d := Defaults()
	c.Base = cmp.Or(c.Base, d.Base)
	c.Capacity = cmp.Or(c.Capacity, d.Capacity)
	c.HoldTTL = cmp.Or(c.HoldTTL, d.HoldTTL)
	c.CheckoutTTL = cmp.Or(c.CheckoutTTL, d.CheckoutTTL)
	c.MaxPerFan = cmp.Or(c.MaxPerFan, d.MaxPerFan)
	c.AdmitPerMin = cmp.Or(c.AdmitPerMin, d.AdmitPerMin)
	c.MaxActive = cmp.Or(c.MaxActive, d.MaxActive)
	c.Fans = cmp.Or(c.Fans, d.Fans)
	c.Arrival = cmp.Or(c.Arrival, d.Arrival)
	c.Window = cmp.Or(c.Window, d.Window)
	c.Quantity = cmp.Or(c.Quantity, d.Quantity)
	c.MaxSSE = cmp.Or(c.MaxSSE, d.MaxSSE)
	c.Patience = cmp.Or(c.Patience, d.Patience)
	c.DoorGates = cmp.Or(c.DoorGates, d.DoorGates)
	c.DoorRate = cmp.Or(c.DoorRate, d.DoorRate)
	c.Workers = cmp.Or(c.Workers, d.Workers)
	c.MaxConns = cmp.Or(c.MaxConns, d.MaxConns)
	c.Timeout = cmp.Or(c.Timeout, d.Timeout)
	c.Duration = cmp.Or(c.Duration, d.Duration)
	c.Settle = cmp.Or(c.Settle, d.Settle)
	c.OrderPoll = cmp.Or(c.OrderPoll, d.OrderPoll)
	c.Sample = cmp.Or(c.Sample, d.Sample)
	c.DisplayPeriod = cmp.Or(c.DisplayPeriod, d.DisplayPeriod)
	return c
}

// validate checks a defaulted configuration once, before anything is sent.
func (c Config) validate() error {
	u, err := url.Parse(c.Base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: -base %q is not an http(s) URL", ErrConfig, c.Base)
	}
	if c.Admin == "" {
		return fmt.Errorf("%w: -admin is required (the organizer token creates the event and reads its stats)", ErrConfig)
	}
	if _, err := ParseCurve(c.Arrival, c.Fans, c.Window, c.Rate); err != nil {
		return err
	}
	if c.Event == "" {
		if _, err := ParseSections(c.sectionSpec()); err != nil {
			return err
		}
	}
	for name, p := range map[string]float64{
		"mix-general": c.MixGA, "mix-seats": c.MixSeats, "sse": c.SSE,
		"pay-server": c.PayServer, "pay-3ds": c.Pay3DS, "pay-3ds-fail": c.Pay3DSFail, "decline": c.Decline, "pay-late": c.PayLate,
		"abandon-queue": c.AbandonQueue, "abandon-admitted": c.AbandonAdmitted,
		"abandon-hold": c.AbandonHold, "abandon-checkout": c.AbandonCheckout,
		"door-twice": c.DoorTwice, "door-forged": c.DoorForged, "door-revoked": c.DoorRevoked,
		"door-reentry": c.DoorReentry, "door-replay": c.DoorReplay,
	} {
		if p < 0 || p > 1 {
			return fmt.Errorf("%w: -%s %v is not a share in [0, 1]", ErrConfig, name, p)
		}
	}
	if sum := c.PayServer + c.Pay3DS + c.Pay3DSFail + c.Decline + c.PayLate; sum > 1+1e-9 {
		return fmt.Errorf("%w: -pay-server, -pay-3ds, -pay-3ds-fail, -decline and -pay-late add up to %v > 1", ErrConfig, sum)
	}
	switch {
	case c.Fans < 1:
		return fmt.Errorf("%w: -fans must be at least 1", ErrConfig)
	case c.Quantity < 1:
		return fmt.Errorf("%w: -quantity must be at least 1", ErrConfig)
	case c.Workers < 1 || c.MaxConns < 1 || c.MaxSSE < 0:
		return fmt.Errorf("%w: -workers and -max-conns must be at least 1", ErrConfig)
	case c.Retries < 0 || c.Think < 0 || c.OpenIn < 0:
		return fmt.Errorf("%w: -retries, -think and -open-in cannot be negative", ErrConfig)
	case c.HoldTTL < time.Second || c.HoldTTL > time.Hour:
		return fmt.Errorf("%w: -hold-ttl must be 1s to 1h", ErrConfig)
	case c.CheckoutTTL < time.Second || c.CheckoutTTL > time.Hour:
		return fmt.Errorf("%w: -checkout-ttl must be 1s to 1h", ErrConfig)
	case c.DoorGates < 1 || c.DoorGates > maxGates:
		return fmt.Errorf("%w: -door-gates must be 1 to %d", ErrConfig, maxGates)
	case !(c.DoorRate > 0) || math.IsInf(c.DoorRate, 0):
		return fmt.Errorf("%w: -door-rate must be a positive number of scans per second", ErrConfig)
	}
	return nil
}

func (c Config) sectionSpec() string {
	if c.Sections != "" {
		return c.Sections
	}
	return "GA:general:" + strconv.Itoa(c.Capacity) + ":4500"
}

// SectionSpec is one section of the event a run creates, or of the event it targets.
type SectionSpec struct {
	ID       string    `json:"id"`
	Kind     string    `json:"kind"` // "general" or "seated"
	Capacity int       `json:"capacity,omitempty"`
	Price    int64     `json:"price"`
	Rows     []RowSpec `json:"rows,omitempty"`
}

// RowSpec is one row of a seated section.
type RowSpec struct {
	Row   string `json:"row"`
	Seats int    `json:"seats"`
}

// units is the section's capacity, counting the seats of a seated one.
func (s SectionSpec) units() int {
	if s.Kind != "seated" {
		return s.Capacity
	}
	n := 0
	for _, r := range s.Rows {
		n += r.Seats
	}
	return n
}

// ParseSections reads "GA:general:5000:4500,A:seated:20x25:9000": id, kind, capacity (general) or ROWSxSEATS
// (seated, rows named 1..ROWS), and price in minor units (optional, default 4500).
func ParseSections(spec string) ([]SectionSpec, error) {
	var out []SectionSpec
	seen := map[string]bool{}
	for part := range strings.SplitSeq(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		f := strings.Split(part, ":")
		if len(f) < 3 || len(f) > 4 || f[0] == "" {
			return nil, fmt.Errorf("%w: section %q is not id:kind:size[:price]", ErrConfig, part)
		}
		s := SectionSpec{ID: f[0], Kind: f[1], Price: 4500}
		if seen[s.ID] {
			return nil, fmt.Errorf("%w: section %q appears twice", ErrConfig, s.ID)
		}
		seen[s.ID] = true
		if len(f) == 4 {
			p, err := strconv.ParseInt(f[3], 10, 64)
			if err != nil || p < 0 {
				return nil, fmt.Errorf("%w: section %q: price %q", ErrConfig, part, f[3])
			}
			s.Price = p
		}
		switch s.Kind {
		case "general":
			n, err := strconv.Atoi(f[2])
			if err != nil || n < 1 {
				return nil, fmt.Errorf("%w: section %q: capacity %q", ErrConfig, part, f[2])
			}
			s.Capacity = n
		case "seated":
			r, c, ok := strings.Cut(f[2], "x")
			rows, err1 := strconv.Atoi(r)
			seats, err2 := strconv.Atoi(c)
			if !ok || err1 != nil || err2 != nil || rows < 1 || seats < 1 || rows*seats > 1_000_000 {
				return nil, fmt.Errorf("%w: section %q: %q is not ROWSxSEATS", ErrConfig, part, f[2])
			}
			for i := 1; i <= rows; i++ {
				s.Rows = append(s.Rows, RowSpec{Row: strconv.Itoa(i), Seats: seats})
			}
			s.Capacity = rows * seats
		default:
			return nil, fmt.Errorf("%w: section %q: kind %q is neither general nor seated", ErrConfig, part, s.Kind)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no sections", ErrConfig)
	}
	return out, nil
}
