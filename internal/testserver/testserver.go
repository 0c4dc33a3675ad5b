// Package testserver starts the whole service inside a test: core's HTTP API over the waiting room, the inventory
// and the settlement, wired as `onsale serve` wires them with no backend configured, listening on 127.0.0.1:0. It
// stops the service when the test ends and fails the test unless the shutdown was clean.
package testserver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/onsale/onsale/core"
	"github.com/onsale/onsale/inventory"
	invmem "github.com/onsale/onsale/inventory/memstore"
	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/settlement/membus"
	"github.com/onsale/onsale/settlement/memledger"
	"github.com/onsale/onsale/settlement/testpay"
	"github.com/onsale/onsale/waitroom"
	roommem "github.com/onsale/onsale/waitroom/memstore"
)

// Secret is the token key of every test server.
var Secret = []byte("0123456789abcdef0123456789abcdef")

// Options change the default wiring; the zero value is the embedded service with short loop intervals.
type Options struct {
	Config core.Config
	Checks []core.Check
	// Inventory defaults to the embedded store on Now; RoomStore to the embedded waiting-room store.
	Inventory inventory.Store
	RoomStore waitroom.Store
	// Room are the waiting room's options: Secret, Tick and Refresh default to Secret and 20 ms; the registry and
	// the logger are the server's.
	Room waitroom.Options
	// Now is the default inventory's clock (default time.Now).
	Now func() time.Time
	// WrapRoom and WrapSettlement, when set, stand between the HTTP API and the waiting room or the settlement.
	WrapRoom       func(core.Room) core.Room
	WrapSettlement func(core.Settlement) core.Settlement
	Logger         *slog.Logger // default: discarded
}

// Server is a running service and its parts.
type Server struct {
	Base       string // http://127.0.0.1:port
	Core       *core.Server
	Inventory  inventory.Store
	Room       *waitroom.Room
	Settlement *settlement.Service
	Ledger     *memledger.Ledger
	Payments   *testpay.Payments
	Registry   *prometheus.Registry
}

// Start runs the service until the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	reg := prometheus.NewRegistry()
	inv := o.Inventory
	if inv == nil {
		inv = invmem.New(invmem.Options{Now: o.Now})
	}
	roomStore := o.RoomStore
	if roomStore == nil {
		roomStore = roommem.New()
	}
	ropts := o.Room
	if ropts.Secret == nil {
		ropts.Secret = Secret
	}
	if ropts.Tick == 0 {
		ropts.Tick = 20 * time.Millisecond
	}
	if ropts.Refresh == 0 {
		ropts.Refresh = 20 * time.Millisecond
	}
	ropts.Registerer, ropts.Logger = reg, log
	room, err := waitroom.New(roomStore, core.Stock{Inventory: inv}, ropts)
	if err != nil {
		t.Fatal(err)
	}
	pay := testpay.New()
	ledger := memledger.New()
	settl := settlement.New(ledger, membus.New(), pay, inv, settlement.Options{
		WebhookSecret: "whsec_test", Registerer: reg, Logger: log, OnBooking: core.FinishOnSettled(room, log),
		RelayIdle: 20 * time.Millisecond, ReturnURL: func(o settlement.Order) string { return "/e/" + o.Event + "?order=" + o.ID }})
	pay.SetNotify(func(ctx context.Context, pi string) {
		if err := settl.PaymentChanged(ctx, pi); err != nil {
			log.Warn("apply a test payment's change", "payment_intent", pi, "err", err)
		}
	})
	var coreRoom core.Room = room
	if o.WrapRoom != nil {
		coreRoom = o.WrapRoom(room)
	}
	var coreSettl core.Settlement = settl
	if o.WrapSettlement != nil {
		coreSettl = o.WrapSettlement(settl)
	}
	srv, err := core.New(o.Config, core.Deps{Inventory: inv, Room: coreRoom, Settlement: coreSettl, TestPayments: pay, Checks: o.Checks,
		Registerer: reg, Gatherer: reg, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 3)
	go func() { done <- room.Run(ctx) }()
	go func() { done <- settl.Run(ctx) }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := srv.Shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		cancel()
		for range 3 {
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("background: %v", err)
			}
		}
	})
	return &Server{Base: "http://" + ln.Addr().String(), Core: srv, Inventory: inv, Room: room, Settlement: settl,
		Ledger: ledger, Payments: pay, Registry: reg}
}
