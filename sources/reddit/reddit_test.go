package reddit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallcast/wallcast/sources/sourcetest"
	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

const ua = "server:wallcast-test:1.0 (by /u/wallcast)"

// fakeReddit is www.reddit.com's token endpoint and oauth.reddit.com.
type fakeReddit struct {
	t       *testing.T
	mu      sync.Mutex
	tokens  int
	revoked map[string]bool
	queries []string
	limited bool
}

func (f *fakeReddit) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("User-Agent") != ua {
		w.WriteHeader(429) // what Reddit does to generic agents
		io.WriteString(w, `{"message": "Too Many Requests", "error": 429}`)
		return
	}
	if r.URL.Path == "/api/v1/access_token" {
		user, pass, ok := r.BasicAuth()
		r.ParseForm()
		if !ok || user != "cid" || pass != "csecret" || r.PostForm.Get("grant_type") != "client_credentials" {
			w.WriteHeader(401)
			io.WriteString(w, `{"message": "Unauthorized", "error": 401}`)
			return
		}
		f.tokens++
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token": "tok%d", "token_type": "bearer", "expires_in": 86400, "scope": "*"}`, f.tokens)
		return
	}
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if tok == "" || f.revoked[tok] {
		w.WriteHeader(401)
		io.WriteString(w, `{"message": "Unauthorized", "error": 401}`)
		return
	}
	f.queries = append(f.queries, r.URL.Path+"?"+r.URL.RawQuery)
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("X-Ratelimit-Used", "4")
	w.Header().Set("X-Ratelimit-Remaining", "596.0")
	w.Header().Set("X-Ratelimit-Reset", "312")
	if f.limited {
		w.Header().Set("X-Ratelimit-Remaining", "0.0")
		w.Header().Set("X-Ratelimit-Reset", "45")
		w.WriteHeader(429)
		io.WriteString(w, `{"message": "Too Many Requests", "error": 429}`)
		return
	}
	name := "new.json"
	if r.URL.Query().Get("before") == "t3_1h0c" {
		name = "new_after_1h0c.json"
	}
	if strings.HasSuffix(r.URL.Path, "/search") {
		io.WriteString(w, `{"kind": "Listing", "data": {"children": []}}`)
		return
	}
	b, _ := os.ReadFile(filepath.Join("testdata", name))
	w.Write(b)
}

func newSource(u string, query string) *Source {
	return New(Config{Name: "reddit", ClientID: "cid", ClientSecret: "csecret", UserAgent: ua, Subreddits: []string{"devconf", "r/golang"},
		Query: query, TokenURL: u + "/api/v1/access_token", APIBase: u, Interval: time.Hour}, nil, sourcetest.Quiet)
}

func collect(t *testing.T, s *Source, cursor string, want int) []wall.Item {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var items []wall.Item
	err := s.Run(ctx, wall.Subscription{Cursor: cursor}, func(_ context.Context, it wall.Item) error {
		items = append(items, it)
		if len(items) == want {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return items
}

func TestPollsNewestWithToken(t *testing.T) {
	f := &fakeReddit{t: t, revoked: map[string]bool{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	items := collect(t, newSource(srv.URL, ""), "", 3)
	var ids []string
	for _, it := range items {
		ids = append(ids, it.Post.NativeID)
	}
	if strings.Join(ids, ",") != "t3_1h0a,t3_1h0b,t3_1h0c" {
		t.Fatalf("order = %v (want oldest first)", ids)
	}
	if q := f.queries[0]; !strings.HasPrefix(q, "/r/devconf+golang/new?") || !strings.Contains(q, "raw_json=1") {
		t.Errorf("query = %s", q)
	}
	self, spoiler, link := items[0].Post, items[1].Post, items[2].Post
	if !strings.Contains(self.HTML, `<div class="md"><p>Mine was the SSE one</p>`) || !strings.HasPrefix(self.HTML, "<p><strong>What was your favourite talk? #devconf</strong></p>") {
		t.Errorf("self text html = %s", self.HTML)
	}
	if !spoiler.Sensitive || spoiler.ContentWarning != "Spoiler" {
		t.Errorf("over_18/spoiler = %+v", spoiler)
	}
	if len(link.Media) != 1 || link.Media[0].URL != "https://preview.redd.it/keynote.jpg?width=1080&format=pjpg&s=abc" || !strings.Contains(link.HTML, `<a href="https://i.redd.it/keynote.jpg">i.redd.it</a>`) {
		t.Errorf("link post = %+v", link)
	}
	if self.Author.Handle != "u/quietcompiler" || self.URL != "https://www.reddit.com/r/devconf/comments/1h0a/slug/" || self.Tags[0] != "devconf" {
		t.Errorf("author/url = %+v", self)
	}
	var c cursor
	json.Unmarshal([]byte(items[2].Cursor), &c)
	if c.Before["new"] != "t3_1h0c" {
		t.Errorf("cursor = %s", items[2].Cursor)
	}
}

func TestCursorAcrossRestartsAndTokenRefresh(t *testing.T) {
	f := &fakeReddit{t: t, revoked: map[string]bool{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	s := newSource(srv.URL, "devconf")
	// Prime a token, then revoke it: the next call must fetch a new one.
	f.revoked["tok1"] = true
	items := collect(t, s, `{"before":{"new":"t3_1h0c"}}`, 1)
	if items[0].Post.NativeID != "t3_1h0d" {
		t.Errorf("after the cursor: %+v", items[0].Post)
	}
	if !strings.Contains(f.queries[0], "before=t3_1h0c") {
		t.Errorf("query = %s", f.queries[0])
	}
	if f.tokens != 2 {
		t.Errorf("tokens fetched = %d, want 2 (a refresh after the 401)", f.tokens)
	}
}

func TestRateLimit(t *testing.T) {
	f := &fakeReddit{t: t, revoked: map[string]bool{}, limited: true}
	srv := httptest.NewServer(f)
	defer srv.Close()
	err := newSource(srv.URL, "").Run(context.Background(), wall.Subscription{}, func(context.Context, wall.Item) error { return nil })
	var ra *upstream.RetryAfterError
	if !errors.As(err, &ra) || ra.After != 46*time.Second {
		t.Errorf("err = %v, want a retry at the reset (46 s)", err)
	}
	for _, c := range []struct {
		rem, reset string
		want       time.Duration
	}{{"596.0", "312", 0}, {"10.0", "300", 30 * time.Second}, {"0.0", "45", 45 * time.Second}, {"", "", 0}} {
		h := http.Header{}
		h.Set("X-Ratelimit-Remaining", c.rem)
		h.Set("X-Ratelimit-Reset", c.reset)
		if got := budget(h); got != c.want {
			t.Errorf("budget(%s left, reset %s) = %v, want %v", c.rem, c.reset, got, c.want)
		}
	}
}

func TestBadCredentialsArePermanent(t *testing.T) {
	srv := httptest.NewServer(&fakeReddit{t: t, revoked: map[string]bool{}})
	defer srv.Close()
	s := newSource(srv.URL, "")
	s.cfg.ClientSecret = "wrong"
	s.resetToken()
	err := s.Run(context.Background(), wall.Subscription{}, func(context.Context, wall.Item) error { return nil })
	var pe *upstream.PermanentError
	if !errors.As(err, &pe) {
		t.Errorf("err = %v, want permanent", err)
	}
}

// TestReanchorsWhenTheAnchorIsGone: Reddit returns nothing after a deleted
// anchor, forever; the source anchors again on the newest posts.
func TestReanchorsWhenTheAnchorIsGone(t *testing.T) {
	f := &fakeReddit{t: t, revoked: map[string]bool{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("before") == "t3_gone" {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"kind": "Listing", "data": {"children": [], "before": null, "after": null}}`)
			return
		}
		f.ServeHTTP(w, r)
	}))
	defer srv.Close()
	s := newSource(srv.URL, "")
	s.cfg.Interval = time.Millisecond
	items := collect(t, s, `{"before":{"new":"t3_gone"}}`, 3)
	if items[2].Post.NativeID != "t3_1h0c" {
		t.Errorf("after re-anchoring: %+v", items[2].Post)
	}
	var c cursor
	json.Unmarshal([]byte(items[2].Cursor), &c)
	if c.Before["new"] != "t3_1h0c" {
		t.Errorf("cursor = %s", items[2].Cursor)
	}
}

// TestGalleryAndVideo: a gallery brings every valid picture in its order
// (an animated one as its MP4, captions as alt texts, a failed one left
// out), a Reddit video its MP4 with the preview as poster.
func TestGalleryAndVideo(t *testing.T) {
	b, err := os.ReadFile("testdata/media.json")
	if err != nil {
		t.Fatal(err)
	}
	var l listing
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatal(err)
	}
	g := l.Data.Children[0].Data.toPost()
	if len(g.Media) != 5 || g.Media[0].Alt != "The queue for coffee" || g.Media[1].Alt != "Photos from the hallway track" ||
		g.Media[0].URL != "https://preview.redd.it/abc1.jpg?width=4032&format=pjpg&auto=webp&s=1a" || g.Media[2].Type != "gifv" || !strings.Contains(g.Media[2].URL, "format=mp4") {
		t.Fatalf("gallery %+v", g.Media)
	}
	v := l.Data.Children[1].Data.toPost()
	if len(v.Media) != 1 || v.Media[0].Type != "video" || v.Media[0].URL != "https://v.redd.it/k3yn0t3/DASH_720.mp4?source=fallback" || !strings.HasPrefix(v.Media[0].Preview, "https://external-preview.redd.it/") {
		t.Fatalf("video %+v", v.Media)
	}
}
