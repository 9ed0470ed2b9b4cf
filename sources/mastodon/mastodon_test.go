package mastodon

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/ingest"
	"github.com/wallcast/wallcast/sources/sourcetest"
	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/sse"
	"github.com/wallcast/wallcast/storage"
	"github.com/wallcast/wallcast/wall"
)

// fakeServer speaks Mastodon's REST and streaming wire formats.
type fakeServer struct {
	t        testing.TB
	mu       sync.Mutex
	streams  [][]byte // what each successive streaming connection sends
	hold     bool     // keep a stream open after its bytes (else close it)
	stream   int      // status code for streaming (0: 200)
	timeline int      // status code for timelines (0: 200)
	reqs     []string
	conns    int
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.reqs = append(f.reqs, r.URL.RequestURI()+" auth="+r.Header.Get("Authorization"))
	f.mu.Unlock()
	switch {
	case strings.HasPrefix(r.URL.Path, "/api/v1/streaming/hashtag"):
		f.serveStream(w, r)
	case r.URL.Path == "/api/v1/timelines/tag/devconf":
		reset := time.Now().Add(30 * time.Second).UTC().Format("2006-01-02T15:04:05.000Z")
		w.Header().Set("X-RateLimit-Limit", "300")
		w.Header().Set("X-RateLimit-Reset", reset)
		if f.timeline != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.WriteHeader(f.timeline)
			io.WriteString(w, `{"error":"The access token is invalid"}`)
			return
		}
		w.Header().Set("X-RateLimit-Remaining", "299")
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		switch r.URL.Query().Get("min_id") {
		case "":
			w.Write(sourcetest.Fixture(f.t, "timeline_latest.json"))
		case "200":
			w.Write(sourcetest.Fixture(f.t, "timeline_after_200.json"))
		default:
			io.WriteString(w, "[]")
		}
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeServer) serveStream(w http.ResponseWriter, r *http.Request) {
	if f.stream != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.stream)
		io.WriteString(w, `{"error":"This method requires an authenticated user"}`)
		return
	}
	f.mu.Lock()
	var body []byte
	if f.conns < len(f.streams) {
		body = f.streams[f.conns]
	}
	f.conns++
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(200)
	fl := w.(http.Flusher)
	fl.Flush()
	// Small writes, so events are split across TCP reads.
	for len(body) > 0 {
		n := min(7, len(body))
		w.Write(body[:n])
		fl.Flush()
		body = body[n:]
	}
	if f.hold {
		<-r.Context().Done()
	}
}

func (f *fakeServer) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reqs...)
}

func newSource(url, token string) *Source {
	return New(Config{Name: "masto", Instance: url, AccessToken: token, Stream: true, PollInterval: 10 * time.Millisecond, UserAgent: "test"}, nil, sourcetest.Quiet)
}

func TestStreamFraming(t *testing.T) {
	for _, crlf := range []bool{false, true} {
		name := "LF"
		if crlf {
			name = "CRLF"
		}
		t.Run(name, func(t *testing.T) {
			body := sourcetest.Fixture(t, "stream.txt")
			if crlf {
				body = []byte(strings.ReplaceAll(string(body), "\n", "\r\n"))
			}
			fs := &fakeServer{t: t, streams: [][]byte{body}, hold: true}
			srv := httptest.NewServer(fs)
			defer srv.Close()
			ctx, cancel := context.WithCancel(context.Background())
			var got []string
			var items []wall.Item
			err := newSource(srv.URL, "tok").Run(ctx, wall.Subscription{Hashtags: []string{"devconf"}, Cursor: `{"since":{"devconf":"200"}}`},
				func(_ context.Context, it wall.Item) error {
					kind := map[wall.ItemKind]string{wall.ItemPost: "post", wall.ItemUpdate: "update", wall.ItemDelete: "delete", wall.ItemCursor: "cursor"}[it.Kind]
					got = append(got, kind+":"+it.Post.NativeID)
					items = append(items, it)
					if it.Kind == wall.ItemDelete {
						cancel()
					}
					return nil
				})
			if err != nil {
				t.Fatal(err)
			}
			// Gap fill first (oldest first), then the stream; the malformed
			// event is skipped; the reply and the boost only move the cursor.
			want := []string{"post:201", "post:202", "post:203", "post:101", "post:102", "update:101", "cursor:", "cursor:", "delete:102"}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("items\n got %v\nwant %v", got, want)
			}
			if items[4].Post.Author.Handle != "@bo@other.example" || items[4].Post.Author.Name != "bo" {
				t.Errorf("remote author = %+v", items[4].Post.Author)
			}
			if items[5].Post.Text != "" || !strings.Contains(items[5].Post.HTML, "(edited)") {
				t.Errorf("edit = %+v", items[5].Post)
			}
			var c cursor
			json.Unmarshal([]byte(items[len(items)-2].Cursor), &c)
			if c.Since["devconf"] != "203" {
				t.Errorf("cursor = %+v", c)
			}
			reqs := fs.requests()
			// Fill, open the stream, fill again what came in between.
			if len(reqs) != 3 || !strings.Contains(reqs[0], "/api/v1/timelines/tag/devconf?limit=40&min_id=200 auth=Bearer tok") ||
				!strings.Contains(reqs[1], "/api/v1/streaming/hashtag?tag=devconf auth=Bearer tok") ||
				!strings.Contains(reqs[2], "/api/v1/timelines/tag/devconf?limit=40&min_id=203 auth=Bearer tok") {
				t.Errorf("requests = %v", reqs)
			}
		})
	}
}

func TestStatusMapping(t *testing.T) {
	var st status
	if err := json.Unmarshal(sourcetest.Fixture(t, "status.json"), &st); err != nil {
		t.Fatal(err)
	}
	p, ok := newSource("https://social.example", "").post(st)
	if !ok {
		t.Fatal("skipped")
	}
	if p.NativeID != "101" || p.URL != "https://social.example/@ana/101" || p.Author.Handle != "@ana@social.example" ||
		p.Author.Avatar != "https://files.social.example/accounts/avatars/ana.png" || p.Author.Name != "Ana :verified:" {
		t.Errorf("post = %+v", p)
	}
	if !p.Sensitive || p.ContentWarning != "stage lights" || p.Lang != "en" || len(p.Tags) != 1 || p.Tags[0] != "devconf" {
		t.Errorf("flags = %+v", p)
	}
	if !strings.Contains(p.HTML, `<img class="emoji" src="https://files.social.example/emoji/blobcat.png" alt=":blobcat:"`) {
		t.Errorf("emoji: %s", p.HTML)
	}
	if len(p.Media) != 2 || p.Media[0].Alt != "The main stage" || p.Media[1].Type != "gifv" || p.Media[1].Preview == "" {
		t.Errorf("media = %+v", p.Media)
	}
	if !p.CreatedAt.Equal(time.Date(2026, 11, 24, 10, 41, 0, 0, time.UTC)) {
		t.Errorf("created_at = %v", p.CreatedAt)
	}
}

func TestFallsBackToPollingWithoutToken(t *testing.T) {
	fs := &fakeServer{t: t, stream: 401}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- newSource(srv.URL, "").Run(ctx, wall.Subscription{Hashtags: []string{"devconf"}}, func(context.Context, wall.Item) error { return nil })
	}()
	deadline := time.Now().Add(5 * time.Second)
	for polls := 0; polls < 3 && time.Now().Before(deadline); {
		polls = 0
		for _, r := range fs.requests() {
			if strings.Contains(r, "timelines/tag/devconf") {
				polls++
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	reqs := fs.requests()
	// newest page, streaming refused, then polls of the newest page (new
	// statuses, edits and deletes in one read)
	if !strings.Contains(reqs[1], "streaming") || !strings.HasPrefix(reqs[2], "/api/v1/timelines/tag/devconf?limit=40 ") {
		t.Errorf("requests = %v", reqs)
	}
}

func TestRefusedTokenIsPermanent(t *testing.T) {
	srv := httptest.NewServer(&fakeServer{t: t, timeline: 401})
	defer srv.Close()
	err := newSource(srv.URL, "bad").Run(context.Background(), wall.Subscription{Hashtags: []string{"devconf"}}, func(context.Context, wall.Item) error { return nil })
	var pe *upstream.PermanentError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "read:statuses") {
		t.Errorf("err = %v", err)
	}
}

func TestRateLimitedWaitsForReset(t *testing.T) {
	srv := httptest.NewServer(&fakeServer{t: t, timeline: 429})
	defer srv.Close()
	err := newSource(srv.URL, "").Run(context.Background(), wall.Subscription{Hashtags: []string{"devconf"}}, func(context.Context, wall.Item) error { return nil })
	var ra *upstream.RetryAfterError
	if !errors.As(err, &ra) || ra.After < 25*time.Second || ra.After > 32*time.Second {
		t.Errorf("err = %v, want a retry at the X-RateLimit-Reset time (about 30s)", err)
	}
}

// TestCutStreamGapFillExactlyOnce: the stream is cut in the middle of an
// event; the supervisor reconnects, the gap fill returns what was missed,
// the new stream repeats one of them; each post is on the wall once.
func TestCutStreamGapFillExactlyOnce(t *testing.T) {
	full := sourcetest.Fixture(t, "stream.txt")
	first := string(full[:strings.Index(string(full), "event: update")]) // ":)" only
	var latest []json.RawMessage
	json.Unmarshal(sourcetest.Fixture(t, "timeline_after_200.json"), &latest)
	cut := first + "event: update\ndata: " + string(latest[2])[:40] // cut mid-event
	again := ":)\n\nevent: update\ndata: " + string(latest[0]) + "\n\n"
	fs := &fakeServer{t: t, streams: [][]byte{[]byte(cut), []byte(again)}, hold: false}
	srv := httptest.NewServer(fs)
	defer srv.Close()

	db, err := storage.Open(filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg, err := config.Parse("t.yaml", []byte("sources: [{name: masto, type: mastodon, instance: \"https://x.example\"}]\nwalls: [{slug: w, hashtags: [devconf], sources: [masto]}]\n"),
		func(string) (string, bool) { return "", false }, config.Types{"mastodon": {Settings: func() config.Settings { return &Settings{} }}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	posts := map[int64]bool{}
	pipe := ingest.New(db, publisher(func(ev []wall.Event) {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range ev {
			posts[e.Seq] = true
		}
	}), ingest.NewRouter(cfg), sourcetest.Quiet)
	// What the supervisor does: run, and on error restart from the saved cursor.
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	src := newSource(srv.URL, "")
	go func() {
		defer close(stopped)
		for ctx.Err() == nil {
			c, _ := db.Cursor(ctx, "masto")
			src.Run(ctx, wall.Subscription{Hashtags: []string{"devconf"}, Cursor: c}, pipe.Emitter("masto"))
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(posts)
		mu.Unlock()
		fs.mu.Lock()
		conns := fs.conns
		fs.mu.Unlock()
		if n >= 5 && conns >= 3 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-stopped
	pipe.Close()
	snap, err := db.Snapshot(context.Background(), "w", 100)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range snap.Posts {
		ids = append(ids, strings.TrimPrefix(p.ID, "masto:"))
	}
	if strings.Join(ids, ",") != "199,200,201,202,203" {
		t.Errorf("wall has %v, want 199..203 once each", ids)
	}
	events, _, _ := db.Replay(context.Background(), "w", 0, 100)
	if len(events) != 5 {
		t.Errorf("display events = %d, want 5", len(events))
	}
}

type publisher func([]wall.Event)

func (p publisher) Publish(ev []wall.Event) { p(ev) }

// TestOversizedStreamLineDropsTheConnection: a stream that sends more
// than a megabyte without a line end is dropped with a clear error (and
// the supervisor reconnects with backoff), instead of growing memory.
func TestOversizedStreamLineDropsTheConnection(t *testing.T) {
	f := &fakeServer{t: t, streams: [][]byte{append([]byte("event: update\ndata: "), make([]byte, 2<<20)...)}, hold: true}
	srv := httptest.NewServer(f)
	defer srv.Close()
	done := make(chan error, 1)
	go func() {
		done <- newSource(srv.URL, "tok").Run(context.Background(), wall.Subscription{Hashtags: []string{"devconf"}}, func(context.Context, wall.Item) error { return nil })
	}()
	select {
	case err := <-done:
		if !errors.Is(err, sse.ErrLineTooLong) {
			t.Errorf("err = %v, want sse.ErrLineTooLong", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the source kept reading an endless line")
	}
}
