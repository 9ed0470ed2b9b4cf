package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wallcast/wallcast/internal/app"
	"github.com/wallcast/wallcast/media/mediatest"
	"github.com/wallcast/wallcast/sse"
	"github.com/wallcast/wallcast/wall"
)

const uploadsYAML = `server: {listen: "127.0.0.1:0", base_url: "http://wall.example"}
storage: {path: %q}
admin: {user: ana, password_hash: "${TEST_HASH}"}
sources:
  - {name: phones, type: uploads, max_photo_bytes: 2000000, max_pixels: 300, per_device: 3/10m}
walls:
  - slug: devconf
    title: DevConf
    sources: [phones]
    filters: {hold_if: [upload]}
  - slug: salle
    title: Salle
    sources: [phones]
    display: {locale: fr, theme: light}
`

// phoneClient is a phone's browser: it keeps its cookie.
func phoneClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// form is a multipart body of the post form.
func form(t *testing.T, fields map[string]string, photo []byte) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if photo != nil {
		fw, _ := mw.CreateFormFile("photo", "IMG_0001.jpg")
		fw.Write(photo)
	}
	mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func sendForm(t *testing.T, c *http.Client, addr, slug string, asJSON bool, fields map[string]string, photo []byte) answer {
	t.Helper()
	ct, body := form(t, fields, photo)
	req, _ := http.NewRequest("POST", "http://"+addr+"/walls/"+slug+"/post", bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	if asJSON {
		req.Header.Set("Accept", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}
}

// roomOf reads a wall's room event from a new stream.
func roomOf(t *testing.T, addr, slug string) wall.Room {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/walls/" + slug + "/events")
		if err != nil {
			t.Fatal(err)
		}
		r := sse.NewReader(resp.Body)
		var room wall.Room
		for {
			ev, err := r.Next()
			if err != nil || ev.Type == string(wall.EventReady) {
				break
			}
			if ev.Type == string(wall.EventRoom) {
				json.Unmarshal([]byte(ev.Data), &room)
			}
		}
		resp.Body.Close()
		if room.Code != "" {
			return room
		}
		if time.Now().After(deadline) {
			t.Fatalf("no room code on %s's screens", slug)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// noLeftovers checks that nothing of refused uploads is on disk: no
// temporary file, no picture but those kept.
func noLeftovers(t *testing.T, tmp, mediaDir string, keep int) {
	t.Helper()
	if es, _ := os.ReadDir(tmp); len(es) != 0 {
		t.Fatalf("temporary files left: %v", es)
	}
	es, _ := os.ReadDir(mediaDir)
	if len(es) != keep {
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		t.Fatalf("media folder holds %v, want %d files", names, keep)
	}
}

// TestUploadsOverHTTP is the wire of posting from a phone: the form, the
// multipart post with its answers (JSON and plain), every refusal with
// nothing left on disk, the picture as served, the moderator's approval,
// the delete link and forget.
func TestUploadsOverHTTP(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where a spooling multipart reader would write
	h, _ := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	t.Setenv("TEST_HASH", string(h))
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	os.WriteFile(path, []byte(fmt.Sprintf(uploadsYAML, filepath.Join(dir, "w.db"))), 0o600)
	a := startFile(t, path, app.ScreensEvery(time.Hour))
	defer a.Shutdown()
	addr := a.Addr()
	mediaDir := filepath.Join(dir, "w-media")

	room := roomOf(t, addr, "devconf")
	if room.URL != "http://wall.example/walls/devconf/post?code="+room.Code {
		t.Fatalf("room %+v", room)
	}
	if other := roomOf(t, addr, "salle"); other.Code == room.Code {
		t.Fatal("two walls share a room code")
	}

	// The form: the phone gets its cookie, the page its policy.
	phone := phoneClient()
	resp, err := phone.Get("http://" + addr + "/walls/devconf/post?code=" + room.Code)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`accept="image/*"`, `name="code" value="` + room.Code + `"`, `name="consent"`, "I agree that my photo", `maxlength="280"`, `enctype="multipart/form-data"`} {
		if !bytes.Contains(page, []byte(want)) {
			t.Fatalf("the form lacks %s:\n%s", want, page)
		}
	}
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") || len(resp.Cookies()) != 1 {
		t.Fatalf("form: %s, CSP %q, cookies %v", resp.Status, resp.Header.Get("Content-Security-Policy"), resp.Cookies())
	}

	screen := openTab(t, addr, "")
	screen.until(t, wall.EventReady)
	good := map[string]string{"code": room.Code, "name": "Ana", "text": "Hello from row 3 #devconf", "consent": "yes"}

	// A photo as a phone takes it: 1200×800, to be turned (EXIF 6), GPS.
	ans := sendForm(t, phone, addr, "devconf", true, good, mediatest.PhoneJPEG(1200, 800, 6))
	var receipt struct {
		ID        string `json:"id"`
		DeleteURL string `json:"delete_url"`
	}
	if json.Unmarshal(ans.body, &receipt); ans.status != http.StatusAccepted || receipt.ID == "" {
		t.Fatalf("upload: %d %s", ans.status, ans.body)
	}
	noLeftovers(t, tmp, mediaDir, 1)

	// Every refusal: its status, its reason, nothing left on disk.
	big := append([]byte{0xFF, 0xD8, 0xFF}, make([]byte, 2_500_000)...)
	rand.Read(big[3:])
	other := phoneClient()
	for _, tc := range []struct {
		name   string
		fields map[string]string
		photo  []byte
		status int
		why    string
	}{
		{"too big", good, big, http.StatusRequestEntityTooLarge, "too_big"},
		{"not an image", good, []byte("<svg onload=alert(1)>"), http.StatusUnsupportedMediaType, "not_image"},
		{"heic", good, append([]byte{0, 0, 0, 0x18}, []byte("ftypheic\x00\x00\x00\x00mif1heic")...), http.StatusUnsupportedMediaType, "heic"},
		{"wrong code", map[string]string{"code": "ZZZZZZ", "text": "hi", "consent": "yes"}, nil, http.StatusForbidden, "wrong_code"},
		{"no code", map[string]string{"text": "hi", "consent": "yes"}, nil, http.StatusForbidden, "wrong_code"},
		{"no consent", map[string]string{"code": room.Code, "text": "hi"}, nil, http.StatusBadRequest, "consent"},
		{"empty", map[string]string{"code": room.Code, "consent": "yes"}, nil, http.StatusBadRequest, "empty"},
		{"text too long", map[string]string{"code": room.Code, "consent": "yes", "text": strings.Repeat("x", 281)}, nil, http.StatusBadRequest, "text_too_long"},
		{"unknown field", map[string]string{"code": room.Code, "consent": "yes", "text": "hi", "author": "Admin"}, nil, http.StatusBadRequest, "empty"},
	} {
		ans := sendForm(t, other, addr, "devconf", true, tc.fields, tc.photo)
		var got struct{ Error, Why string }
		json.Unmarshal(ans.body, &got)
		if ans.status != tc.status || got.Why != tc.why || got.Error == "" {
			t.Errorf("%s: %d %s, want %d %s", tc.name, ans.status, ans.body, tc.status, tc.why)
		}
		noLeftovers(t, tmp, mediaDir, 1)
	}
	// The page's language: the French wall says it in French, as a page
	// (no script), keeping what was typed.
	ans = sendForm(t, other, addr, "salle", false, map[string]string{"code": "ZZZZZZ", "text": "Bonjour la salle", "consent": "yes"}, nil)
	if ans.status != http.StatusForbidden || !bytes.Contains(ans.body, []byte("scannez à nouveau le QR code")) || !bytes.Contains(ans.body, []byte("Bonjour la salle")) {
		t.Fatalf("refusal page: %d\n%s", ans.status, ans.body)
	}
	// A request cut in the middle of its photo leaves nothing.
	cut(t, addr, room.Code)
	noLeftovers(t, tmp, mediaDir, 1)

	// Held for a moderator: the screen shows nothing until approval.
	c, token := login(t, "http://"+addr, "devconf", nil)
	req, _ := http.NewRequest("POST", "http://"+addr+"/admin/api/walls/devconf/posts/"+url.PathEscape(receipt.ID)+"/approve", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", token)
	if resp, err := c.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("approve: %v %v", resp.Status, err)
	}
	evs := screen.until(t, wall.EventPost)
	var shown wall.Post
	json.Unmarshal([]byte(evs[len(evs)-1].Data), &shown)
	if shown.ID != receipt.ID || shown.Network != "upload" || shown.Author.Name != "Ana" || len(shown.Media) != 1 {
		t.Fatalf("shown: %+v", shown)
	}

	// The picture as served: immutable, never sniffed, inert; upright,
	// within max_pixels, with nothing of the photo's metadata.
	resp, err = http.Get("http://" + addr + shown.Media[0].URL)
	if err != nil {
		t.Fatal(err)
	}
	pic, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	hd := resp.Header
	if resp.StatusCode != 200 || hd.Get("Content-Type") != "image/jpeg" || hd.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.Contains(hd.Get("Cache-Control"), "immutable") || !strings.Contains(hd.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("media: %s %v", resp.Status, hd)
	}
	if bytes.Contains(pic, []byte("Exif")) || bytes.Contains(pic, []byte(mediatest.Camera)) {
		t.Fatal("the served picture keeps the photo's EXIF")
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(pic))
	if err != nil || cfg.Width != 200 || cfg.Height != 300 {
		t.Fatalf("served %d×%d (%v), want 200×300: turned upright and fitted in 300", cfg.Width, cfg.Height, err)
	}

	// The QR code follows the room code.
	qr := func(code string) []byte {
		resp, err := http.Get("http://" + addr + "/walls/devconf/qr.svg?code=" + code)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("qr: %v %v", resp.Status, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return b
	}
	if bytes.Equal(qr(room.Code), qr("ABCDEF")) {
		t.Fatal("the QR code does not carry the room code")
	}

	// Two more posts from the phone, then the limit (3 in 10 minutes).
	for i := range 2 {
		if ans := sendForm(t, phone, addr, "devconf", true, map[string]string{"code": room.Code, "text": fmt.Sprint("more ", i), "consent": "yes"}, nil); ans.status != http.StatusAccepted {
			t.Fatalf("post %d: %d %s", i, ans.status, ans.body)
		}
	}
	ans = sendForm(t, phone, addr, "devconf", true, good, nil)
	if ans.status != http.StatusTooManyRequests || ans.header.Get("Retry-After") == "" {
		t.Fatalf("4th post: %d %s", ans.status, ans.body)
	}

	// Without script: 303 to the thank-you page, which holds the link.
	fresh := phoneClient()
	ans = sendForm(t, fresh, addr, "salle", false, map[string]string{"code": roomOf(t, addr, "salle").Code, "text": "Sans script", "consent": "yes"}, nil)
	loc := ans.header.Get("Location")
	if ans.status != http.StatusSeeOther || !strings.HasPrefix(loc, "/walls/salle/post/sent?id=phones%3A") {
		t.Fatalf("plain post: %d %s", ans.status, loc)
	}
	resp, _ = fresh.Get("http://" + addr + loc)
	thanks, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(thanks, []byte("Merci")) || !bytes.Contains(thanks, []byte("/walls/salle/post/delete?id=phones%3A")) {
		t.Fatalf("thank-you page:\n%s", thanks)
	}

	// The delete link: a GET asks, a POST deletes, the screen loses the
	// post, the picture goes from the disk.
	du, _ := url.Parse(receipt.DeleteURL)
	resp, _ = http.Get("http://" + addr + du.RequestURI())
	ask, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(ask, []byte(`id="confirm-delete"`)) {
		t.Fatalf("delete page:\n%s", ask)
	}
	if es, _ := os.ReadDir(mediaDir); len(es) != 1 {
		t.Fatal("a GET of the delete link deleted the picture")
	}
	if resp, err := http.PostForm("http://"+addr+"/walls/devconf/post/delete", url.Values{"id": {receipt.ID}, "t": {du.Query().Get("t") + "0"}}); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a wrong token: %v %v", resp.Status, err)
	}
	resp, err = http.PostForm("http://"+addr+"/walls/devconf/post/delete", url.Values{"id": {receipt.ID}, "t": {du.Query().Get("t")}})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("delete: %v %v", resp.Status, err)
	}
	resp.Body.Close()
	evs = screen.until(t, wall.EventRemove)
	if !strings.Contains(evs[len(evs)-1].Data, receipt.ID) {
		t.Fatalf("removed %s", evs[len(evs)-1].Data)
	}
	noLeftovers(t, tmp, mediaDir, 0)
	if resp, _ := http.Get("http://" + addr + shown.Media[0].URL); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a deleted post's picture is served: %s", resp.Status)
	}

	// Forget a phone (the console's "remove everything from this phone"):
	// its posts and pictures go.
	walker := phoneClient()
	code := roomOf(t, addr, "salle").Code
	var handle string
	for i := range 2 {
		ans := sendForm(t, walker, addr, "salle", true, map[string]string{"code": code, "text": fmt.Sprint("photo ", i), "consent": "yes"}, mediatest.PhoneJPEG(100+i, 80, 1))
		if ans.status != http.StatusAccepted {
			t.Fatalf("%d %s", ans.status, ans.body)
		}
	}
	noLeftovers(t, tmp, mediaDir, 2)
	resp, _ = http.Get("http://" + addr + "/api/walls/salle/posts")
	var listed struct{ Posts []wall.Post }
	json.NewDecoder(resp.Body).Decode(&listed)
	resp.Body.Close()
	for _, p := range listed.Posts {
		if strings.HasPrefix(p.Text, "photo ") {
			handle = p.Author.Handle
		}
	}
	if !strings.HasPrefix(handle, "phone-") {
		t.Fatalf("no phone handle in %+v", listed.Posts)
	}
	req, _ = http.NewRequest("POST", "http://"+addr+"/admin/api/forget", strings.NewReader(`{"author":"`+handle+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", token)
	resp, err = c.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("forget: %v %v", resp.Status, err)
	}
	noLeftovers(t, tmp, mediaDir, 0)

	// Forget by the name someone typed ("I am Bob Smith, take my photo
	// down"): the posts sent from phones under that name go.
	bob := phoneClient()
	ans = sendForm(t, bob, addr, "salle", true, map[string]string{"code": code, "name": "Bob  Smith", "text": "bob was here", "consent": "yes"}, mediatest.PhoneJPEG(90, 90, 1))
	if ans.status != http.StatusAccepted {
		t.Fatalf("%d %s", ans.status, ans.body)
	}
	noLeftovers(t, tmp, mediaDir, 1)
	req, _ = http.NewRequest("POST", "http://"+addr+"/admin/api/forget", strings.NewReader(`{"author":"bob smith"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", token)
	resp, err = c.Do(req)
	var forgot struct{ Forgotten int }
	if err == nil {
		json.NewDecoder(resp.Body).Decode(&forgot)
		resp.Body.Close()
	}
	if err != nil || resp.StatusCode != 200 || forgot.Forgotten != 1 {
		t.Fatalf("forget by name: %v %v %+v", resp.Status, err, forgot)
	}
	noLeftovers(t, tmp, mediaDir, 0)
}

// cut sends the first half of an upload with a photo, then ends its
// side of the connection (a phone that walked out of the Wi-Fi), and
// reads the answer: by then the server is done with the request.
func cut(t *testing.T, addr, code string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ct, body := form(t, map[string]string{"code": code, "text": "cut", "consent": "yes"}, mediatest.PhoneJPEG(600, 400, 1))
	fmt.Fprintf(conn, "POST /walls/devconf/post HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", addr, ct, len(body))
	conn.Write(body[:len(body)/2])
	conn.(*net.TCPConn).CloseWrite()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a cut upload: %v", err)
	}
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a cut upload: %s", resp.Status)
	}
}

// TestUploadsBehindNginx: the documented nginx configuration takes a
// phone's post with a photo larger than nginx's default body limit to the
// ingest node as a stream (nginx writes no temporary file), and serves
// its picture.
func TestUploadsBehindNginx(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	h, _ := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	t.Setenv("TEST_HASH", string(h))
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	yaml := strings.Replace(fmt.Sprintf(uploadsYAML, filepath.Join(dir, "w.db")), "max_photo_bytes: 2000000", "max_photo_bytes: 8000000", 1)
	yaml = strings.Replace(yaml, `base_url: "http://wall.example"}`, `base_url: "http://wall.example", trusted_proxies: [127.0.0.1/32]}`, 1)
	os.WriteFile(path, []byte(yaml), 0o600)
	a := startFile(t, path, app.ScreensEvery(time.Hour))
	defer a.Shutdown()
	proxy, nginxDir := startNginx(t, a.Addr(), a.Addr(), a.Addr())
	room := roomOf(t, proxy, "salle")

	photo := noisyJPEG(t, 1000, 1000)
	if len(photo) < 1<<20 {
		t.Fatalf("the photo is %d bytes: it must be over nginx's default 1 MB", len(photo))
	}
	ans := sendForm(t, phoneClient(), proxy, "salle", true, map[string]string{"code": room.Code, "text": "through nginx", "consent": "yes"}, photo)
	var receipt struct{ ID string }
	if json.Unmarshal(ans.body, &receipt); ans.status != http.StatusAccepted {
		t.Fatalf("through nginx: %d %s", ans.status, ans.body)
	}
	resp, _ := http.Get("http://" + proxy + "/api/walls/salle/posts")
	var listed struct{ Posts []wall.Post }
	json.NewDecoder(resp.Body).Decode(&listed)
	resp.Body.Close()
	if len(listed.Posts) != 1 || len(listed.Posts[0].Media) != 1 {
		t.Fatalf("posts %+v", listed.Posts)
	}
	resp, err := http.Get("http://" + proxy + listed.Posts[0].Media[0].URL)
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("picture through nginx: %v %v", resp.Status, err)
	}
	resp.Body.Close()
	if es, _ := os.ReadDir(filepath.Join(nginxDir, "body")); len(es) != 0 {
		t.Fatalf("nginx wrote the body to %d temporary files", len(es))
	}
	noLeftovers(t, tmp, filepath.Join(dir, "w-media"), 1)
}

// noisyJPEG is a photo that does not compress: w×h of random pixels.
func noisyJPEG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rand.Read(img.Pix)
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
