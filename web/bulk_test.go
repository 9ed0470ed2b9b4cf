package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/wall"
)

// TestBulkAndUndo: one request approves several posts, with one audit
// entry listing them; its token undoes it once, and the screens follow
// both ways; a single action can be undone too; a spent token is refused.
func TestBulkAndUndo(t *testing.T) {
	ae := newAdminEnv(t)
	b := newBrowser(t, ae.url)
	b.login("mo", "correct horse")
	screen := ae.open("/walls/devconf/events")
	ae.ingest("1", "@ana@m.example", "one #devconf")
	ae.ingest("2", "@bo@m.example", "two #devconf")
	ae.ingest("3", "@cy@m.example", "three #devconf")

	var ans struct {
		Posts int    `json:"posts"`
		Undo  string `json:"undo"`
	}
	resp, body := b.post("/admin/api/walls/devconf/bulk", map[string]any{"action": "approve", "ids": []string{"s:1", "s:2", "s:3", "s:nope"}})
	if json.Unmarshal([]byte(body), &ans); resp.StatusCode != 200 || ans.Posts != 3 || ans.Undo == "" {
		t.Fatalf("bulk approve: %s %s", resp.Status, body)
	}
	got := func(n int) string {
		var out []string
		for len(out) < n {
			ev := screen.next(t)
			if ev.Type == "ready" {
				continue
			}
			var p struct{ ID string }
			json.Unmarshal([]byte(ev.Data), &p)
			out = append(out, ev.Type+" "+p.ID)
		}
		return strings.Join(out, ", ")
	}
	if g := got(3); g != "post s:1, post s:2, post s:3" {
		t.Errorf("screen after the bulk approve: %s", g)
	}
	q, _ := ae.db.Queue(context.Background(), "devconf", 10)
	if len(q.Audit) == 0 || q.Audit[0].Action != "bulk-approve" || q.Audit[0].Detail != "s:1 s:2 s:3" {
		t.Errorf("audit = %+v", q.Audit)
	}

	resp, body = b.post("/admin/api/walls/devconf/undo", map[string]string{"token": ans.Undo})
	if resp.StatusCode != 200 || !strings.Contains(body, `"posts":3`) {
		t.Fatalf("undo: %s %s", resp.Status, body)
	}
	if g := got(3); g != "remove s:1, remove s:2, remove s:3" {
		t.Errorf("screen after the undo: %s", g)
	}
	q, _ = ae.db.Queue(context.Background(), "devconf", 10)
	if len(q.Pending) != 3 || len(q.Visible) != 0 {
		t.Errorf("after the undo: %d pending, %d visible", len(q.Pending), len(q.Visible))
	}
	if resp, _ := b.post("/admin/api/walls/devconf/undo", map[string]string{"token": ans.Undo}); resp.StatusCode != http.StatusGone {
		t.Errorf("the same undo twice: %s", resp.Status)
	}

	// A single action answers with its own undo.
	resp, body = b.post("/admin/api/walls/devconf/posts/s:2/reject", nil)
	json.Unmarshal([]byte(body), &ans)
	if resp.StatusCode != 200 || ans.Undo == "" {
		t.Fatalf("reject: %s %s", resp.Status, body)
	}
	if resp, _ := b.post("/admin/api/walls/devconf/undo", map[string]string{"token": ans.Undo}); resp.StatusCode != 200 {
		t.Fatalf("undo the reject: %s", resp.Status)
	}
	q, _ = ae.db.Queue(context.Background(), "devconf", 10)
	if len(q.Pending) != 3 || len(q.Rejected) != 0 {
		t.Errorf("after undoing the reject: %d pending, %d rejected", len(q.Pending), len(q.Rejected))
	}
	// Bad requests.
	if resp, _ := b.post("/admin/api/walls/devconf/bulk", map[string]any{"action": "pin", "ids": []string{"s:1"}}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bulk pin: %s", resp.Status)
	}
}

// TestAdjustReachesScreens: hiding an image from the console reaches the
// screens as an update carrying the adjusted post.
func TestAdjustReachesScreens(t *testing.T) {
	ae := newAdminEnv(t)
	b := newBrowser(t, ae.url)
	b.login("mo", "correct horse")
	p := wall.Post{ID: "s:9", Source: "s", NativeID: "9", Network: "demo", Text: "photo #devconf", HTML: "<p>photo #devconf</p>",
		Media: []wall.Media{{Type: "image", URL: "https://i.example/a.jpg"}}, CreatedAt: time.Now().UTC()}
	ae.apply(wall.Write{Source: "s", Item: wall.Item{Kind: wall.ItemPost, Post: p}, Targets: []wall.Target{{Wall: "devconf", Status: wall.StatusVisible}}})
	screen := ae.open("/walls/devconf/events")
	if ev := screen.next(t); ev.Type != "post" { // the backfill
		t.Fatalf("backfill: %s %s", ev.Type, ev.Data)
	}
	if resp, body := b.post("/admin/api/walls/devconf/posts/s:9/media/0", map[string]bool{"hide": true}); resp.StatusCode != 200 {
		t.Fatalf("hide: %s %s", resp.Status, body)
	}
	ev := screen.next(t)
	var got wall.Post
	json.Unmarshal([]byte(ev.Data), &got)
	if ev.Type != "update" || len(got.Media) != 1 || !got.Media[0].Hidden || got.Text != "photo #devconf" {
		t.Errorf("screen got %s %s", ev.Type, ev.Data)
	}
	if resp, _ := b.post("/admin/api/walls/devconf/posts/s:9/media/0", map[string]string{}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("an empty adjustment: %s", resp.Status)
	}
}

// TestUndoBan: a ban's undo brings back the posts it took off the wall
// and removes the rule, so the author's next post is let in.
func TestUndoBan(t *testing.T) {
	ae := newAdminEnv(t)
	b := newBrowser(t, ae.url)
	b.login("mo", "correct horse")
	ae.ingest("1", "@bo@m.example", "one #devconf")
	if resp, body := b.post("/admin/api/walls/devconf/posts/s:1/approve", nil); resp.StatusCode != 200 {
		t.Fatalf("approve: %s %s", resp.Status, body)
	}
	var ans struct {
		Posts int    `json:"posts"`
		Undo  string `json:"undo"`
	}
	resp, body := b.post("/admin/api/walls/devconf/bans", map[string]string{"author": "@bo@m.example"})
	if json.Unmarshal([]byte(body), &ans); resp.StatusCode != 200 || ans.Posts != 1 || ans.Undo == "" {
		t.Fatalf("ban: %s %s", resp.Status, body)
	}
	if resp, body := b.post("/admin/api/walls/devconf/undo", map[string]string{"token": ans.Undo}); resp.StatusCode != 200 {
		t.Fatalf("undo: %s %s", resp.Status, body)
	}
	q, _ := ae.db.Queue(context.Background(), "devconf", 10)
	if len(q.Visible) != 1 || q.Visible[0].ID != "s:1" {
		t.Errorf("after undoing the ban: %+v", q.Visible)
	}
	if rules, _ := ae.db.Rules(context.Background()); len(rules) != 0 {
		t.Errorf("rules after the undo: %+v", rules)
	}
	ae.ingest("2", "@bo@m.example", "two #devconf")
	q, _ = ae.db.Queue(context.Background(), "devconf", 10)
	if len(q.Pending) != 1 || q.Pending[0].ID != "s:2" {
		t.Errorf("the author's next post: pending %+v, rejected %+v", q.Pending, q.Rejected)
	}
}

// TestShowControl: a show action reaches the screens as a show event with
// the whole state, and a screen that connects later joins the show where
// it stands.
func TestShowControl(t *testing.T) {
	ae := newAdminEnv(t)
	b := newBrowser(t, ae.url)
	b.login("mo", "correct horse")
	screen := ae.open("/walls/devconf/events")
	resp, body := b.post("/admin/api/walls/devconf/show", map[string]string{"action": "slide", "text": "Back at 14:00"})
	if resp.StatusCode != 200 || !strings.Contains(body, "Back at 14:00") {
		t.Fatalf("slide: %s %s", resp.Status, body)
	}
	if ev := screen.next(t); ev.Type != "show" || !strings.Contains(ev.Data, `"slide":{"text":"Back at 14:00"}`) {
		t.Errorf("screen got %s %s", ev.Type, ev.Data)
	}
	b.post("/admin/api/walls/devconf/show", map[string]string{"action": "pause"})
	later := ae.open("/walls/devconf/events")
	if ev := later.next(t); ev.Type != "show" || !strings.Contains(ev.Data, `"paused":true`) || !strings.Contains(ev.Data, "Back at 14:00") {
		t.Errorf("a new screen's catch-up: %s %s", ev.Type, ev.Data)
	}
	if resp, _ := b.post("/admin/api/walls/devconf/show", map[string]string{"action": "feature", "id": "s:404"}); resp.StatusCode != http.StatusConflict {
		t.Errorf("featuring a post not on the wall: %s", resp.Status)
	}
	if resp, _ := b.post("/admin/api/walls/devconf/show", map[string]string{"action": "slide", "image": "javascript:alert(1)"}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a slide image that is not http(s): %s", resp.Status)
	}
}

// TestImpressions: a screen reports a sponsor's showing; only the wall's
// sponsors count, at most for the card's seconds; the console reads them.
func TestImpressions(t *testing.T) {
	ae := newAdminEnv(t)
	cfg := *ae.srv.Config()
	walls := append([]config.Wall(nil), cfg.Walls...)
	walls[0].Display.Sponsors = []config.Sponsor{{Name: "ACME", Image: "https://acme.example/a.png", Seconds: 8}}
	cfg.Walls = walls
	ae.srv.SetConfig(&cfg)
	post := func(body string, header ...string) int {
		req, _ := http.NewRequest(http.MethodPost, ae.url+"/walls/devconf/impressions", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	screen := ae.open("/walls/devconf/events")
	token := screen.token(t)
	if code := post(`{"sponsor": 0, "seconds": 60, "token": "`+token+`"}`, "Origin", ae.url); code != http.StatusNoContent {
		t.Fatalf("impression: %d", code)
	}
	for _, bad := range []string{`{"sponsor": 1, "seconds": 5}`, `{"sponsor": -1, "seconds": 5}`, `{"sponsor": 0, "seconds": 0}`, `nonsense`} {
		if code := post(bad); code != http.StatusBadRequest {
			t.Errorf("%s: %d", bad, code)
		}
	}
	for name, tc := range map[string]struct {
		body   string
		header []string
		want   int
	}{
		"the same card again within its length": {`{"sponsor": 0, "seconds": 8, "token": "` + token + `"}`, nil, http.StatusTooManyRequests},
		"no token":                              {`{"sponsor": 0, "seconds": 8}`, nil, http.StatusTooManyRequests},
		"a made-up token":                       {`{"sponsor": 0, "seconds": 8, "token": "abc"}`, nil, http.StatusTooManyRequests},
		"from another site's page":              {`{"sponsor": 0, "seconds": 8, "token": "` + token + `"}`, []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		"as text/plain":                         {`{"sponsor": 0, "seconds": 8, "token": "` + token + `"}`, []string{"Content-Type", "text/plain"}, http.StatusUnsupportedMediaType},
	} {
		if code := post(tc.body, tc.header...); code != tc.want {
			t.Errorf("%s: %d, want %d", name, code, tc.want)
		}
	}
	// A second screen counts once more; a screen gone counts no more.
	other := ae.open("/walls/devconf/events")
	otherToken := other.token(t)
	if code := post(`{"sponsor": 0, "seconds": 8, "token": "` + otherToken + `"}`); code != http.StatusNoContent {
		t.Errorf("a second screen: %d", code)
	}
	other.resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for post(`{"sponsor": 0, "seconds": 8, "token": "`+otherToken+`"}`) != http.StatusTooManyRequests {
		if time.Now().After(deadline) {
			t.Fatal("a closed stream's token still counts")
		}
		time.Sleep(20 * time.Millisecond)
	}
	b := newBrowser(t, ae.url)
	b.login("mo", "correct horse")
	_, body := b.do("GET", "/admin/api/walls/devconf/sponsors", nil)
	if !strings.Contains(body, `"sponsor":"ACME","shows":2,"screen_minutes":0.26666`) {
		t.Errorf("sponsors = %s", body)
	}
}

// TestPollAPI: a poll needs a question and 2 to 6 options with tags of
// their own; an open poll reaches the screens and is in a new screen's
// catch-up; closing it twice is a conflict.
func TestPollAPI(t *testing.T) {
	ae := newAdminEnv(t)
	b := newBrowser(t, ae.url)
	b.login("mo", "correct horse")
	for _, bad := range []map[string]any{
		{"question": "Q?", "options": []map[string]string{{"text": "A", "tag": "a"}}},
		{"question": "", "options": []map[string]string{{"text": "A", "tag": "a"}, {"text": "B", "tag": "b"}}},
		{"question": "Q?", "options": []map[string]string{{"text": "A", "tag": "a"}, {"text": "B", "tag": "#A"}}},
	} {
		if resp, _ := b.post("/admin/api/walls/devconf/polls", bad); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%v: %s", bad, resp.Status)
		}
	}
	screen := ae.open("/walls/devconf/events")
	resp, body := b.post("/admin/api/walls/devconf/polls", map[string]any{"question": "Tabs or spaces?", "minutes": 5,
		"options": []map[string]string{{"text": "Tabs", "tag": "#TeamTabs"}, {"text": "Spaces", "tag": "teamspaces"}}})
	var p wall.Poll
	if json.Unmarshal([]byte(body), &p); resp.StatusCode != 200 || p.ID == "" || p.Options[0].Tag != "teamtabs" {
		t.Fatalf("open: %s %s", resp.Status, body)
	}
	if ev := screen.next(t); ev.Type != "poll" || !strings.Contains(ev.Data, "Tabs or spaces?") {
		t.Errorf("screen got %s %s", ev.Type, ev.Data)
	}
	if ev := ae.open("/walls/devconf/events").next(t); ev.Type != "poll" {
		t.Errorf("a new screen's catch-up: %s", ev.Type)
	}
	if resp, _ := b.post("/admin/api/walls/devconf/polls/"+p.ID+"/close", nil); resp.StatusCode != 200 {
		t.Errorf("close: %s", resp.Status)
	}
	if resp, _ := b.post("/admin/api/walls/devconf/polls/"+p.ID+"/close", nil); resp.StatusCode != http.StatusConflict {
		t.Errorf("close twice: %s", resp.Status)
	}
}

// TestUndoBelongsToItsSession: another user's session (even an admin's)
// cannot spend an undo token; the session that acted can.
func TestUndoBelongsToItsSession(t *testing.T) {
	ae := newAdminEnv(t)
	mo, ana := newBrowser(t, ae.url), newBrowser(t, ae.url)
	mo.login("mo", "correct horse")
	ana.login("ana", "correct horse")
	ae.ingest("1", "@bo@m.example", "one #devconf")
	var ans struct {
		Undo string `json:"undo"`
	}
	resp, body := mo.post("/admin/api/walls/devconf/posts/s:1/approve", nil)
	if json.Unmarshal([]byte(body), &ans); resp.StatusCode != 200 || ans.Undo == "" {
		t.Fatalf("approve: %s %s", resp.Status, body)
	}
	if resp, _ := ana.post("/admin/api/walls/devconf/undo", map[string]string{"token": ans.Undo}); resp.StatusCode != http.StatusGone {
		t.Errorf("another session's undo: %s", resp.Status)
	}
	if resp, body := mo.post("/admin/api/walls/devconf/undo", map[string]string{"token": ans.Undo}); resp.StatusCode != 200 {
		t.Errorf("the session's own undo: %s %s", resp.Status, body)
	}
}
