package loadtest

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// TestEndToEndDoor sells a small venue on the real server, then opens the doors with every kind of scan in the
// mix: the door audit passes against the server's answers and counters, each kind of scan got what it must, and
// the reports carry the door.
func TestEndToEndDoor(t *testing.T) {
	t.Parallel()
	base := startServer(t, "admin-door")
	cfg := Config{
		Base: base, Admin: "admin-door",
		Sections: "GA:general:40:4500,A:seated:2x10:9000", HoldTTL: 5 * time.Second, MaxPerFan: 4,
		AdmitPerMin: 60000, MaxActive: 200,
		Fans: 60, Arrival: "spike", Window: 200 * time.Millisecond, Quantity: 2, MixGA: 0.5, MixSeats: 0.5,
		PayServer: 1, Think: 10 * time.Millisecond, Patience: time.Second,
		Workers: 32, MaxConns: 64, Timeout: 5 * time.Second, Retries: 3,
		Duration: 30 * time.Second, Settle: 10 * time.Second, OrderPoll: 20 * time.Millisecond,
		Sample: 100 * time.Millisecond, Seed: 5,
		Door: true, DoorGates: 3, DoorRate: 400,
		DoorTwice: 0.2, DoorForged: 0.2, DoorRevoked: 0.2, DoorReentry: 0.2, DoorReplay: 0.1,
	}
	var progress strings.Builder
	rep, err := Run(context.Background(), cfg, &progress)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", rep.Summary())
	if !rep.Audit.Passed {
		t.Fatalf("sale audit: %+v", rep.Audit)
	}
	d := rep.Door
	if d == nil {
		t.Fatal("no door report")
	}
	if !d.Audit.Checked || !d.Audit.Passed {
		t.Fatalf("door audit: %+v", d.Audit)
	}
	if d.Tickets != rep.Audit.PaidUnits || d.Refunded == 0 || d.OtherEvent == "" || len(d.Notes) != 0 {
		t.Errorf("door: %d tickets for %d paid units, %d refunded, other event %q, notes %v", d.Tickets, rep.Audit.PaidUnits,
			d.Refunded, d.OtherEvent, d.Notes)
	}
	classes := map[string]DoorClass{}
	for _, c := range d.Classes {
		classes[c.Class] = c
		if c.Unexpected != 0 || c.Got[c.Expect] != c.Scans && c.Class != "replay" {
			t.Errorf("class %s: %+v", c.Class, c)
		}
	}
	for _, k := range scanKindNames {
		if classes[k].Scans == 0 {
			t.Errorf("no %s scans: %v", k, d.Classes)
		}
	}
	if d.Audit.Entered != d.Tickets-d.Audit.Revoked || d.Audit.StatsCheckedIn != d.Audit.Entered || d.Audit.Inside != d.Audit.Entered {
		t.Errorf("door audit: %+v", d.Audit)
	}
	var checkin EndpointReport
	for _, e := range rep.Endpoints {
		if e.Endpoint == EpCheckin {
			checkin = e
		}
	}
	if checkin.Requests != d.Scans || checkin.Errors != 0 || checkin.Latency.P99 <= 0 || d.Latency != checkin.Latency {
		t.Errorf("checkin endpoint %+v, door scans %d, latency %+v", checkin, d.Scans, d.Latency)
	}
	var sale int64
	for _, e := range rep.Endpoints {
		if !doorEndpoint(e.Endpoint) {
			sale += e.Requests
		}
	}
	if rep.Totals.Requests != sale {
		t.Errorf("totals count %d requests, the sale's endpoints %d", rep.Totals.Requests, sale)
	}
	if !strings.Contains(progress.String(), "door: ") {
		t.Errorf("no door line in the progress: %q", progress.String())
	}
	if v := rep.Check(Budget{Overall: OverallBudget{AuditMustPass: true}}); len(v) != 0 {
		t.Errorf("audit_must_pass: %v", v)
	}
	var page bytes.Buffer
	if err := rep.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`id="door"`, `id="door-classes"`, "<td>already-used</td>", "<td>wrong-event</td>"} {
		if !strings.Contains(page.String(), s) {
			t.Errorf("the HTML report lacks %q", s)
		}
	}
	if err := rep.WriteJSON(io.Discard); err != nil {
		t.Fatal(err)
	}
}
