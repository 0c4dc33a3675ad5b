package core

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func requestFrom(peer, xff string) *fasthttp.RequestCtx {
	var req fasthttp.Request
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	ctx := &fasthttp.RequestCtx{}
	ctx.Init(&req, &net.TCPAddr{IP: net.ParseIP(peer), Port: 4321}, nil)
	return ctx
}

func TestClientAddr(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.1/32")}
	cases := []struct{ peer, xff, want string }{
		{"203.0.113.5", "", "203.0.113.5"},
		{"203.0.113.5", "1.2.3.4", "203.0.113.5"},         // an untrusted peer cannot claim another address
		{"10.1.2.3", "1.2.3.4", "1.2.3.4"},                // a trusted proxy can
		{"10.1.2.3", "6.6.6.6, 1.2.3.4", "1.2.3.4"},       // the last untrusted hop, not a spoofed first one
		{"10.1.2.3", "1.2.3.4, 192.168.1.1", "1.2.3.4"},   // through two proxies
		{"10.1.2.3", "garbage", "10.1.2.3"},               // a malformed hop: trust nothing beyond the proxy
		{"10.1.2.3", "10.9.9.9", "10.9.9.9"},              // only proxies all the way
		{"::ffff:10.1.2.3", "2001:db8::1", "2001:db8::1"}, // IPv4-mapped peer, IPv6 client
		{"10.1.2.3", " 1.2.3.4 ,  ", "10.1.2.3"},          // an empty last hop is malformed
	}
	for _, c := range cases {
		got := clientAddr(requestFrom(c.peer, c.xff), trusted)
		if got.String() != c.want {
			t.Errorf("peer %s xff %q: got %s, want %s", c.peer, c.xff, got, c.want)
		}
	}
	if got := clientAddr(requestFrom("10.1.2.3", "1.2.3.4"), nil); got.String() != "10.1.2.3" {
		t.Errorf("no trusted proxies: %s", got)
	}
}

func TestIPLimiter(t *testing.T) {
	t.Parallel()
	if ok, _ := (*ipLimiter)(nil).allow(netip.MustParseAddr("1.2.3.4"), time.Now()); !ok {
		t.Fatal("a nil limiter (limit off) refused")
	}
	l := newIPLimiter(2, 4)
	now := time.Now()
	a, b := netip.MustParseAddr("1.1.1.1"), netip.MustParseAddr("2.2.2.2")
	for i := range 2 {
		if ok, _ := l.allow(a, now); !ok {
			t.Fatalf("join %d within the burst refused", i)
		}
	}
	ok, wait := l.allow(a, now)
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("third join at once: ok %v wait %v", ok, wait)
	}
	if ok, _ := l.allow(b, now); !ok {
		t.Fatal("another address was limited")
	}
	if ok, _ := l.allow(a, now.Add(time.Second)); !ok {
		t.Fatal("a second later the address may join again")
	}
	// Many addresses: the two generations stay bounded.
	for i := range 100 {
		l.allow(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), now)
	}
	if n := len(l.cur) + len(l.prev); n > 2*4 {
		t.Fatalf("%d limiters kept, want at most 8", n)
	}
}
