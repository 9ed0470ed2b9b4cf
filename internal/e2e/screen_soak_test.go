package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserScreenSoak: a screen left alone while 3,000 posts with
// pictures and videos go by (two pictures, a video that plays, one that
// fails, on every post; a carousel on every tenth) keeps its DOM and its
// JavaScript heap flat: measured after 500 posts and after 3,000, each
// after a garbage collection.
func TestBrowserScreenSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	t.Setenv("WALLCAST_TEST_HOOK_SECRET", hookSecret)
	media := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".png") {
			w.Header().Set("Content-Type", "image/png")
			w.Header().Set("Cache-Control", "max-age=3600")
			w.Write(tinyPNG)
			return
		}
		http.NotFound(w, r)
	}))
	defer media.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	os.WriteFile(path, []byte(fmt.Sprintf(`server: {listen: "127.0.0.1:0"}
storage: {path: %q}
sources:
  - {name: hook, type: webhook, flavor: wallcast, secret: "${WALLCAST_TEST_HOOK_SECRET}", max_posts_per_minute: 1000000, max_body: 4194304}
walls:
  - slug: devconf
    hashtags: [devconf]
    sources: [hook]
    display: {max_posts: 60, image_seconds: 1}
`, filepath.Join(dir, "w.db"))), 0o600)
	a := startFile(t, path)
	defer a.Shutdown()
	n := 0
	push := func(count int) {
		for count > 0 {
			var posts []string
			for i := 0; i < min(count, 100); i++ {
				pics := 2
				if n%10 == 0 {
					pics = 6
				}
				var ms []string
				for j := range pics {
					ms = append(ms, fmt.Sprintf(`{"type":"image","url":"%s/p/%d-%d.png","alt":"pic"}`, media.URL, n, j))
				}
				ms = append(ms, fmt.Sprintf(`{"type":"video","url":"%s/v/%d.mp4","preview":"%s/p/%d-poster.png"}`, media.URL, n, media.URL, n))
				posts = append(posts, fmt.Sprintf(`{"id":"s-%05d","author":{"name":"Soak %d"},"text":"post %d #devconf","media":[%s]}`, n, n, n, strings.Join(ms, ",")))
				n++
			}
			count -= len(posts)
			if resp, err := pushBody(http.DefaultClient, a.Addr(), "["+strings.Join(posts, ",")+"]"); err != nil || resp.StatusCode != 200 {
				t.Fatalf("push: %v %v", resp, err)
			}
			time.Sleep(50 * time.Millisecond) // a busy wall: 2,000 posts a second
		}
	}
	ctx := browser(t)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1920, 1080), chromedp.Navigate("http://"+a.Addr()+"/walls/devconf")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.readyState === "complete"`, 10*time.Second)
	measure := func() (nodes int, heap float64) {
		t.Helper()
		waitJS(t, ctx, fmt.Sprintf(`!!document.querySelector('[data-id="hook:s-%05d"]') && document.querySelectorAll("#posts article.post").length <= 60 && !document.querySelector(".post.leave")`, n-1), 60*time.Second)
		gc := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			return t.Call(ctx, "HeapProfiler.collectGarbage", map[string]any{}, nil)
		})
		if err := chromedp.Do(ctx, gc); err != nil {
			t.Fatal(err)
		}
		nodes = evalJS[int](t, ctx, `document.getElementsByTagName("*").length`)
		heap = evalJS[float64](t, ctx, `performance.memory.usedJSHeapSize`)
		return
	}
	push(500)
	n1, h1 := measure()
	push(2500)
	n2, h2 := measure()
	t.Logf("after 500 posts: %d DOM elements, %.1f MB heap; after 3,000: %d, %.1f MB", n1, h1/1e6, n2, h2/1e6)
	if float64(n2) > float64(n1)*1.1 {
		t.Errorf("the DOM grew from %d to %d elements", n1, n2)
	}
	if h2 > h1*1.3+2e6 {
		t.Errorf("the heap grew from %.1f to %.1f MB", h1/1e6, h2/1e6)
	}
}

// tinyPNG is a 1×1 grey picture.
var tinyPNG = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x00\x00\x00\x00:~\x9bU\x00\x00\x00\nIDATx\x9cc`\x00\x00\x00\x02\x00\x01H\xaf\xa4q\x00\x00\x00\x00IEND\xaeB`\x82")
