package mastodon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallcast/wallcast/sources/sourcetest"
	"github.com/wallcast/wallcast/wall"
)

// statusJSON is a Mastodon Status entity.
func statusJSON(id, acct, text string, reply bool) string {
	user, _, _ := strings.Cut(acct, "@")
	m := map[string]any{
		"id": id, "created_at": "2026-12-03T10:00:00.000Z", "in_reply_to_id": nil, "sensitive": false, "spoiler_text": "",
		"visibility": "public", "language": "en", "uri": "https://m.example/users/" + user + "/statuses/" + id, "url": "https://m.example/@" + user + "/" + id,
		"content": "<p>" + text + "</p>", "reblog": nil, "media_attachments": []any{}, "mentions": []any{}, "tags": []any{}, "emojis": []any{},
		"account": map[string]any{"id": "9" + user, "username": user, "acct": acct, "display_name": strings.ToUpper(user), "url": "https://m.example/@" + user,
			"avatar": "https://m.example/a.png", "avatar_static": "https://m.example/a.png", "created_at": "2020-01-01T00:00:00.000Z", "emojis": []any{}, "bot": false},
	}
	if reply {
		m["in_reply_to_id"] = "1"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// peopleServer is a Mastodon server with a list and accounts: lookup,
// account statuses, the list timeline and its stream.
type peopleServer struct {
	mu   sync.Mutex
	reqs []string
}

func (f *peopleServer) requests() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.reqs, "\n")
}

func (f *peopleServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.reqs = append(f.reqs, r.URL.RequestURI()+" auth="+r.Header.Get("Authorization"))
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	q := r.URL.Query()
	switch r.URL.Path {
	case "/api/v1/accounts/lookup":
		switch q.Get("acct") {
		case "bob@other.example":
			io.WriteString(w, `{"id": "7", "username": "bob", "acct": "bob@other.example"}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error": "Record not found"}`)
		}
	case "/api/v1/accounts/7/statuses":
		if q.Get("min_id") == "" {
			fmt.Fprintf(w, "[%s, %s]", statusJSON("302", "bob@other.example", "a reply to a stranger", true), statusJSON("301", "bob@other.example", "slides are up", false))
		} else {
			io.WriteString(w, "[]")
		}
	case "/api/v1/timelines/list/42":
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error": "The access token is invalid"}`)
			return
		}
		if q.Get("min_id") == "" {
			fmt.Fprintf(w, "[%s]", statusJSON("300", "ana", "doors open", false))
		} else {
			io.WriteString(w, "[]")
		}
	case "/api/v1/streaming/list":
		if q.Get("list") != "42" || r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, ":)\n\nevent: update\ndata: %s\n\n", statusJSON("303", "ana", "keynote in five", false))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	default:
		http.NotFound(w, r)
	}
}

// TestPeople: a list (streamed, with the owner's token) and an account
// (looked up once, then polled with a cursor of its own); no hashtag is
// asked for, and a reply to a stranger stays off.
func TestPeople(t *testing.T) {
	f := &peopleServer{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	s := New(Config{Name: "people", Instance: srv.URL, AccessToken: "tok", Stream: true, PollInterval: 20 * time.Millisecond,
		Lists: []string{"42"}, Accounts: []string{"@bob@other.example"}}, srv.Client(), sourcetest.Quiet)
	var mu sync.Mutex
	got := map[string]string{}
	var last string
	emit := func(_ context.Context, it wall.Item) error {
		mu.Lock()
		defer mu.Unlock()
		if it.Kind == wall.ItemPost {
			got[it.Post.NativeID] = strings.Split(it.Post.Author.Handle, "@")[1] + " " + it.Post.HTML
		}
		if it.Cursor != "" {
			last = it.Cursor
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, wall.Subscription{Hashtags: []string{"devconf"}}, emit) }()
	sourcetest.Until(t, "the people's posts and three polls of the account", func() bool {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		return n >= 3 && strings.Count(f.requests(), "/api/v1/accounts/7/statuses") >= 3
	})
	cancel()
	<-done
	want := map[string]string{"300": "ana <p>doors open</p>", "301": "bob <p>slides are up</p>", "303": "ana <p>keynote in five</p>"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("posts = %v, want %v", got, want)
	}
	reqs := f.requests()
	if strings.Count(reqs, "/api/v1/accounts/lookup") != 1 {
		t.Errorf("the account was looked up more than once:\n%s", reqs)
	}
	if strings.Contains(reqs, "tag") {
		t.Errorf("a people source asked for a hashtag:\n%s", reqs)
	}
	if strings.Count(reqs, "/api/v1/accounts/7/statuses?exclude_reblogs=true&limit=40 ") < 3 {
		t.Errorf("the account's newest page is not polled:\n%s", reqs)
	}
	var c cursor
	json.Unmarshal([]byte(last), &c)
	if c.Since["list:42"] != "303" || c.Since["@bob@other.example"] != "302" || fmt.Sprint(c.Seen["@bob@other.example"].Entries()) != "[{301 301 }]" {
		t.Errorf("cursor = %s", last)
	}

	// An account that does not exist stops the source with the fix.
	s = New(Config{Name: "people", Instance: srv.URL, Accounts: []string{"nobody@m.example"}}, srv.Client(), sourcetest.Quiet)
	if err := s.Run(context.Background(), wall.Subscription{}, emit); err == nil || !strings.Contains(err.Error(), "check accounts") {
		t.Errorf("unknown account: %v", err)
	}
}
