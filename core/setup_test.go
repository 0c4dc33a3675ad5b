package core_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/onsale/onsale/core"
	"github.com/onsale/onsale/internal/testserver"
	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/settlement/memledger"
	"github.com/onsale/onsale/settlement/testpay"
	"github.com/onsale/onsale/waitroom"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// net/http's client keeps idle connections' goroutines until they time out.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		// fasthttp keeps one process-wide date updater, and its worker pool's cleaner sleeps out its interval.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"),
	)
}

// clock is a test clock: the real time plus an offset the test moves.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// env is a whole service on the embedded adapters, listening on 127.0.0.1:0.
type env struct {
	t      testing.TB
	base   string
	admin  string
	srv    *core.Server
	inv    inventory.Store
	room   *waitroom.Room
	settl  *settlement.Service
	ledger *memledger.Ledger
	pay    *testpay.Payments
	reg    *prometheus.Registry
	clock  *clock
	client *http.Client
}

type options struct {
	cfg    core.Config
	checks []core.Check
	inv    inventory.Store // default: the embedded store on the test clock
	room   waitroom.Store  // default: the embedded waiting-room store
	roomOn bool            // the room runs on the test clock too
	// wrapRoom and wrapSettlement, when set, stand between the server and the waiting room or the settlement.
	wrapRoom       func(core.Room) core.Room
	wrapSettlement func(core.Settlement) core.Settlement
}

func setup(t testing.TB, opts ...func(*options)) *env {
	t.Helper()
	o := options{cfg: core.Config{AdminToken: "admin-" + t.Name(), Loops: true, SweepEvery: 100 * time.Millisecond}}
	for _, f := range opts {
		f(&o)
	}
	var log *slog.Logger // discarded
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	clk := &clock{}
	var ropts waitroom.Options
	if o.roomOn {
		ropts.Now = clk.Now
	}
	s := testserver.Start(t, testserver.Options{Config: o.cfg, Checks: o.checks, Inventory: o.inv, RoomStore: o.room,
		Room: ropts, Now: clk.Now, WrapRoom: o.wrapRoom, WrapSettlement: o.wrapSettlement, Logger: log})
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	t.Cleanup(client.CloseIdleConnections)
	return &env{t: t, base: s.Base, admin: o.cfg.AdminToken, srv: s.Core, inv: s.Inventory, room: s.Room,
		settl: s.Settlement, ledger: s.Ledger, pay: s.Payments, reg: s.Registry, clock: clk, client: client}
}

// reply is an HTTP reply with its JSON body decoded.
type reply struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

func (r reply) str(k string) string { s, _ := r.body[k].(string); return s }

func (r reply) String() string { return fmt.Sprintf("%d %s", r.status, r.raw) }

// do sends a request; body is a string (sent as is) or a value (sent as JSON); hdr is name, value pairs.
func (e *env) do(method, path string, body any, hdr ...string) reply {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := reply{status: res.StatusCode, header: res.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func (e *env) adminAuth() []string { return []string{"Authorization", "Bearer " + e.admin} }

// eventDef is a small event with general admission and one seated row, open at once.
func eventDef(id string, ga, seats, maxPerFan int) map[string]any {
	return map[string]any{"id": id, "name": "Test " + id, "currency": "EUR", "hold_ttl_s": 60, "max_per_fan": maxPerFan,
		"sections": []any{
			map[string]any{"id": "GA", "kind": "general", "capacity": ga, "price": 4500},
			map[string]any{"id": "A", "kind": "seated", "price": 9000, "rows": []any{map[string]any{"row": "1", "seats": seats}}}},
		"waves": []any{map[string]any{"id": "all", "starts_at": time.Now().UTC().Add(-time.Second).Format(time.RFC3339),
			"admit_per_min": 60000, "max_active": 10000}}}
}

func (e *env) createEvent(def map[string]any) {
	e.t.Helper()
	if r := e.do("POST", "/v1/admin/events", def, e.adminAuth()...); r.status != 201 {
		e.t.Fatalf("create event: %v", r)
	}
}

// admit joins the queue as fan and polls until admitted; it returns the access token.
func (e *env) admit(event, fan string) string {
	e.t.Helper()
	r := e.do("POST", "/v1/events/"+event+"/queue", map[string]any{"fan": fan})
	if r.status != 201 && r.status != 200 {
		e.t.Fatalf("join: %v", r)
	}
	qt := r.str("queue_token")
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		r = e.do("GET", "/v1/events/"+event+"/queue", nil, "Queue-Token", qt)
		if r.status != 200 {
			e.t.Fatalf("status: %v", r)
		}
		if t := r.str("queue_token"); t != "" {
			qt = t
		}
		if r.str("state") == "admitted" {
			return r.str("access_token")
		}
		time.Sleep(10 * time.Millisecond) // the poll interval a client would keep, shortened
	}
	e.t.Fatalf("%s not admitted in time: %v", fan, r)
	return ""
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// waitOrder polls an order until it reaches a terminal status.
func (e *env) waitOrder(id, access string) reply {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := e.do("GET", "/v1/orders/"+id, nil, bearer(access)...)
		switch r.str("status") {
		case "paid", "failed", "refunded":
			return r
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("order %s not settled: %v", id, r)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
