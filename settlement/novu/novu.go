// Package novu sends booking events to Novu (notifications: email, SMS, push) by triggering a workflow over
// Novu's HTTP API. It is an optional consumer: cmd wires Notifier.OnBooking into settlement.Options.OnBooking
// when an API key is configured.
package novu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/onsale/onsale/settlement"
)

// Options configure a Notifier. Zero values take the defaults in brackets.
type Options struct {
	BaseURL    string       // [https://api.novu.co]
	APIKey     string       // required
	Workflow   string       // the workflow (trigger identifier) to run [onsale-booking]
	HTTPClient *http.Client // [a client with a 10 s timeout]
	Attempts   int          // tries on a network error or a 5xx/429 answer [3]
	Logger     *slog.Logger // [slog.Default()]
}

// ErrNotConfigured is returned by New without an API key.
var ErrNotConfigured = errors.New("novu: no API key")

// Notifier triggers a Novu workflow per booking event.
type Notifier struct {
	opts Options
	log  *slog.Logger
}

// New returns a Notifier, or ErrNotConfigured without an API key.
func New(opts Options) (*Notifier, error) {
	if opts.APIKey == "" {
		return nil, ErrNotConfigured
	}
	if opts.BaseURL == "" {
		opts.BaseURL = "https://api.novu.co"
	}
	opts.BaseURL = strings.TrimRight(opts.BaseURL, "/")
	if opts.Workflow == "" {
		opts.Workflow = "onsale-booking"
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 3
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Notifier{opts: opts, log: opts.Logger.With(slog.String("component", "novu"))}, nil
}

// trigger is the body of POST /v1/events/trigger.
type trigger struct {
	Name          string         `json:"name"`
	To            subscriber     `json:"to"`
	Payload       map[string]any `json:"payload"`
	TransactionID string         `json:"transactionId"` // Novu ignores a repeated id, so redeliveries notify once
}

type subscriber struct {
	SubscriberID string `json:"subscriberId"`
}

// Notify triggers the workflow for one booking event, addressed to the fan as the Novu subscriber.
func (n *Notifier) Notify(ctx context.Context, ev settlement.BookingEvent) error {
	if ev.Fan == "" || ev.OrderID == "" || ev.Type == "" {
		return fmt.Errorf("%w: booking event without fan, order or type", settlement.ErrInvalid)
	}
	body, err := json.Marshal(trigger{
		Name: n.opts.Workflow,
		To:   subscriber{SubscriberID: ev.Fan},
		Payload: map[string]any{
			"type": ev.Type, "order_id": ev.OrderID, "event": ev.Event, "status": ev.Status,
			"seats": ev.Seats, "items": ev.Lines, "total": ev.Total, "currency": ev.Currency, "reason": ev.Reason,
			"order_url": ev.OrderURL,
		},
		TransactionID: ev.OrderID + ":" + ev.Type,
	})
	if err != nil {
		return fmt.Errorf("novu: %w", err)
	}
	var last error
	for attempt := range n.opts.Attempts {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
			}
		}
		retry, err := n.post(ctx, body)
		if err == nil {
			return nil
		}
		last = err
		if !retry {
			break
		}
	}
	return last
}

func (n *Notifier) post(ctx context.Context, body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.opts.BaseURL+"/v1/events/trigger", bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("novu: %w", err)
	}
	req.Header.Set("Authorization", "ApiKey "+n.opts.APIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.opts.HTTPClient.Do(req)
	if err != nil {
		return true, fmt.Errorf("novu: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode/100 == 2 {
		return false, nil
	}
	retry = resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
	return retry, fmt.Errorf("novu: trigger: %s: %s", resp.Status, bytes.TrimSpace(msg))
}

// OnBooking notifies and logs a failure; it has the shape of settlement.Options.OnBooking.
func (n *Notifier) OnBooking(ctx context.Context, ev settlement.BookingEvent) {
	if err := n.Notify(ctx, ev); err != nil {
		n.log.WarnContext(ctx, "booking notification failed", slog.String("order", ev.OrderID), slog.Any("err", err))
	}
}
