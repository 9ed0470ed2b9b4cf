package web

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/wallcast/wallcast/config"
)

// ClientAddr is the address of the client that made r. The server's
// middleware has put it in r.RemoteAddr (X-Forwarded-For is believed only
// from a trusted proxy), so every handler, the webhooks' too, logs and
// limits the same address.
func ClientAddr(r *http.Request) string { return peerAddr(r).String() }

// peerAddr is the address of the connection's other end.
func peerAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		a, _ := netip.ParseAddr(host)
		return a.Unmap()
	}
	return ap.Addr().Unmap()
}

// proxies is a set of trusted proxy networks.
type proxies []netip.Prefix

func trustedProxies(c *config.Config) proxies {
	var out proxies
	for _, v := range c.Server.TrustedProxies {
		if p, err := config.ParsePrefix(v); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func (ps proxies) trusted(a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// client works out the client's address: the peer, unless the peer is a
// trusted proxy; then X-Forwarded-For read from the right, skipping
// trusted proxies, up to the first address that is not one (anything to
// its left was written by the client and proves nothing).
func (ps proxies) client(r *http.Request) netip.Addr {
	addr := peerAddr(r)
	if !ps.trusted(addr) {
		return addr
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a garbled hop: the last good one stands
		}
		addr = a.Unmap()
		if !ps.trusted(addr) {
			break
		}
	}
	return addr
}

// withClient replaces each request's RemoteAddr by its client's address
// (with port 0 when it came from X-Forwarded-For).
func (s *Server) withClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer := peerAddr(r)
		if a := trustedProxies(s.Config()).client(r); a != peer {
			r2 := *r
			r2.RemoteAddr = netip.AddrPortFrom(a, 0).String()
			r = &r2
		}
		next.ServeHTTP(w, r)
	})
}

// limitKey groups client addresses for limits: an IPv6 client holds a
// whole /64, so it counts as one.
func limitKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil || a.Is4() {
		return addr
	}
	p, _ := a.Prefix(64)
	return p.String()
}
