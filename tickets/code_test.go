package tickets_test

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/onsale/onsale/tickets"
	"pgregory.net/rapid"
)

var keyNow = time.Date(2030, 6, 1, 18, 0, 0, 0, time.UTC)

// bundle holds two events' keys, Paris with two (rotated), Lyon with one.
type bundle struct {
	parisOld, paris, lyon tickets.Key
	keys                  map[string][]tickets.Key
}

func (b bundle) keysOf(event string) []tickets.Key { return b.keys[event] }

func setup(t testing.TB) bundle {
	t.Helper()
	newKey := func(event string, at time.Time) tickets.Key {
		k, err := tickets.NewKey(event, at)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	b := bundle{parisOld: newKey("tour-paris", keyNow), paris: newKey("tour-paris", keyNow.Add(time.Hour)),
		lyon: newKey("tour-lyon", keyNow)}
	b.keys = map[string][]tickets.Key{"tour-paris": {b.parisOld, b.paris}, "tour-lyon": {b.lyon}}
	return b
}

// sample is a typical seated ticket.
func sample() tickets.Claims {
	return tickets.Claims{TicketID: "tkt_k2vq7mzd4xbn6hyr3wsa5tjcpe", Event: "tour-paris", Section: "A", Seat: "12",
		IssuedAt: keyNow.Unix()}
}

func sign(t testing.TB, k tickets.Key, c tickets.Claims) string {
	t.Helper()
	code, err := tickets.Sign(k, c)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// forge builds a compact JWS of any header and payload, signed by sign over the signing input.
func forge(header, payload string, sign func([]byte) []byte) string {
	in := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(payload))
	return in + "." + base64.RawURLEncoding.EncodeToString(sign([]byte(in)))
}

func TestSignVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for name, c := range map[string]tickets.Claims{
		"seated":  sample(),
		"general": {TicketID: "tkt_1", Event: "tour-paris", Section: "floor"},
		"bare":    {TicketID: "tkt_2", Event: "tour-paris"},
		"unicode": {TicketID: "tkt_3", Event: "tour-paris", Section: "Balcon côté cour", Seat: "<12>&"},
	} {
		code := sign(t, b.paris, c)
		got, err := tickets.Verify(code, b.keysOf("tour-paris"))
		if err != nil || got != c {
			t.Errorf("%s: got %+v %v, want %+v", name, got, err, c)
		}
		kid, ev, ok := tickets.Peek(code)
		if !ok || kid != b.paris.ID || ev != c.Event {
			t.Errorf("%s: Peek = %q %q %v", name, kid, ev, ok)
		}
		if got, v := tickets.Check(code, "tour-paris", b.keysOf); v != tickets.VerdictValid || got != c {
			t.Errorf("%s: Check = %+v %s", name, got, v)
		}
	}
}

// TestCodeLength keeps a typical code small enough for a QR code that scans easily from a phone screen.
func TestCodeLength(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := sample()
	c.IssuedAt = 0
	code := sign(t, b.paris, c)
	withIAT := sign(t, b.paris, sample())
	t.Logf("typical seated code: %d bytes, %d with iat: %s", len(code), len(withIAT), code)
	if len(code) > 250 || len(withIAT) > 275 {
		t.Fatalf("codes of %d and %d bytes", len(code), len(withIAT))
	}
	header, _, _ := strings.Cut(code, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(header)
	if want := `{"alg":"EdDSA","kid":"` + b.paris.ID + `"}`; string(raw) != want {
		t.Fatalf("header %s, want %s", raw, want)
	}
}

// TestSignIsDeterministic: callers sign at read time, so the same ticket must always give the same code.
func TestSignIsDeterministic(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first := sign(t, b.paris, sample())
	for range 10 {
		if again := sign(t, b.paris, sample()); again != first {
			t.Fatalf("signed twice: %s then %s", first, again)
		}
	}
	verifyOnly := b.paris
	verifyOnly.Private = nil
	if _, err := tickets.Verify(first, []tickets.Key{verifyOnly}); err != nil {
		t.Fatal(err)
	}
	other := sample()
	other.Seat = "13"
	if sign(t, b.paris, other) == first {
		t.Fatal("another seat gives the same code")
	}
}

func TestSignRefuses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	noPrivate := b.paris
	noPrivate.Private = nil
	mismatched := b.paris
	mismatched.Private = b.parisOld.Private
	long := sample()
	long.Section = strings.Repeat("s", tickets.MaxCodeLen)
	badUTF8 := sample()
	badUTF8.Seat = "\xff"
	for name, tc := range map[string]struct {
		k tickets.Key
		c tickets.Claims
	}{
		"no private key":  {noPrivate, sample()},
		"mismatched pair": {mismatched, sample()},
		"no kid":          {tickets.Key{Event: "tour-paris", Public: b.paris.Public, Private: b.paris.Private}, sample()},
		"no ticket":       {b.paris, tickets.Claims{Event: "tour-paris"}},
		"other event":     {b.lyon, sample()},
		"no event":        {b.paris, tickets.Claims{TicketID: "tkt_1"}},
		"too long":        {b.paris, long},
		"invalid UTF-8":   {b.paris, badUTF8},
	} {
		if code, err := tickets.Sign(tc.k, tc.c); err == nil {
			t.Errorf("%s: signed %s", name, code)
		}
	}
	if _, err := tickets.NewKey("", keyNow); err == nil {
		t.Error("a key without an event")
	}
}

// TestTamperedCodes flips every bit of every byte of a code: no variant verifies, none panics.
func TestTamperedCodes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	code := sign(t, b.paris, sample())
	keys := b.keysOf("tour-paris")
	for i := range len(code) {
		for bit := range 8 {
			c := []byte(code)
			c[i] ^= 1 << bit
			if got, v := tickets.Check(string(c), "tour-paris", b.keysOf); v != tickets.VerdictInvalid {
				t.Fatalf("byte %d bit %d: %s %+v", i, bit, v, got)
			}
			if _, err := tickets.Verify(string(c), keys); !errors.Is(err, tickets.ErrInvalid) {
				t.Fatalf("byte %d bit %d: %v", i, bit, err)
			}
		}
	}
}

func TestInvalidCodes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	code := sign(t, b.paris, sample())
	header, rest, _ := strings.Cut(code, ".")
	payload, sig, _ := strings.Cut(rest, ".")
	hdr := `{"alg":"EdDSA","kid":"` + b.paris.ID + `"}`
	claims, _ := json.Marshal(sample())
	byParis := func(in []byte) []byte { return ed25519.Sign(b.paris.Private, in) }

	_, intruder, _ := ed25519.GenerateKey(nil)
	byIntruder := func(in []byte) []byte { return ed25519.Sign(intruder, in) }
	intruderJWK := `{"kty":"OKP","crv":"Ed25519","x":"` +
		base64.RawURLEncoding.EncodeToString(intruder.Public().(ed25519.PublicKey)) + `"}`
	hs256 := func(in []byte) []byte {
		m := hmac.New(sha256.New, b.paris.Public)
		m.Write(in)
		return m.Sum(nil)
	}
	sameKid, err := tickets.NewKey("tour-paris", keyNow)
	if err != nil {
		t.Fatal(err)
	}
	sameKid.ID = b.paris.ID
	// The last character of a 64-byte signature carries 2 bits and 4 unused ones: A, Q, g or w, and the next
	// letter decodes to the same signature.
	if !strings.Contains("AQgw", sig[len(sig)-1:]) {
		t.Fatalf("signature ends in %q", sig[len(sig)-1])
	}
	lastBits := sig[:len(sig)-1] + string(sig[len(sig)-1]+1)

	cases := map[string]string{
		"empty":              "",
		"garbage":            "not a ticket",
		"dots":               "..",
		"two parts":          header + "." + payload,
		"four parts":         code + ".",
		"truncated":          code[:len(code)-1],
		"half":               code[:len(code)/2],
		"no signature":       header + "." + payload + ".",
		"extended":           code + "A",
		"64 KiB":             strings.Repeat("A", 64<<10),
		"64 KiB of a code":   strings.Repeat(code, 64<<10/len(code)+1)[:64<<10],
		"JSON":               string(claims),
		"JSON serialization": `{"payload":"` + payload + `","protected":"` + header + `","signature":"` + sig + `"}`,
		"padded":             header + "." + payload + "." + sig + "==",
		"line break":         header + "." + payload + "." + sig[:40] + "\n" + sig[40:],
		"CR":                 header + "\r." + payload + "." + sig,
		"space":              " " + code,
		"unused bits":        header + "." + payload + "." + lastBits,
		"swapped payload":    header + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"tid":"tkt_x","ev":"tour-paris"}`)) + "." + sig,
		"other key":          forge(hdr, string(claims), byIntruder),
		"other key same kid": sign(t, sameKid, sample()),
		"embedded jwk":       forge(`{"alg":"EdDSA","kid":"`+b.paris.ID+`","jwk":`+intruderJWK+`}`, string(claims), byIntruder),
		"no kid":             forge(`{"alg":"EdDSA"}`, string(claims), byParis),
		"empty kid":          forge(`{"alg":"EdDSA","kid":""}`, string(claims), byParis),
		"unknown kid":        forge(`{"alg":"EdDSA","kid":"AAAAAAAAAAAA"}`, string(claims), byParis),
		"kid not a string":   forge(`{"alg":"EdDSA","kid":7}`, string(claims), byParis),
		"HS256 public key":   forge(`{"alg":"HS256","kid":"`+b.paris.ID+`"}`, string(claims), hs256),
		"alg none":           forge(`{"alg":"none","kid":"`+b.paris.ID+`"}`, string(claims), func([]byte) []byte { return nil }),
		"alg none sig":       forge(`{"alg":"none","kid":"`+b.paris.ID+`"}`, string(claims), byParis),
		"alg Ed25519":        forge(`{"alg":"Ed25519","kid":"`+b.paris.ID+`"}`, string(claims), byParis),
		"alg ES256":          forge(`{"alg":"ES256","kid":"`+b.paris.ID+`"}`, string(claims), byParis),
		"no ticket id":       forge(hdr, `{"ev":"tour-paris"}`, byParis),
		"claims not JSON":    forge(hdr, `tid=1`, byParis),
		"claims an array":    forge(hdr, `[]`, byParis),
		"header not JSON":    forge(`alg=EdDSA`, string(claims), byParis),
		"crit":               forge(`{"alg":"EdDSA","crit":["exp"],"exp":1,"kid":"`+b.paris.ID+`"}`, string(claims), byParis),
		"other event by key": forge(hdr, `{"tid":"tkt_1","ev":"tour-lyon"}`, byParis),
		"unknown event":      forge(hdr, `{"tid":"tkt_1","ev":"tour-nowhere"}`, byParis),
	}
	if std := strings.NewReplacer("-", "+", "_", "/").Replace(code); std != code {
		cases["standard base64"] = std // the same bytes in the other alphabet, when the code has a - or _
	}
	for name, c := range cases {
		if got, v := tickets.Check(c, "tour-paris", b.keysOf); v != tickets.VerdictInvalid {
			t.Errorf("%s: %s %+v", name, v, got)
		}
		if got, err := tickets.Verify(c, b.keysOf("tour-paris")); !errors.Is(err, tickets.ErrInvalid) {
			t.Errorf("%s: verified %+v", name, got)
		}
	}
	if _, err := tickets.Verify(code, nil); !errors.Is(err, tickets.ErrInvalid) {
		t.Error("verified without keys")
	}
}

// TestWrongEvent: a genuine ticket of another event is wrong-event; a forged one that claims another event is
// invalid.
func TestWrongEvent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	lyon := tickets.Claims{TicketID: "tkt_9", Event: "tour-lyon", Section: "floor"}
	code := sign(t, b.lyon, lyon)
	if got, v := tickets.Check(code, "tour-paris", b.keysOf); v != tickets.VerdictWrongEvent || got != lyon {
		t.Fatalf("Lyon's ticket at Paris: %s %+v", v, got)
	}
	if _, v := tickets.Check(code, "tour-lyon", b.keysOf); v != tickets.VerdictValid {
		t.Fatalf("Lyon's ticket at Lyon: %s", v)
	}
	if _, err := tickets.Verify(code, b.keysOf("tour-paris")); err == nil {
		t.Fatal("Lyon's ticket verifies under Paris's keys")
	}
	claims, _ := json.Marshal(lyon)
	forged := map[string]string{
		// signed by a Paris key under its own kid, claiming Lyon
		"Paris key": forge(`{"alg":"EdDSA","kid":"`+b.paris.ID+`"}`, string(claims),
			func(in []byte) []byte { return ed25519.Sign(b.paris.Private, in) }),
		// under Lyon's kid but Paris's key
		"Lyon kid": forge(`{"alg":"EdDSA","kid":"`+b.lyon.ID+`"}`, string(claims),
			func(in []byte) []byte { return ed25519.Sign(b.paris.Private, in) }),
		"unknown event": sign(t, mustKey(t, "tour-nowhere"), tickets.Claims{TicketID: "tkt_1", Event: "tour-nowhere"}),
	}
	for name, c := range forged {
		if got, v := tickets.Check(c, "tour-paris", b.keysOf); v != tickets.VerdictInvalid {
			t.Errorf("%s: %s %+v", name, v, got)
		}
	}
}

func mustKey(t testing.TB, event string) tickets.Key {
	t.Helper()
	k, err := tickets.NewKey(event, keyNow)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestRotation: new codes carry the new kid, old codes keep verifying until their key is retired.
func TestRotation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	old := sign(t, b.parisOld, sample())
	cur, ok := tickets.Current(b.keysOf("tour-paris"))
	if !ok || cur.ID != b.paris.ID {
		t.Fatalf("current key %q, want the newest %q", cur.ID, b.paris.ID)
	}
	fresh := sign(t, cur, sample())
	if kid, _, _ := tickets.Peek(fresh); kid != b.paris.ID {
		t.Fatalf("new code under kid %q", kid)
	}
	if fresh == old {
		t.Fatal("the new key gives the old code")
	}
	for name, code := range map[string]string{"old": old, "new": fresh} {
		if _, v := tickets.Check(code, "tour-paris", b.keysOf); v != tickets.VerdictValid {
			t.Errorf("%s code: %s", name, v)
		}
	}
	retired := []tickets.Key{b.paris}
	if _, err := tickets.Verify(old, retired); err == nil {
		t.Error("the old code verifies after its key is retired")
	}
	if _, err := tickets.Verify(fresh, retired); err != nil {
		t.Error(err)
	}
	// A newer key without its private half (not opened) signs nothing.
	newer := mustKey(t, "tour-paris")
	newer.CreatedAt, newer.Private = keyNow.Add(2*time.Hour), nil
	if cur, _ := tickets.Current(append(b.keysOf("tour-paris"), newer)); cur.ID != b.paris.ID {
		t.Errorf("current key %q, want %q", cur.ID, b.paris.ID)
	}
	if _, ok := tickets.Current(nil); ok {
		t.Error("a current key in an empty set")
	}
}

func TestPeek(t *testing.T) {
	t.Parallel()
	b := setup(t)
	byIntruder := func(in []byte) []byte { return make([]byte, 64) }
	// Peek does not verify: it reads a forged code's claims as they are.
	if kid, ev, ok := tickets.Peek(forge(`{"alg":"EdDSA","kid":"k1"}`, `{"tid":"t","ev":"e"}`, byIntruder)); !ok ||
		kid != "k1" || ev != "e" {
		t.Fatalf("Peek = %q %q %v", kid, ev, ok)
	}
	code := sign(t, b.paris, sample())
	for name, c := range map[string]string{
		"empty":     "",
		"truncated": code[:20],
		"64 KiB":    strings.Repeat("A", 64<<10),
		"no kid":    forge(`{"alg":"EdDSA"}`, `{"tid":"t","ev":"e"}`, byIntruder),
		"no event":  forge(`{"alg":"EdDSA","kid":"k1"}`, `{"tid":"t"}`, byIntruder),
	} {
		if kid, ev, ok := tickets.Peek(c); ok {
			t.Errorf("%s: Peek = %q %q", name, kid, ev)
		}
	}
}

// TestClaimsRoundTrip: any claims Sign accepts come back from Verify as they were.
func TestClaimsRoundTrip(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rapid.Check(t, func(t *rapid.T) {
		c := tickets.Claims{
			TicketID: rapid.StringN(1, 40, -1).Draw(t, "tid"),
			Event:    "tour-paris",
			Section:  rapid.StringN(0, 20, -1).Draw(t, "sec"),
			Seat:     rapid.StringN(0, 8, -1).Draw(t, "seat"),
			IssuedAt: rapid.Int64().Draw(t, "iat"),
		}
		code, err := tickets.Sign(b.paris, c)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := tickets.Verify(code, b.keysOf("tour-paris")); err != nil || got != c {
			t.Fatalf("got %+v %v, want %+v", got, err, c)
		}
	})
}

// FuzzCheck: no input panics, and only a code exactly as Sign made it verifies.
func FuzzCheck(f *testing.F) {
	b := setup(f)
	signed := map[string]tickets.Claims{}
	add := func(k tickets.Key, c tickets.Claims) {
		code := sign(f, k, c)
		signed[code] = c
		f.Add(code)
	}
	add(b.paris, sample())
	add(b.parisOld, sample())
	add(b.paris, tickets.Claims{TicketID: "tkt_1", Event: "tour-paris"})
	add(b.lyon, tickets.Claims{TicketID: "tkt_2", Event: "tour-lyon", Section: "floor"})
	code := sign(f, b.paris, sample())
	for _, s := range []string{"", ".", "..", "a.b.c", code[:len(code)-2], code + "=", " " + code, strings.Repeat("A", 2000),
		`{"alg":"none"}`, forge(`{"alg":"none","kid":"`+b.paris.ID+`"}`, `{"tid":"t","ev":"tour-paris"}`,
			func([]byte) []byte { return nil })} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		tickets.Peek(code)
		got, v := tickets.Check(code, "tour-paris", b.keysOf)
		want, ok := signed[code]
		switch {
		case v != tickets.VerdictValid && v != tickets.VerdictWrongEvent && v != tickets.VerdictInvalid:
			t.Fatalf("verdict %q", v)
		case (v == tickets.VerdictInvalid) == ok:
			t.Fatalf("signed %v, verdict %s", ok, v)
		case ok && (got != want || (v == tickets.VerdictValid) != (want.Event == "tour-paris")):
			t.Fatalf("verdict %s %+v, signed %+v", v, got, want)
		case !ok && got != (tickets.Claims{}):
			t.Fatalf("claims %+v of an invalid code", got)
		}
	})
}
