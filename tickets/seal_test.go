package tickets_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/onsale/onsale/tickets"
)

func newSealer(t *testing.T) *tickets.Sealer {
	t.Helper()
	s, err := tickets.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	master, err := tickets.ParseMasterKey(s)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := tickets.NewSealer(master)
	if err != nil {
		t.Fatal(err)
	}
	return sealer
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := newSealer(t)
	sealed, err := s.Seal(b.paris)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, b.paris.Private.Seed()) {
		t.Fatal("the seed is in the clear")
	}
	priv, err := s.Open("tour-paris", b.paris.ID, sealed)
	if err != nil || !bytes.Equal(priv, b.paris.Private) {
		t.Fatalf("opened %x %v", priv, err)
	}
	again, _ := s.Seal(b.paris)
	if bytes.Equal(again, sealed) {
		t.Fatal("two seals share a nonce")
	}
	// The opened key signs the same codes.
	opened := b.paris
	opened.Private = priv
	if sign(t, opened, sample()) != sign(t, b.paris, sample()) {
		t.Fatal("the opened key signs other codes")
	}
}

func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := newSealer(t)
	sealed, err := s.Seal(b.paris)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		c := bytes.Clone(sealed)
		c[i] ^= 0x80
		return c
	}
	type opening struct {
		event, kid string
		sealed     []byte
		s          *tickets.Sealer
	}
	cases := map[string]opening{
		"other kid":         {"tour-paris", b.parisOld.ID, sealed, s},
		"other event":       {"tour-lyon", b.paris.ID, sealed, s},
		"shifted boundary":  {"tour-pari", "s" + b.paris.ID, sealed, s},
		"other master key":  {"tour-paris", b.paris.ID, sealed, newSealer(t)},
		"truncated":         {"tour-paris", b.paris.ID, sealed[:len(sealed)-1], s},
		"extended":          {"tour-paris", b.paris.ID, append(bytes.Clone(sealed), 0), s},
		"empty":             {"tour-paris", b.paris.ID, nil, s},
		"version":           {"tour-paris", b.paris.ID, flip(0), s},
		"nonce":             {"tour-paris", b.paris.ID, flip(1), s},
		"ciphertext":        {"tour-paris", b.paris.ID, flip(20), s},
		"tag":               {"tour-paris", b.paris.ID, flip(len(sealed) - 1), s},
		"other key's blob":  {"tour-paris", b.paris.ID, mustSeal(t, s, b.parisOld), s},
		"other event's key": {"tour-paris", b.paris.ID, mustSeal(t, s, b.lyon), s},
	}
	for name, c := range cases {
		if priv, err := c.s.Open(c.event, c.kid, c.sealed); !errors.Is(err, tickets.ErrSealed) || priv != nil {
			t.Errorf("%s: %x %v", name, priv, err)
		}
	}
	verifyOnly := b.paris
	verifyOnly.Private = nil
	if _, err := s.Seal(verifyOnly); err == nil {
		t.Error("sealed a key without its private half")
	}
}

func mustSeal(t *testing.T, s *tickets.Sealer, k tickets.Key) []byte {
	t.Helper()
	sealed, err := s.Seal(k)
	if err != nil {
		t.Fatal(err)
	}
	return sealed
}

func TestParseMasterKey(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{0xfb, 0xff, 0x01}, 11)[:32] // encodes with + and / in std, - and _ in url
	for name, s := range map[string]string{
		"std":            base64.StdEncoding.EncodeToString(key),
		"std unpadded":   base64.RawStdEncoding.EncodeToString(key),
		"url":            base64.URLEncoding.EncodeToString(key),
		"url unpadded":   base64.RawURLEncoding.EncodeToString(key),
		"file with a LF": base64.StdEncoding.EncodeToString(key) + "\n",
		"spaces":         "  " + base64.StdEncoding.EncodeToString(key) + " \r\n",
	} {
		got, err := tickets.ParseMasterKey(s)
		if err != nil || !bytes.Equal(got, key) {
			t.Errorf("%s: %x %v", name, got, err)
		}
	}
	for name, s := range map[string]string{
		"empty":           "",
		"blank":           " \n",
		"16 bytes":        base64.StdEncoding.EncodeToString(key[:16]),
		"31 bytes":        base64.StdEncoding.EncodeToString(key[:31]),
		"33 bytes":        base64.StdEncoding.EncodeToString(append(bytes.Clone(key), 0)),
		"64 bytes":        base64.StdEncoding.EncodeToString(append(bytes.Clone(key), key...)),
		"hex":             strings.Repeat("ab", 32),
		"mixed alphabets": "+" + base64.RawURLEncoding.EncodeToString(key)[1:],
		"not base64":      strings.Repeat("!", 44),
		"inner space":     base64.StdEncoding.EncodeToString(key[:16]) + " " + base64.StdEncoding.EncodeToString(key[16:]),
	} {
		if got, err := tickets.ParseMasterKey(s); err == nil {
			t.Errorf("%s: accepted %x", name, got)
		} else if !strings.HasPrefix(err.Error(), "ticket key: ") {
			t.Errorf("%s: error %q", name, err)
		}
	}
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		if _, err := tickets.NewSealer(make([]byte, n)); err == nil {
			t.Errorf("a sealer under %d bytes", n)
		}
	}
	a, _ := tickets.GenerateMasterKey()
	b, _ := tickets.GenerateMasterKey()
	if a == b {
		t.Error("two generated master keys are equal")
	}
}
