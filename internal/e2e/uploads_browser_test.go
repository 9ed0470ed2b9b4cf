package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image/jpeg"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wallcast/wallcast/media/mediatest"
	"github.com/wallcast/wallcast/wall"
)

// TestBrowserPostFromAPhone: on a phone-sized screen someone opens the
// room's link, takes a photo (one that carries GPS EXIF and wants turning),
// writes a line, agrees, sends; a moderator approves it in the console;
// the wall shows it. The picture served has no EXIF and fits max_pixels.
func TestBrowserPostFromAPhone(t *testing.T) {
	ctx := browser(t)
	e := newBrowserEnv(t, "https://news.example")
	cfg := fmt.Sprintf(browserYAML, e.addr, "http://"+e.addr, e.origin, filepath.Join(e.dir, "w.db"), e.feedURL, "grid")
	cfg = strings.Replace(cfg, "  - {name: feed, type: rss, url:", "  - {name: phones, type: uploads, max_pixels: 300}\n  - {name: feed, type: rss, url:", 1)
	cfg = strings.Replace(cfg, "sources: [feed]", "sources: [feed, phones]\n    filters: {hold_if: [upload]}", 1)
	os.WriteFile(filepath.Join(e.dir, "config.yaml"), []byte(cfg), 0o600)
	if err := e.a.Reload(); err != nil {
		t.Fatal(err)
	}
	room := roomOf(t, e.addr, "devconf")
	photo := filepath.Join(t.TempDir(), "IMG_0042.jpg")
	os.WriteFile(photo, mediatest.PhoneJPEG(1200, 800, 6), 0o600)

	// The screen: its QR code leads to the form with the room code.
	screen, cancel := chromedp.NewContext(ctx)
	defer cancel()
	if err := chromedp.Do(screen, chromedp.EmulateViewport(1920, 1080), chromedp.Navigate("http://"+e.addr+"/walls/devconf")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, screen, fmt.Sprintf(`document.getElementById("qr").getAttribute("src").endsWith("code=%s") && document.getElementById("cta-room").textContent.includes(%q)`, room.Code, room.Code), 10*time.Second)

	// A new code reaches the screen as an event: the QR code changes
	// without a reload.
	err := e.a.Pipeline().Do(func() ([]wall.Event, error) {
		return e.a.DB().SetRoom(context.Background(), "devconf", wall.Room{Code: "ZZZ999", URL: "http://" + e.addr + "/walls/devconf/post?code=ZZZ999"})
	})
	if err != nil {
		t.Fatal(err)
	}
	waitJS(t, screen, `document.getElementById("qr").getAttribute("src").endsWith("code=ZZZ999") && document.getElementById("cta-room").textContent.includes("ZZZ999")`, 10*time.Second)

	// The phone.
	phone, cancel := chromedp.NewContext(ctx)
	defer cancel()
	err = chromedp.Do(phone,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(1)),
		chromedp.Navigate(room.URL),
		chromedp.WaitVisible(chromedp.CSS("#photo")),
		chromedp.SetUploadFiles(chromedp.CSS("#photo"), []string{photo}),
		chromedp.SendKeys(chromedp.CSS("#text"), "Hello from row 3"),
		chromedp.SendKeys(chromedp.CSS("#name"), "Ana"),
		chromedp.Click(chromedp.CSS("#consent")),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitJS(t, phone, `document.getElementById("left").value === "264"`, 5*time.Second)
	keepScreenshot(t, phone, "post-390x844.png")
	if err := chromedp.Do(phone, chromedp.Click(chromedp.CSS("#send"))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, phone, `location.pathname === "/walls/devconf/post/sent" && !!document.getElementById("delete-link")`, 15*time.Second)

	// The moderator approves it in the console ("a" on the selected post).
	console, cancel := chromedp.NewContext(ctx)
	defer cancel()
	e.console(console)
	waitJS(t, console, `document.querySelectorAll("#pending li").length === 1 && document.querySelector("#pending li.selected") !== null && document.querySelector("#pending li img") !== null`, 10*time.Second)
	// A phone's post offers to block the phone and to erase all it sent.
	waitJS(t, console, `(function(){ var b = Array.from(document.querySelectorAll("#pending li button")).map(function(x){ return x.textContent; });
		return b.indexOf("block this phone") >= 0 && b.indexOf("remove everything from this phone") >= 0; })()`, 5*time.Second)
	if err := chromedp.Do(console, chromedp.KeyEvent("a")); err != nil {
		t.Fatal(err)
	}

	// The wall shows it, picture loaded, named by what was typed (the
	// phone's pseudonym is not shown).
	waitJS(t, screen, `(function(){ var c = document.querySelector('article.post[data-network="upload"]');
		if (!c) return false; var img = c.querySelector("img.media, .media img, img:not(.avatar img)");
		return c.querySelector(".name").textContent === "Ana" && c.querySelector(".handle").textContent === "" &&
			c.textContent.includes("Hello from row 3") && !!img && img.complete && img.naturalWidth > 0; })()`, 10*time.Second)
	keepScreenshot(t, screen, "room-code-1920x1080.png")
	src := evalJS[string](t, screen, `(function(){ var imgs = document.querySelectorAll('article.post[data-network="upload"] img');
		for (var i = 0; i < imgs.length; i++) if (imgs[i].src.indexOf("/media/") >= 0) return imgs[i].src; return ""; })()`)
	resp, err := http.Get(src)
	if err != nil {
		t.Fatal(err)
	}
	pic, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if bytes.Contains(pic, []byte("Exif")) || bytes.Contains(pic, []byte(mediatest.Camera)) {
		t.Fatal("the picture on the wall keeps the photo's EXIF")
	}
	c, err := jpeg.DecodeConfig(bytes.NewReader(pic))
	if err != nil || c.Width != 200 || c.Height != 300 {
		t.Fatalf("picture %d×%d (%v): want 200×300, upright within max_pixels 300", c.Width, c.Height, err)
	}
}
