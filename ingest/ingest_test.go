package ingest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/sources"
	"github.com/wallcast/wallcast/storage"
	"github.com/wallcast/wallcast/wall"
)

// testDB opens a database in a file of the test's own.
func testDB(t *testing.T) *storage.DB {
	t.Helper()
	db, err := storage.Open(filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func testConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()
	c, err := sources.Parse("t.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const routingYAML = `
sources:
  - {name: masto, type: demo}
  - {name: feed, type: rss, url: "https://ex.example/f", all_posts: true}
walls:
  - slug: conf
    hashtags: ["#DevConf"]
    keywords: ["open source"]
    sources: [masto]
    filters: {hide_replies: true, hide_sensitive: true, blocked_words: ["spoiler alert", "badword"], blocked_authors: ["@troll@bad.example"], languages: [en, fr]}
  - slug: held
    hashtags: [devconf]
    sources: [masto, feed]
    moderation: manual
  - slug: media
    hashtags: [devconf]
    sources: [masto]
    filters: {media_only: true}
`

func TestRoute(t *testing.T) {
	r := NewRouter(testConfig(t, routingYAML))
	base := wall.Post{Text: "hello", Author: wall.Author{Handle: "@ana@m.example"}, Lang: "en"}
	cases := []struct {
		name   string
		source string
		edit   func(p *wall.Post)
		want   map[string]string // wall -> status (or "rejected: reason")
	}{
		{"tag in tags field, any case", "masto", func(p *wall.Post) { p.Tags = []string{"DEVCONF"} },
			map[string]string{"conf": "visible", "held": "pending", "media": "rejected: no media"}},
		{"keyword whole words only", "masto", func(p *wall.Post) { p.Text = "I love Open-Source software" },
			map[string]string{"conf": "visible"}},
		{"keyword inside a word does not match", "masto", func(p *wall.Post) { p.Text = "reopen sourced" }, map[string]string{}},
		{"no tag", "masto", func(p *wall.Post) { p.Tags = []string{"other"} }, map[string]string{}},
		{"reply hidden", "masto", func(p *wall.Post) { p.Tags = []string{"devconf"}; p.Reply = true; p.Media = []wall.Media{{}} },
			map[string]string{"conf": "rejected: reply", "held": "pending", "media": "visible"}},
		{"content warning counts as sensitive", "masto", func(p *wall.Post) { p.Tags = []string{"devconf"}; p.ContentWarning = "food" },
			map[string]string{"conf": "rejected: sensitive", "held": "pending", "media": "rejected: no media"}},
		{"blocked phrase, case and punctuation", "masto", func(p *wall.Post) { p.Tags = []string{"devconf"}; p.Text = "SPOILER, alert: the end" },
			map[string]string{"conf": "rejected: blocked word spoiler alert", "held": "pending", "media": "rejected: no media"}},
		{"blocked word is whole-word", "masto", func(p *wall.Post) { p.Tags = []string{"devconf"}; p.Text = "badwords are fine" },
			map[string]string{"conf": "visible", "held": "pending", "media": "rejected: no media"}},
		{"blocked author without @", "masto", func(p *wall.Post) { p.Tags = []string{"devconf"}; p.Author.Handle = "troll@bad.example" },
			map[string]string{"conf": "rejected: blocked author", "held": "pending", "media": "rejected: no media"}},
		{"language filter by primary subtag", "masto", func(p *wall.Post) { p.Tags = []string{"devconf"}; p.Lang = "fr-CA" },
			map[string]string{"conf": "visible", "held": "pending", "media": "rejected: no media"}},
		{"other language", "masto", func(p *wall.Post) { p.Tags = []string{"devconf"}; p.Lang = "de" },
			map[string]string{"conf": "rejected: language de", "held": "pending", "media": "rejected: no media"}},
		{"all_posts source needs no tag", "feed", func(p *wall.Post) {}, map[string]string{"held": "pending"}},
		{"unknown source", "nobody", func(p *wall.Post) { p.Tags = []string{"devconf"} }, map[string]string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := base
			c.edit(&p)
			got := map[string]string{}
			for _, tg := range r.Route(c.source, &p) {
				got[tg.Wall] = tg.Status
				if tg.Reason != "" {
					got[tg.Wall] += ": " + tg.Reason
				}
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("route = %v, want %v", got, c.want)
			}
		})
	}
}

type recorder struct {
	mu     sync.Mutex
	events []wall.Event
	ch     chan struct{}
}

func (r *recorder) Publish(ev []wall.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev...)
	r.mu.Unlock()
	select {
	case r.ch <- struct{}{}:
	default:
	}
}

func (r *recorder) wait(t *testing.T, n int) []wall.Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		r.mu.Lock()
		if len(r.events) >= n {
			ev := append([]wall.Event(nil), r.events...)
			r.mu.Unlock()
			return ev
		}
		r.mu.Unlock()
		select {
		case <-r.ch:
		case <-deadline:
			t.Fatalf("timed out waiting for %d events", n)
		}
	}
}

func TestPipelineSanitisesStoresAndAnnounces(t *testing.T) {
	db := testDB(t)
	rec := &recorder{ch: make(chan struct{}, 1)}
	p := New(db, rec, NewRouter(testConfig(t, routingYAML)), slog.New(slog.NewTextHandler(io.Discard, nil)))
	emit := p.Emitter("masto")
	ctx := context.Background()
	hostile := wall.Post{NativeID: "1", Network: "mastodon", Lang: "en",
		HTML:   `<p>Hi <a href="https://m.example/tags/devconf">#<span>DevConf</span></a><script>alert(1)</script><img src=x onerror=alert(1)></p>`,
		Author: wall.Author{Name: "<b>Ana</b>", Avatar: "javascript:alert(1)"},
		Media:  []wall.Media{{Type: "image", URL: "javascript:alert(1)"}, {Type: "image", URL: "https://m.example/a.png"}}}
	if err := emit(ctx, wall.Item{Kind: wall.ItemPost, Post: hostile, Cursor: "c-1"}); err != nil {
		t.Fatal(err)
	}
	// Nobody wants this one; its cursor is saved all the same.
	if err := emit(ctx, wall.Item{Kind: wall.ItemPost, Post: wall.Post{NativeID: "2", Text: "nothing here"}, Cursor: "c-2"}); err != nil {
		t.Fatal(err)
	}
	ev := rec.wait(t, 1)
	if ev[0].Wall != "conf" || ev[0].Type != wall.EventPost {
		t.Fatalf("first event = %+v", ev[0])
	}
	snap, err := db.Snapshot(ctx, "conf", 10)
	if err != nil || len(snap.Posts) != 1 {
		t.Fatalf("stored: %v %+v", err, snap)
	}
	got := snap.Posts[0]
	if got.ID != "masto:1" || got.Text != "Hi #DevConf" || got.Author.Name != "Ana" || got.Author.Avatar != "" ||
		len(got.Media) != 1 || !reflect.DeepEqual(got.Tags, []string{"devconf"}) {
		t.Errorf("stored post = %+v", got)
	}
	if want := `<p>Hi <a href="https://m.example/tags/devconf" rel="nofollow noreferrer noopener" target="_blank">#<span>DevConf</span></a></p>`; got.HTML != want {
		t.Errorf("html = %q", got.HTML)
	}
	p.Close()
	if c, _ := db.Cursor(ctx, "masto"); c != "c-2" {
		t.Errorf("cursor = %q, want c-2", c)
	}
}

// BenchmarkIngest measures posts/s through route → filter → sanitise →
// store (batched) → announce, with a real SQLite file: one wall, and the
// three walls of the routing test (each post stored on all three).
func BenchmarkIngest(b *testing.B) {
	b.Run("one-wall", func(b *testing.B) {
		benchIngest(b, "sources: [{name: masto, type: demo}]\nwalls: [{slug: conf, hashtags: [devconf], sources: [masto]}]\n")
	})
	b.Run("three-walls", func(b *testing.B) { benchIngest(b, routingYAML) })
}

func benchIngest(b *testing.B, yaml string) {
	db, err := storage.Open(filepath.Join(b.TempDir(), "w.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	c, err := sources.Parse("b.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		b.Fatal(err)
	}
	var stored sync.WaitGroup
	pub := publishFunc(func(ev []wall.Event) {
		for _, e := range ev {
			if e.Wall == "conf" {
				stored.Done()
			}
		}
	})
	p := New(db, pub, NewRouter(c), slog.New(slog.NewTextHandler(io.Discard, nil)))
	emit := p.Emitter("masto")
	html := `<p>Keynote! <a href="https://m.example/tags/devconf" class="mention hashtag">#<span>devconf</span></a> with <a href="https://m.example/@ana">@ana</a></p>`
	b.ResetTimer()
	stored.Add(b.N)
	for i := 0; i < b.N; i++ {
		post := wall.Post{NativeID: fmt.Sprint(i), HTML: html, Tags: []string{"devconf"}, Lang: "en", Author: wall.Author{Name: "Ana", Handle: "@ana@m.example"}}
		if err := emit(context.Background(), wall.Item{Kind: wall.ItemPost, Post: post}); err != nil {
			b.Fatal(err)
		}
	}
	stored.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "posts/s")
	p.Close()
}

type publishFunc func([]wall.Event)

func (f publishFunc) Publish(ev []wall.Event) { f(ev) }

// TestOrderKeptAcrossWorkers: items prepared in parallel are committed in
// the order the source emitted them, and the last cursor wins.
func TestOrderKeptAcrossWorkers(t *testing.T) {
	db := testDB(t)
	p := New(db, publishFunc(func([]wall.Event) {}), NewRouter(testConfig(t, routingYAML)), slog.New(slog.NewTextHandler(io.Discard, nil)))
	emit := p.Emitter("masto")
	const n = 2000
	for i := 0; i < n; i++ {
		html := "<p>short #devconf</p>"
		if i%7 == 0 { // some items take longer to sanitise than their neighbours
			html = "<p>" + strings.Repeat(`<a href="https://ex.example/">long</a> `, 200) + "#devconf</p>"
		}
		post := wall.Post{NativeID: fmt.Sprintf("%05d", i), HTML: html, Tags: []string{"devconf"}, Lang: "en", Author: wall.Author{Name: "A"}}
		if err := emit(context.Background(), wall.Item{Kind: wall.ItemPost, Post: post, Cursor: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	p.Close()
	if err := emit(context.Background(), wall.Item{Kind: wall.ItemPost, Post: wall.Post{NativeID: "late"}}); err != ErrClosed {
		t.Errorf("emit after close: %v", err)
	}
	posts, _, err := db.Posts(context.Background(), "conf", 0, 100)
	if err != nil || len(posts) != 100 {
		t.Fatalf("posts: %v %d", err, len(posts))
	}
	for i, post := range posts {
		if want := fmt.Sprintf("masto:%05d", n-1-i); post.ID != want {
			t.Fatalf("post %d = %s, want %s: commit order differs from emission order", i, post.ID, want)
		}
	}
	if c, _ := db.Cursor(context.Background(), "masto"); c != fmt.Sprint(n-1) {
		t.Errorf("cursor = %s", c)
	}
}

// flakyStore refuses commits while failing is set, then passes them on.
type flakyStore struct {
	wall.Store
	mu      sync.Mutex
	failing bool
	err     error // what it refuses with (nil: a plain error)
	tried   chan struct{}
}

func (f *flakyStore) Apply(ctx context.Context, batch []wall.Write) ([]wall.Event, error) {
	f.mu.Lock()
	failing := f.failing
	f.mu.Unlock()
	if failing {
		select {
		case f.tried <- struct{}{}:
		default:
		}
		if f.err != nil {
			return nil, f.err
		}
		return nil, fmt.Errorf("disk I/O error")
	}
	return f.Store.Apply(ctx, batch)
}

// TestAckAfterCommitAndNothingSkipped: a pushed item is acknowledged only
// once it is committed; while the disk refuses, the batch is retried, not
// dropped, so no later cursor is stored ahead of it.
func TestAckAfterCommitAndNothingSkipped(t *testing.T) {
	db := testDB(t)
	store := &flakyStore{Store: db, failing: true, tried: make(chan struct{}, 1)}
	p := New(store, publishFunc(func([]wall.Event) {}), NewRouter(testConfig(t, routingYAML)), slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()
	acked := make(chan error, 1)
	post := wall.Post{NativeID: "pushed", Text: "hi #devconf", Lang: "en", Author: wall.Author{Name: "A"}}
	if err := p.Emit(ctx, "masto", wall.Item{Kind: wall.ItemPost, Post: post, Cursor: "c-1", Ack: func(err error) { acked <- err }}); err != nil {
		t.Fatal(err)
	}
	<-store.tried // the first commit failed
	select {
	case err := <-acked:
		t.Fatalf("acknowledged (%v) while the disk refuses", err)
	default:
	}
	later := wall.Post{NativeID: "later", Text: "more #devconf", Lang: "en", Author: wall.Author{Name: "A"}}
	if err := p.Emit(ctx, "masto", wall.Item{Kind: wall.ItemPost, Post: later, Cursor: "c-2"}); err != nil {
		t.Fatal(err)
	}
	<-store.tried // still failing: and nothing behind it was committed
	if c, _ := db.Cursor(ctx, "masto"); c != "" {
		t.Fatalf("cursor %q stored while the batch before it is not", c)
	}
	// Ingest says why it is paused, and refuses pushes at once.
	if since, err := p.Failing(); err == nil || since.IsZero() {
		t.Errorf("failing = %v, %v", since, err)
	}
	if err := p.Emit(ctx, "masto", wall.Item{Kind: wall.ItemPost, Post: post, Ack: func(error) {}}); err != wall.ErrBusy {
		t.Errorf("push while the store refuses: %v, want ErrBusy", err)
	}
	store.mu.Lock()
	store.failing = false
	store.mu.Unlock()
	select {
	case err := <-acked:
		if err != nil {
			t.Fatalf("ack: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("never acknowledged after the disk recovered")
	}
	if _, err := p.Failing(); err != nil {
		t.Errorf("still failing after a commit: %v", err)
	}
	p.Close()
	posts, _, _ := db.Posts(ctx, "conf", 0, 10)
	if len(posts) != 2 {
		t.Errorf("stored %d posts, want 2", len(posts))
	}
	if c, _ := db.Cursor(ctx, "masto"); c != "c-2" {
		t.Errorf("cursor = %q, want c-2", c)
	}
}

// TestPushRefusedWhenFull: a pushed item meets a full queue with ErrBusy
// at once instead of waiting behind it.
func TestPushRefusedWhenFull(t *testing.T) {
	db := testDB(t)
	store := &flakyStore{Store: db, failing: true, tried: make(chan struct{}, 1)}
	p := New(store, publishFunc(func([]wall.Event) {}), NewRouter(testConfig(t, routingYAML)), slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer func() {
		store.mu.Lock()
		store.failing = false
		store.mu.Unlock()
		p.Close()
	}()
	ctx := context.Background()
	var busy error
	for i := 0; i < 20000 && busy == nil; i++ {
		post := wall.Post{NativeID: fmt.Sprint(i), Text: "hi #devconf", Lang: "en", Author: wall.Author{Name: "A"}}
		busy = p.Emit(ctx, "masto", wall.Item{Kind: wall.ItemPost, Post: post, Ack: func(error) {}})
	}
	if busy != wall.ErrBusy {
		t.Errorf("emit into a full pipeline: %v, want ErrBusy", busy)
	}
}

// TestUnknownNetworkBecomesWeb: a pushed post cannot name a network of
// its own (screens style cards by network).
func TestUnknownNetworkBecomesWeb(t *testing.T) {
	p := &Pipeline{sanitizer: NewSanitizer()}
	p.router.Store(NewRouter(testConfig(t, routingYAML)))
	for in, want := range map[string]string{"mastodon": "mastodon", "web pinned": "web", "": "web", "x\" onclick=\"": "web", "instagram": "instagram"} {
		w, _ := p.prepare("masto", wall.Item{Kind: wall.ItemPost, Post: wall.Post{NativeID: "1", Network: in, Tags: []string{"devconf"}, Text: "hi"}})
		if got := w.Item.Post.Network; got != want {
			t.Errorf("network %q stored as %q, want %q", in, got, want)
		}
	}
}

// A source that follows people: a wall with no hashtags, or match: all,
// takes everything it brings; a wall with hashtags only what has them.
func TestRoutePeople(t *testing.T) {
	r := NewRouter(testConfig(t, `
sources:
  - {name: speakers, type: mastodon, instance: "https://m.example", accounts: ["@ana@m.example"]}
walls:
  - {slug: people, sources: [speakers]}
  - {slug: tagged, hashtags: [devconf], sources: [speakers]}
  - {slug: everything, hashtags: [devconf], match: all, sources: [speakers]}
`))
	for _, tc := range []struct {
		tags []string
		want string
	}{
		{nil, "[everything people]"},
		{[]string{"DevConf"}, "[everything people tagged]"},
	} {
		p := wall.Post{Text: "hello", Tags: tc.tags, Author: wall.Author{Handle: "@ana@m.example"}}
		if !r.wants("speakers", &p) {
			t.Errorf("%v: not wanted", tc.tags)
		}
		var got []string
		for _, tg := range r.Route("speakers", &p) {
			got = append(got, tg.Wall)
		}
		slices.Sort(got)
		if fmt.Sprint(got) != tc.want {
			t.Errorf("%v: walls %v, want %s", tc.tags, got, tc.want)
		}
	}
}
