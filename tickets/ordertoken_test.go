package tickets_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/onsale/onsale/tickets"
)

var orderSecret = []byte("0123456789abcdef0123456789abcdef")

func newOrderTokens(t testing.TB, secret []byte) *tickets.OrderTokens {
	t.Helper()
	o, err := tickets.NewOrderTokens(secret)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestOrderTokenRoundTrip(t *testing.T) {
	t.Parallel()
	o := newOrderTokens(t, orderSecret)
	for _, id := range []string{"ord_mfrgg2lbmvzgk3tsmfzgk3tsmf", "1", strings.Repeat("x", tickets.MaxOrderIDLen),
		"ordre/été?&"} {
		tok := o.Issue(id)
		if got, err := o.Verify(tok); err != nil || got != id {
			t.Errorf("%q: got %q %v", id, got, err)
		}
		if url.QueryEscape(tok) != tok {
			t.Errorf("%q: token %s is not URL-safe", id, tok)
		}
		if tok != o.Issue(id) {
			t.Errorf("%q: two tokens", id)
		}
	}
	tok := o.Issue("ord_mfrgg2lbmvzgk3tsmfzgk3tsmf")
	t.Logf("order token: %d bytes: %s", len(tok), tok)
	if len(tok) > 72 {
		t.Fatalf("token of %d bytes", len(tok))
	}
	if _, err := tickets.NewOrderTokens(orderSecret[:31]); err == nil {
		t.Fatal("a 31-byte secret")
	}
	for _, id := range []string{"", strings.Repeat("x", tickets.MaxOrderIDLen+1)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("issued a token for an id of %d bytes", len(id))
				}
			}()
			o.Issue(id)
		}()
	}
}

func TestOrderTokenForgeries(t *testing.T) {
	t.Parallel()
	o := newOrderTokens(t, orderSecret)
	id := "ord_mfrgg2lbmvzgk3tsmfzgk3tsmf"
	tok := o.Issue(id)
	raw, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, "o1."))
	if len(raw)%3 != 1 || !strings.Contains("AQgw", tok[len(tok)-1:]) {
		t.Fatalf("token %s of %d bytes", tok, len(raw))
	}
	other := newOrderTokens(t, []byte("another secret, 32 bytes long!!!"))
	cases := map[string]string{
		"empty":           "",
		"prefix only":     "o1.",
		"garbage":         "not a token",
		"no prefix":       strings.TrimPrefix(tok, "o1."),
		"other version":   "o2." + strings.TrimPrefix(tok, "o1."),
		"truncated":       tok[:len(tok)-1],
		"extended":        tok + "A",
		"padded":          tok + "==",
		"line break":      tok[:20] + "\n" + tok[20:],
		"unused bits":     tok[:len(tok)-1] + string(tok[len(tok)-1]+1), // 46 bytes: the last character has 4
		"other secret":    other.Issue(id),
		"other order":     "o1." + base64.RawURLEncoding.EncodeToString(append([]byte("ord_x"), raw[len(id):]...)),
		"tag only":        "o1." + base64.RawURLEncoding.EncodeToString(raw[len(id):]),
		"standard base64": "o1." + base64.StdEncoding.EncodeToString(raw),
		"huge":            "o1." + strings.Repeat("A", 64<<10),
	}
	for i := range raw {
		for bit := range 8 {
			c := []byte(string(raw))
			c[i] ^= 1 << bit
			cases[fmt.Sprintf("byte %d bit %d", i, bit)] = "o1." + base64.RawURLEncoding.EncodeToString(c)
		}
	}
	for name, c := range cases {
		if got, err := o.Verify(c); !errors.Is(err, tickets.ErrOrderToken) || got != "" {
			t.Errorf("%s: %q %v", name, got, err)
		}
	}
}

func FuzzOrderToken(f *testing.F) {
	o := newOrderTokens(f, orderSecret)
	issued := map[string]string{}
	for _, id := range []string{"ord_mfrgg2lbmvzgk3tsmfzgk3tsmf", "1"} {
		tok := o.Issue(id)
		issued[tok] = id
		f.Add(tok)
	}
	f.Add("o1.")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		id, err := o.Verify(tok)
		if want, ok := issued[tok]; (err == nil) != ok || id != want {
			t.Fatalf("%q: %q %v", tok, id, err)
		}
	})
}
