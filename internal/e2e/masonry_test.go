package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// variedFeed is an RSS feed of n posts from one line to a dozen.
func variedFeed(n int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		b.WriteString(`<?xml version="1.0"?><rss version="2.0"><channel><title>Talks</title><link>https://talks.example/</link>`)
		for i := range n {
			lines := (i*7)%11 + 1
			text := strings.Repeat("A sentence about the talk that a screen has to show in full. ", lines)
			fmt.Fprintf(&b, `<item><guid>t-%03d</guid><title>Talk %d</title><description>&lt;p&gt;%s #devconf&lt;/p&gt;</description><pubDate>%s</pubDate></item>`,
				i, i, text, time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Minute).Format(time.RFC1123Z))
		}
		b.WriteString(`</channel></rss>`)
		w.Header().Set("Content-Type", "application/rss+xml")
		io.WriteString(w, b.String())
	}
}

// masonryJS measures the grid as a screen shows it: the cards' columns,
// the largest hole between two cards of a column (and above the first),
// the gap the grid keeps, the share of the screen (between the title bar
// and the call to action) that cards cover, and whether the newest
// cards make the top row, in order, left to right.
const masonryJS = `(function(){
  var list = document.getElementById("posts"), cs = getComputedStyle(list);
  var gap = parseFloat(cs.rowGap), lr = list.getBoundingClientRect();
  var cards = Array.prototype.filter.call(list.children, function (c) { return c.matches("article.post"); }).map(function (c) { return c.getBoundingClientRect(); });
  var cols = {};
  cards.forEach(function (r) { var k = Math.round(r.left); (cols[k] = cols[k] || []).push(r); });
  var lefts = Object.keys(cols).map(Number).sort(function (a, b) { return a - b; });
  var hole = 0;
  lefts.forEach(function (k) {
    var c = cols[k].sort(function (a, b) { return a.top - b.top; });
    hole = Math.max(hole, c[0].top - (lr.top + parseFloat(cs.paddingTop)));
    for (var i = 1; i < c.length; i++) hole = Math.max(hole, c[i].top - c[i - 1].bottom);
  });
  var cta = document.getElementById("cta"), bottom = innerHeight - (cta && !cta.hidden ? cta.getBoundingClientRect().height : 0);
  var x0 = lr.left + parseFloat(cs.paddingLeft), x1 = lr.right - parseFloat(cs.paddingRight), y0 = Math.max(lr.top, 0), y1 = bottom;
  var covered = 0;
  cards.forEach(function (r) { covered += Math.max(0, Math.min(r.right, x1) - Math.max(r.left, x0)) * Math.max(0, Math.min(r.bottom, y1) - Math.max(r.top, y0)); });
  var topRow = cards.slice(0, lefts.length).every(function (r, i) { return Math.round(r.left) === lefts[i] && Math.abs(r.top - cards[0].top) < 1; });
  return [lefts.length, hole, gap, covered / ((x1 - x0) * (y1 - y0)), topRow ? 1 : 0];
})()`

// TestBrowserMasonry: a wall of 60 posts from one line to a dozen, at
// 1920×1080 and 3840×2160, laid out column by column into the shortest:
// no hole in a column taller than the gap between cards, at least 85 %
// of the screen covered, the newest posts across the top row in order; a
// new post goes top left and the others glide; display.columns fixes
// the number of columns.
func TestBrowserMasonry(t *testing.T) {
	ctx := browser(t)
	feed := httptest.NewServer(variedFeed(60))
	defer feed.Close()
	e := newBrowserEnv(t, "https://news.example")
	e.feedURL = feed.URL
	e.write("grid")
	if err := e.a.Reload(); err != nil {
		t.Fatal(err)
	}
	for _, vp := range []struct{ w, h int64 }{{1920, 1080}, {3840, 2160}} {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(vp.w, vp.h), chromedp.Navigate("http://"+e.addr+"/walls/devconf")); err != nil {
			t.Fatal(err)
		}
		waitJS(t, ctx, cards+` === 60 && document.getElementById("posts").classList.contains("masonry") && `+still, 15*time.Second)
		m := evalJS[[]float64](t, ctx, masonryJS)
		t.Logf("%d×%d: %v columns, largest hole %.1f px (gap %.1f px), %.1f %% of the screen covered", vp.w, vp.h, m[0], m[1], m[2], m[3]*100)
		if m[1] > m[2]+1 {
			t.Errorf("%d×%d: a hole of %.1f px in a column, more than the gap of %.1f px", vp.w, vp.h, m[1], m[2])
		}
		if m[3] < 0.85 {
			t.Errorf("%d×%d: cards cover %.1f %% of the screen, want at least 85 %%", vp.w, vp.h, m[3]*100)
		}
		if m[4] != 1 || m[0] < 2 {
			t.Errorf("%d×%d: the newest posts are not the top row in order (%v columns)", vp.w, vp.h, m[0])
		}
		if vp.w == 1920 {
			keepScreenshot(t, ctx, "grid-masonry-1920x1080.png")
		}
	}

	// display.columns: five, whatever the width.
	cfg, _ := os.ReadFile(filepath.Join(e.dir, "config.yaml"))
	os.WriteFile(filepath.Join(e.dir, "config.yaml"), []byte(strings.Replace(string(cfg), "display: {layout: grid, max_posts", "display: {layout: grid, columns: 5, max_posts", 1)), 0o600)
	if err := e.a.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1920, 1080), chromedp.Navigate("http://"+e.addr+"/walls/devconf")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, cards+` === 60 && `+still, 15*time.Second)
	if m := evalJS[[]float64](t, ctx, masonryJS); m[0] != 5 || m[1] > m[2]+1 {
		t.Fatalf("columns: 5 gave %v", m)
	}
}
