package web_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wallcast/wallcast/sources"
)

// zeros reads as many zero bytes as asked.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// multipartBody is a 40 MB upload: more than the form parser keeps in
// memory, so it would spool the file to the temp directory.
func multipartBody() (io.Reader, string) {
	const boundary = "wallcastboundary"
	head := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
	tail := "\r\n--" + boundary + "--\r\n"
	return io.MultiReader(strings.NewReader(head), io.LimitReader(zeros{}, 40<<20), strings.NewReader(tail)),
		"multipart/form-data; boundary=" + boundary
}

// TestUploadsLeaveNothingBehind: multipart bodies sent to the login (also
// while it is rate limited) and to the admin API leave no file in the
// temp directory.
func TestUploadsLeaveNothingBehind(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ae := newAdminEnv(t)
	b := newBrowser(t, ae.url)
	b.login("ana", "correct horse")
	send := func(method, path string, header ...string) int {
		body, ct := multipartBody()
		req, _ := http.NewRequest(method, ae.url+path, body)
		req.Header.Set("Content-Type", ct)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := b.c.Do(req)
		if err != nil {
			return 0 // the server may close before the upload is sent: fine
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	send("GET", "/admin/login?next=/admin")
	send("POST", "/admin/login")
	send("POST", "/admin/api/walls/devconf/bans", "X-CSRF-Token", b.csrf)
	send("POST", "/admin/api/walls/devconf/bans")
	other := newBrowser(t, ae.url)
	for i := 0; i < 6; i++ {
		other.login("ana", "wrong")
	}
	body, ct := multipartBody()
	req, _ := http.NewRequest("POST", ae.url+"/admin/login", body)
	req.Header.Set("Content-Type", ct)
	if resp, err := other.c.Do(req); err == nil {
		resp.Body.Close()
	}
	if code := send("POST", "/admin/api/walls/devconf/announcements", "X-CSRF-Token", b.csrf); code != 0 && code != http.StatusUnsupportedMediaType {
		t.Errorf("multipart to the admin API: %d, want 415", code)
	}
	left, _ := os.ReadDir(tmp)
	if len(left) > 0 {
		t.Errorf("the temp directory holds %d files after the uploads, e.g. %s", len(left), left[0].Name())
	}
}

// TestSessionFollowsTheAccount: a reload that removes a user, demotes an
// admin or changes a password applies to the sessions already open.
func TestSessionFollowsTheAccount(t *testing.T) {
	ae := newAdminEnv(t)
	ana, mo := newBrowser(t, ae.url), newBrowser(t, ae.url)
	ana.login("ana", "correct horse")
	mo.login("mo", "correct horse")
	if resp, _ := ana.post("/admin/api/walls/devconf/bans", map[string]any{"author": "@a@b.example", "all": true}); resp.StatusCode != 200 {
		t.Fatalf("admin ban on every wall: %s", resp.Status)
	}
	reload := func(yaml string, hashes map[string]string) {
		cfg, err := sources.Parse("t.yaml", []byte(yaml), func(k string) (string, bool) { v, ok := hashes[k]; return v, ok })
		if err != nil {
			t.Fatal(err)
		}
		ae.srv.SetConfig(cfg)
	}
	// ana becomes a moderator; mo is removed.
	const anaAlone = `
admin:
  users:
    - {name: ana, password_hash: "${HASH}", role: moderator}
sources: [{name: s, type: demo}]
walls:
  - {slug: devconf, hashtags: [devconf], sources: [s], moderation: manual}
`
	reload(anaAlone, map[string]string{"HASH": testHash()})
	if resp, _ := ana.post("/admin/api/walls/devconf/bans", map[string]any{"author": "@c@b.example", "all": true}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a demoted admin bans on every wall: %s", resp.Status)
	}
	if resp, _ := ana.do("GET", "/admin/api/walls/devconf/queue", nil); resp.StatusCode != 200 {
		t.Errorf("the demoted admin, now a moderator: %s", resp.Status)
	}
	if resp, _ := mo.do("GET", "/admin/api/walls/devconf/queue", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a removed user's session: %s, want 401", resp.Status)
	}
	// ana's password changes: her session ends.
	other, _ := bcrypt.GenerateFromPassword([]byte("new password"), bcrypt.MinCost)
	reload(anaAlone, map[string]string{"HASH": string(other)})
	if resp, _ := ana.do("GET", "/admin/api/walls/devconf/queue", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a session after a password change: %s, want 401", resp.Status)
	}
}

// TestSlowBodyCut: a login body sent a byte at a time does not hold the
// connection past the body deadline.
func TestSlowBodyCut(t *testing.T) {
	ae := newAdminEnv(t)
	ae.srv.BodyTimeout = 200 * time.Millisecond
	c, err := net.Dial("tcp", strings.TrimPrefix(ae.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /admin/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nuser=")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	status, err := bufio.NewReader(c).ReadString('\n')
	if err != nil && !strings.Contains(err.Error(), "reset") && err != io.EOF {
		t.Fatalf("the server held the connection: %v", err)
	}
	if strings.Contains(status, "200") || strings.Contains(status, "303") {
		t.Errorf("a trickled body got %q", status)
	}
}

// TestLoginLimitBehindProxy: behind a trusted proxy each client has its
// own limit; the proxy's address is not locked out for everyone, and a
// forged X-Forwarded-For from an untrusted peer changes nothing.
func TestLoginLimitBehindProxy(t *testing.T) {
	ae := newAdminEnv(t)
	cfg := *ae.srv.Config()
	cfg.Server.TrustedProxies = []string{"127.0.0.1/32", "::1"}
	ae.srv.SetConfig(&cfg)
	login := func(client, pass string) int {
		b := newBrowser(t, ae.url)
		_, page := b.do("GET", "/admin/login", nil)
		m := csrfInput.FindStringSubmatch(page)
		form := url.Values{"user": {"ana"}, "password": {pass}, "csrf": {m[1]}}
		resp, _ := b.do("POST", "/admin/login", strings.NewReader(form.Encode()),
			"Content-Type", "application/x-www-form-urlencoded", "X-Forwarded-For", client)
		return resp.StatusCode
	}
	for i := 0; i < 5; i++ {
		login("203.0.113.7", "wrong")
	}
	if code := login("203.0.113.7", "correct horse"); code != http.StatusTooManyRequests {
		t.Errorf("the guessing client: %d, want 429", code)
	}
	if code := login("2001:db8::1, 203.0.113.7", "correct horse"); code != http.StatusTooManyRequests {
		t.Errorf("a hop written by the client itself counted: %d, want 429", code)
	}
	if code := login("198.51.100.20", "correct horse"); code != http.StatusSeeOther {
		t.Errorf("another client behind the same proxy: %d, want 303", code)
	}
}

// TestBrandingFilesAreInert: a logo opened on its own (an SVG can carry
// script) comes with a policy that runs and loads nothing; so does the QR.
func TestBrandingFilesAreInert(t *testing.T) {
	dir := t.TempDir()
	logo := dir + "/logo.svg"
	os.WriteFile(logo, []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), 0o600)
	e := newEnvYAML(t, 0, fmt.Sprintf(`
sources: [{name: s, type: demo}]
walls:
  - {slug: devconf, hashtags: [devconf], sources: [s], display: {logo: %q}}
`, logo))
	for _, path := range []string{"/walls/devconf/logo", "/walls/devconf/qr.svg"} {
		resp, err := http.Get(e.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if csp := resp.Header.Get("Content-Security-Policy"); resp.StatusCode != 200 || !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "sandbox") {
			t.Errorf("%s: %s, CSP %q", path, resp.Status, csp)
		}
	}
}
