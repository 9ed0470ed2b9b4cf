package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	pngcodec "image/png"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserOverlay: ?layout=overlay on a grid wall is a broadcast
// overlay. With Chromium's default background made transparent (as a
// mixer's browser source has it), a screenshot is see-through (alpha 0)
// everywhere but the one post, a lower third inside the title-safe area,
// which is opaque; the show control's feature shows the same way; the
// wall's other screens keep their grid.
func TestBrowserOverlay(t *testing.T) {
	ctx := browser(t)
	e := newBrowserEnv(t, "https://news.example")
	e.feed.add(3)
	transparent := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		return t.Call(ctx, "Emulation.setDefaultBackgroundColorOverride", map[string]any{"color": map[string]any{"r": 0, "g": 0, "b": 0, "a": 0}}, nil)
	})
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1920, 1080), transparent, chromedp.Navigate("http://"+e.addr+"/walls/devconf?layout=overlay")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.body.classList.contains("layout-overlay") && document.querySelectorAll("#posts article.post").length === 3 && !!document.querySelector("#posts article.post.current") && `+still, 10*time.Second)

	shot := func(name string) (image.Image, [4]float64) {
		t.Helper()
		rect := evalJS[[]float64](t, ctx, `(function(){ var c = document.querySelector("#feature:not([hidden]) article.post") || document.querySelector("#posts article.post.current");
			var r = c.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })()`)
		b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if dir := os.Getenv("WALLCAST_SCREENSHOTS"); dir != "" {
			os.WriteFile(filepath.Join(dir, name), b, 0o644)
		}
		img, err := pngcodec.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		return img, [4]float64{rect[0], rect[1], rect[2], rect[3]}
	}
	alpha := func(img image.Image, x, y float64) uint8 {
		return color.NRGBAModel.Convert(img.At(int(x), int(y))).(color.NRGBA).A
	}
	check := func(img image.Image, r [4]float64, what string) {
		t.Helper()
		if r[0] < 1920*0.1-1 || r[2] > 1920*0.9+1 || r[3] > 1080*0.9+1 || r[1] < 1080/2 {
			t.Fatalf("%s at %v: not a lower third inside the title-safe area", what, r)
		}
		for _, p := range [][2]float64{{5, 5}, {960, 100}, {1900, 1070}, {960, 540}, {r[2] + 40, (r[1] + r[3]) / 2}} {
			if a := alpha(img, p[0], p[1]); a != 0 {
				t.Fatalf("%s: alpha %d at %v, outside the card: the page is not see-through", what, a, p)
			}
		}
		if a := alpha(img, (r[0]+r[2])/2, (r[1]+r[3])/2); a != 255 {
			t.Fatalf("%s: alpha %d in the card, want opaque", what, a)
		}
	}
	img, r := shot("overlay-1920x1080.png")
	check(img, r, "the post")

	// The show control works as on screens: a featured post, the same way.
	base := "http://" + e.addr
	c, token := login(t, base, "devconf", nil)
	req, _ := http.NewRequest(http.MethodPost, base+"/admin/api/walls/devconf/show", strings.NewReader(`{"action": "feature", "id": "feed:item-001", "seconds": 600}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", token)
	if resp, err := c.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("feature: %v %v", resp, err)
	}
	waitJS(t, ctx, `!document.getElementById("feature").hidden && document.querySelector("#feature article.post").dataset.id === "feed:item-001" && `+still, 5*time.Second)
	img, r = shot("overlay-feature-1920x1080.png")
	check(img, r, "the featured post")

	// The wall's own screens are not changed by one screen's ?layout=.
	if err := chromedp.Do(ctx, chromedp.Navigate(fmt.Sprintf("http://%s/walls/devconf", e.addr))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.body.classList.contains("layout-grid") && !document.documentElement.classList.contains("overlay")`, 5*time.Second)
	// The corner card: top right, inside the frame, the page see-through.
	cfg, _ := os.ReadFile(filepath.Join(e.dir, "config.yaml"))
	os.WriteFile(filepath.Join(e.dir, "config.yaml"), []byte(strings.Replace(string(cfg), "display: {layout: grid,", "display: {layout: overlay, overlay_position: corner,", 1)), 0o600)
	if err := e.a.Reload(); err != nil {
		t.Fatal(err)
	}
	req, _ = http.NewRequest(http.MethodPost, base+"/admin/api/walls/devconf/show", strings.NewReader(`{"action": "unfeature"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", token)
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(fmt.Sprintf("http://%s/walls/devconf", e.addr))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.body.classList.contains("overlay-corner") && document.getElementById("feature").hidden && !!document.querySelector("#posts article.post.current") && `+still, 10*time.Second)
	img, r = shot("overlay-corner-1920x1080.png")
	if r[0] < 1920/2 || r[1] > 1080/3 || r[2] > 1920 || alpha(img, 5, 1070) != 0 || alpha(img, (r[0]+r[2])/2, (r[1]+r[3])/2) != 255 {
		t.Fatalf("corner card at %v: not a see-through page with a card top right", r)
	}

}
