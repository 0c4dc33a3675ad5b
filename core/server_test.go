package core

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/onsale/onsale/inventory/memstore"
	"github.com/onsale/onsale/waitroom"
)

// panickyRoom panics on a status poll; its other methods are never called here.
type panickyRoom struct{ Room }

func (panickyRoom) Status(context.Context, string, string) (waitroom.Status, error) { panic("boom") }

type noSettlement struct{ Settlement }

// TestRecover: a handler that panics answers 500 internal as a problem, and the server keeps serving.
func TestRecover(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	s, err := New(Config{}, Deps{Inventory: memstore.New(memstore.Options{}), Room: panickyRoom{}, Settlement: noSettlement{},
		Registerer: reg, Gatherer: reg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	for range 2 {
		var ctx fasthttp.RequestCtx
		ctx.Request.SetRequestURI("/v1/events/e/queue")
		ctx.Request.Header.Set("Queue-Token", "t")
		s.Handler()(&ctx)
		if ctx.Response.StatusCode() != 500 || string(ctx.Response.Header.ContentType()) != "application/problem+json" {
			t.Fatalf("got %d %s %s", ctx.Response.StatusCode(), ctx.Response.Header.ContentType(), ctx.Response.Body())
		}
	}
	if got := testCounter(t, reg, "onsale_http_requests_total", "500"); got != 2 {
		t.Fatalf("counted %v panicking requests, want 2", got)
	}
}

func testCounter(t *testing.T, reg *prometheus.Registry, name, code string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "code" && l.GetValue() == code {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

func TestMatchPath(t *testing.T) {
	t.Parallel()
	cases := []struct {
		path string
		id   int
		arg  string
	}{
		{"/v1/events/tour/holds", pHolds, "tour"},
		{"/v1/events/tour/queue", pQueue, "tour"},
		{"/v1/events/tour/queue/stream", pQueueStream, "tour"},
		{"/v1/events/tour/availability", pAvailability, "tour"},
		{"/v1/holds/tour.abc", pHold, "tour.abc"},
		{"/v1/holds/tour.abc/checkout", pCheckout, "tour.abc"},
		{"/v1/orders/o1", pOrder, "o1"},
		{"/v1/admin/events", pAdminEvents, ""},
		{"/v1/admin/events/tour", pAdminEvent, "tour"},
		{"/v1/admin/events/tour/admission", pAdminAdmission, "tour"},
		{"/v1/admin/events/tour/stats", pAdminStats, "tour"},
		{"/e/tour", pPage, "tour"},
		{"/o/o1", pOrderPage, "o1"},
		{"/o/o1/x", nPatterns, ""},
		{"/o/o1/tickets.pdf", pOrderPDF, "o1"},
		{"/o/", nPatterns, ""},
		{"/scan/tour", pScanPage, "tour"},
		{"/v1/holds/h1/extend", pExtend, "h1"},
		{"/v1/events/tour/seats", pSeats, "tour"},
		{"/", pLanding, ""},
		{"/v1/events", pEvents, ""},
		{"/scan/tour/x", nPatterns, ""},
		{"/assets/jsqr.js", pAsset, "jsqr.js"},
		{"/assets/", nPatterns, ""},
		{"/admin", pAdminPage, ""},
		{"/v1/webhooks/stripe", pWebhook, ""},
		{"/v1/events//holds", nPatterns, ""},
		{"/v1/events/tour/holds/x", nPatterns, ""},
		{"/v1/orders/o1/x", nPatterns, ""},
		{"/nothing", nPatterns, ""},
	}
	for _, c := range cases {
		id, arg := matchPath([]byte(c.path))
		if id != c.id || string(arg) != c.arg {
			t.Errorf("%s: got %d %q, want %d %q", c.path, id, arg, c.id, c.arg)
		}
	}
}
