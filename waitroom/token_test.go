package waitroom

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"testing"
	"time"
)

var (
	testSigner = newSigner([]byte("0123456789abcdef0123456789abcdef"))
	tokNow     = time.Date(2030, 6, 1, 18, 0, 0, 0, time.UTC)
)

func sampleQueue() queueToken {
	return queueToken{Event: "tour-paris", Fan: "alice", Lane: 2, Seq: 42, Pos: 42, Issued: tokNow, Joined: tokNow,
		Expires: tokNow.Add(time.Hour)}
}

func TestQueueTokenRoundTrip(t *testing.T) {
	t.Parallel()
	want := sampleQueue()
	tok := testSigner.queue(want)
	if len(tok) > 80 {
		t.Fatalf("token is not compact: %d bytes", len(tok))
	}
	got, err := testSigner.parseQueue(tok, "tour-paris", tokNow)
	if err != nil {
		t.Fatal(err)
	}
	if got.Event != want.Event || got.Fan != want.Fan || got.Lane != want.Lane || got.Seq != want.Seq ||
		got.Pos != want.Pos || !got.Issued.Equal(want.Issued) || !got.Expires.Equal(want.Expires) || got.Prequeue {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	pre := want
	pre.Prequeue, pre.Pos = true, 0
	got, err = testSigner.parseQueue(testSigner.queue(pre), "tour-paris", tokNow)
	if err != nil || !got.Prequeue || got.Pos != 0 {
		t.Fatalf("pre-queue token %+v %v", got, err)
	}
}

// TestTokenForgeries: every way of tampering with a token is refused.
func TestTokenForgeries(t *testing.T) {
	t.Parallel()
	q := testSigner.queue(sampleQueue())
	a := testSigner.access(accessToken{Event: "tour-paris", Fan: "alice", Expires: tokNow.Add(time.Minute)})
	raw, _ := base64.RawURLEncoding.DecodeString(q)
	other := newSigner([]byte("another secret, 32 bytes long!!!"))
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 1
		return base64.RawURLEncoding.EncodeToString(b)
	}
	expired := sampleQueue()
	expired.Expires = tokNow
	badLane := sampleQueue()
	badLane.Lane = MaxLanes
	noFan := sampleQueue()
	noFan.Fan = ""
	queueCases := map[string]string{
		"empty":          "",
		"garbage":        "not a token",
		"padding":        q + "==",
		"truncated":      q[:len(q)-1],
		"tag only":       q[len(q)-22:],
		"prefix":         q[:10],
		"extended":       q + "A",
		"other secret":   other.queue(sampleQueue()),
		"expired":        testSigner.queue(expired),
		"access as q":    a,
		"lane":           testSigner.queue(badLane),
		"no fan":         testSigner.queue(noFan),
		"huge":           strings.Repeat("A", 5000),
		"standard b64":   base64.StdEncoding.EncodeToString(raw),
		"first byte":     flip(0),
		"kind byte":      flip(1),
		"event byte":     flip(3),
		"last tag byte":  flip(len(raw) - 1),
		"middle":         flip(len(raw) / 2),
		"tag swapped in": base64.RawURLEncoding.EncodeToString(append(append([]byte(nil), raw[:len(raw)-16]...), make([]byte, 16)...)),
	}
	for name, tok := range queueCases {
		if _, err := testSigner.parseQueue(tok, "tour-paris", tokNow); err == nil {
			t.Errorf("%s: queue token accepted", name)
		}
	}
	if _, err := testSigner.parseQueue(q, "tour-london", tokNow); err == nil {
		t.Error("other event accepted")
	}
	if _, err := testSigner.parseAccess(a, "tour-paris", tokNow); err != nil {
		t.Fatalf("good access token: %v", err)
	}
	accessCases := map[string]string{
		"queue as access": q,
		"expired":         testSigner.access(accessToken{Event: "tour-paris", Fan: "alice", Expires: tokNow}),
		"other secret":    other.access(accessToken{Event: "tour-paris", Fan: "alice", Expires: tokNow.Add(time.Minute)}),
		"truncated":       a[:len(a)-2],
		"empty":           "",
	}
	for name, tok := range accessCases {
		if _, err := testSigner.parseAccess(tok, "tour-paris", tokNow); err == nil {
			t.Errorf("%s: access token accepted", name)
		}
	}
	if _, err := testSigner.parseAccess(a, "tour-london", tokNow); err == nil {
		t.Error("access token of another event accepted")
	}
	// Re-signing a token's payload with another event under the same key is the only way to move it, and that
	// needs the key: check that a correctly signed token for another event is refused for this one.
	moved := sampleQueue()
	moved.Event = "tour-london"
	if _, err := testSigner.parseQueue(testSigner.queue(moved), "tour-paris", tokNow); err == nil {
		t.Error("token for another event accepted")
	}
}

func FuzzParseQueue(f *testing.F) {
	f.Add(testSigner.queue(sampleQueue()))
	f.Add(testSigner.access(accessToken{Event: "tour-paris", Fan: "alice", Expires: tokNow.Add(time.Minute)}))
	f.Add("")
	f.Add("AAAA")
	f.Fuzz(func(t *testing.T, tok string) {
		got, err := testSigner.parseQueue(tok, "tour-paris", tokNow)
		if err != nil {
			return
		}
		// Whatever verifies must be exactly what the signer produces.
		if testSigner.queue(got) != tok {
			t.Fatalf("accepted a token the signer would not produce: %q", tok)
		}
	})
}

// TestAccessTokenPlace: an access token carries the admitted place when minted with one; a token without it (minted
// before places were carried) still verifies; a place out of range or a zero position never verifies.
func TestAccessTokenPlace(t *testing.T) {
	t.Parallel()
	want := accessToken{Event: "tour-paris", Fan: "alice", Expires: tokNow.Add(time.Minute), Lane: 3, Pos: 1234567}
	got, err := testSigner.parseAccess(testSigner.access(want), "tour-paris", tokNow)
	if err != nil || got.Lane != 3 || got.Pos != 1234567 || got.Fan != "alice" {
		t.Fatalf("got %+v %v", got, err)
	}
	got, err = testSigner.parseAccess(testSigner.access(accessToken{Event: "tour-paris", Fan: "alice", Expires: want.Expires}), "tour-paris", tokNow)
	if err != nil || got.Pos != 0 {
		t.Fatalf("without a place: %+v %v", got, err)
	}
	base := []byte{tokenVersion, kindAccess}
	base = appendString(base, "tour-paris")
	base = appendString(base, "alice")
	base = binary.AppendVarint(base, want.Expires.Unix())
	for name, tail := range map[string][]byte{
		"zero position": {0, 0},
		"lane":          binary.AppendUvarint([]byte{MaxLanes}, 5),
		"no position":   {1},
		"trailing":      {1, 5, 0},
		"huge position": binary.AppendUvarint([]byte{1}, 1<<41),
	} {
		tok := testSigner.seal(append(append([]byte(nil), base...), tail...))
		if a, err := testSigner.parseAccess(tok, "tour-paris", tokNow); err == nil {
			t.Errorf("%s: accepted %+v", name, a)
		}
	}
}

func FuzzParseAccess(f *testing.F) {
	f.Add(testSigner.access(accessToken{Event: "tour-paris", Fan: "alice", Expires: tokNow.Add(time.Minute)}))
	f.Add(testSigner.access(accessToken{Event: "tour-paris", Fan: "alice", Expires: tokNow.Add(time.Minute), Lane: 2, Pos: 99}))
	f.Add(testSigner.queue(sampleQueue()))
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		got, err := testSigner.parseAccess(tok, "tour-paris", tokNow)
		if err != nil {
			return
		}
		if testSigner.access(got) != tok {
			t.Fatalf("accepted a token the signer would not produce: %q", tok)
		}
	})
}

// FuzzDecodePayload feeds validly signed arbitrary payloads to the decoders: malformed fields must be refused
// without a panic.
func FuzzDecodePayload(f *testing.F) {
	tok := testSigner.queue(sampleQueue())
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	f.Add(raw[:len(raw)-tagLen])
	f.Add([]byte{tokenVersion, kindQueue, 200})
	f.Add([]byte{tokenVersion, kindAccess, 1, 'x', 1, 'y', 2})
	f.Fuzz(func(t *testing.T, payload []byte) {
		signed := testSigner.seal(append([]byte(nil), payload...))
		if q, err := testSigner.parseQueue(signed, "tour-paris", tokNow); err == nil && (q.Fan == "" || q.Seq < 1) {
			t.Fatalf("decoded an invalid queue token %+v", q)
		}
		if a, err := testSigner.parseAccess(signed, "tour-paris", tokNow); err == nil && a.Fan == "" {
			t.Fatalf("decoded an invalid access token %+v", a)
		}
	})
}

// TestTagIsHMAC checks the hand-computed tag against crypto/hmac.
func TestTagIsHMAC(t *testing.T) {
	t.Parallel()
	secret := []byte("a secret of some length, not a multiple of anything")
	s := newSigner(secret)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("onsale/waitroom/token/v1"))
	key := m.Sum(nil)
	for _, p := range []string{"", "x", strings.Repeat("payload", 100)} {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(p))
		if got, want := s.tag(nil, []byte(p)), h.Sum(nil)[:tagLen]; !hmac.Equal(got, want) {
			t.Fatalf("tag of %d bytes differs from HMAC-SHA256", len(p))
		}
	}
}

// TestVerifyAccessForRead: an expired access token still reads within the grace, never beyond it, and a token
// that is forged, altered, of another event or of another kind is refused as by VerifyAccess.
func TestVerifyAccessForRead(t *testing.T) {
	t.Parallel()
	now := tokNow
	r := &Room{sig: testSigner, opts: Options{ReadGrace: time.Hour, Now: func() time.Time { return now }}}
	expired := testSigner.access(accessToken{Event: "tour-paris", Fan: "alice", Expires: tokNow.Add(-30 * time.Minute)})
	if _, err := r.VerifyAccess("tour-paris", expired); err != ErrNotAdmitted {
		t.Fatalf("VerifyAccess accepted an expired token: %v", err)
	}
	if fan, err := r.VerifyAccessForRead("tour-paris", expired); err != nil || fan != "alice" {
		t.Fatalf("read within the grace: %q %v", fan, err)
	}
	live := testSigner.access(accessToken{Event: "tour-paris", Fan: "bob", Expires: tokNow.Add(time.Minute)})
	if fan, err := r.VerifyAccessForRead("tour-paris", live); err != nil || fan != "bob" {
		t.Fatalf("read with a live token: %q %v", fan, err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(expired)
	altered := append([]byte(nil), raw...)
	altered[3] ^= 1
	other := newSigner([]byte("another secret, 32 bytes long!!!"))
	for name, tok := range map[string]string{
		"beyond grace": testSigner.access(accessToken{Event: "tour-paris", Fan: "alice", Expires: tokNow.Add(-time.Hour)}),
		"other event":  testSigner.access(accessToken{Event: "tour-lyon", Fan: "alice", Expires: tokNow.Add(-time.Minute)}),
		"altered":      base64.RawURLEncoding.EncodeToString(altered),
		"truncated":    expired[:len(expired)-2],
		"forged":       other.access(accessToken{Event: "tour-paris", Fan: "alice", Expires: tokNow.Add(-time.Minute)}),
		"queue token":  testSigner.queue(sampleQueue()),
		"empty":        "",
	} {
		if fan, err := r.VerifyAccessForRead("tour-paris", tok); err != ErrNotAdmitted {
			t.Errorf("%s: accepted as %q (%v)", name, fan, err)
		}
	}
}
