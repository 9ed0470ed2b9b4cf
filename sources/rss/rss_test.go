package rss

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// feedServer is a fake publisher: it serves the testdata feeds with
// validators, answers conditional requests with 304, and fails on demand.
type feedServer struct {
	mu       sync.Mutex
	requests []*http.Request
}

func (f *feedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r)
	f.mu.Unlock()
	files := map[string]struct{ file, ctype string }{
		"/feed.rss":  {"testdata/feed.rss", "application/rss+xml; charset=utf-8"},
		"/feed.atom": {"testdata/feed.atom", "application/atom+xml"},
		"/feed.json": {"testdata/feed.json", "application/feed+json"},
		"/broken":    {"testdata/broken.xml", "application/rss+xml"},
	}
	switch r.URL.Path {
	case "/error":
		http.Error(w, "upstream exploded", http.StatusInternalServerError)
		return
	case "/limited":
		w.Header().Set("Retry-After", "120")
		http.Error(w, "slow down", http.StatusTooManyRequests)
		return
	case "/gone":
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	fl, ok := files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	const etag, lastMod = `"v1-abc"`, "Tue, 24 Nov 2026 10:00:00 GMT"
	if r.Header.Get("If-None-Match") == etag || r.Header.Get("If-Modified-Since") == lastMod {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body, err := os.ReadFile(fl.file)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.Header().Set("Content-Type", fl.ctype)
	w.Header().Set("ETag", etag)
	w.Header().Set("Last-Modified", lastMod)
	w.Write(body)
}

func (f *feedServer) last() *http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[len(f.requests)-1]
}

func (f *feedServer) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

func newSource(url string) *Source {
	return New(Config{Name: "blog", URL: url, Interval: time.Hour, UserAgent: "Wallcast-test/1"}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

type collector struct{ items []wall.Item }

func (c *collector) emit(_ context.Context, it wall.Item) error {
	c.items = append(c.items, it)
	return nil
}

func TestFormats(t *testing.T) {
	fs := &feedServer{}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	cases := []struct {
		path                  string
		n                     int
		id, author, lang, tag string
		media                 int
	}{
		{"/feed.rss", 2, "https://devconf.example/news/doors", "DevConf News", "en-us", "", 0},
		{"/feed.atom", 1, "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a", "Léa", "fr", "devconf", 0},
		{"/feed.json", 1, "speaker-7", "Orga", "de", "speakers", 1},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			s := newSource(srv.URL + c.path)
			var col collector
			var cur cursor
			if err := s.poll(context.Background(), &cur, col.emit); err != nil {
				t.Fatal(err)
			}
			if len(col.items) != c.n {
				t.Fatalf("items = %d, want %d", len(col.items), c.n)
			}
			p := col.items[0].Post // oldest first
			if p.NativeID != c.id || p.Author.Name != c.author || p.Lang != c.lang || p.Network != "rss" {
				t.Errorf("post = %+v", p)
			}
			if len(p.Media) != c.media {
				t.Errorf("media = %+v, want %d", p.Media, c.media)
			}
			if c.tag != "" && (len(p.Tags) == 0 || p.Tags[0] != c.tag) {
				t.Errorf("tags = %v, want %s", p.Tags, c.tag)
			}
			if ua := fs.last().Header.Get("User-Agent"); ua != "Wallcast-test/1" {
				t.Errorf("user agent = %q", ua)
			}
			last := col.items[len(col.items)-1]
			var saved cursor
			if err := json.Unmarshal([]byte(last.Cursor), &saved); err != nil || saved.ETag != `"v1-abc"` {
				t.Errorf("cursor on the last item = %q", last.Cursor)
			}
		})
	}
}

func TestRSSMapping(t *testing.T) {
	srv := httptest.NewServer(&feedServer{})
	defer srv.Close()
	var col collector
	var cur cursor
	if err := newSource(srv.URL+"/feed.rss").poll(context.Background(), &cur, col.emit); err != nil {
		t.Fatal(err)
	}
	p := col.items[1].Post
	if p.NativeID != "devconf-news-42" || p.Author.Name != "Programme Team" || p.URL != "https://devconf.example/news/day-two" {
		t.Errorf("post = %+v", p)
	}
	if want := "<p><strong>Day two schedule</strong></p><p>Lightning talks move to 16:00. <script>alert(1)</script></p>"; p.HTML != want {
		t.Errorf("html = %q (raw: ingest sanitises)", p.HTML)
	}
	if len(p.Media) != 1 || p.Media[0].URL != "https://devconf.example/img/hall.jpg" || p.Author.Avatar != "https://devconf.example/logo.png" {
		t.Errorf("media = %+v avatar = %q", p.Media, p.Author.Avatar)
	}
	if !p.CreatedAt.Equal(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("created_at = %v", p.CreatedAt)
	}
}

func TestConditionalGet(t *testing.T) {
	fs := &feedServer{}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	s := newSource(srv.URL + "/feed.rss")
	var col collector
	var cur cursor
	if err := s.poll(context.Background(), &cur, col.emit); err != nil {
		t.Fatal(err)
	}
	n := len(col.items)
	if err := s.poll(context.Background(), &cur, col.emit); err != nil {
		t.Fatal(err)
	}
	if r := fs.last(); r.Header.Get("If-None-Match") != `"v1-abc"` || r.Header.Get("If-Modified-Since") != "Tue, 24 Nov 2026 10:00:00 GMT" {
		t.Errorf("second request headers = %v", r.Header)
	}
	if len(col.items) != n {
		t.Errorf("a 304 emitted %d more items", len(col.items)-n)
	}

	// After a restart the saved cursor makes the first request conditional.
	var restarted collector
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- s.Run(ctx, wall.Subscription{Cursor: col.items[n-1].Cursor}, func(_ context.Context, it wall.Item) error {
			restarted.items = append(restarted.items, it)
			return nil
		})
	}()
	deadline := time.Now().Add(5 * time.Second)
	for fs.count() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if r := fs.last(); r.Header.Get("If-None-Match") != `"v1-abc"` {
		t.Errorf("request after restart was not conditional: %v", r.Header)
	}
	if len(restarted.items) != 0 {
		t.Errorf("restart re-emitted %d items of an unchanged feed", len(restarted.items))
	}
}

func TestErrors(t *testing.T) {
	srv := httptest.NewServer(&feedServer{})
	defer srv.Close()
	var col collector
	var cur cursor

	err := newSource(srv.URL+"/error").poll(context.Background(), &cur, col.emit)
	var se *upstream.StatusError
	if !errors.As(err, &se) || se.Code != 500 {
		t.Errorf("500: err = %v", err)
	}
	err = newSource(srv.URL+"/limited").poll(context.Background(), &cur, col.emit)
	var ra *upstream.RetryAfterError
	if !errors.As(err, &ra) || ra.After != 120*time.Second {
		t.Errorf("429: err = %v, want retry after 120s", err)
	}
	err = newSource(srv.URL+"/gone").poll(context.Background(), &cur, col.emit)
	var pe *upstream.PermanentError
	if !errors.As(err, &pe) {
		t.Errorf("403: err = %v, want permanent", err)
	}
	err = newSource(srv.URL+"/broken").poll(context.Background(), &cur, col.emit)
	if err == nil || len(col.items) != 0 {
		t.Errorf("broken feed: err = %v, items = %d", err, len(col.items))
	}
}
