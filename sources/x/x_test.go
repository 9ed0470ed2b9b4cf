package x

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallcast/wallcast/sources/sourcetest"
	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// fakeX speaks the X API v2 endpoints the source uses.
type fakeX struct {
	t         *testing.T
	mu        sync.Mutex
	rulePosts []map[string]any
	searches  []string
	stream    func(w http.ResponseWriter, r *http.Request)
}

func (f *fakeX) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer tok" {
		w.WriteHeader(401)
		io.WriteString(w, `{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}`)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("x-rate-limit-limit", "450")
	w.Header().Set("x-rate-limit-remaining", "449")
	w.Header().Set("x-rate-limit-reset", strconv.FormatInt(time.Now().Add(15*time.Minute).Unix(), 10))
	switch {
	case r.URL.Path == "/2/tweets/search/stream/rules" && r.Method == "GET":
		w.Write(sourcetest.Fixture(f.t, "rules.json"))
	case r.URL.Path == "/2/tweets/search/stream/rules" && r.Method == "POST":
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		f.mu.Lock()
		f.rulePosts = append(f.rulePosts, body)
		f.mu.Unlock()
		io.WriteString(w, `{"meta":{"sent":"2026-11-25T10:00:00.000Z","summary":{"created":1,"not_created":0,"valid":1,"invalid":0}}}`)
	case r.URL.Path == "/2/tweets/search/recent":
		f.mu.Lock()
		f.searches = append(f.searches, r.URL.RawQuery)
		f.mu.Unlock()
		if r.URL.Query().Get("since_id") == "1861000000000000001" {
			w.Write(sourcetest.Fixture(f.t, "search.json"))
			return
		}
		io.WriteString(w, `{"meta":{"result_count":0}}`)
	case r.URL.Path == "/2/tweets/search/stream":
		f.stream(w, r)
	default:
		http.NotFound(w, r)
	}
}

var walls = []wall.WallWants{{Slug: "devconf", Hashtags: []string{"devconf", "devconf2026"}, Keywords: []string{"open source"}, HideReposts: true}}

func newSource(u string) *Source {
	return New(Config{Name: "x", BearerToken: "tok", APIBase: u, Stream: true, PollInterval: 10 * time.Millisecond, UserAgent: "test"}, nil, sourcetest.Quiet)
}

func TestRules(t *testing.T) {
	got := Rules(append(walls, wall.WallWants{Slug: "one", Hashtags: []string{"solo"}, HideReplies: true}))
	want := []Rule{
		{Value: `("open source" OR #devconf OR #devconf2026) -is:retweet`, Tag: "wallcast:devconf"},
		{Value: `#solo -is:reply`, Tag: "wallcast:one"},
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("rules = %+v", got)
	}
	// A source that follows people: from: them, whatever the wall's tags.
	got = Rules(walls[:1], "@speaker_one", "host")
	if len(got) != 1 || got[0].Value != `(from:host OR from:speaker_one) -is:retweet` || got[0].Tag != "wallcast:devconf" {
		t.Errorf("people rules = %+v", got)
	}
}

// TestStreamReconcileAndGapFill: rules reconciled (stale and changed ones
// deleted, missing added, other tools' kept), the gap filled, keep-alives
// and a tweet split across reads handled, a malformed line skipped, a
// tweet of another tool's rule ignored, and an operational disconnect
// ending the run with X's network schedule.
func TestStreamReconcileAndGapFill(t *testing.T) {
	f := &fakeX{t: t}
	f.stream = func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("expansions") != "author_id,attachments.media_keys" {
			t.Errorf("stream query = %s", r.URL.RawQuery)
		}
		fl := w.(http.Flusher)
		body := sourcetest.Fixture(t, "stream.ndjson")
		for len(body) > 0 { // 50-byte writes: tweets arrive in pieces
			n := min(50, len(body))
			w.Write(body[:n])
			fl.Flush()
			body = body[n:]
		}
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	s := newSource(srv.URL)
	var items []wall.Item
	err := s.Run(context.Background(), wall.Subscription{Walls: walls, Cursor: `{"since_id":"1861000000000000000"}`}, func(_ context.Context, it wall.Item) error {
		items = append(items, it)
		return nil
	})
	var ra *upstream.RetryAfterError
	if !errors.As(err, &ra) || !ra.Exact || ra.After != 250*time.Millisecond || !strings.Contains(err.Error(), "operational disconnect") {
		t.Fatalf("err = %v, want an exact 250 ms retry after the operational disconnect", err)
	}
	// Reconciliation: delete the changed devconf rule (1) and the stale
	// oldwall rule (2), keep the other tool's (3), add the wanted one.
	if len(f.rulePosts) != 2 {
		t.Fatalf("rule posts = %v", f.rulePosts)
	}
	del, _ := json.Marshal(f.rulePosts[0])
	add, _ := json.Marshal(f.rulePosts[1])
	if string(del) != `{"delete":{"ids":["1","2"]}}` || !strings.Contains(string(add), `"tag":"wallcast:devconf"`) || !strings.Contains(string(add), `-is:retweet`) {
		t.Errorf("delete %s / add %s", del, add)
	}
	if len(items) != 1 {
		t.Fatalf("items = %+v", items)
	}
	p := items[0].Post
	want := `<p>Café ☕ keynote now <a href="https://x.com/hashtag/DevConf">#DevConf</a> with <a href="https://x.com/bo_dev">@bo_dev</a> <a href="https://devconf.example/live">devconf.example/live</a></p>`
	if p.HTML != want {
		t.Errorf("html\n got %s\nwant %s", p.HTML, want)
	}
	if p.Author.Handle != "@ana_dev" || !strings.HasSuffix(p.Author.Avatar, "ana_400x400.jpg") || p.URL != "https://x.com/ana_dev/status/1861000000000000001" ||
		len(p.Media) != 1 || p.Media[0].Alt != "The stage" || items[0].Walls[0] != "devconf" {
		t.Errorf("post = %+v walls %v", p, items[0].Walls)
	}
	// The next run fills the gap from the newest tweet seen.
	items = nil
	f.stream = func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(503)
		io.WriteString(w, `{"title":"Service Unavailable"}`)
	}
	err = s.Run(context.Background(), wall.Subscription{Walls: walls}, func(_ context.Context, it wall.Item) error {
		items = append(items, it)
		return nil
	})
	if len(items) != 2 || items[0].Post.NativeID != "1861000000000000004" || items[1].Post.NativeID != "1861000000000000005" {
		t.Errorf("gap fill = %+v", items)
	}
	if !errors.As(err, &ra) || ra.After != 5*time.Second {
		t.Errorf("HTTP error retry = %v", err)
	}
	if !strings.Contains(f.searches[len(f.searches)-1], "since_id=1861000000000000001") {
		t.Errorf("search = %s", f.searches[len(f.searches)-1])
	}
}

func TestBackoffSchedule(t *testing.T) {
	cases := []struct {
		class string
		n     int
		want  time.Duration
	}{
		{classNetwork, 1, 250 * time.Millisecond}, {classNetwork, 2, 500 * time.Millisecond}, {classNetwork, 64, 16 * time.Second}, {classNetwork, 100, 16 * time.Second},
		{classHTTP, 1, 5 * time.Second}, {classHTTP, 2, 10 * time.Second}, {classHTTP, 7, 320 * time.Second}, {classHTTP, 20, 320 * time.Second},
		{classRateLimit, 1, time.Minute}, {classRateLimit, 2, 2 * time.Minute}, {classRateLimit, 3, 4 * time.Minute},
	}
	for _, c := range cases {
		if got := Backoff(c.class, c.n); got != c.want {
			t.Errorf("Backoff(%s, %d) = %v, want %v", c.class, c.n, got, c.want)
		}
	}
	// Consecutive failures climb the schedule; a connection resets it.
	s := newSource("http://127.0.0.1:1")
	var waits []time.Duration
	for i := 0; i < 3; i++ {
		var ra *upstream.RetryAfterError
		errors.As(s.retry(classHTTP, errors.New("502"), 0), &ra)
		waits = append(waits, ra.After)
	}
	s.connected()
	var ra *upstream.RetryAfterError
	errors.As(s.retry(classHTTP, errors.New("502"), 0), &ra)
	if waits[0] != 5*time.Second || waits[2] != 20*time.Second || ra.After != 5*time.Second {
		t.Errorf("waits = %v then %v", waits, ra.After)
	}
}

func TestRateLimitedStream(t *testing.T) {
	reset := time.Now().Add(3 * time.Minute)
	f := &fakeX{t: t, stream: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-rate-limit-reset", strconv.FormatInt(reset.Unix(), 10))
		w.WriteHeader(429)
		io.WriteString(w, `{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}`)
	}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	err := newSource(srv.URL).Run(context.Background(), wall.Subscription{Walls: walls}, func(context.Context, wall.Item) error { return nil })
	var ra *upstream.RetryAfterError
	if !errors.As(err, &ra) || ra.After < 2*time.Minute+50*time.Second {
		t.Errorf("err = %v: want a wait until the reset (about 3 min), more than the 1 min schedule", err)
	}
}

func TestNotEnrolledPollsSearch(t *testing.T) {
	f := &fakeX{t: t, stream: func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(403)
		w.Write(sourcetest.Fixture(t, "not_enrolled.json"))
	}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	s := newSource(srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.Run(ctx, wall.Subscription{Walls: walls, Cursor: `{"since_id":"1861000000000000001"}`}, func(context.Context, wall.Item) error { return nil })
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.mu.Lock()
		n := len(f.searches)
		f.mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("searches = %d: not polling", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	last := f.searches[len(f.searches)-1]
	f.mu.Unlock()
	if !strings.Contains(last, "since_id=1861000000000000005") {
		t.Errorf("polling did not move since_id to the newest: %s", last)
	}
}

func TestBadTokenIsPermanent(t *testing.T) {
	srv := httptest.NewServer(&fakeX{t: t})
	defer srv.Close()
	s := New(Config{Name: "x", BearerToken: "wrong", APIBase: srv.URL, Stream: true, UserAgent: "t"}, nil, sourcetest.Quiet)
	err := s.Run(context.Background(), wall.Subscription{Walls: walls}, func(context.Context, wall.Item) error { return nil })
	var pe *upstream.PermanentError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "Bearer Token") {
		t.Errorf("err = %v", err)
	}
}

// TestOversizedStreamLineDropsTheConnection: a stream line past 4 MiB
// ends the connection with an error instead of growing memory.
func TestOversizedStreamLineDropsTheConnection(t *testing.T) {
	f := &fakeX{t: t, stream: func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 5<<20)) // no line end
		<-r.Context().Done()
	}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	done := make(chan error, 1)
	go func() {
		done <- newSource(srv.URL).Run(context.Background(), wall.Subscription{Walls: walls}, func(context.Context, wall.Item) error { return nil })
	}()
	select {
	case err := <-done:
		if !errors.Is(err, bufio.ErrTooLong) {
			t.Errorf("err = %v, want bufio.ErrTooLong", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the source kept reading an endless line")
	}
}

// TestVideoVariants: a video shows its MP4 of the highest bit rate (not
// the HLS playlist), a GIF its MP4 as a looping gifv, each with its
// preview frame as the poster.
func TestVideoVariants(t *testing.T) {
	b, err := os.ReadFile("testdata/video.json")
	if err != nil {
		t.Fatal(err)
	}
	var m message
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	p := post(*m.Data, m.Includes)
	if len(p.Media) != 2 {
		t.Fatalf("media %+v", p.Media)
	}
	if v := p.Media[0]; v.Type != "video" || !strings.HasSuffix(v.URL, "/1280x720/high.mp4?tag=12") || !strings.HasSuffix(v.Preview, "/demo.jpg") || v.Alt != "The live demo" {
		t.Fatalf("video %+v", v)
	}
	if g := p.Media[1]; g.Type != "gifv" || g.URL != "https://video.twimg.com/tweet_video/party.mp4" || g.Preview == "" {
		t.Fatalf("gif %+v", g)
	}
	if strings.Contains(p.HTML, "t.co/vid1") || strings.Contains(p.HTML, "t.co/gif1") {
		t.Fatalf("the media links stay in the text: %s", p.HTML)
	}
}
