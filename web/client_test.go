package web

import (
	"net/http"
	"testing"
	"time"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/wall"
)

func TestClientBehindTrustedProxies(t *testing.T) {
	ps := proxies{}
	for _, v := range []string{"10.0.0.0/8", "127.0.0.1/32", "::1/128"} {
		p, _ := config.ParsePrefix(v)
		ps = append(ps, p)
	}
	cases := []struct {
		peer, xff, want string
	}{
		{"203.0.113.9:1234", "1.2.3.4", "203.0.113.9"},                        // an untrusted peer's header is ignored
		{"127.0.0.1:1234", "", "127.0.0.1"},                                   // the proxy itself
		{"127.0.0.1:1234", "198.51.100.7", "198.51.100.7"},                    // one proxy
		{"127.0.0.1:1234", "6.6.6.6, 198.51.100.7, 10.1.2.3", "198.51.100.7"}, // chain: the client wrote the leftmost
		{"[::1]:443", "2001:db8::5", "2001:db8::5"},
		{"127.0.0.1:1234", "garbage, 198.51.100.7", "198.51.100.7"},
		{"127.0.0.1:1234", "10.0.0.1, 10.0.0.2", "10.0.0.1"}, // all trusted: the leftmost stands
	}
	for _, c := range cases {
		r := &http.Request{RemoteAddr: c.peer, Header: http.Header{}}
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := ps.client(r).String(); got != c.want {
			t.Errorf("peer %s, X-Forwarded-For %q: client %s, want %s", c.peer, c.xff, got, c.want)
		}
	}
	if k := limitKey("2001:db8:1:2:aaaa::1"); k != limitKey("2001:db8:1:2:bbbb::9") || k == limitKey("2001:db8:1:3::1") {
		t.Errorf("IPv6 addresses are not grouped by /64: %s", k)
	}
}

// TestLimiterEvictsOldestNeverBlocked: past its size the limiter forgets
// the keys whose last failure is oldest, and keeps every blocked key.
func TestLimiterEvictsOldestNeverBlocked(t *testing.T) {
	lim := limit{max: 3, per: time.Hour}
	l := newLimiter(10)
	now := time.Unix(1_700_000_000, 0)
	l.now = func() time.Time { return now }
	for i := 0; i < 3; i++ {
		l.fail("blocked", lim) // the oldest entry, and blocked
	}
	for i := 0; i < 30; i++ {
		now = now.Add(time.Second)
		l.fail(string(rune('a'+i)), lim)
	}
	if len(l.fails) > 10 {
		t.Errorf("%d keys kept, size 10", len(l.fails))
	}
	if b, _ := l.blocked("blocked", lim); !b {
		t.Error("a blocked key was forgotten")
	}
	if _, ok := l.fails[string(rune('a'+29))]; !ok {
		t.Error("the newest key was evicted")
	}
	if _, ok := l.fails["a"]; ok {
		t.Error("the oldest unblocked key was kept")
	}
}

// TestPublicHealthShowsThePublicError: /stats and /dashboard, open to
// anyone, get each source's public error, not the console's.
func TestPublicHealthShowsThePublicError(t *testing.T) {
	in := []wall.SourceHealth{{Name: "blog", LastError: "fetch https://f.example/rss: HTTP 500: stack trace", PublicError: "fetch https://f.example/rss: HTTP 500"}}
	out := publicHealth(in)
	if out[0].LastError != "fetch https://f.example/rss: HTTP 500" || in[0].LastError == out[0].LastError {
		t.Errorf("public error = %q (the console's stays %q)", out[0].LastError, in[0].LastError)
	}
}
