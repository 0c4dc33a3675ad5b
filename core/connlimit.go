package core

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// connLimiter caps the connections open from one client address. fasthttp's MaxConnsPerIP counts the peer's
// address with no exceptions, so a proxy in front of onsale would meet the cap for all its clients together;
// this one skips trusted proxies, which should then cap per client themselves.
type connLimiter struct {
	max      int
	trusted  []netip.Prefix
	onRefuse func()

	mu   sync.Mutex
	open map[netip.Addr]int
}

func newConnLimiter(max int, trusted []netip.Prefix, onRefuse func()) *connLimiter {
	if max <= 0 {
		return nil
	}
	return &connLimiter{max: max, trusted: trusted, onRefuse: onRefuse, open: map[netip.Addr]int{}}
}

// connKey is whom a connection from ip counts against: its IPv4 address, or its IPv6 /64 (what one host is
// usually given).
func connKey(ip netip.Addr) netip.Addr {
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

// take counts a new connection from a; ok is false when a is at the cap. key is what release takes (invalid when
// the connection is not counted).
func (l *connLimiter) take(a net.Addr) (key netip.Addr, ok bool) {
	if l == nil {
		return netip.Addr{}, true
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil || inPrefixes(ap.Addr().Unmap(), l.trusted) {
		return netip.Addr{}, true
	}
	key = connKey(ap.Addr().Unmap())
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key] >= l.max {
		return netip.Addr{}, false
	}
	l.open[key]++
	return key, true
}

func (l *connLimiter) release(key netip.Addr) {
	if l == nil || !key.IsValid() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key]--; l.open[key] <= 0 {
		delete(l.open, key)
	}
}

// connsRefused is the answer to a connection over the cap, written before any request is read.
var connsRefused = func() []byte {
	body := `{"type":"rate-limited","title":"Too many requests","status":429,"detail":"too many connections from this address"}`
	return fmt.Appendf(nil, "HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nContent-Type: application/problem+json\r\n"+
		"Retry-After: 1\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}()

// refuse answers and closes a connection over the cap; the write is bounded so a client that reads nothing cannot
// hold the accept loop.
func (l *connLimiter) refuse(c net.Conn) {
	_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_, _ = c.Write(connsRefused)
	_ = c.Close()
	if l.onRefuse != nil {
		l.onRefuse()
	}
}
