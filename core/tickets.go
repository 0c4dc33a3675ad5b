package core

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"github.com/onsale/onsale/settlement"
	"github.com/onsale/onsale/tickets"
)

// Ticketing signs ticket codes and order tokens. Each event has its own Ed25519 key pairs in the ledger, their
// private halves sealed under a key derived from the configured ticket key; codes are signed when an order is
// read (Ed25519 is deterministic, so a code never changes while its key is current).

// keyCacheTTL bounds how long a process signs with a key after another one rotated in a newer key.
const keyCacheTTL = 30 * time.Second

type ticketing struct {
	ledger TicketLedger
	sealer *tickets.Sealer
	orders *tickets.OrderTokens
	now    func() time.Time

	mu       sync.Mutex
	cache    map[string]eventKeys
	creating sync.Mutex // one key created at a time, so concurrent first reads agree on one key
}

type eventKeys struct {
	keys []tickets.Key
	at   time.Time
}

// TicketLedger is the part of the settlement core's tickets need (*settlement.Service implements it).
type TicketLedger interface {
	Tickets(ctx context.Context, orderID string) ([]settlement.Ticket, error)
	RevokedTickets(ctx context.Context, event string) ([]string, time.Time, error)
	CheckIn(ctx context.Context, s settlement.Scan) (settlement.ScanResult, error)
	DoorStats(ctx context.Context, event string) (settlement.DoorStats, error)
	SaveTicketKey(ctx context.Context, k settlement.TicketKey) error
	TicketKeys(ctx context.Context, event string) ([]settlement.TicketKey, error)
}

// orderTokenLabel derives the order tokens' key from the ticket key.
const orderTokenLabel = "onsale order tokens v1"

// derive gives each use of the configured ticket key its own key.
func derive(master []byte, label string) []byte {
	m := hmac.New(sha256.New, master)
	m.Write([]byte(label))
	return m.Sum(nil)
}

func newTicketing(ledger TicketLedger, master []byte, now func() time.Time) (*ticketing, error) {
	if len(master) == 0 {
		master = make([]byte, 32)
		_, _ = rand.Read(master)
	}
	sealer, err := tickets.NewSealer(derive(master, "onsale ticket keys v1"))
	if err != nil {
		return nil, fmt.Errorf("core: ticket key: %w", err)
	}
	orders, err := tickets.NewOrderTokens(derive(master, orderTokenLabel))
	if err != nil {
		return nil, fmt.Errorf("core: ticket key: %w", err)
	}
	return &ticketing{ledger: ledger, sealer: sealer, orders: orders, now: now, cache: map[string]eventKeys{}}, nil
}

// keys returns an event's keys (none for an event without any), from a cache kept keyCacheTTL.
func (t *ticketing) keys(ctx context.Context, event string) ([]tickets.Key, error) {
	t.mu.Lock()
	c, ok := t.cache[event]
	t.mu.Unlock()
	if ok && t.now().Sub(c.at) < keyCacheTTL {
		return c.keys, nil
	}
	return t.load(ctx, event)
}

func (t *ticketing) load(ctx context.Context, event string) ([]tickets.Key, error) {
	stored, err := t.ledger.TicketKeys(ctx, event)
	if err != nil {
		return nil, err
	}
	keys := make([]tickets.Key, 0, len(stored))
	for _, s := range stored {
		priv, err := t.sealer.Open(s.Event, s.ID, s.Sealed)
		if err != nil {
			// Sealed under another ticket key: it still verifies, it signs nothing.
			priv = nil
		}
		keys = append(keys, tickets.Key{ID: s.ID, Event: s.Event, Public: s.Public, Private: priv, CreatedAt: s.CreatedAt})
	}
	if len(keys) > 0 { // an event with no keys (an id a forged code made up) is not kept: the cache stays bounded
		t.mu.Lock()
		t.cache[event] = eventKeys{keys: keys, at: t.now()}
		t.mu.Unlock()
	}
	return keys, nil
}

// signer returns the key that signs an event's codes, creating the event's first key when it has none (and a new
// one when none of its keys opens under the configured ticket key).
func (t *ticketing) signer(ctx context.Context, event string) (tickets.Key, error) {
	keys, err := t.keys(ctx, event)
	if err != nil {
		return tickets.Key{}, err
	}
	if k, ok := tickets.Current(keys); ok {
		return k, nil
	}
	return t.rotate(ctx, event, false)
}

// rotate adds a new signing key to an event; old keys keep verifying. Unless force, a key another caller made
// meanwhile is taken instead.
func (t *ticketing) rotate(ctx context.Context, event string, force bool) (tickets.Key, error) {
	t.creating.Lock()
	defer t.creating.Unlock()
	keys, err := t.load(ctx, event)
	if err != nil {
		return tickets.Key{}, err
	}
	if k, ok := tickets.Current(keys); ok && !force {
		return k, nil
	}
	k, err := tickets.NewKey(event, t.now().UTC())
	if err != nil {
		return tickets.Key{}, err
	}
	sealed, err := t.sealer.Seal(k)
	if err != nil {
		return tickets.Key{}, err
	}
	if err := t.ledger.SaveTicketKey(ctx, settlement.TicketKey{Event: event, ID: k.ID, Public: k.Public, Sealed: sealed,
		CreatedAt: k.CreatedAt}); err != nil {
		return tickets.Key{}, err
	}
	if _, err := t.load(ctx, event); err != nil {
		return tickets.Key{}, err
	}
	return k, nil
}

// ticketView is a ticket as an order shows it.
type ticketView struct {
	TicketID string `json:"ticket_id"`
	Section  string `json:"section"`
	Seat     string `json:"seat,omitempty"`
	Status   string `json:"status"`
	Code     string `json:"code"`
}

// views signs an order's tickets.
func (t *ticketing) views(ctx context.Context, ts []settlement.Ticket, event string) ([]ticketView, error) {
	out := make([]ticketView, 0, len(ts))
	if len(ts) == 0 {
		return out, nil
	}
	k, err := t.signer(ctx, event)
	if err != nil {
		return nil, fmt.Errorf("ticket key of %s: %w", event, err)
	}
	for _, tk := range ts {
		code, err := tickets.Sign(k, tickets.Claims{TicketID: tk.ID, Event: event, Section: tk.Section, Seat: tk.Seat})
		if err != nil {
			return nil, fmt.Errorf("sign ticket %s: %w", tk.ID, err)
		}
		out = append(out, ticketView{TicketID: tk.ID, Section: tk.Section, Seat: tk.Seat, Status: string(tk.Status), Code: code})
	}
	return out, nil
}

// check verifies a scanned code for event. An error means the keys could not be read: no verdict can be given.
func (t *ticketing) check(ctx context.Context, code, event string) (tickets.Claims, tickets.Verdict, error) {
	var lookupErr error
	c, v := tickets.Check(code, event, func(ev string) []tickets.Key {
		keys, err := t.keys(ctx, ev)
		if err != nil {
			lookupErr = err
		}
		return keys
	})
	if lookupErr != nil && v != tickets.VerdictValid {
		return c, v, fmt.Errorf("ticket keys: %w", lookupErr)
	}
	return c, v, nil
}
