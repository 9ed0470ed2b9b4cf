package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/fanout"
	"github.com/wallcast/wallcast/ingest"
	"github.com/wallcast/wallcast/sources"
	"github.com/wallcast/wallcast/sse"
	"github.com/wallcast/wallcast/storage"
	"github.com/wallcast/wallcast/wall"
	"github.com/wallcast/wallcast/web"
)

const adminYAML = `
server: {sse_retry: 1500ms}
admin:
  user: ana
  password_hash: "${HASH}"
  users:
    - {name: mo, password_hash: "${HASH}", role: moderator}
sources: [{name: s, type: demo}]
walls:
  - {slug: devconf, hashtags: [devconf], sources: [s], moderation: manual}
`

var (
	hashOnce sync.Once
	hash     string
)

func testHash() string {
	hashOnce.Do(func() {
		h, _ := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
		hash = string(h)
	})
	return hash
}

type adminEnv struct {
	*env
	router   *ingest.Router
	mu       sync.Mutex
	hub      *fanout.Hub
	commitMu sync.Mutex
}

// Do commits as ingest does: one write at a time, its events published.
func (ae *adminEnv) Do(fn func() ([]wall.Event, error)) error {
	ae.commitMu.Lock()
	defer ae.commitMu.Unlock()
	ev, err := fn()
	if err == nil {
		ae.hub.Publish(ev)
	}
	return err
}

// SetRouter takes the routing the console's rules make.
func (ae *adminEnv) SetRouter(r *ingest.Router) {
	ae.mu.Lock()
	ae.router = r
	ae.mu.Unlock()
}

func newAdminEnv(t *testing.T) *adminEnv {
	t.Helper()
	cfg, err := sources.Parse("t.yaml", []byte(adminYAML), func(k string) (string, bool) { return testHash(), k == "HASH" })
	if err != nil {
		t.Fatal(err)
	}
	db, err := storage.Open(filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	hub := fanout.NewHub(64, 0)
	ae := &adminEnv{router: ingest.NewRouter(cfg), hub: hub}
	srv := web.NewServer(web.Options{Config: cfg, Store: db, Hub: hub, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Admin: web.Admin{
		Store: db, Writes: ingest.NewWrites(ae, db, func() *config.Config { return cfg }, slog.New(slog.NewTextHandler(io.Discard, nil))),
	}})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hub.Close()
		srv.Close()
		ts.Close()
		db.Close()
	})
	ae.env = &env{t: t, db: db, hub: hub, srv: srv, url: ts.URL}
	return ae
}

// ingest routes a post as ingest would (so filters and bans apply), and
// commits it.
func (ae *adminEnv) ingest(id, handle, text string) {
	ae.t.Helper()
	p := wall.Post{ID: "s:" + id, Source: "s", NativeID: id, Network: "demo", Text: text, HTML: "<p>" + text + "</p>",
		Tags: []string{"devconf"}, Author: wall.Author{Name: handle, Handle: handle}, CreatedAt: time.Now().UTC()}
	ae.mu.Lock()
	targets := ae.router.Route("s", &p)
	ae.mu.Unlock()
	ae.apply(wall.Write{Source: "s", Item: wall.Item{Kind: wall.ItemPost, Post: p}, Targets: targets})
}

var (
	csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	csrfMeta  = regexp.MustCompile(`name="csrf-token" content="([^"]+)"`)
)

type browser struct {
	t    *testing.T
	c    *http.Client
	base string
	csrf string
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(method, path string, body io.Reader, header ...string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest(method, b.base+path, body)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(data)
}

func (b *browser) login(user, pass string) *http.Response {
	b.t.Helper()
	_, page := b.do("GET", "/admin/login", nil)
	m := csrfInput.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no csrf field on the login page:\n%s", page)
	}
	form := url.Values{"user": {user}, "password": {pass}, "csrf": {m[1]}, "next": {"/admin/walls/devconf"}}
	resp, _ := b.do("POST", "/admin/login", strings.NewReader(form.Encode()), "Content-Type", "application/x-www-form-urlencoded")
	if resp.StatusCode == http.StatusSeeOther {
		_, page := b.do("GET", "/admin/walls/devconf", nil)
		if m := csrfMeta.FindStringSubmatch(page); m != nil {
			b.csrf = m[1]
		}
	}
	return resp
}

func (b *browser) post(path string, body any) (*http.Response, string) {
	data, _ := json.Marshal(body)
	return b.do("POST", path, strings.NewReader(string(data)), "Content-Type", "application/json", "X-CSRF-Token", b.csrf)
}

func TestLogin(t *testing.T) {
	ae := newAdminEnv(t)
	b := newBrowser(t, ae.url)
	resp := b.login("ana", "correct horse")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/walls/devconf" {
		t.Fatalf("login: %s -> %s", resp.Status, resp.Header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "wallcast_session" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Errorf("session cookie = %+v", cookie)
	}
	if b.csrf == "" {
		t.Fatal("no CSRF token on the console page")
	}
	// Logout ends the session.
	form := url.Values{"csrf": {b.csrf}}
	b.do("POST", "/admin/logout", strings.NewReader(form.Encode()), "Content-Type", "application/x-www-form-urlencoded")
	if resp, _ := b.do("GET", "/admin/api/walls/devconf/queue", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("after logout: %s", resp.Status)
	}

	// A login form posted without its token is refused.
	form = url.Values{"user": {"ana"}, "password": {"correct horse"}, "csrf": {"forged"}}
	if resp, _ := newBrowser(t, ae.url).do("POST", "/admin/login", strings.NewReader(form.Encode()), "Content-Type", "application/x-www-form-urlencoded"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("login without the form token: %s", resp.Status)
	}
}

func TestLoginRateLimited(t *testing.T) {
	ae := newAdminEnv(t)
	b := newBrowser(t, ae.url)
	for i := 0; i < 5; i++ {
		if resp := b.login("ana", "wrong"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %s", i, resp.Status)
		}
	}
	resp := b.login("ana", "correct horse")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("sixth attempt: %s, Retry-After %q", resp.Status, resp.Header.Get("Retry-After"))
	}
	if b.login("nobody", "x").StatusCode != http.StatusTooManyRequests {
		t.Error("the limit is per address, whatever the user name")
	}
}

// TestEveryAdminRouteNeedsSessionAndCSRF: without a session every admin
// route answers 401 or redirects to the login; with a session, every
// state-changing route refuses a missing or wrong CSRF token.
func TestEveryAdminRouteNeedsSessionAndCSRF(t *testing.T) {
	ae := newAdminEnv(t)
	ae.ingest("1", "@ana@m.example", "hello #devconf")
	routes := []struct{ method, path string }{
		{"GET", "/admin"},
		{"GET", "/admin/walls/devconf"},
		{"GET", "/admin/walls/devconf/queue/events"},
		{"GET", "/admin/api/walls/devconf/queue"},
		{"GET", "/admin/api/walls/devconf/report.json"},
		{"GET", "/admin/api/walls/devconf/report.csv"},
		{"GET", "/admin/walls/devconf/report"},
		{"GET", "/admin/walls/devconf/report/posts.svg"},
		{"POST", "/admin/logout"},
		{"POST", "/admin/api/walls/devconf/posts/s:1/approve"},
		{"POST", "/admin/api/walls/devconf/posts/s:1/reject"},
		{"POST", "/admin/api/walls/devconf/posts/s:1/remove"},
		{"POST", "/admin/api/walls/devconf/posts/s:1/restore"},
		{"POST", "/admin/api/walls/devconf/posts/s:1/pin"},
		{"POST", "/admin/api/walls/devconf/posts/s:1/unpin"},
		{"POST", "/admin/api/walls/devconf/announcements"},
		{"POST", "/admin/api/walls/devconf/announcements/a1/end"},
		{"POST", "/admin/api/walls/devconf/bans"},
		{"POST", "/admin/api/walls/devconf/blocked_words"},
		{"POST", "/admin/api/walls/devconf/display"},
		{"POST", "/admin/api/reload"},
	}
	anon := newBrowser(t, ae.url)
	for _, r := range routes {
		resp, _ := anon.do(r.method, r.path, strings.NewReader("{}"), "Content-Type", "application/json")
		switch {
		case resp.StatusCode == http.StatusUnauthorized:
		case resp.StatusCode == http.StatusSeeOther && strings.HasPrefix(resp.Header.Get("Location"), "/admin/login"):
		default:
			t.Errorf("%s %s without a session: %s", r.method, r.path, resp.Status)
		}
	}
	b := newBrowser(t, ae.url)
	b.login("ana", "correct horse")
	for _, r := range routes {
		if r.method != "POST" {
			continue
		}
		for _, tok := range []string{"", "wrong"} {
			resp, _ := b.do("POST", r.path, strings.NewReader(`{"text":"x","author":"y","word":"z"}`), "Content-Type", "application/json", "X-CSRF-Token", tok)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("POST %s with CSRF %q: %s", r.path, tok, resp.Status)
			}
		}
	}
	// The post was not touched by any of that.
	st, _ := ae.db.Queue(context.Background(), "devconf", 10)
	if len(st.Pending) != 1 {
		t.Errorf("pending = %d after refused requests", len(st.Pending))
	}
}

// TestActionsReachScreens: each moderation action appears on a display's
// stream as the right event, and a screen that reconnects after a removal
// never shows the removed post.
func TestActionsReachScreens(t *testing.T) {
	ae := newAdminEnv(t)
	b := newBrowser(t, ae.url)
	b.login("mo", "correct horse")
	screen := ae.open("/walls/devconf/events")
	ae.ingest("1", "@ana@m.example", "first #devconf")
	ae.ingest("2", "@troll@bad.example", "spam #devconf")
	ae.ingest("3", "@troll@bad.example", "more spam #devconf")
	ae.ingest("4", "@bo@m.example", "rejected one #devconf")

	do := func(id, action string) {
		t.Helper()
		resp, body := b.post("/admin/api/walls/devconf/posts/s:"+id+"/"+action, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%s %s: %s %s", action, id, resp.Status, body)
		}
	}
	expect := func(typ, id string) seen {
		t.Helper()
		ev := screen.next(t)
		var p struct {
			ID     string `json:"id"`
			Pinned bool   `json:"pinned"`
		}
		json.Unmarshal([]byte(ev.Data), &p)
		if ev.Type != typ || p.ID != "s:"+id {
			t.Fatalf("screen got %s %s, want %s s:%s", ev.Type, ev.Data, typ, id)
		}
		return seen{ev.ID, p.Pinned}
	}

	do("1", "approve")
	expect("post", "1")
	do("2", "approve")
	expect("post", "2")
	do("3", "approve")
	expect("post", "3")
	do("4", "reject") // pending -> rejected: nothing on screen
	if resp, _ := b.post("/admin/api/walls/devconf/posts/s:4/approve", nil); resp.StatusCode != 200 {
		t.Fatalf("approve a rejected post: %s", resp.Status)
	}
	expect("post", "4")
	do("4", "reject")
	expect("remove", "4")
	if ev := func() seen { do("1", "pin"); return expect("pin", "1") }(); !ev.pinned {
		t.Error("pin event without pinned: true")
	}
	do("1", "unpin")
	expect("unpin", "1")
	if resp, _ := b.post("/admin/api/walls/devconf/posts/s:1/unpin", nil); resp.StatusCode != http.StatusConflict {
		t.Errorf("unpin twice: %s", resp.Status)
	}
	if resp, _ := b.post("/admin/api/walls/devconf/posts/s:99/pin", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("pin unknown: %s", resp.Status)
	}

	// Ban: both of the author's posts go at once, and later ones are dropped.
	if resp, body := b.post("/admin/api/walls/devconf/bans", map[string]string{"author": "troll@bad.example"}); resp.StatusCode != 200 {
		t.Fatalf("ban: %s %s", resp.Status, body)
	}
	expect("remove", "2")
	last := expect("remove", "3")
	ae.ingest("5", "@troll@bad.example", "back again #devconf")
	st, _ := ae.db.Queue(context.Background(), "devconf", 10)
	if len(st.Rejected) == 0 || st.Rejected[0].ID != "s:5" || st.Rejected[0].Reason != "blocked author" {
		t.Errorf("post after the ban: %+v", st.Rejected)
	}

	do("1", "remove")
	expect("remove", "1")
	// A screen that was away since before all this resumes: the removed
	// posts never appear.
	s2 := ae.open("/walls/devconf/events", "Last-Event-ID", "0")
	got := map[string]string{}
	for {
		ev := s2.next(t)
		var p struct{ ID string }
		json.Unmarshal([]byte(ev.Data), &p)
		got[p.ID] += ev.Type + " "
		if ev.ID == last.id {
			break
		}
	}
	for id, types := range got {
		if strings.Contains(types, "post") && id != "s:1" {
			t.Errorf("%s was replayed as a post (%s)", id, types)
		}
	}
	// The audit log has every action, with who did it.
	st, _ = ae.db.Queue(context.Background(), "devconf", 10)
	if len(st.Audit) < 10 || st.Audit[len(st.Audit)-1].User != "mo" {
		t.Errorf("audit = %+v", st.Audit)
	}
}

type seen struct {
	id     string
	pinned bool
}

func TestAnnouncements(t *testing.T) {
	ae := newAdminEnv(t)
	b := newBrowser(t, ae.url)
	b.login("ana", "correct horse")
	screen := ae.open("/walls/devconf/events")
	resp, body := b.post("/admin/api/walls/devconf/announcements", map[string]any{"text": "Keynote in Hall A at 10:00", "url": "https://devconf.example/keynote", "minutes": 30})
	if resp.StatusCode != 200 {
		t.Fatalf("announce: %s %s", resp.Status, body)
	}
	ev := screen.next(t)
	var a wall.Announcement
	json.Unmarshal([]byte(ev.Data), &a)
	if ev.Type != "announce" || a.Text != "Keynote in Hall A at 10:00" || a.ID == "" || time.Until(a.ExpiresAt) < 29*time.Minute {
		t.Fatalf("announce event = %s %s", ev.Type, ev.Data)
	}
	// A screen that opens now gets it in its backfill.
	s2 := ae.open("/walls/devconf/events")
	if ev := s2.next(t); ev.Type != "announce" {
		t.Errorf("backfill: %s", ev.Type)
	}
	if resp, _ := b.post("/admin/api/walls/devconf/announcements/"+a.ID+"/end", nil); resp.StatusCode != 200 {
		t.Fatalf("end: %s", resp.Status)
	}
	if ev := screen.next(t); ev.Type != "announce" || !strings.Contains(ev.Data, `"ended":true`) {
		t.Errorf("end event = %s %s", ev.Type, ev.Data)
	}
	// Scheduled: it starts later, and its minutes count from the start.
	start := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	resp, body = b.post("/admin/api/walls/devconf/announcements", map[string]any{"text": "Back at 14:00", "starts_at": start.Format(time.RFC3339), "minutes": 10})
	if resp.StatusCode != 200 {
		t.Fatalf("scheduled: %s %s", resp.Status, body)
	}
	// No screen gets it before its start; the console's list has it.
	list, _ := ae.db.Announcements(context.Background(), "devconf")
	if len(list) != 1 || !list[0].StartsAt.Equal(start) || !list[0].ExpiresAt.Equal(start.Add(10*time.Minute)) {
		t.Errorf("scheduled announcement = %+v", list)
	}
	for _, bad := range []map[string]any{{"text": ""}, {"text": "x", "url": "javascript:alert(1)"}, {"text": "x", "expires_at": "tomorrow"},
		{"text": "x", "starts_at": "soon"}, {"text": "x", "starts_at": start.Format(time.RFC3339), "expires_at": start.Add(-time.Minute).Format(time.RFC3339)}} {
		if resp, _ := b.post("/admin/api/walls/devconf/announcements", bad); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("announce %v: %s", bad, resp.Status)
		}
	}
}

func TestQueueStreamAndRoles(t *testing.T) {
	ae := newAdminEnv(t)
	b := newBrowser(t, ae.url)
	b.login("mo", "correct horse")
	_, body := b.do("GET", "/admin/api/walls/devconf/queue", nil)
	var st wall.QueueState
	json.Unmarshal([]byte(body), &st)
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/admin/walls/devconf/queue/events?lastEventId=%d", ae.url, st.Head), nil)
	resp, err := b.c.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("queue stream: %v %v", err, resp.Status)
	}
	defer resp.Body.Close()
	q := &stream{Reader: sse.NewReader(resp.Body), resp: resp}
	if ev := q.next(t); ev.Type != "health" {
		t.Errorf("first queue event = %s", ev.Type)
	}
	ae.ingest("1", "@ana@m.example", "waiting #devconf")
	ev := q.next(t)
	var item wall.QueueItem
	json.Unmarshal([]byte(ev.Data), &item)
	if ev.Type != "pending" || item.Post == nil || item.Post.Text != "waiting #devconf" {
		t.Errorf("queue event = %s %s", ev.Type, ev.Data)
	}
	// Moderators moderate walls; only admins set rules for every wall or reload.
	if resp, _ := b.post("/admin/api/walls/devconf/blocked_words", map[string]any{"word": "x", "all": true}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("moderator global rule: %s", resp.Status)
	}
	if resp, _ := b.post("/admin/api/reload", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("moderator reload: %s", resp.Status)
	}
}

// TestDisplayFromConsole: a moderator switches the layout; open screens get
// a config event, and new ones load the page in the new layout.
func TestDisplayFromConsole(t *testing.T) {
	ae := newAdminEnv(t)
	b := newBrowser(t, ae.url)
	b.login("mo", "correct horse")
	screen := ae.open("/walls/devconf/events")
	if resp, body := b.post("/admin/api/walls/devconf/display", map[string]string{"layout": "ticker"}); resp.StatusCode != 200 || !strings.Contains(body, `"layout":"ticker"`) {
		t.Fatalf("display: %s %s", resp.Status, body)
	}
	ev := screen.next(t)
	if ev.Type != "config" || !strings.Contains(ev.Data, `"layout":"ticker"`) || !strings.Contains(ev.Data, `"theme":"dark"`) {
		t.Fatalf("screen got %s %s", ev.Type, ev.Data)
	}
	resp, err := http.Get(ae.url + "/walls/devconf")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), `class="layout-ticker"`) {
		t.Error("a new screen does not load in the new layout")
	}
	if resp, _ := b.post("/admin/api/walls/devconf/display", map[string]string{"layout": "carousel"}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad layout: %s", resp.Status)
	}
}

// TestBanByDisplayNameTakesPostsOnScreen: a ban written as a display name
// keeps new posts out (ingest) and takes the ones already on screen (the
// console): one matcher answers both.
func TestBanByDisplayNameTakesPostsOnScreen(t *testing.T) {
	ae := newAdminEnv(t)
	b := newBrowser(t, ae.url)
	b.login("ana", "correct horse")
	screen := ae.open("/walls/devconf/events")
	p := wall.Post{ID: "s:7", Source: "s", NativeID: "7", Network: "demo", Text: "spam #devconf", HTML: "<p>spam #devconf</p>",
		Tags: []string{"devconf"}, Author: wall.Author{Name: "Troll Face", Handle: "@troll@bad.example"}, CreatedAt: time.Now().UTC()}
	ae.apply(wall.Write{Source: "s", Item: wall.Item{Kind: wall.ItemPost, Post: p}, Targets: []wall.Target{{Wall: "devconf", Status: wall.StatusVisible}}})
	if ev := screen.next(t); ev.Type != "post" {
		t.Fatalf("first event %s", ev.Type)
	}
	if resp, body := b.post("/admin/api/walls/devconf/bans", map[string]any{"author": "troll face"}); resp.StatusCode != 200 {
		t.Fatalf("ban: %s %s", resp.Status, body)
	}
	if ev := screen.next(t); ev.Type != "remove" || !strings.Contains(ev.Data, `"s:7"`) {
		t.Fatalf("after the ban the screen got %s %s, want the post removed", ev.Type, ev.Data)
	}
	// And a new post by the same display name is kept out.
	p.ID, p.NativeID, p.Author.Handle = "s:8", "8", "@troll2@bad.example"
	ae.mu.Lock()
	targets := ae.router.Route("s", &p)
	ae.mu.Unlock()
	if len(targets) != 1 || targets[0].Status != wall.StatusRejected {
		t.Errorf("a new post by the banned name: %+v", targets)
	}
}
