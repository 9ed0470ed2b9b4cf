package e2e

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// png is the smallest PNG: one transparent pixel.
var png = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")

// TestExport: wallcast export writes the wall's archive: a page that opens
// offline with the posts and their media copied in, posts.json with each
// post's moderation history, report.json; a media URL that is not an
// image stays a link; a forgotten author is nowhere in it.
func TestExport(t *testing.T) {
	media := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".png") {
			w.Header().Set("Content-Type", "image/png")
			w.Write(png)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html>not an image</html>")
	}))
	defer media.Close()
	h, _ := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	t.Setenv("TEST_HASH", string(h))
	t.Setenv("WALLCAST_TEST_HOOK_SECRET", hookSecret)
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(moderationYAML, filepath.Join(dir, "w.db"))), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startFile(t, path)
	post := func(id, name, handle, text string, mediaURL string) {
		t.Helper()
		b := fmt.Sprintf(`{"id":%q,"author":{"name":%q,"handle":%q},"text":%q,"tags":["devconf"],"media":[{"type":"image","url":%q,"alt":"the hall"}]}`, id, name, handle, text, mediaURL)
		if resp, err := pushBody(http.DefaultClient, a.Addr(), b); err != nil || resp.StatusCode != 200 {
			t.Fatalf("push %s: %v %v", id, err, resp)
		}
	}
	post("photo", "Ana", "@ana@m.example", "the hall at nine #devconf", media.URL+"/hall.png")
	post("page", "Bo", "@bo@m.example", "a link that is no image #devconf", media.URL+"/page")
	post("secret", "Zyxwvu Qtrsp", "@zyxwvu@evil.example", "words of zyxwvu #devconf", media.URL+"/z.png")
	c, token := login(t, "http://"+a.Addr(), "family", nil)
	do := func(path, body string) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+a.Addr()+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", token)
		resp, err := c.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", path, err, resp)
		}
		resp.Body.Close()
	}
	do("/admin/api/walls/family/posts/hook:page/remove", "{}")
	do("/admin/api/forget", `{"author":"@zyxwvu@evil.example"}`)
	a.Shutdown()

	zipPath := filepath.Join(dir, "event.zip")
	out, err := exec.Command(binary, "export", "-config", path, "-wall", "family", "-o", zipPath, "-private-media").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "2 posts, 1 media files, 1 media kept as links") {
		t.Fatalf("wallcast export: %v\n%s", err, out)
	}
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		files[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	var posts []struct {
		ID      string `json:"id"`
		Status  string `json:"status"`
		Files   []string
		History []struct{ Action, User string }
	}
	if err := json.Unmarshal(files["posts.json"], &posts); err != nil {
		t.Fatalf("posts.json: %v", err)
	}
	byID := map[string]int{}
	for i, p := range posts {
		byID[p.ID] = i
	}
	photo, page := posts[byID["hook:photo"]], posts[byID["hook:page"]]
	if len(photo.Files) != 1 || !bytes.Equal(files[photo.Files[0]], png) {
		t.Errorf("the photo's media: %v", photo.Files)
	}
	if page.Status != "removed" || len(page.History) != 1 || page.History[0].Action != "remove" || page.History[0].User != "ana" || page.Files[0] != "" {
		t.Errorf("the removed post: %+v", page)
	}
	html := string(files["index.html"])
	if !strings.Contains(html, `src="`+photo.Files[0]+`"`) || !strings.Contains(html, "the hall at nine") || strings.Contains(html, "<script") {
		t.Errorf("index.html does not show the photo from the archive:\n%s", html)
	}
	if _, ok := files["report.json"]; !ok {
		t.Error("no report.json")
	}
	for name, b := range files {
		if bytes.Contains(b, []byte("yxwvu")) || bytes.Contains(b, []byte("Qtrsp")) {
			t.Errorf("%s names the forgotten author", name)
		}
	}
	// Without -private-media, media on this machine stays a link.
	out, err = exec.Command(binary, "export", "-config", path, "-wall", "family", "-o", filepath.Join(dir, "b.zip")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "0 media files, 2 media kept as links") {
		t.Errorf("export without -private-media: %v\n%s", err, out)
	}
}
