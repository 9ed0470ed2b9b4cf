package e2e

import (
	"context"
	"encoding/base64"
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

// recordWebM has Chromium record a short WebM of a moving square (from a
// canvas, by MediaRecorder) on a blank page: a video file this machine
// has no encoder for otherwise.
func recordWebM(t *testing.T, ctx context.Context) []byte {
	t.Helper()
	b64, err := chromedp.Run(ctx, chromedp.Evaluate[string](`new Promise(function (done) {
		var c = document.createElement("canvas"); c.width = 64; c.height = 48; document.body.appendChild(c);
		var g = c.getContext("2d"), x = 0;
		var draw = setInterval(function () { g.fillStyle = "#123"; g.fillRect(0, 0, 64, 48); g.fillStyle = "#fc0"; g.fillRect(x = (x + 4) % 64, 10, 12, 12); }, 40);
		var rec = new MediaRecorder(c.captureStream(25), { mimeType: "video/webm;codecs=vp8" }), parts = [];
		rec.ondataavailable = function (e) { parts.push(e.data); };
		rec.onstop = function () { clearInterval(draw); var r = new FileReader(); r.onload = function () { done(r.result.split(",")[1]); }; r.readAsDataURL(new Blob(parts, { type: "video/webm" })); };
		rec.start(); setTimeout(function () { rec.stop(); }, 1500);
	})`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	webm, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(webm) < 100 {
		t.Fatalf("no WebM recorded (%d bytes, %v)", len(webm), err)
	}
	return webm
}

// TestBrowserVideoOnScreenOnly: a post's video plays (muted) while its
// card is on the screen and is paused once the card is off it.
func TestBrowserVideoOnScreenOnly(t *testing.T) {
	t.Setenv("WALLCAST_TEST_HOOK_SECRET", hookSecret)
	ctx := browser(t)
	webm := recordWebM(t, ctx)
	media := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/webm")
		http.ServeContent(w, r, "clip.webm", time.Time{}, strings.NewReader(string(webm)))
	}))
	defer media.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	os.WriteFile(path, []byte(fmt.Sprintf(`server: {listen: "127.0.0.1:0"}
storage: {path: %q}
sources:
  - {name: hook, type: webhook, flavor: wallcast, secret: "${WALLCAST_TEST_HOOK_SECRET}"}
walls:
  - {slug: devconf, hashtags: [devconf], sources: [hook], display: {columns: 1}}
`, filepath.Join(dir, "w.db"))), 0o600)
	a := startFile(t, path)
	defer a.Shutdown()
	if resp, err := pushBody(http.DefaultClient, a.Addr(), `{"id":"clip","author":{"name":"V"},"text":"a clip #devconf","media":[{"type":"video","url":"`+media.URL+`/clip.webm"}]}`); err != nil || resp.StatusCode != 200 {
		t.Fatalf("push: %v %v", resp, err)
	}
	// Tall posts after it, to scroll it off the screen.
	for i := range 6 {
		body := fmt.Sprintf(`{"id":"t%d","author":{"name":"T"},"text":"%s #devconf"}`, i, strings.Repeat("A long line of text. ", 60))
		if resp, err := pushBody(http.DefaultClient, a.Addr(), body); err != nil || resp.StatusCode != 200 {
			t.Fatalf("push: %v %v", resp, err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 720), chromedp.Navigate("http://"+a.Addr()+"/walls/devconf")); err != nil {
		t.Fatal(err)
	}
	video := `document.querySelector('[data-id="hook:clip"] video')`
	// The newest posts are on top: the clip is far down, off the screen.
	waitJS(t, ctx, `!!`+video+` && `+video+`.readyState >= 2 && `+video+`.getBoundingClientRect().top > innerHeight && `+video+`.paused`, 10*time.Second)
	// Scrolled into view, it plays, muted.
	evalJS[bool](t, ctx, video+`.scrollIntoView({block: "center"}), true`)
	waitJS(t, ctx, `!`+video+`.paused && `+video+`.muted && `+video+`.currentTime > 0`, 10*time.Second)
	// Off the screen again, it stops.
	evalJS[bool](t, ctx, `window.scrollTo(0, 0), true`)
	waitJS(t, ctx, video+`.paused`, 10*time.Second)
}
