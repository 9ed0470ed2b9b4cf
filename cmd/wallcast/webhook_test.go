package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wallcast/wallcast/storage"
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
	body := fmt.Sprintf(`{"id":%q,"author":{"name":"CMS"},"text":"post %s #devconf"}`, id, id)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	m := hmac.New(sha256.New, []byte(hookSecret))
	m.Write([]byte(ts + "." + body))
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/hooks/hook", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Wallcast-Timestamp", ts)
	req.Header.Set("X-Wallcast-Signature", "v1="+hex.EncodeToString(m.Sum(nil)))
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestWebhookAcceptedMeansStored kills the server (SIGKILL) in the middle
// of bursts of webhook posts, round after round on the same database, and
// then finds every post that was answered 2xx on the wall exactly once.
func TestWebhookAcceptedMeansStored(t *testing.T) {
	t.Setenv("WALLCAST_TEST_HOOK_SECRET", hookSecret)
	dir := t.TempDir()
	cfgPath := writeHookConfig(t, dir)
	const rounds, senders = 8, 4
	var accepted sync.Map // id → true
	var nAccepted, nRefused atomic.Int64
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < rounds; round++ {
		p := startBinary(t, cfgPath)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for s := 0; s < senders; s++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := &http.Client{Timeout: 5 * time.Second}
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					id := fmt.Sprintf("r%d-s%d-%d", round, s, i)
					code, err := push(c, p.addr, id)
					switch {
					case err != nil:
						return // the server is gone
					case code == 200:
						accepted.Store(id, true)
						nAccepted.Add(1)
					default:
						nRefused.Add(1)
					}
				}
			}()
		}
		time.Sleep(time.Duration(50+rng.IntN(250)) * time.Millisecond) // a burst of random length
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
		close(stop)
		wg.Wait()
	}
	if nAccepted.Load() == 0 {
		t.Fatal("no post was accepted: the test measured nothing")
	}

	db, err := storage.Open(filepath.Join(dir, "wallcast.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	seen := map[string]int{}
	for before := int64(0); ; {
		posts, next, err := db.Posts(context.Background(), "devconf", before, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range posts {
			seen[strings.TrimPrefix(p.ID, "hook:")]++
		}
		if next == 0 {
			break
		}
		before = next
	}
	var lost []string
	accepted.Range(func(k, _ any) bool {
		if seen[k.(string)] == 0 {
			lost = append(lost, k.(string))
		}
		return true
	})
	sort.Strings(lost)
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s is on the wall %d times", id, n)
		}
	}
	if len(lost) > 0 {
		t.Errorf("%d of %d posts answered 2xx are not stored: %v", len(lost), nAccepted.Load(), lost)
	}
	t.Logf("%d rounds: %d posts accepted, %d refused (503 or cut), %d on the wall", rounds, nAccepted.Load(), nRefused.Load(), len(seen))
}

// BenchmarkWebhookPush measures what a sender of signed webhook posts
// sees: requests per second and latency with 8 senders at once, through
// the whole server (signature, parse, route, sanitise, commit).
func BenchmarkWebhookPush(b *testing.B) {
	os.Setenv("WALLCAST_TEST_HOOK_SECRET", hookSecret)
	defer os.Unsetenv("WALLCAST_TEST_HOOK_SECRET")
	a := startFile(b, writeHookConfig(b, b.TempDir()))
	defer a.shutdown()
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
			code, err := push(c, a.addr, fmt.Sprint("b", n.Add(1)))
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
