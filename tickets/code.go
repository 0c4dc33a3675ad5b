package tickets

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"
)

// MaxCodeLen bounds a ticket code: longer input is refused before any parsing, and Sign refuses claims that would
// make a longer code (a QR code that size no longer scans well anyway).
const MaxCodeLen = 1024

// ErrInvalid is the error of every code that does not verify, whatever the reason.
var ErrInvalid = errors.New("ticket code does not verify")

var errNoEvent = errors.New("no event")

// Claims are what a ticket code asserts. Names are short because every byte grows the QR code.
type Claims struct {
	TicketID string `json:"tid"`
	Event    string `json:"ev"`
	Section  string `json:"sec,omitempty"`
	Seat     string `json:"seat,omitempty"` // seated tickets only
	IssuedAt int64  `json:"iat,omitempty"`  // Unix seconds; the ticket's, not the signature's, so codes stay stable
}

// Verdict is the outcome of a check-in scan; the values are the contract's words.
type Verdict string

const (
	VerdictValid       Verdict = "ok"
	VerdictAlreadyUsed Verdict = "already-used" // decided by the ledger
	VerdictRevoked     Verdict = "revoked"      // decided by the ledger
	VerdictInvalid     Verdict = "invalid"
	VerdictWrongEvent  Verdict = "wrong-event"
)

var edDSA = []jose.SignatureAlgorithm{jose.EdDSA}

// Sign returns the ticket code of c: a compact JWS with header {"alg":"EdDSA","kid":k.ID}. Ed25519 signatures are
// deterministic and the header and claims are encoded the same way every time, so the same key and claims always
// give the same code: callers sign when a ticket is read instead of storing codes. There is no typ header: an
// event's keys sign nothing but ticket codes, and every byte grows the QR code.
func Sign(k Key, c Claims) (string, error) {
	if !k.canSign() || k.ID == "" {
		return "", fmt.Errorf("sign ticket %s: key %q cannot sign", c.TicketID, k.ID)
	}
	if c.TicketID == "" {
		return "", errors.New("sign ticket: no ticket id")
	}
	if c.Event != k.Event {
		return "", fmt.Errorf("sign ticket %s: claims for event %q, key of %q", c.TicketID, c.Event, k.Event)
	}
	// JSON would replace invalid UTF-8, and the code would then assert something else than c.
	if !utf8.ValidString(c.TicketID) || !utf8.ValidString(c.Event) || !utf8.ValidString(c.Section) ||
		!utf8.ValidString(c.Seat) {
		return "", fmt.Errorf("sign ticket %q: claims are not valid UTF-8", c.TicketID)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("sign ticket %s: %w", c.TicketID, err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA,
		Key: jose.JSONWebKey{Key: k.Private, KeyID: k.ID}}, nil)
	if err != nil {
		return "", fmt.Errorf("sign ticket %s: %w", c.TicketID, err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign ticket %s: %w", c.TicketID, err)
	}
	code, err := obj.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("sign ticket %s: %w", c.TicketID, err)
	}
	if len(code) > MaxCodeLen {
		return "", fmt.Errorf("sign ticket %s: code of %d bytes, at most %d", c.TicketID, len(code), MaxCodeLen)
	}
	return code, nil
}

// split returns the three segments of a compact JWS when each is canonical unpadded base64url. The JOSE decoder
// skips line breaks and ignores a last character's unused bits; refusing them here means a code verifies only in
// the exact form it was signed in, so a scanner cannot be fed many spellings of one ticket.
func split(code string) (header, payload, sig string, ok bool) {
	if len(code) == 0 || len(code) > MaxCodeLen {
		return "", "", "", false
	}
	header, rest, ok1 := strings.Cut(code, ".")
	payload, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || !canonical(header) || !canonical(payload) || !canonical(sig) {
		return "", "", "", false
	}
	return header, payload, sig, true
}

// canonical reports whether s is what base64.RawURLEncoding encodes some bytes to.
func canonical(s string) bool {
	if len(s) == 0 || len(s)%4 == 1 {
		return false
	}
	var last byte
	for i := 0; i < len(s); i++ {
		v := b64Value[s[i]]
		if v == 0xff {
			return false
		}
		last = v
	}
	switch len(s) % 4 {
	case 2:
		return last&0x0f == 0
	case 3:
		return last&0x03 == 0
	}
	return true
}

var b64Value = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// Peek reads the kid and the event of a code WITHOUT verifying it, to pick the keys to verify it with. Nothing
// it returns may be trusted.
func Peek(code string) (kid, event string, ok bool) {
	header, payload, _, ok := split(code)
	if !ok {
		return "", "", false
	}
	var h struct {
		Kid string `json:"kid"`
	}
	var c struct {
		Event string `json:"ev"`
	}
	if !decodeJSON(header, &h) || !decodeJSON(payload, &c) || h.Kid == "" || c.Event == "" {
		return "", "", false
	}
	return h.Kid, c.Event, true
}

func decodeJSON(seg string, v any) bool {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	return err == nil && json.Unmarshal(b, v) == nil
}

// Verify returns the claims of code when it verifies under the key of keys its kid names, and claims a ticket of
// that key's event. Any other code is ErrInvalid.
func Verify(code string, keys []Key) (Claims, error) {
	if _, _, _, ok := split(code); !ok {
		return Claims{}, ErrInvalid
	}
	obj, err := jose.ParseSignedCompact(code, edDSA)
	if err != nil || len(obj.Signatures) != 1 {
		return Claims{}, ErrInvalid
	}
	kid := obj.Signatures[0].Protected.KeyID
	if kid == "" {
		return Claims{}, ErrInvalid
	}
	for _, k := range keys {
		if k.ID != kid || len(k.Public) != ed25519.PublicKeySize {
			continue
		}
		payload, err := obj.Verify(k.Public)
		if err != nil {
			continue // another key may share the kid
		}
		var c Claims
		if json.Unmarshal(payload, &c) != nil || c.TicketID == "" || c.Event != k.Event {
			return Claims{}, ErrInvalid
		}
		return c, nil
	}
	return Claims{}, ErrInvalid
}

// Check verifies a code scanned at a gate of event. keysOf returns the keys of an event, none for an unknown one;
// it is called with whatever event a code claims, so it should be a cheap lookup. A code that verifies under the
// keys of the event it claims, another one, is VerdictWrongEvent; any code that does not verify, whatever event it
// claims, is VerdictInvalid.
func Check(code, event string, keysOf func(event string) []Key) (Claims, Verdict) {
	_, claimed, ok := Peek(code)
	if !ok {
		return Claims{}, VerdictInvalid
	}
	c, err := Verify(code, keysOf(claimed))
	switch {
	case err != nil:
		return Claims{}, VerdictInvalid
	case c.Event != event:
		return c, VerdictWrongEvent
	}
	return c, VerdictValid
}
