package core

import (
	"bytes"
	"math"
	"net/netip"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/time/rate"
)

// ipLimiter limits queue joins per client address. It keeps at most about 2×max limiters in two generations:
// when the current generation fills up, it becomes the previous one and the one before is dropped, so an address
// that keeps joining keeps its limiter and the memory stays bounded whatever the number of addresses.
type ipLimiter struct {
	limit rate.Limit
	burst int
	max   int

	mu        sync.Mutex
	cur, prev map[netip.Addr]*rate.Limiter
}

func newIPLimiter(perSecond float64, maxEntries int) *ipLimiter {
	if perSecond <= 0 {
		return nil
	}
	return &ipLimiter{
		limit: rate.Limit(perSecond),
		burst: max(int(math.Ceil(perSecond)), 1),
		max:   maxEntries,
		cur:   make(map[netip.Addr]*rate.Limiter),
	}
}

// allow reports whether addr may join now; when not, wait says how long until it may.
func (l *ipLimiter) allow(addr netip.Addr, now time.Time) (ok bool, wait time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	lim, found := l.cur[addr]
	if !found {
		if lim, found = l.prev[addr]; !found {
			lim = rate.NewLimiter(l.limit, l.burst)
		}
		if len(l.cur) >= l.max {
			l.prev, l.cur = l.cur, make(map[netip.Addr]*rate.Limiter, l.max/4)
		}
		l.cur[addr] = lim
	}
	l.mu.Unlock()
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// clientAddr is the address a request comes from: the peer, or, when the peer is a trusted proxy, the last address
// in X-Forwarded-For that is not itself a trusted proxy.
func clientAddr(ctx *fasthttp.RequestCtx, trusted []netip.Prefix) netip.Addr {
	peer := addrOf(ctx)
	if len(trusted) == 0 || !inPrefixes(peer, trusted) {
		return peer
	}
	xff := ctx.Request.Header.Peek(fasthttp.HeaderXForwardedFor)
	for len(xff) > 0 {
		var part []byte
		if i := bytes.LastIndexByte(xff, ','); i >= 0 {
			part, xff = xff[i+1:], xff[:i]
		} else {
			part, xff = xff, nil
		}
		a, err := netip.ParseAddr(string(bytes.TrimSpace(part)))
		if err != nil {
			return peer // a malformed hop: trust nothing beyond the proxy
		}
		a = a.Unmap()
		if !inPrefixes(a, trusted) {
			return a
		}
		peer = a
	}
	return peer
}

func addrOf(ctx *fasthttp.RequestCtx) netip.Addr {
	if a, ok := netip.AddrFromSlice(ctx.RemoteIP()); ok {
		return a.Unmap()
	}
	return netip.Addr{}
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
