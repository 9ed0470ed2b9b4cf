package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wallcast/wallcast/translate/translatetest"
	"github.com/wallcast/wallcast/wall"
)

// TestTranslationOnScreens: a post in Spanish on a wall that translates
// into English and French reaches the screens as it was, then in an
// update with both translations (from a fake LibreTranslate); in
// Chromium the screen shows the English with "Translated from Spanish",
// the original in its turn, and ?lang=fr the French.
func TestTranslationOnScreens(t *testing.T) {
	t.Setenv("WALLCAST_TEST_HOOK_SECRET", hookSecret)
	t.Setenv("TEST_LT_KEY", "k3y")
	fake, lt := translatetest.Start(t, "k3y")
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	os.WriteFile(path, []byte(fmt.Sprintf(`server: {listen: "127.0.0.1:0"}
storage: {path: %q}
translation: {url: %q, api_key: "${TEST_LT_KEY}"}
sources:
  - {name: hook, type: webhook, flavor: wallcast, secret: "${WALLCAST_TEST_HOOK_SECRET}"}
walls:
  - slug: devconf
    hashtags: [devconf]
    sources: [hook]
    display: {translate_to: [en, fr], locale: en}
`, filepath.Join(dir, "w.db"), lt.URL)), 0o600)
	a := startFile(t, path)
	defer a.Shutdown()
	screen := openTab(t, a.Addr(), "")
	screen.until(t, wall.EventReady)
	resp, err := pushBody(http.DefaultClient, a.Addr(), `{"id":"es-1","lang":"es","author":{"name":"Lucía"},"text":"es: hola sala #devconf"}`)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("push: %v %v", resp, err)
	}
	screen.until(t, wall.EventPost)
	var p wall.Post
	for len(p.Translations) < 2 {
		evs := screen.until(t, wall.EventUpdate)
		p = wall.Post{}
		json.Unmarshal([]byte(evs[len(evs)-1].Data), &p)
	}
	if en := p.Translations["en"]; !strings.Contains(en.Text, "[en] hola sala") || en.From != "es" || strings.Contains(en.HTML, "<script") {
		t.Fatalf("en: %+v", en)
	}
	if p.Text != "es: hola sala #devconf" {
		t.Fatalf("the original changed: %q", p.Text)
	}
	if n := fake.Calls.Load(); n != 2 {
		t.Fatalf("%d requests to the translation server, want 2", n)
	}

	ctx := browser(t)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800), chromedp.Navigate("http://"+a.Addr()+"/walls/devconf")); err != nil {
		t.Fatal(err)
	}
	visible := func(sel string) string {
		return fmt.Sprintf(`(function(){ var e = document.querySelector(%q); return !!e && e.offsetParent !== null && getComputedStyle(e).display !== "none"; })()`, sel)
	}
	waitJS(t, ctx, `(function(){ var c = document.querySelector("article.post.translated"); return !!c && c.querySelector(".content.translation").textContent.includes("[en] hola sala") &&
		c.querySelector(".translated-from .as-translation").textContent === "Translated from Spanish"; })()`, 10*time.Second)
	// The translation and the original take turns (every 8 s): each turn
	// is seen, checked in one look at the page.
	tr, orig := visible("article.post.translated .content.translation"), visible("article.post.translated .content.original")
	waitJS(t, ctx, `!document.body.classList.contains("originals") && `+tr+` && !`+orig, 10*time.Second)
	waitJS(t, ctx, `document.body.classList.contains("originals") && `+orig+` && !`+tr+
		` && document.querySelector("article.post.translated .content.original").textContent.includes("es: hola sala")`, 10*time.Second)
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+a.Addr()+"/walls/devconf?lang=fr")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `(function(){ var c = document.querySelector("article.post.translated .content.translation"); return !!c && c.textContent.includes("[fr] hola sala"); })()`, 10*time.Second)
}
