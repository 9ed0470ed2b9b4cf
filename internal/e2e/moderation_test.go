package e2e

import (
	"context"
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
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wallcast/wallcast/wall"
)

const moderationYAML = `server: {listen: "127.0.0.1:0", heartbeat: 1s}
storage: {path: %q}
admin: {user: ana, password_hash: "${TEST_HASH}"}
sources:
  - {name: hook, type: webhook, flavor: wallcast, secret: "${WALLCAST_TEST_HOOK_SECRET}", max_posts_per_minute: 1000}
filters: {word_lists: [en]}
walls:
  - slug: family
    hashtags: [devconf]
    sources: [hook]
    filters: {hold_if: [links], max_posts_per_author: 2/10m, duplicates_within: 10m}
    trusted: {authors: ["hook:@host@conf.example"]}
`

// TestModerationEndToEnd: posts through the webhook meet the word lists,
// hold_if, the trusted list, the flood limit and the duplicate check; the
// screens get only what should show, and the console's queue says why
// the rest is held or rejected.
func TestModerationEndToEnd(t *testing.T) {
	h, _ := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	t.Setenv("TEST_HASH", string(h))
	t.Setenv("WALLCAST_TEST_HOOK_SECRET", hookSecret)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(moderationYAML, filepath.Join(dir, "w.db"))), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startFile(t, cfg)
	defer a.Shutdown()
	screen := openStream(t, "http://"+a.Addr()+"/walls/family/events", "")
	readUntil(t, screen, "ready")

	post := func(id, handle, text, html string) {
		t.Helper()
		b, _ := json.Marshal(map[string]any{"id": id, "author": map[string]string{"name": "Someone", "handle": handle}, "text": text, "html": html, "tags": []string{"devconf"}})
		resp, err := pushBody(http.DefaultClient, a.Addr(), string(b))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("push %s: %v %v", id, err, resp)
		}
	}
	const speech = "Welcome everyone to the opening keynote of this year's conference"
	post("ok1", "@ana@m.example", "hello from the hall #devconf", "")
	post("swear", "@bo@m.example", "this is fucking great #devconf", "")
	post("link", "@cy@m.example", "", `<p>slides at <a href="https://slides.example/">slides.example</a> #devconf</p>`)
	post("host", "@host@conf.example", "", `<p>`+speech+` <a href="https://conf.example/live">conf.example/live</a> #devconf</p>`)
	post("ana2", "@ana@m.example", "second post from me today #devconf", "")
	post("ana3", "@ana@m.example", "and a third one, too many #devconf", "")
	post("copy", "@dee@m.example", speech+"!! #devconf", "")
	post("last", "@zed@m.example", "the last one #devconf", "")

	var shown []string
	for len(shown) == 0 || shown[len(shown)-1] != "hook:last" {
		shown = append(shown, readPosts(t, screen, 1)[0].ID)
	}
	if got := strings.Join(shown, " "); got != "hook:ok1 hook:host hook:ana2 hook:last" {
		t.Errorf("screens got %s", got)
	}

	// The console's queue says why.
	c, token := login(t, "http://"+a.Addr(), "family", nil)
	resp, err := c.Get("http://" + a.Addr() + "/admin/api/walls/family/queue")
	if err != nil {
		t.Fatal(err)
	}
	var q wall.QueueState
	json.NewDecoder(resp.Body).Decode(&q)
	resp.Body.Close()
	why := map[string]string{}
	for _, list := range [][]wall.QueueItem{q.Pending, q.Rejected} {
		for _, it := range list {
			why[it.ID] = it.Status + ": " + it.Reason
		}
	}
	for id, want := range map[string]string{
		"hook:swear": "rejected: word list en (text: fuck*)",
		"hook:link":  "pending: held: links",
		"hook:ana3":  "rejected: more than 2 posts in 10m0s by this author",
		"hook:copy":  "rejected: near-duplicate of hook:host",
	} {
		if why[id] != want {
			t.Errorf("%s in the queue: %q, want %q", id, why[id], want)
		}
	}

	// Trusting an author from the console trusts the handle on its
	// source: a post whose display name copies the handle stays held.
	b, _ := json.Marshal(map[string]any{"id": "impostor", "author": map[string]string{"name": "@cy@m.example", "handle": "mallory@evil.example"},
		"html": `<p>free tickets <a href="https://evil.example/">evil.example</a> #devconf</p>`, "tags": []string{"devconf"}})
	if resp, err := pushBody(http.DefaultClient, a.Addr(), string(b)); err != nil || resp.StatusCode != 200 {
		t.Fatalf("push impostor: %v %v", err, resp)
	}
	for _, bad := range []string{`{"author":"@cy@m.example"}`, `{"author":"Someone"}`} {
		req, _ := http.NewRequest(http.MethodPost, "http://"+a.Addr()+"/admin/api/walls/family/trusted", strings.NewReader(bad))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", token)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("trust %s without its source: %s", bad, resp.Status)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+a.Addr()+"/admin/api/walls/family/trusted", strings.NewReader(`{"author":"hook:@cy@m.example"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", token)
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"posts":1`) {
		t.Fatalf("trust: %s %s", resp.Status, body)
	}
	if got := readPosts(t, screen, 1)[0].ID; got != "hook:link" {
		t.Errorf("after trusting @cy the screen got %s", got)
	}

	// An admin forgets an author: their posts leave the screens at once.
	req, _ = http.NewRequest(http.MethodPost, "http://"+a.Addr()+"/admin/api/forget", strings.NewReader(`{"author":"@ana@m.example"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", token)
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"forgotten":3`) {
		t.Fatalf("forget: %s %s", resp.Status, body)
	}
	gone := map[string]bool{}
	for len(gone) < 2 {
		ev, err := screen.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == "remove" {
			var p struct{ ID string }
			json.Unmarshal([]byte(ev.Data), &p)
			gone[p.ID] = true
		}
	}
	if !gone["hook:ok1"] || !gone["hook:ana2"] {
		t.Errorf("removed from the screens: %v", gone)
	}
	// And from the command line, for another author, while the server
	// runs: the connected screen is told at once, not at its reconnect.
	if out, err := exec.Command(binary, "forget", "-config", cfg, "@cy@m.example").CombinedOutput(); err != nil || !strings.Contains(string(out), "1 posts deleted") {
		t.Errorf("wallcast forget: %v %q", err, out)
	}
	removed := make(chan error, 1)
	go func() {
		for {
			ev, err := screen.Next()
			if err != nil || (ev.Type == "remove" && strings.Contains(ev.Data, "hook:link")) {
				removed <- err
				return
			}
		}
	}()
	select {
	case err := <-removed:
		if err != nil {
			t.Fatalf("no remove after wallcast forget: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the connected screen got no remove within 10 s of wallcast forget")
	}
}

// TestClassifierEndToEnd: with a classifier configured, a wall that holds
// for it shows the post the model finds fine and not the one it scores
// above reject_above, whose reason the console shows.
func TestClassifierEndToEnd(t *testing.T) {
	model := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p wall.Post
		json.NewDecoder(r.Body).Decode(&p)
		score := "0.02"
		if strings.Contains(p.Text, "nasty") {
			score = "0.99"
		}
		fmt.Fprintf(w, `{"score": %s, "labels": ["toxicity"]}`, score)
	}))
	defer model.Close()
	t.Setenv("WALLCAST_TEST_HOOK_SECRET", hookSecret)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	yaml := fmt.Sprintf(`server: {listen: "127.0.0.1:0", heartbeat: 1s}
storage: {path: %q}
moderation:
  classifier: {url: %q, timeout: 2s}
sources:
  - {name: hook, type: webhook, flavor: wallcast, secret: "${WALLCAST_TEST_HOOK_SECRET}"}
walls:
  - {slug: scored, hashtags: [devconf], sources: [hook], filters: {hold_if: [classifier]}}
`, filepath.Join(dir, "w.db"), model.URL)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startFile(t, cfg)
	defer a.Shutdown()
	screen := openStream(t, "http://"+a.Addr()+"/walls/scored/events", "")
	readUntil(t, screen, "ready")
	for _, p := range []string{`{"id":"nasty","author":{"name":"X"},"text":"a nasty one #devconf"}`, `{"id":"fine","author":{"name":"Y"},"text":"a fine one #devconf"}`} {
		if resp, err := pushBody(http.DefaultClient, a.Addr(), p); err != nil || resp.StatusCode != 200 {
			t.Fatalf("push: %v %v", err, resp)
		}
	}
	if got := readPosts(t, screen, 1)[0].ID; got != "hook:fine" {
		t.Errorf("the screen got %s first", got)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		q, err := a.DB().Queue(context.Background(), "scored", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(q.Rejected) == 1 && q.Rejected[0].ID == "hook:nasty" && q.Rejected[0].Reason == "classifier 0.99 (toxicity)" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rejected = %+v, pending = %+v", q.Rejected, q.Pending)
		}
	}
}
