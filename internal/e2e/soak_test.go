package e2e

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wallcast/wallcast/internal/app"
)

var soakFor = flag.Duration("soak", 8*time.Second, "how long TestSoak runs (the README reports a long run)")

const soakYAML = `server: {listen: "127.0.0.1:0", heartbeat: 1s, write_timeout: 2s}
storage: {path: %q}
admin: {user: ana, password_hash: "${TEST_HASH}"}
sources:
  - {name: hook, type: webhook, flavor: wallcast, secret: "${WALLCAST_TEST_HOOK_SECRET}", max_posts_per_minute: 1000000}
walls:
  - {slug: devconf, title: %q, hashtags: [devconf], sources: [hook], display: {max_posts: 100}}
`

// footprint is what the process holds: goroutines, open files, Go heap in
// use; and SQLite connections, each holding two files (the readers' pool
// opens up to 8 as the load needs them and keeps them).
type footprint struct {
	goroutines, fds, dbConns int
	heap                     uint64
}

func (u footprint) String() string {
	return fmt.Sprintf("%d goroutines, %d fds (%d SQLite connections), %.1f MiB heap", u.goroutines, u.fds, u.dbConns, float64(u.heap)/(1<<20))
}

func measure(t *testing.T, a *app.App) footprint {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd here")
	}
	return footprint{goroutines: runtime.NumGoroutine(), fds: len(fds), dbConns: a.DB().Connections(), heap: m.HeapInuse}
}

// TestSoak runs the server in-process under a compressed day (-soak D):
// screens join and leave, consoles open and close their queue streams,
// /stats monitors come and go, the config is reloaded every second, and
// posts arrive steadily. Afterwards goroutines, open files and heap return
// to the baseline taken after a warm-up.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	h, _ := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	t.Setenv("TEST_HASH", string(h))
	t.Setenv("WALLCAST_TEST_HOOK_SECRET", hookSecret)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	write := func(title string) {
		if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(soakYAML, filepath.Join(dir, "w.db"), title)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("DevConf")
	a := startFile(t, cfgPath)
	defer a.Shutdown()
	base := "http://" + a.Addr()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()

	admin, _ := login(t, base, "devconf", tr) // a console's session

	// open reads a stream for a while, then hangs up.
	var streams, events atomic.Int64
	open := func(ctx context.Context, c *http.Client, path string, d time.Duration) {
		ctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		resp, err := c.Do(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		streams.Add(1)
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			events.Add(int64(strings.Count(string(buf[:n]), "\n\n")))
			if err != nil {
				return
			}
		}
	}
	var posts, reloads atomic.Int64
	run := func(d time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		var wg sync.WaitGroup
		loop := func(n int, fn func(rng *rand.Rand)) {
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(i), uint64(n)))
					for ctx.Err() == nil {
						fn(rng)
					}
				}()
			}
		}
		public := &http.Client{Transport: tr}
		loop(30, func(rng *rand.Rand) { // screens
			open(ctx, public, "/walls/devconf/events", time.Duration(100+rng.IntN(900))*time.Millisecond)
		})
		loop(2, func(rng *rand.Rand) { // consoles
			open(ctx, admin, "/admin/walls/devconf/queue/events", time.Duration(300+rng.IntN(1500))*time.Millisecond)
		})
		loop(1, func(rng *rand.Rand) { // a monitor
			open(ctx, public, "/stats", time.Duration(500+rng.IntN(1500))*time.Millisecond)
		})
		loop(2, func(rng *rand.Rand) { // page loads and the API
			for _, p := range []string{"/walls/devconf", "/api/walls/devconf/posts", "/walls/devconf/embed"} {
				if resp, err := public.Get(base + p); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
			time.Sleep(50 * time.Millisecond)
		})
		loop(1, func(*rand.Rand) { // posts
			if code, _ := push(public, a.Addr(), fmt.Sprint("p", posts.Add(1))); code != 200 {
				t.Errorf("push answered %d", code)
			}
			time.Sleep(10 * time.Millisecond)
		})
		loop(1, func(*rand.Rand) { // reloads, alternating the title
			write(fmt.Sprint("DevConf ", reloads.Add(1)))
			if err := a.Reload(); err != nil {
				t.Errorf("reload: %v", err)
			}
			time.Sleep(time.Second)
		})
		wg.Wait()
	}

	run(2 * time.Second) // warm-up: caches, pools and buffers settle
	// A burst of reads opens every connection of the readers' pool, which
	// stay open from then on.
	var burst sync.WaitGroup
	for range 50 {
		burst.Add(1)
		go func() {
			defer burst.Done()
			if resp, err := (&http.Client{Transport: tr}).Get(base + "/api/walls/devconf/posts?limit=100"); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	burst.Wait()
	settle := func() footprint {
		tr.CloseIdleConnections()
		deadline := time.Now().Add(10 * time.Second)
		for a.Connections() > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond)
		return measure(t, a)
	}
	before := settle()
	run(*soakFor)
	var after footprint
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		after = settle()
		files := after.fds - 2*(after.dbConns-before.dbConns) // the pool's own
		if after.goroutines <= before.goroutines+2 && files <= before.fds+2 && after.heap <= before.heap+8<<20 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("after the soak: %v; before: %v", after, before)
			break
		}
	}
	t.Logf("soak %v: %d streams opened, %d events read, %d posts, %d reloads; before: %v; after: %v",
		*soakFor, streams.Load(), events.Load(), posts.Load(), reloads.Load(), before, after)
}
