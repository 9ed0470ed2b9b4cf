package web_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clientFrom is an HTTP client whose connections come from a loopback
// address of its own, so the server sees another client.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

var retryLine = regexp.MustCompile(`(?m)^retry: (\d+)$`)

// TestStreamLimits: beyond max_streams_per_client for one address, or
// max_streams in all, a stream is answered 200 with a retry of 5-10 s and
// an immediate end (an EventSource reconnects; on any other status it
// would give up for good). A closed stream gives its slot back.
func TestStreamLimits(t *testing.T) {
	yaml := strings.Replace(testYAML, "subscriber_queue: 8,", "subscriber_queue: 8, max_streams: 3, max_streams_per_client: 2,", 1)
	onBothPaths(t, yaml, func(t *testing.T, e *env) {
		open := func(c *http.Client) (*http.Response, context.CancelFunc) {
			t.Helper()
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.url+"/walls/devconf/events", nil)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cancel(); resp.Body.Close() })
			return resp, cancel
		}
		// refused reads a refused stream to its end.
		refused := func(c *http.Client) bool {
			t.Helper()
			resp, _ := open(c)
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
				t.Fatalf("refused stream: %s %s", resp.Status, resp.Header.Get("Content-Type"))
			}
			done := make(chan []byte, 1)
			go func() { b, _ := io.ReadAll(resp.Body); done <- b }()
			select {
			case b := <-done:
				m := retryLine.FindSubmatch(b)
				if m == nil {
					return false // a stream that ended by itself? not ours
				}
				ms, _ := strconv.Atoi(string(m[1]))
				if ms < 5000 || ms > 10000 {
					t.Errorf("retry %d ms, want 5-10 s", ms)
				}
				return true
			case <-time.After(500 * time.Millisecond):
				return false // still open: it was let in
			}
		}
		a, b, c := clientFrom("127.0.0.1"), clientFrom("127.0.0.2"), clientFrom("127.0.0.3")
		_, closeFirst := open(a)
		open(a)
		if !refused(a) {
			t.Fatal("a third stream from one address was let in (max_streams_per_client: 2)")
		}
		if refused(b) {
			t.Fatal("another address was refused below max_streams")
		}
		if !refused(c) {
			t.Fatal("a fourth stream was let in (max_streams: 3)")
		}
		closeFirst()
		deadline := time.Now().Add(5 * time.Second)
		for refused(c) {
			if time.Now().After(deadline) {
				t.Fatal("a closed stream never gave its slot back")
			}
		}
	})
}

// TestAPIRate: the public JSON API lets one address make api_rate
// requests a minute in bursts of a tenth; then 429 with Retry-After, while
// another address is served.
func TestAPIRate(t *testing.T) {
	e := newEnvYAML(t, 0, strings.Replace(testYAML, "subscriber_queue: 8,", "subscriber_queue: 8, api_rate: 60,", 1))
	a, b := clientFrom("127.0.0.1"), clientFrom("127.0.0.2")
	get := func(c *http.Client) *http.Response {
		resp, err := c.Get(e.url + "/api/walls/devconf/posts")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for i := range 6 {
		if resp := get(a); resp.StatusCode != 200 {
			t.Fatalf("request %d: %s", i+1, resp.Status)
		}
	}
	resp := get(a)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("7th request in a burst of 6: %s, Retry-After %q", resp.Status, resp.Header.Get("Retry-After"))
	}
	if resp := get(b); resp.StatusCode != 200 {
		t.Errorf("another address: %s", resp.Status)
	}
}
