package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserOfflineReload: a screen that reloads while the network is cut
// and the server is stopped shows the wall as it was (the service worker
// keeps the page and its files, the page its posts) with the
// reconnecting mark; when both are back it takes a new post, and no post
// is shown twice.
func TestBrowserOfflineReload(t *testing.T) {
	ctx := browser(t)
	e := newBrowserEnv(t, "https://news.example")
	e.feed.add(5)
	url := "http://" + e.addr + "/walls/devconf"
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1920, 1080), chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, cards+` === 5 && !!navigator.serviceWorker.controller`, 15*time.Second)
	// Once under the worker, the page and its files go through it: load
	// it again so that it keeps them, and let the page keep its posts.
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, cards+` === 5 && (JSON.parse(localStorage.getItem("wallcast:devconf") || "{}").posts || []).length === 5`, 15*time.Second)

	network := func(offline bool) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			if err := t.Call(ctx, "Network.enable", map[string]any{}, nil); err != nil {
				return err
			}
			return t.Call(ctx, "Network.emulateNetworkConditions", map[string]any{"offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}, nil)
		})
	}
	e.a.Shutdown()
	if err := chromedp.Do(ctx, network(true), chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, cards+` === 5 && !document.getElementById("status").hidden && document.getElementById("status").textContent !== ""`, 15*time.Second)
	keepScreenshot(t, ctx, "offline-1920x1080.png")

	e.start()
	if err := chromedp.Do(ctx, network(false)); err != nil {
		t.Fatal(err)
	}
	e.feed.add(1)
	waitJS(t, ctx, cards+` === 6 && !!document.querySelector('[data-id="feed:item-005"]') && document.getElementById("status").hidden`, 30*time.Second)
	ids := evalJS[[]string](t, ctx, `Array.prototype.map.call(document.querySelectorAll("#posts article.post"), function (c) { return c.dataset.id; })`)
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("post %s shown twice: %v", id, ids)
		}
		seen[id] = true
	}
	if n := evalJS[int](t, ctx, `document.querySelectorAll("#posts article.post.kept").length`); n != 0 {
		t.Fatalf("%d kept posts left after the backfill", n)
	}
}
