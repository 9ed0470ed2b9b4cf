package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// contrastJS computes, in the page, the WCAG contrast ratio of an
// element's text against the card it is on (the card's colour laid over
// the page's), and its font size in pixels.
const contrastJS = `(function(sel){
  function rgb(s){ var m = s.match(/[\d.]+/g).map(Number); return {r:m[0], g:m[1], b:m[2], a: m.length > 3 ? m[3] : 1}; }
  function over(top, under){ return {r: top.r*top.a + under.r*(1-top.a), g: top.g*top.a + under.g*(1-top.a), b: top.b*top.a + under.b*(1-top.a), a: 1}; }
  function lum(c){ function ch(v){ v /= 255; return v <= 0.03928 ? v/12.92 : Math.pow((v+0.055)/1.055, 2.4); } return 0.2126*ch(c.r) + 0.7152*ch(c.g) + 0.0722*ch(c.b); }
  var card = document.querySelector("#posts article.post.current") || document.querySelector("#posts article.post");
  var e = card.querySelector(sel);
  var page = rgb(getComputedStyle(document.documentElement).backgroundColor);
  if (page.a === 0) page = {r:0,g:0,b:0,a:1};
  var bg = over(rgb(getComputedStyle(card).backgroundColor), page);
  var fg = over(rgb(getComputedStyle(e).color), bg);
  var a = lum(fg), b = lum(bg);
  return [Math.round((Math.max(a,b)+0.05)/(Math.min(a,b)+0.05)*100)/100, parseFloat(getComputedStyle(e).fontSize)];
})(%q)`

// TestBrowserReading measures what a screen is read from across the hall
// by, at 1920×1080 in each layout and theme: the size of the post's text,
// the name and the time in pixels (per 1080 rows), and the contrast of
// each against its card. Post text must meet WCAG AAA (7:1), the rest AA
// (4.5:1). With prefers-reduced-motion a new post fades in: nothing moves.
func TestBrowserReading(t *testing.T) {
	ctx := browser(t)
	e := newBrowserEnv(t, "https://news.example")
	e.feed.add(4)
	base := "http://" + e.addr
	c, token := login(t, base, "devconf", nil)
	display := func(layout, theme string) {
		req, _ := http.NewRequest(http.MethodPost, base+"/admin/api/walls/devconf/display", strings.NewReader(fmt.Sprintf(`{"layout": %q, "theme": %q}`, layout, theme)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", token)
		if resp, err := c.Do(req); err != nil || resp.StatusCode != 200 {
			t.Fatalf("display: %v %v", resp, err)
		}
	}
	var table []string
	for _, layout := range []string{"grid", "spotlight", "ticker", "overlay"} {
		for _, theme := range []string{"dark", "light"} {
			display(layout, theme)
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(1920, 1080), chromedp.Navigate(base+"/walls/devconf")); err != nil {
				t.Fatal(err)
			}
			waitJS(t, ctx, fmt.Sprintf(`document.body.classList.contains("layout-%s") && document.documentElement.classList.contains("theme-%s") && document.querySelectorAll("#posts article.post").length === 4`, layout, theme), 10*time.Second)
			row := fmt.Sprintf("| %s | %s |", layout, theme)
			for _, part := range []struct {
				sel  string
				min  float64
				what string
			}{{".content", 7, "post text"}, {".content .tag", 7, "hashtag"}, {".name", 4.5, "name"}, {".meta .ago", 4.5, "time"}} {
				if layout == "ticker" && part.sel == ".meta .ago" {
					row += " – |"
					continue
				}
				v := evalJS[[]float64](t, ctx, fmt.Sprintf(contrastJS, part.sel))
				if v[0] < part.min {
					t.Errorf("%s %s: %s contrast %.2f:1, want at least %.1f:1", layout, theme, part.what, v[0], part.min)
				}
				row += fmt.Sprintf(" %.0f px, %.1f:1 |", v[1], v[0])
			}
			table = append(table, row)
			if layout == "spotlight" && theme == "light" {
				keepScreenshot(t, ctx, "spotlight-light-1920x1080.png")
			}
		}
	}
	t.Logf("\n| layout | theme | post text | hashtag | name | time |\n|---|---|---|---|---|---|\n%s", strings.Join(table, "\n"))

	// Reduced motion: a new post fades in, nothing slides or scales.
	display("grid", "dark")
	reduced := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		return t.Call(ctx, "Emulation.setEmulatedMedia", map[string]any{"features": []map[string]string{{"name": "prefers-reduced-motion", "value": "reduce"}}}, nil)
	})
	if err := chromedp.Do(ctx, reduced, chromedp.Navigate(base+"/walls/devconf")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, cards+` === 4`, 10*time.Second)
	evalJS[bool](t, ctx, `window.seen = []; new MutationObserver(function () {
		document.querySelectorAll("#posts article.post.enter").forEach(function (c) {
			c.getAnimations().forEach(function (a) { window.seen.push(a.animationName + ":" + a.effect.getKeyframes().map(function (k) { return k.transform || ""; }).join("")); });
		}); }).observe(document.getElementById("posts"), {childList: true}), true`)
	e.feed.add(1)
	waitJS(t, ctx, `window.seen.length > 0`, 10*time.Second)
	if got := evalJS[[]string](t, ctx, `window.seen`); got[0] != "fade-in:" {
		t.Fatalf("with reduced motion a new post animates %v, want a fade only", got)
	}
}
