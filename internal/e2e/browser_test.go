package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"github.com/wallcast/wallcast/internal/app"
)

const chromium = "/usr/bin/chromium"

// browser starts headless Chromium. Without it the browser tests skip,
// except in CI (CI=true), where a missing browser fails the run.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Chromium is required in CI: %v (apt-get install -y chromium)", err)
		}
		t.Skip("Chromium not installed (apt-get install -y chromium); skipping browser tests")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx
}

// waitJS waits, in the page, until a JavaScript expression is true.
func waitJS(t *testing.T, ctx context.Context, expr string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		// A navigation destroys the page's context under a running poll:
		// poll again in the new page until the deadline.
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(time.Until(deadline)), chromedp.WithPollingInterval(50*time.Millisecond)))
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 2000) : ""`))
			t.Fatalf("waited %v for %s: %v; page text:\n%s", within, expr, err, text)
		}
	}
}

// still is true in a page once no finite animation runs.
const still = `document.getAnimations().filter(function(a){return a.playState==="running" && a.effect && a.effect.getTiming().iterations !== Infinity}).length === 0`

// keepScreenshot writes a screenshot of the page as name under
// $WALLCAST_SCREENSHOTS, once nothing moves; without it, nothing.
func keepScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("WALLCAST_SCREENSHOTS")
	if dir == "" {
		return
	}
	waitJS(t, ctx, still, 10*time.Second)
	if png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		os.WriteFile(filepath.Join(dir, name), png, 0o644)
	}
}

func evalJS[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

const browserYAML = `server: {listen: %q, base_url: %q, embed_origins: [%q], sse_retry: 200ms}
storage: {path: %q}
admin: {user: ana, password_hash: "${TEST_HASH}"}
sources:
  - {name: feed, type: rss, url: %q, interval: 1s}
walls:
  - slug: devconf
    title: DevConf
    hashtags: [DevConf]
    sources: [feed]
    display: {layout: %s, max_posts: 100, call_to_action: "Post with #devconf"}
`

type browserEnv struct {
	t       *testing.T
	dir     string
	feed    *fakeFeed
	feedURL string
	addr    string
	origin  string // the one other origin allowed to embed
	a       *app.App
	tune    []app.Setting
}

func (e *browserEnv) write(layout string) {
	cfg := fmt.Sprintf(browserYAML, e.addr, "http://"+e.addr, e.origin, filepath.Join(e.dir, "w.db"), e.feedURL, layout)
	if err := os.WriteFile(filepath.Join(e.dir, "config.yaml"), []byte(cfg), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

func (e *browserEnv) start() {
	e.t.Helper()
	e.a = startFile(e.t, filepath.Join(e.dir, "config.yaml"), e.tune...)
}

func newBrowserEnv(t *testing.T, origin string, tune ...app.Setting) *browserEnv {
	h, _ := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	t.Setenv("TEST_HASH", string(h))
	feed := &fakeFeed{}
	fs := httptest.NewServer(feed)
	t.Cleanup(fs.Close)
	// A free port, kept across restarts so the page reconnects to it.
	l := httptest.NewServer(http.NotFoundHandler())
	addr := l.Listener.Addr().String()
	l.Close()
	e := &browserEnv{t: t, dir: t.TempDir(), feed: feed, feedURL: fs.URL, addr: addr, origin: origin, tune: tune}
	e.write("grid")
	e.start()
	t.Cleanup(func() { e.a.Shutdown() })
	return e
}

// manual makes the wall manual: every post waits for a moderator.
func (e *browserEnv) manual() {
	e.t.Helper()
	cfg := strings.Replace(fmt.Sprintf(browserYAML, e.addr, "http://"+e.addr, e.origin, filepath.Join(e.dir, "w.db"), e.feedURL, "grid"),
		"sources: [feed]", "sources: [feed]\n    moderation: manual", 1)
	os.WriteFile(filepath.Join(e.dir, "config.yaml"), []byte(cfg), 0o600)
	if err := e.a.Reload(); err != nil {
		e.t.Fatal(err)
	}
}

// console logs in through the login form and waits for the wall's
// console to be live.
func (e *browserEnv) console(ctx context.Context) {
	e.t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate("http://"+e.addr+"/admin/walls/devconf"),
		chromedp.SendKeys(chromedp.CSS("input[name=user]"), "ana"),
		chromedp.SendKeys(chromedp.CSS("input[name=password]"), "correct horse"),
		chromedp.Submit(chromedp.CSS("form")),
	)
	if err != nil {
		e.t.Fatal(err)
	}
	waitJS(e.t, ctx, `location.pathname === "/admin/walls/devconf" && document.getElementById("conn").textContent === "live"`, 10*time.Second)
}

// admin logs in over HTTP and returns a function that posts to the admin API.
func (e *browserEnv) admin() func(path string) {
	base := "http://" + e.addr
	c, token := login(e.t, base, "devconf", nil)
	return func(path string) {
		req, _ := http.NewRequest("POST", base+"/admin/api/walls/devconf"+path, strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", token)
		resp, err := c.Do(req)
		if err != nil || resp.StatusCode != 200 {
			e.t.Fatalf("admin %s: %v %v", path, err, resp.Status)
		}
		resp.Body.Close()
	}
}

const cards = `document.querySelectorAll("#posts article.post").length`

func TestBrowserWall(t *testing.T) {
	ctx := browser(t)
	e := newBrowserEnv(t, "https://news.example")
	e.feed.add(1)
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+e.addr+"/walls/devconf")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, cards+" === 1", 10*time.Second)
	// A marker that a page reload would lose.
	evalJS[bool](t, ctx, `window.__sameLoad = true`)

	t.Run("new posts appear", func(t *testing.T) {
		e.feed.add(2)
		waitJS(t, ctx, cards+" === 3", 10*time.Second)
		first := evalJS[string](t, ctx, `document.querySelector("#posts article.post").dataset.id`)
		if first != "feed:item-002" {
			t.Errorf("newest first: the first card is %s", first)
		}
	})

	t.Run("a hostile post runs nothing and shows as text", func(t *testing.T) {
		e.feed.addTagged(1, `devconf&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;&lt;script&gt;window.__xss=2&lt;/script&gt;&lt;svg onload=&quot;window.__xss=3&quot;&gt;`)
		waitJS(t, ctx, cards+" === 4", 10*time.Second)
		if v := evalJS[bool](t, ctx, `window.__xss === undefined`); !v {
			t.Fatal("the XSS payload ran")
		}
		if n := evalJS[int](t, ctx, `document.querySelectorAll("#posts script, #posts [onerror], #posts svg").length`); n != 0 {
			t.Errorf("%d dangerous nodes reached the page", n)
		}
	})

	t.Run("remove and pin from the admin API", func(t *testing.T) {
		act := e.admin()
		act("/posts/feed:item-001/remove")
		waitJS(t, ctx, `!document.querySelector('[data-id="feed:item-001"]')`, 5*time.Second)
		act("/posts/feed:item-000/pin")
		waitJS(t, ctx, `(function(){var f=document.querySelector("#posts article.post");return f && f.dataset.id==="feed:item-000" && f.classList.contains("pinned")})()`, 5*time.Second)
	})

	t.Run("the page reconnects after a restart and misses nothing", func(t *testing.T) {
		if err := e.a.Shutdown(); err != nil {
			t.Fatal(err)
		}
		e.feed.add(2) // posted while the server is down
		e.start()
		waitJS(t, ctx, `!!document.querySelector('[data-id="feed:item-004"]') && !!document.querySelector('[data-id="feed:item-005"]')`, 20*time.Second)
		// 0, 2, 3, 4, 5 (1 was removed), and no duplicates.
		ids := evalJS[[]string](t, ctx, `Array.from(document.querySelectorAll("#posts article.post")).map(function(c){return c.dataset.id})`)
		if len(ids) != 5 {
			t.Errorf("cards after the restart: %v", ids)
		}
		if !evalJS[bool](t, ctx, `window.__sameLoad === true`) {
			t.Error("the page reloaded instead of reconnecting")
		}
	})

	t.Run("a config reload switches the layout without a page reload", func(t *testing.T) {
		e.write("spotlight")
		if err := e.a.Reload(); err != nil {
			t.Fatal(err)
		}
		waitJS(t, ctx, `document.body.classList.contains("layout-spotlight") && !!document.querySelector("#posts .current")`, 5*time.Second)
		if !evalJS[bool](t, ctx, `window.__sameLoad === true`) {
			t.Error("the page reloaded")
		}
	})
}

// TestBrowserEmbed: the embed works in a page from an allowed origin, and
// is refused in a page from any other.
func TestBrowserEmbed(t *testing.T) {
	ctx := browser(t)
	host := func() *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			wallURL := r.URL.Query().Get("wall")
			fmt.Fprintf(w, `<!doctype html><html><body><h1>Live blog</h1>
<script>
window.__loaded = false;
new MutationObserver(function () {
  var f = document.querySelector("iframe");
  if (f && !f.__watched) { f.__watched = true; f.addEventListener("load", function () { window.__loaded = true; window.__heightAtLoad = f.dataset.wallcastHeight || ""; }); }
}).observe(document.body, {childList: true, subtree: true});
window.__cors = "pending";
fetch(%q + "/api/walls/devconf/posts").then(function (r) { window.__cors = r.ok ? "ok" : "status " + r.status; }, function () { window.__cors = "refused"; });
</script>
<script src="%s/embed.js" data-wall="devconf" async></script>
</body></html>`, wallURL, wallURL)
		}))
	}
	allowed, other := host(), host()
	defer allowed.Close()
	defer other.Close()
	e := newBrowserEnv(t, allowed.URL)
	e.feed.add(3)
	wall := "http://" + e.addr

	if err := chromedp.Do(ctx, chromedp.Navigate(allowed.URL+"/?wall="+url.QueryEscape(wall))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `(function(){var f=document.querySelector("iframe");return !!f && parseInt(f.dataset.wallcastHeight||"0",10) > 100})()`, 15*time.Second)
	waitJS(t, ctx, `window.__cors !== "pending"`, 5*time.Second)
	if c := evalJS[string](t, ctx, `window.__cors`); c != "ok" {
		t.Errorf("CORS from the allowed origin: %s", c)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(other.URL+"/?wall="+url.QueryEscape(wall))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `window.__loaded === true && window.__cors !== "pending"`, 15*time.Second)
	if h := evalJS[string](t, ctx, `window.__heightAtLoad`); h != "" {
		t.Errorf("the wall rendered in a page from an origin not allowed (height %s)", h)
	}
	if c := evalJS[string](t, ctx, `window.__cors`); c != "refused" {
		t.Errorf("CORS from another origin: %s", c)
	}
}

// TestBrowserScreenshots renders each layout at 1920×1080 and 390×844 with
// the demo source. Set WALLCAST_SCREENSHOTS to a folder to keep them.
func TestBrowserScreenshots(t *testing.T) {
	ctx := browser(t)
	dir := os.Getenv("WALLCAST_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	os.MkdirAll(dir, 0o755)
	work := t.TempDir()
	l := httptest.NewServer(http.NotFoundHandler())
	addr := l.Listener.Addr().String()
	l.Close()
	cfg := fmt.Sprintf(`server: {listen: %q, base_url: %q}
storage: {path: %q}
sources: [{name: demo, type: demo, interval: 100ms}]
walls:
  - {slug: grid, title: "DevConf 2026", hashtags: [devconf, devconf2026], sources: [demo], display: {layout: grid, call_to_action: "Post with #devconf"}}
  - {slug: spotlight, title: "DevConf 2026", hashtags: [devconf, devconf2026], sources: [demo], display: {layout: spotlight, theme: light, accent: "#2563eb", call_to_action: "Post with #devconf"}}
  - {slug: ticker, title: "DevConf 2026", hashtags: [devconf, devconf2026], sources: [demo], display: {layout: ticker, locale: fr}}
`, addr, "http://"+addr, filepath.Join(work, "w.db"))
	path := filepath.Join(work, "config.yaml")
	os.WriteFile(path, []byte(cfg), 0o600)
	a := startFile(t, path)
	defer a.Shutdown()
	// Let the demo source fill the walls.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var page struct{ Posts []json.RawMessage }
		resp, err := http.Get("http://" + addr + "/api/walls/grid/posts?limit=20")
		if err == nil {
			json.NewDecoder(resp.Body).Decode(&page)
			resp.Body.Close()
		}
		if len(page.Posts) >= 16 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	a.StopSource("demo") // a still wall: nothing animates while the screenshots are taken
	for _, layout := range []string{"grid", "spotlight", "ticker"} {
		for _, vp := range []struct {
			name          string
			width, height int64
			mobile        bool
		}{{"1920x1080", 1920, 1080, false}, {"390x844", 390, 844, true}} {
			view := chromedp.EmulateViewport(vp.width, vp.height)
			if vp.mobile {
				view = chromedp.EmulateViewport(vp.width, vp.height, chromedp.EmulateMobile, chromedp.EmulateScale(1))
			}
			if err := chromedp.Do(ctx, view, chromedp.Navigate("http://"+addr+"/walls/"+layout)); err != nil {
				t.Fatal(err)
			}
			waitJS(t, ctx, `document.querySelectorAll("#posts article.post").length >= 8 && document.getAnimations().filter(function(a){return a.playState==="running" && a.effect && a.effect.getTiming().iterations !== Infinity}).length === 0`, 15*time.Second)
			png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
			if err != nil {
				t.Fatal(err)
			}
			name := filepath.Join(dir, fmt.Sprintf("%s-%s.png", layout, vp.name))
			if err := os.WriteFile(name, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot %s (%d bytes)", name, len(png))
		}
	}
}

// TestBrowserAdminConsole: a moderator logs in through the form, sees a
// pending post arrive live, approves it with the "a" key, and the wall in
// another tab shows it.
func TestBrowserAdminConsole(t *testing.T) {
	ctx := browser(t)
	e := newBrowserEnv(t, "https://news.example")
	e.manual()
	e.console(ctx)
	e.feed.add(1)
	waitJS(t, ctx, `document.querySelectorAll("#pending li").length === 1 && document.querySelector("#pending li.selected") !== null`, 10*time.Second)

	wallTab, cancel := chromedp.NewContext(ctx)
	defer cancel()
	if err := chromedp.Do(wallTab, chromedp.Navigate("http://"+e.addr+"/walls/devconf")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, wallTab, `!!document.getElementById("empty") && !document.getElementById("empty").hidden`, 5*time.Second)

	if err := chromedp.Do(ctx, chromedp.KeyEvent("a")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.querySelectorAll("#pending li").length === 0 && document.querySelectorAll("#visible li").length === 1`, 5*time.Second)
	waitJS(t, wallTab, `!!document.querySelector('[data-id="feed:item-000"]')`, 5*time.Second)

	if dir := os.Getenv("WALLCAST_SCREENSHOTS"); dir != "" {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(1600, 900)); err != nil {
			t.Fatal(err)
		}
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err == nil {
			os.WriteFile(filepath.Join(dir, "admin-console.png"), png, 0o644)
		}
	}
}

// TestBrowserBulkUndo: in the console, shift+j selects three pending
// posts, a approves them in one action, the wall shows them; u undoes it
// and they leave the wall and are pending again.
func TestBrowserBulkUndo(t *testing.T) {
	ctx := browser(t)
	e := newBrowserEnv(t, "https://news.example")
	e.manual()
	e.console(ctx)
	e.feed.add(3)
	waitJS(t, ctx, `document.querySelectorAll("#pending li").length === 3 && document.querySelector("#pending li.selected") !== null`, 10*time.Second)

	wallTab, cancel := chromedp.NewContext(ctx)
	defer cancel()
	if err := chromedp.Do(wallTab, chromedp.Navigate("http://"+e.addr+"/walls/devconf")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, wallTab, `!!document.getElementById("empty") && !document.getElementById("empty").hidden`, 5*time.Second)

	if err := chromedp.Do(ctx, chromedp.KeyEvent("J"), chromedp.KeyEvent("J")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.querySelectorAll("#pending li.picked").length === 3`, 5*time.Second)
	if err := chromedp.Do(ctx, chromedp.KeyEvent("a")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.querySelectorAll("#pending li").length === 0 && document.querySelectorAll("#visible li").length === 3 && !document.getElementById("undo").hidden`, 5*time.Second)
	waitJS(t, wallTab, cards+` === 3`, 5*time.Second)

	if err := chromedp.Do(ctx, chromedp.KeyEvent("u")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.querySelectorAll("#pending li").length === 3 && document.querySelectorAll("#visible li").length === 0`, 5*time.Second)
	waitJS(t, wallTab, cards+` === 0`, 5*time.Second)
}

// TestBrowserShowControl: from the console, s pauses the wall (a new post
// waits; it appears on resume), f features the selected post full screen
// and the screen returns to the wall when its seconds are up, h puts up a
// holding slide.
func TestBrowserShowControl(t *testing.T) {
	ctx := browser(t)
	e := newBrowserEnv(t, "https://news.example")
	e.feed.add(1)
	e.console(ctx)
	waitJS(t, ctx, `document.querySelectorAll("#visible li").length === 1`, 10*time.Second)
	wallTab, cancel := chromedp.NewContext(ctx)
	defer cancel()
	shots := os.Getenv("WALLCAST_SCREENSHOTS")
	if shots != "" {
		if err := chromedp.Do(wallTab, chromedp.EmulateViewport(1920, 1080)); err != nil {
			t.Fatal(err)
		}
	}
	shoot := func(name string) {
		if shots == "" {
			return
		}
		if png, err := chromedp.Run(wallTab, chromedp.CaptureScreenshot()); err == nil {
			os.WriteFile(filepath.Join(shots, name), png, 0o644)
		}
	}
	if err := chromedp.Do(wallTab, chromedp.Navigate("http://"+e.addr+"/walls/devconf")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, wallTab, cards+` === 1`, 10*time.Second)

	// Pause: the next post waits.
	if err := chromedp.Do(ctx, chromedp.KeyEvent("s")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, wallTab, `document.body.classList.contains("paused")`, 5*time.Second)
	e.feed.add(1)
	waitJS(t, ctx, `document.querySelectorAll("#visible li").length === 2`, 10*time.Second)
	if n := evalJS[int](t, wallTab, cards); n != 1 {
		t.Errorf("paused wall shows %d posts, want 1", n)
	}
	if err := chromedp.Do(ctx, chromedp.KeyEvent("s")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, wallTab, `!document.body.classList.contains("paused") && `+cards+` === 2`, 5*time.Second)

	// Feature the selected post for 3 s: full screen, then back.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#feature-secs"), "3"),
		chromedp.Click(chromedp.CSS("#visible li")),
		chromedp.KeyEvent("f")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, wallTab, `!document.getElementById("feature").hidden && !!document.querySelector("#feature article.post.featured")`, 5*time.Second)
	shoot("feature-1920x1080.png")
	waitJS(t, wallTab, `document.getElementById("feature").hidden`, 10*time.Second)

	// A holding slide.
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS(`#slide input[name=text]`), "Back at 14:00"), chromedp.KeyEvent("h")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, wallTab, `!document.getElementById("slide").hidden && document.getElementById("slide").textContent === "Back at 14:00"`, 5*time.Second)
	shoot("holding-slide-1920x1080.png")
}

// TestBrowserGridOrderAndRecycle: in the grid the newest post is at the
// top left and the others follow row by row; when nothing new comes for
// recycle_after, an earlier post no longer on the screen comes back,
// without a duplicate.
func TestBrowserGridOrderAndRecycle(t *testing.T) {
	ctx := browser(t)
	e := newBrowserEnv(t, "https://news.example")
	cfg := strings.Replace(fmt.Sprintf(browserYAML, e.addr, "http://"+e.addr, e.origin, filepath.Join(e.dir, "w.db"), e.feedURL, "grid"),
		"max_posts: 100,", "max_posts: 3, recycle_after: 2s, spotlight_seconds: 2,", 1)
	os.WriteFile(filepath.Join(e.dir, "config.yaml"), []byte(cfg), 0o600)
	if err := e.a.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1920, 1080), chromedp.Navigate("http://"+e.addr+"/walls/devconf")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `!!document.getElementById("empty")`, 5*time.Second)
	for i := range 4 {
		e.feed.add(1)
		waitJS(t, ctx, fmt.Sprintf(`!!document.querySelector('[data-id="feed:item-%03d"]')`, i), 10*time.Second)
	}
	// Three on screen (max_posts), newest first, row by row.
	order := `Array.from(document.querySelectorAll("#posts article.post")).map(c => c.dataset.id).join(" ")`
	if got := evalJS[string](t, ctx, order); got != "feed:item-003 feed:item-002 feed:item-001" {
		t.Errorf("order = %s", got)
	}
	rows := `(() => { const r = Array.from(document.querySelectorAll("#posts article.post")).map(c => c.getBoundingClientRect());
		return r[0].top === r[1].top && r[0].left < r[1].left && r[1].left < r[2].left; })()`
	waitJS(t, ctx, rows, 5*time.Second)
	// Quiet: item-000, no longer on the screen, comes back once.
	waitJS(t, ctx, `!!document.querySelector('[data-id="feed:item-000"]')`, 15*time.Second)
	if n := evalJS[int](t, ctx, `document.querySelectorAll('[data-id="feed:item-000"]').length`); n != 1 {
		t.Errorf("item-000 on the screen %d times", n)
	}
}

// TestBrowserSponsors: a sponsor's card shows after every_posts new posts
// for its seconds, then goes, and the showing is counted.
func TestBrowserSponsors(t *testing.T) {
	ctx := browser(t)
	e := newBrowserEnv(t, "https://news.example")
	os.WriteFile(filepath.Join(e.dir, "acme.svg"), []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="200" height="80"><rect width="200" height="80" fill="#2563eb"/></svg>`), 0o600)
	cfg := strings.Replace(fmt.Sprintf(browserYAML, e.addr, "http://"+e.addr, e.origin, filepath.Join(e.dir, "w.db"), e.feedURL, "grid"),
		"max_posts: 100,", `max_posts: 100, sponsors: [{name: ACME, image: acme.svg, url: "https://acme.example", seconds: 2}], sponsor_every_posts: 2,`, 1)
	os.WriteFile(filepath.Join(e.dir, "config.yaml"), []byte(cfg), 0o600)
	if err := e.a.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+e.addr+"/walls/devconf")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `!!document.getElementById("sponsor")`, 5*time.Second)
	e.feed.add(1)
	waitJS(t, ctx, cards+` === 1`, 10*time.Second)
	if evalJS[bool](t, ctx, `!document.getElementById("sponsor").hidden`) {
		t.Error("the sponsor showed after one post (every_posts: 2)")
	}
	e.feed.add(1)
	waitJS(t, ctx, `!document.getElementById("sponsor").hidden && document.querySelector("#sponsor img").complete && document.querySelector("#sponsor img").naturalWidth > 0`, 10*time.Second)
	waitJS(t, ctx, `document.getElementById("sponsor").hidden`, 10*time.Second)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		im, err := e.a.DB().Impressions(context.Background(), "devconf")
		if err == nil && len(im) == 1 && im[0].Sponsor == "ACME" && im[0].Shows == 1 && im[0].ScreenMinutes > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("impressions = %+v, %v", im, err)
		}
	}
}

// openPoll opens a poll from the console's form: tabs or spaces.
func openPoll(t *testing.T, ctx context.Context) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`#poll input[name=question]`), "Tabs or spaces?"),
		chromedp.SetValue(chromedp.CSS(`#poll textarea[name=options]`), "Tabs #teamtabs\nSpaces #teamspaces"),
		chromedp.Click(chromedp.CSS(`#poll button`)))
	if err != nil {
		t.Fatal(err)
	}
}

// TestBrowserPoll: a poll opened from the console shows on the wall, and
// its bars move as posts with an option's tag come in (one vote per
// author: the last counts).
func TestBrowserPoll(t *testing.T) {
	ctx := browser(t)
	e := newBrowserEnv(t, "https://news.example")
	e.console(ctx)
	wallTab, cancel := chromedp.NewContext(ctx)
	defer cancel()
	if err := chromedp.Do(wallTab, chromedp.Navigate("http://"+e.addr+"/walls/devconf")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, wallTab, `!!document.getElementById("poll")`, 5*time.Second)
	openPoll(t, ctx)
	votes := `Array.from(document.querySelectorAll("#poll .votes")).map(v => v.textContent).join(",")`
	waitJS(t, wallTab, `!document.getElementById("poll").hidden && `+votes+` === "0,0"`, 10*time.Second)
	e.feed.addTagged(1, "devconf #teamtabs")
	waitJS(t, wallTab, votes+` === "1,0" && document.querySelector('#poll [data-tag="teamtabs"] .share').style.width === "100%"`, 10*time.Second)
	// The same author changes their mind: the last vote counts.
	e.feed.addTagged(1, "devconf #teamspaces")
	waitJS(t, wallTab, votes+` === "0,1"`, 10*time.Second)
	if dir := os.Getenv("WALLCAST_SCREENSHOTS"); dir != "" {
		if err := chromedp.Do(wallTab, chromedp.EmulateViewport(1920, 1080)); err == nil {
			waitJS(t, wallTab, `document.getAnimations().length === 0`, 5*time.Second)
			if png, err := chromedp.Run(wallTab, chromedp.CaptureScreenshot()); err == nil {
				os.WriteFile(filepath.Join(dir, "poll-1920x1080.png"), png, 0o644)
			}
		}
	}
}

// TestBrowserReport: the console's analytics show the wall's figures and
// charts, and the report page prints them with the polls and the shown
// posts; its screenshot goes to the README.
func TestBrowserReport(t *testing.T) {
	ctx := browser(t)
	e := newBrowserEnv(t, "https://news.example", app.ScreensEvery(100*time.Millisecond))
	wallTab, cancel := chromedp.NewContext(ctx)
	defer cancel()
	if err := chromedp.Do(wallTab, chromedp.Navigate("http://"+e.addr+"/walls/devconf")); err != nil {
		t.Fatal(err)
	}
	e.feed.add(5)
	e.feed.addTagged(1, "devconf #teamtabs")
	waitJS(t, wallTab, cards+" === 6", 10*time.Second)
	e.console(ctx)
	fig := func(name string) string {
		return `document.querySelector('#analytics [data-fig=` + name + `]').textContent`
	}
	waitJS(t, ctx, fig("received")+` === "6" && `+fig("shown")+` === "6" && document.getElementById("chart-posts").naturalWidth > 0`, 10*time.Second)
	if n := evalJS[int](t, ctx, `document.querySelectorAll("#top-hashtags li").length`); n == 0 {
		t.Error("no top hashtags in the console")
	}
	// A poll and a vote, for the report.
	openPoll(t, ctx)
	waitJS(t, wallTab, `!document.getElementById("poll").hidden`, 10*time.Second)
	e.feed.addTagged(1, "devconf #teamspaces")
	waitJS(t, wallTab, cards+" === 7", 10*time.Second)
	// The console's figures follow within seconds, not at the next 30 s.
	waitJS(t, ctx, fig("received")+` === "7"`, 10*time.Second)
	// The screen was noted; the report page shows it and every chart loads.
	waitJS(t, ctx, `fetch("/admin/api/walls/devconf/report.json?posts=false").then(r => r.json()).then(j => window.__peak = j.screens_peak.peak), window.__peak >= 1`, 10*time.Second)
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+e.addr+"/admin/walls/devconf/report")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `Array.from(document.images).every(i => i.complete && i.naturalWidth > 0) && document.images.length === 2`, 10*time.Second)
	text := evalJS[string](t, ctx, `document.getElementById("figures").innerText`)
	if !strings.Contains(text, "Posts received\n7") || !strings.Contains(text, "Screens at the peak\n1") {
		t.Errorf("report figures:\n%s", text)
	}
	if n := evalJS[int](t, ctx, `document.querySelectorAll("table.posts tbody tr").length`); n != 7 {
		t.Errorf("report lists %d shown posts, want 7", n)
	}
	if v := evalJS[string](t, ctx, `Array.from(document.querySelectorAll(".poll-result meter")).map(m => m.value).join(",")`); v != "0,1" {
		t.Errorf("report poll votes = %q, want 0,1", v)
	}
	if dir := os.Getenv("WALLCAST_SCREENSHOTS"); dir != "" {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 1600)); err == nil {
			if png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
				os.WriteFile(filepath.Join(dir, "report-1280.png"), png, 0o644)
			}
		}
	}
}

// TestBrowserLongAnnouncement: an announcement that ends in 40 days stays
// on the screen (a browser's timer holds 2^31 ms, 24.8 days: one armed
// for longer fires at once).
func TestBrowserLongAnnouncement(t *testing.T) {
	ctx := browser(t)
	e := newBrowserEnv(t, "https://news.example")
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+e.addr+"/walls/devconf")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.querySelector("#posts") !== null`, 10*time.Second)
	base := "http://" + e.addr
	c, token := login(t, base, "devconf", nil)
	body := fmt.Sprintf(`{"text": "Photo booth open all month", "expires_at": %q}`, time.Now().Add(40*24*time.Hour).UTC().Format(time.RFC3339))
	req, _ := http.NewRequest("POST", base+"/admin/api/walls/devconf/announcements", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", token)
	resp, err := c.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("announce: %v %v", err, resp.Status)
	}
	resp.Body.Close()
	// The card shows, and is still there after the page's timers had a
	// moment to fire.
	waitJS(t, ctx, `document.querySelectorAll(".announcement").length === 1`, 10*time.Second)
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`new Promise(r => setTimeout(() => r(document.querySelectorAll(".announcement").length), 500))`, chromedp.EvalAwaitPromise))
	if err != nil || n != 1 {
		t.Errorf("40 days' announcement after 0.5 s: %d cards, %v", n, err)
	}
}

// TestBrowserFeaturedPostTakenDown: a post featured full screen leaves
// the screen when a moderator removes it, long before its feature ends.
func TestBrowserFeaturedPostTakenDown(t *testing.T) {
	ctx := browser(t)
	e := newBrowserEnv(t, "https://news.example")
	e.feed.add(1)
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+e.addr+"/walls/devconf")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, cards+` === 1`, 10*time.Second)
	base := "http://" + e.addr
	c, token := login(t, base, "devconf", nil)
	post := func(path, body string) {
		req, _ := http.NewRequest(http.MethodPost, base+"/admin/api/walls/devconf"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", token)
		resp, err := c.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", path, err, resp)
		}
		resp.Body.Close()
	}
	post("/show", `{"action": "feature", "id": "feed:item-000", "seconds": 600}`)
	waitJS(t, ctx, `!document.getElementById("feature").hidden && !!document.querySelector("#feature article.post")`, 5*time.Second)
	post("/posts/feed:item-000/remove", "{}")
	waitJS(t, ctx, `document.getElementById("feature").hidden && !document.querySelector("#feature article.post") && `+cards+` === 0`, 5*time.Second)
}
