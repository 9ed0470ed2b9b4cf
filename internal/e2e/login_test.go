package e2e

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"testing"
)

var (
	loginCSRF   = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	sessionCSRF = regexp.MustCompile(`name="csrf-token" content="([^"]+)"`)
)

// login logs "ana" into the admin console at base (http://host:port) over
// HTTP through transport (nil: the default), and returns a client with
// the session cookie and the session's CSRF token for the admin API.
func login(t testing.TB, base, slug string, transport http.RoundTripper) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Transport: transport}
	resp, err := c.Get(base + "/admin/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := loginCSRF.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf field on the login page:\n%s", page)
	}
	resp, err = c.PostForm(base+"/admin/login", url.Values{"user": {"ana"}, "password": {"correct horse"}, "csrf": {string(m[1])}, "next": {"/admin/walls/" + slug}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	tok := sessionCSRF.FindSubmatch(page)
	if resp.StatusCode != 200 || tok == nil {
		t.Fatalf("login: %s\n%s", resp.Status, page)
	}
	return c, string(tok[1])
}
