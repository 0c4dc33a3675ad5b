package novu_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/settlement/novu"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"))
}

var booking = settlement.BookingEvent{Type: settlement.TopicBookingConfirmed, OrderID: "ord_1", Event: "tour", Fan: "alice",
	OrderURL: "https://tickets.example/o/ord_1?t=o1.x",
	Status:   settlement.Paid, Seats: []string{"A-1-1"}, Total: 9000, Currency: "EUR"}

func TestTrigger(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.Method != http.MethodPost || r.URL.Path != "/v1/events/trigger" || r.Header.Get("Authorization") != "ApiKey secret-key" {
			t.Errorf("%s %s auth %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
		}
		var body struct {
			Name          string            `json:"name"`
			To            map[string]string `json:"to"`
			Payload       map[string]any    `json:"payload"`
			TransactionID string            `json:"transactionId"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Error(err)
		}
		if body.Name != "booking-wf" || body.To["subscriberId"] != "alice" || body.Payload["order_id"] != "ord_1" ||
			body.Payload["total"] != float64(9000) || body.TransactionID != "ord_1:booking.confirmed" ||
			body.Payload["order_url"] != booking.OrderURL {
			t.Errorf("body %+v", body)
		}
		if n == 1 {
			w.WriteHeader(http.StatusBadGateway) // a transient failure first
			return
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"data":{"acknowledged":true,"status":"processed"}}`))
	}))
	defer srv.Close()
	n, err := novu.New(novu.Options{BaseURL: srv.URL + "/", APIKey: "secret-key", Workflow: "booking-wf"})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), booking); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 {
		t.Fatalf("%d calls, want a retry after the 502", calls.Load())
	}
}

func TestRefusedIsNotRetried(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"message":"API Key not found"}`))
	}))
	defer srv.Close()
	n, _ := novu.New(novu.Options{BaseURL: srv.URL, APIKey: "wrong"})
	if err := n.Notify(context.Background(), booking); err == nil {
		t.Fatal("a 401 passed")
	}
	if calls.Load() != 1 {
		t.Fatalf("%d calls", calls.Load())
	}
	n.OnBooking(context.Background(), booking) // logs, does not panic
	if err := n.Notify(context.Background(), settlement.BookingEvent{}); !errors.Is(err, settlement.ErrInvalid) {
		t.Fatalf("empty event: %v", err)
	}
}

func TestNotConfigured(t *testing.T) {
	t.Parallel()
	if _, err := novu.New(novu.Options{}); !errors.Is(err, novu.ErrNotConfigured) {
		t.Fatal(err)
	}
}
