package e2e

import (
	"bytes"
	"fmt"
	"image"
	pngcodec "image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserAllMedia: a post with six pictures shows every one, in turn,
// in a carousel (display.image_seconds), two are tiled; a video is muted,
// looped, inline, with its poster, and a video that fails to load leaves
// the card readable with its other picture.
func TestBrowserAllMedia(t *testing.T) {
	t.Setenv("WALLCAST_TEST_HOOK_SECRET", hookSecret)
	// Each picture a colour of its own, so a screenshot shows them apart.
	picture := func(name string) []byte {
		img := image.NewRGBA(image.Rect(0, 0, 320, 200))
		h := 0
		for _, c := range name {
			h = h*31 + int(c)
		}
		for i := 0; i < len(img.Pix); i += 4 {
			img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = uint8(h*53), uint8(h*97), uint8(h*193), 255
		}
		var b bytes.Buffer
		pngcodec.Encode(&b, img)
		return b.Bytes()
	}
	stop := make(chan struct{})
	media := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/img/"):
			w.Header().Set("Content-Type", "image/png")
			w.Write(picture(r.URL.Path))
		case r.URL.Path == "/slow.mp4": // a video still loading
			select {
			case <-r.Context().Done():
			case <-stop:
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer media.Close()
	defer close(stop) // before Close: the slow video lets go
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	os.WriteFile(path, []byte(fmt.Sprintf(`server: {listen: "127.0.0.1:0"}
storage: {path: %q}
sources:
  - {name: hook, type: webhook, flavor: wallcast, secret: "${WALLCAST_TEST_HOOK_SECRET}"}
walls:
  - slug: devconf
    hashtags: [devconf]
    sources: [hook]
    display: {image_seconds: 1}
`, filepath.Join(dir, "w.db"))), 0o600)
	a := startFile(t, path)
	defer a.Shutdown()
	imgs := func(n int) string {
		var parts []string
		for i := range n {
			parts = append(parts, fmt.Sprintf(`{"type":"image","url":"%s/img/%d.png","alt":"picture %d"}`, media.URL, i, i))
		}
		return strings.Join(parts, ",")
	}
	for _, body := range []string{
		`{"id":"six","author":{"name":"A"},"text":"six #devconf","media":[` + imgs(6) + `]}`,
		`{"id":"two","author":{"name":"B"},"text":"two #devconf","media":[` + imgs(2) + `]}`,
		`{"id":"broken","author":{"name":"C"},"text":"broken video #devconf","media":[{"type":"video","url":"` + media.URL + `/gone.mp4"},` + imgs(1) + `]}`,
		`{"id":"hls","author":{"name":"E"},"text":"a video this browser cannot play #devconf","media":[{"type":"video","url":"` + media.URL + `/gone.m3u8","preview":"` + media.URL + `/img/still.png"}]}`,
		`{"id":"video","author":{"name":"D"},"text":"a video #devconf","media":[{"type":"video","url":"` + media.URL + `/slow.mp4","preview":"` + media.URL + `/img/poster.png"}]}`,
	} {
		if resp, err := pushBody(http.DefaultClient, a.Addr(), body); err != nil || resp.StatusCode != 200 {
			t.Fatalf("push: %v %v", resp, err)
		}
	}
	ctx := browser(t)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1920, 1080), chromedp.Navigate("http://"+a.Addr()+"/walls/devconf")); err != nil {
		t.Fatal(err)
	}
	card := func(id string) string { return fmt.Sprintf(`document.querySelector('[data-id="hook:%s"]')`, id) }
	waitJS(t, ctx, `!!`+card("six")+` && !!`+card("two")+` && !!`+card("broken")+` && !!`+card("video")+` && !!`+card("hls"), 10*time.Second)

	// Six: all there, one shown at a time, taking turns.
	waitJS(t, ctx, card("six")+`.querySelectorAll(".gallery.carousel .media").length === 6 && `+
		card("six")+`.querySelectorAll(".gallery.carousel .media.on").length === 1 && `+
		`Array.prototype.filter.call(`+card("six")+`.querySelectorAll(".media"), function (m) { return m.offsetParent !== null; }).length === 1`, 5*time.Second)
	first := evalJS[string](t, ctx, card("six")+`.querySelector(".count").textContent`)
	waitJS(t, ctx, card("six")+fmt.Sprintf(`.querySelector(".count").textContent !== %q && `, first)+card("six")+`.querySelector(".media.on img").complete`, 5*time.Second)

	// Two: tiled, both shown.
	waitJS(t, ctx, `Array.prototype.filter.call(`+card("two")+`.querySelectorAll(".gallery.n2 .media"), function (m) { return m.offsetParent !== null; }).length === 2`, 5*time.Second)

	// A video that cannot load goes; the card keeps its text and picture.
	waitJS(t, ctx, card("broken")+`.querySelectorAll("video").length === 0 && `+card("broken")+`.querySelectorAll(".gallery.n1 .media img").length === 1 && `+
		card("broken")+`.textContent.includes("broken video")`, 10*time.Second)

	// One this browser cannot play leaves its poster frame.
	waitJS(t, ctx, card("hls")+`.querySelectorAll("video").length === 0 && !!`+card("hls")+`.querySelector('.media img[src$="/img/still.png"]')`, 10*time.Second)

	// A video: muted, looped, inline, with its poster, never with sound.
	ok := evalJS[bool](t, ctx, `(function(){ var v = `+card("video")+`.querySelector("video");
		return !!v && v.muted && v.loop && v.playsInline && v.poster.endsWith("/img/poster.png") && !v.controls; })()`)
	if !ok {
		t.Fatal("the video is not muted, looped and inline with its poster")
	}
	keepScreenshot(t, ctx, "media-1920x1080.png")
}
