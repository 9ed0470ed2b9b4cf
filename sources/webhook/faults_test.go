package webhook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wallcast/wallcast/internal/faultnet"
	"github.com/wallcast/wallcast/sources/sourcetest"
	"github.com/wallcast/wallcast/wall"
)

// TestFaults: between a sender and the webhook, the faults of the matrix.
// Here the upstream is the client, and what a fault can lose is the
// answer: a sender retries a request until it gets a 2xx, as the README
// asks, and every post must be stored once.
func TestFaults(t *testing.T) {
	answer := faultnet.After("HTTP/1.1 200", 1, 0) // the 2xx never arrives
	faults := []sourcetest.Fault{
		{Name: "latency 150 ms", Proxy: faultnet.Fault{Latency: 150 * time.Millisecond}},
		{Name: "bandwidth 4 kB/s", Proxy: faultnet.Fault{Bandwidth: 4000}},
		{Name: "reset", Proxy: faultnet.Fault{At: answer, Then: faultnet.Reset, Conns: 1}},
		{Name: "half-open", Proxy: faultnet.Fault{At: answer, Then: faultnet.Freeze, Conns: 1}},
		{Name: "cut mid-event", Proxy: faultnet.Fault{At: answer, Then: faultnet.Cut, Conns: 1}},
		{Name: "DNS failure", DNS: 3},
		{Name: "TLS handshake never ends", TLS: true, Proxy: faultnet.Fault{Silent: true, Conns: 1}},
	}
	for _, f := range faults {
		t.Run(f.Name, func(t *testing.T) {
			t.Parallel()
			hooks := NewHooks()
			base, client, proxy := sourcetest.Faulty(t, hooks, f)
			client.Timeout = time.Second
			u := base + "/hooks/hook"
			var mu sync.Mutex
			seen := map[string]int{}
			emit := func(_ context.Context, it wall.Item) error {
				mu.Lock()
				seen[it.Post.NativeID]++
				mu.Unlock()
				it.Ack(nil)
				return nil
			}
			s := New(Config{Name: "hook", Flavor: "wallcast", Secret: "s3cret", MaxBody: 1 << 20, MaxPostsPerMinute: 1000}, hooks, sourcetest.Quiet)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- s.Run(ctx, wall.Subscription{}, emit) }()
			defer func() { cancel(); <-done }()

			start := time.Now()
			tries := 0
			for i := 1; i <= sourcetest.Posts; i++ {
				body := []byte(fmt.Sprintf(`{"id":"p%d","author":{"name":"Ada"},"text":%q}`, i, sourcetest.FaultText(i)+" #devconf"))
				ts := strconv.FormatInt(time.Now().Unix(), 10)
				sig := Sign("s3cret", ts, body)
				// The sender retries the same signed request until a 2xx.
				for deadline := time.Now().Add(20 * time.Second); ; {
					tries++
					req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("X-Wallcast-Timestamp", ts)
					req.Header.Set("X-Wallcast-Signature", sig)
					resp, err := client.Do(req)
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode/100 == 2 {
							break
						}
					}
					if time.Now().After(deadline) {
						t.Fatalf("post %d never accepted: %v", i, err)
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			dups := 0
			for i := 1; i <= sourcetest.Posts; i++ {
				if n := seen["p"+strconv.Itoa(i)]; n != 1 {
					t.Errorf("post %d stored %d times", i, n)
				}
				dups += max(seen["p"+strconv.Itoa(i)]-1, 0)
			}
			struck := proxy.Struck() > 0 || f.DNS > 0
			t.Logf("fault matrix: %s: struck=%v missed=0 duplicates=%d took=%v (requests %d for %d posts)", t.Name(), struck, dups, time.Since(start).Round(10*time.Millisecond), tries, sourcetest.Posts)
			if !struck && f.Proxy.At != nil {
				t.Error("the fault never struck: the test proves nothing")
			}
		})
	}
}
