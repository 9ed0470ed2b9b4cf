package mastodon

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallcast/wallcast/sources/sourcetest"
	"github.com/wallcast/wallcast/wall"
)

// accountServer is one account's statuses on a Mastodon server, which the
// test edits and deletes as its owner would.
type accountServer struct {
	mu       sync.Mutex
	statuses []string // newest first
}

func (f *accountServer) set(statuses ...string) {
	f.mu.Lock()
	f.statuses = statuses
	f.mu.Unlock()
}

func (f *accountServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	switch r.URL.Path {
	case "/api/v1/accounts/lookup":
		fmt.Fprint(w, `{"id": "7", "username": "bob", "acct": "bob@other.example"}`)
	case "/api/v1/accounts/7/statuses":
		f.mu.Lock()
		page := f.statuses
		f.mu.Unlock()
		if minID := r.URL.Query().Get("min_id"); minID != "" {
			var newer []string
			for _, s := range page {
				var st status
				json.Unmarshal([]byte(s), &st)
				if st.ID > minID {
					newer = append(newer, s)
				}
			}
			page = newer
		}
		fmt.Fprintf(w, "[%s]", strings.Join(page, ","))
	default:
		http.NotFound(w, r)
	}
}

// edited is a status as Mastodon serves it after an edit.
func edited(id, text string) string {
	var m map[string]any
	json.Unmarshal([]byte(statusJSON(id, "bob@other.example", text, false)), &m)
	m["edited_at"] = "2026-12-03T10:05:00.000Z"
	b, _ := json.Marshal(m)
	return string(b)
}

// TestPolledEditsAndDeletes: an account has no stream, so its edits and
// deletes are found on its newest page: an edited status is updated, a
// deleted one removed, and what happened while the source was down is
// seen after the restart, from the window kept in the cursor.
func TestPolledEditsAndDeletes(t *testing.T) {
	bob := func(id, text string) string { return statusJSON(id, "bob@other.example", text, false) }
	f := &accountServer{}
	f.set(bob("103", "coffee"), bob("102", "slides"), bob("101", "hello"))
	srv := httptest.NewServer(f)
	defer srv.Close()

	rec := sourcetest.NewRecorder(func(it wall.Item) string {
		switch it.Kind {
		case wall.ItemPost:
			return "post " + it.Post.NativeID
		case wall.ItemUpdate:
			return "update " + it.Post.NativeID + " " + it.Post.HTML
		case wall.ItemDelete:
			return "delete " + it.Post.NativeID
		}
		return ""
	})
	run := func(cursor string) (stop func()) {
		s := New(Config{Name: "people", Instance: srv.URL, PollInterval: 10 * time.Millisecond, Accounts: []string{"@bob@other.example"}}, srv.Client(), sourcetest.Quiet)
		return sourcetest.Start(t, s, wall.Subscription{Cursor: cursor}, rec.Emit)
	}

	stop := run("")
	sourcetest.Until(t, "the three statuses", rec.Has("post 103"))
	f.set(bob("103", "coffee"), edited("102", "slides, fixed link"), bob("101", "hello"))
	sourcetest.Until(t, "the edit", rec.Has("update 102 <p>slides, fixed link</p>"))
	f.set(bob("103", "coffee"), edited("102", "slides, fixed link"))
	sourcetest.Until(t, "the delete", rec.Has("delete 101"))
	stop()

	// While the wall is down: 103 deleted, 104 posted.
	f.set(bob("104", "lunch"), edited("102", "slides, fixed link"))
	stop = run(rec.Cursor())
	sourcetest.Until(t, "what happened while down", func() bool { return rec.Has("post 104")() && rec.Has("delete 103")() })
	stop()

	want := "post 101\npost 102\npost 103\nupdate 102 <p>slides, fixed link</p>\ndelete 101\npost 104\ndelete 103"
	if got := strings.Join(rec.Lines(), "\n"); got != want {
		t.Errorf("items:\n%s\nwant:\n%s", got, want)
	}
}
