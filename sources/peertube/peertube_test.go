package peertube

import (
	"context"
	"encoding/json"
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
	"github.com/wallcast/wallcast/wall"
)

// fakeTube serves PeerTube's video list and details from testdata; a
// video missing there is a 404 in RFC 7807 form, as PeerTube answers.
type fakeTube struct {
	t    testing.TB
	mu   sync.Mutex
	reqs []string
	list string // the list fixture
	// edited: details come from video_<id>_edited.json where there is one
	edited bool
}

func (f *fakeTube) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.reqs = append(f.reqs, r.URL.RequestURI())
	list, edited := f.list, f.edited
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	switch {
	case r.URL.Path == "/api/v1/videos":
		w.Write(sourcetest.Fixture(f.t, list))
	case strings.HasPrefix(r.URL.Path, "/api/v1/videos/"):
		id := strings.TrimPrefix(r.URL.Path, "/api/v1/videos/")
		b, err := readFixture(id, "")
		if e, eerr := readFixture(id, "_edited"); edited && eerr == nil {
			b = e
		}
		if err != nil {
			w.Header().Set("Content-Type", "application/problem+json; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"type":"https://docs.joinpeertube.org/api-rest-reference.html#operation/getVideo","detail":"Video not found","status":404,"title":"Not Found"}`)
			return
		}
		w.Write(b)
	default:
		http.NotFound(w, r)
	}
}

func readFixture(uuid, suffix string) ([]byte, error) {
	short, _, _ := strings.Cut(uuid, "-")
	return os.ReadFile(filepath.Join("testdata", "video_"+short+suffix+".json"))
}

func (f *fakeTube) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reqs...)
}

func TestVideosByTag(t *testing.T) {
	f := &fakeTube{t: t, list: "videos.json"}
	srv := httptest.NewServer(f)
	defer srv.Close()
	s := New(Config{Name: "tube", Instance: srv.URL + "/", PollInterval: 20 * time.Millisecond}, srv.Client(), sourcetest.Quiet)
	var mu sync.Mutex
	var posts []wall.Post
	var last string
	emit := func(_ context.Context, it wall.Item) error {
		mu.Lock()
		defer mu.Unlock()
		posts = append(posts, it.Post)
		last = it.Cursor
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, wall.Subscription{Hashtags: []string{"devconf", "devconf2026"}}, emit) }()
	sourcetest.Until(t, "five requests", func() bool { return len(f.requests()) >= 5 })
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(posts) != 2 {
		t.Fatalf("%d posts, want 2 (each once)", len(posts))
	}
	old, bs := posts[0], posts[1]
	if old.NativeID != "1f0e3dad-9990-4b6e-9d1e-5b5b5b5b5b5b" || bs.NativeID != "9c9de5e8-0a1e-484a-b099-e80766180a6d" {
		t.Errorf("order: %s, %s (oldest first)", old.NativeID, bs.NativeID)
	}
	want := `<p><strong>Backstage at #DevConf</strong></p><p>Les coulisses de la scène principale, juste avant la keynote.</p><p>Musique : &lt;script&gt;alert(1)&lt;/script&gt;<br>merci à l&#39;équipe !</p>`
	if bs.HTML != want {
		t.Errorf("html = %s", bs.HTML)
	}
	if bs.Network != "peertube" || bs.URL != "https://tube.example/w/kaBygmoCMfSBG6KYR9hEWo" || bs.Lang != "fr" || strings.Join(bs.Tags, ",") != "devconf,backstage" ||
		bs.Author.Handle != "@ana@tube.example" || bs.Author.Name != "Ana Lima" || bs.Author.Avatar != srv.URL+"/lazy-static/avatars/ana-120.png" {
		t.Errorf("backstage = %+v", bs)
	}
	if len(bs.Media) != 1 || bs.Media[0].Type != "video" || !strings.HasSuffix(bs.Media[0].URL, "-480-fragmented.mp4") || bs.Media[0].Preview != srv.URL+"/lazy-static/previews/9c9de5e8-preview.jpg" {
		t.Errorf("backstage media = %+v", bs.Media)
	}
	if len(old.Media) != 1 || !strings.HasSuffix(old.Media[0].URL, "1f0e3dad-360.mp4") || !old.Sensitive || old.Author.Name != "bob" || old.URL != srv.URL+"/w/4xU2j9Pq8Zr1TtYv6Wn3Ab" {
		t.Errorf("opening = %+v", old)
	}
	var c cursor
	json.Unmarshal([]byte(last), &c)
	if !c.After.Equal(time.Date(2026, 12, 3, 10, 12, 0, 0, time.UTC)) {
		t.Errorf("cursor = %s", last)
	}
	// The list asks for the tags, newest first; details once per video.
	reqs := strings.Join(f.requests(), "\n")
	if !strings.Contains(reqs, "/api/v1/videos?count=50&nsfw=both&sort=-publishedAt&start=0&tagsOneOf=devconf&tagsOneOf=devconf2026") {
		t.Errorf("list request:\n%s", reqs)
	}
	if n := strings.Count(reqs, "/api/v1/videos/9c9de5e8"); n != 1 {
		t.Errorf("details read %d times", n)
	}
}

// TestEditsAndDeletes: PeerTube's list has no events; a video updated
// since (its updatedAt) is read again and updated, one gone from the
// list deleted, also across a restart (the window is in the cursor).
func TestEditsAndDeletes(t *testing.T) {
	f := &fakeTube{t: t, list: "videos.json"}
	srv := httptest.NewServer(f)
	defer srv.Close()
	rec := sourcetest.NewRecorder(func(it wall.Item) string {
		short, _, _ := strings.Cut(it.Post.NativeID, "-")
		return fmt.Sprintf("%d %s %s", it.Kind, short, it.Post.HTML)
	})
	run := func(cursor string) func() {
		s := New(Config{Name: "tube", Instance: srv.URL, PollInterval: 10 * time.Millisecond}, srv.Client(), sourcetest.Quiet)
		return sourcetest.Start(t, s, wall.Subscription{Hashtags: []string{"devconf"}, Cursor: cursor}, rec.Emit)
	}
	stop := run("")
	sourcetest.Until(t, "both videos", rec.AtLeast(2))
	stop()
	// While the wall is down the opening is deleted and the backstage
	// video gets a new title.
	f.mu.Lock()
	f.list, f.edited = "videos_edited.json", true
	f.mu.Unlock()
	stop = run(rec.Cursor())
	sourcetest.Until(t, "the delete and the update", rec.AtLeast(4))
	stop()
	log := rec.Lines()
	if len(log) != 4 || !strings.HasPrefix(log[2], fmt.Sprint(int(wall.ItemDelete), " 1f0e3dad ")) ||
		!strings.HasPrefix(log[3], fmt.Sprint(int(wall.ItemUpdate), " 9c9de5e8 <p><strong>Backstage at #DevConf (full cut)</strong>")) {
		t.Errorf("items:\n%s", strings.Join(log, "\n"))
	}
}
