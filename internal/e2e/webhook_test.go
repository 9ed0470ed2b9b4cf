package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const hookSecret = "crash-test-secret"

// writeHookConfig writes a config with one wall fed by a wallcast webhook.
func writeHookConfig(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "config.yaml")
	yaml := fmt.Sprintf(`server: {listen: "127.0.0.1:0"}
storage: {path: %q}
sources:
  - {name: hook, type: webhook, flavor: wallcast, secret: "${WALLCAST_TEST_HOOK_SECRET}", max_posts_per_minute: 1000000}
walls:
  - {slug: devconf, hashtags: [devconf], sources: [hook], display: {max_posts: 60}}
`, filepath.Join(dir, "wallcast.db"))
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// push sends one signed post to the hook and returns the status code.
func push(c *http.Client, addr, id string) (int, error) {
	resp, err := pushResp(c, addr, id)
	if err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// pushResp sends one signed post to the hook and returns the answer, its
// body read and closed.
func pushResp(c *http.Client, addr, id string) (*http.Response, error) {
	return pushBody(c, addr, fmt.Sprintf(`{"id":%q,"author":{"name":"CMS"},"text":"post %s #devconf"}`, id, id))
}

// pushBody signs and sends one push as a sender does: a 503 (the source
// is starting) is sent again, for up to 10 s. It returns the answer, its
// body read and closed.
func pushBody(c *http.Client, addr, body string) (*http.Response, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		m := hmac.New(sha256.New, []byte(hookSecret))
		m.Write([]byte(ts + "." + body))
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/hooks/hook", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Wallcast-Timestamp", ts)
		req.Header.Set("X-Wallcast-Signature", "v1="+hex.EncodeToString(m.Sum(nil)))
		resp, err := c.Do(req)
		if err != nil {
			return nil, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			return resp, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkWebhookPush measures what a sender of signed webhook posts
// sees: requests per second and latency with 8 senders at once, through
// the whole server (signature, parse, route, sanitise, commit).
func BenchmarkWebhookPush(b *testing.B) {
	os.Setenv("WALLCAST_TEST_HOOK_SECRET", hookSecret)
	defer os.Unsetenv("WALLCAST_TEST_HOOK_SECRET")
	a := startFile(b, writeHookConfig(b, b.TempDir()))
	defer a.Shutdown()
	var mu sync.Mutex
	var lat []time.Duration
	var n atomic.Int64
	b.SetParallelism(4) // 4 × GOMAXPROCS senders
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		c := &http.Client{}
		var mine []time.Duration
		for pb.Next() {
			t0 := time.Now()
			code, err := push(c, a.Addr(), fmt.Sprint("b", n.Add(1)))
			if err != nil || code != 200 {
				b.Errorf("push: %d %v", code, err)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}
