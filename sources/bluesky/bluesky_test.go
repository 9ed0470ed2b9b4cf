package bluesky

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wallcast/wallcast/sources/sourcetest"
	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// fakeJetstream is a WebSocket server that sends each message as one text
// frame, as Jetstream does, then keeps the connection open.
type fakeJetstream struct {
	msgs    [][]byte
	mu      sync.Mutex
	queries []string
}

func (f *fakeJetstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/subscribe" {
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	f.queries = append(f.queries, r.URL.RawQuery)
	f.mu.Unlock()
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := c.CloseRead(r.Context())
	for _, m := range f.msgs {
		if err := c.Write(ctx, websocket.MessageText, m); err != nil {
			return
		}
	}
	<-ctx.Done()
}

// fakeAppView answers getProfiles and counts the calls.
type fakeAppView struct {
	t     testing.TB
	mu    sync.Mutex
	calls [][]string
}

func (f *fakeAppView) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/xrpc/app.bsky.actor.getProfiles" {
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, r.URL.Query()["actors"])
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("RateLimit-Limit", "3000")
	w.Header().Set("RateLimit-Remaining", "2999")
	w.Write(sourcetest.Fixture(f.t, "profiles.json"))
}

func newTestSource(jetstreams []string, appview string) *Source {
	return New(Config{Name: "bsky", Jetstream: jetstreams, AppView: appview, UserAgent: "test", CursorEvery: time.Hour}, nil, sourcetest.Quiet)
}

func wsURL(u string) string { return "ws" + strings.TrimPrefix(u, "http") + "/subscribe" }

// collect runs the source until want items arrived.
func collect(t *testing.T, s *Source, sub wall.Subscription, want int) []wall.Item {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var items []wall.Item
	done := make(chan error, 1)
	go func() {
		done <- s.Run(ctx, sub, func(_ context.Context, it wall.Item) error {
			mu.Lock()
			defer mu.Unlock()
			items = append(items, it)
			if len(items) == want {
				cancel()
			}
			return nil
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("only %d of %d items: %+v", len(items), want, items)
	}
	mu.Lock()
	defer mu.Unlock()
	return items
}

func TestJetstream(t *testing.T) {
	js := &fakeJetstream{msgs: sourcetest.FixtureLines(t, "jetstream.jsonl")}
	jsrv := httptest.NewServer(js)
	defer jsrv.Close()
	av := &fakeAppView{t: t}
	asrv := httptest.NewServer(av)
	defer asrv.Close()
	s := newTestSource([]string{wsURL(jsrv.URL)}, asrv.URL)
	sub := wall.Subscription{Hashtags: []string{"devconf"}, Keywords: []string{"open source"}, Cursor: `{"time_us":1764064790000000}`}
	items := collect(t, s, sub, 6)

	var got []string
	for _, it := range items {
		k := map[wall.ItemKind]string{wall.ItemPost: "post", wall.ItemUpdate: "update", wall.ItemDelete: "delete", wall.ItemCursor: "cursor"}[it.Kind]
		got = append(got, k+":"+it.Post.NativeID)
	}
	want := []string{
		"post:did:plc:anaaaaaaaaaaaaaaaaaaaaaa:3lbqaaaaaa2k2",  // tag facet after multi-byte text
		"post:did:plc:boooooooooooooooooooooooo:3lbqcccccc2k2", // tags field
		"post:did:plc:ceeeeeeeeeeeeeeeeeeeeeee:3lbqdddddd2k2",  // keyword
		"update:did:plc:anaaaaaaaaaaaaaaaaaaaaaa:3lbqaaaaaa2k2",
		"delete:did:plc:boooooooooooooooooooooooo:3lbqcccccc2k2",
		"delete:did:plc:unknownnnnnnnnnnnnnnnnnnn:3lbqeeeeee2k2", // IfKnown: storage ignores it
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("items\n got %v\nwant %v", got, want)
	}
	p := items[0].Post
	wantHTML := `<p>Café ☕ à l’ouverture <a href="https://bsky.app/hashtag/DevConf">#DevConf</a> 🎉 <a href="https://devconf.example/live">https://devconf.example/live</a></p>`
	if p.HTML != wantHTML {
		t.Errorf("html\n got %s\nwant %s", p.HTML, wantHTML)
	}
	if p.Author.Name != "Ana Ribeiro" || p.Author.Handle != "@ana.bsky.example" || !strings.HasPrefix(p.Author.Avatar, "https://cdn.bsky.app/img/avatar/") {
		t.Errorf("author = %+v", p.Author)
	}
	if p.URL != "https://bsky.app/profile/did:plc:anaaaaaaaaaaaaaaaaaaaaaa/post/3lbqaaaaaa2k2" || p.Lang != "fr" {
		t.Errorf("url = %s lang = %s", p.URL, p.Lang)
	}
	if len(p.Media) != 1 || p.Media[0].URL != "https://cdn.bsky.app/img/feed_fullsize/plain/did:plc:anaaaaaaaaaaaaaaaaaaaaaa/bafkreihstage@jpeg" || p.Media[0].Alt != "The stage" {
		t.Errorf("media = %+v", p.Media)
	}
	if m := items[1].Post.Media; len(m) != 1 || m[0].Type != "video" || !strings.HasSuffix(m[0].URL, "/bafkreivideo/playlist.m3u8") || !strings.HasSuffix(m[0].Preview, "/bafkreivideo/thumbnail.jpg") {
		t.Errorf("video = %+v", m)
	}
	if items[1].Post.Author.Name != "bo.bsky.example" {
		t.Errorf("empty display name: author = %+v", items[1].Post.Author)
	}
	if !items[2].Post.Reply || !items[5].IfKnown {
		t.Errorf("reply flag / IfKnown not set")
	}
	var c cursor
	json.Unmarshal([]byte(items[5].Cursor), &c)
	if c.TimeUS != 1764064800000010 {
		t.Errorf("cursor = %+v", c)
	}
	// Resumed 5 s before the saved cursor, posts only.
	if q := js.queries[0]; !strings.Contains(q, "cursor=1764064785000000") || !strings.Contains(q, "wantedCollections=app.bsky.feed.post") {
		t.Errorf("subscribe query = %s", q)
	}
	// Profiles were fetched in batches, and each DID once.
	seen := map[string]int{}
	for _, call := range av.calls {
		if len(call) > 25 {
			t.Errorf("getProfiles with %d actors", len(call))
		}
		for _, d := range call {
			seen[d]++
		}
	}
	for d, n := range seen {
		if n != 1 {
			t.Errorf("%s fetched %d times", d, n)
		}
	}
}

func TestFallsBackToNextHost(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "maintenance", http.StatusBadGateway)
	}))
	defer down.Close()
	js := &fakeJetstream{msgs: sourcetest.FixtureLines(t, "jetstream.jsonl")[:1]}
	up := httptest.NewServer(js)
	defer up.Close()
	av := httptest.NewServer(&fakeAppView{t: t})
	defer av.Close()
	s := newTestSource([]string{wsURL(down.URL), wsURL(up.URL)}, av.URL)
	sub := wall.Subscription{Hashtags: []string{"devconf"}, Cursor: `{"time_us":1764064790000000}`}
	err := s.Run(context.Background(), sub, func(context.Context, wall.Item) error { return nil })
	if err == nil || !strings.Contains(err.Error(), down.Listener.Addr().String()) {
		t.Fatalf("first host: err = %v", err)
	}
	// The supervisor retries; the next try goes to the second host.
	items := collect(t, s, sub, 1)
	if items[0].Kind != wall.ItemPost {
		t.Errorf("from the second host: %+v", items[0])
	}
}

func TestCursorSavedWhileNothingMatches(t *testing.T) {
	var msgs [][]byte
	for i := 0; i < 50; i++ {
		msgs = append(msgs, []byte(fmt.Sprintf(`{"did":"did:plc:x","time_us":%d,"kind":"commit","commit":{"rev":"r","operation":"create","collection":"app.bsky.feed.post","rkey":"k%d","record":{"$type":"app.bsky.feed.post","text":"nothing","createdAt":"2026-11-25T10:00:00Z"},"cid":"c"}}`, 1764064800000000+i, i)))
	}
	js := httptest.NewServer(&fakeJetstream{msgs: msgs})
	defer js.Close()
	s := newTestSource([]string{wsURL(js.URL)}, "http://127.0.0.1:1")
	s.cfg.CursorEvery = time.Nanosecond
	items := collect(t, s, wall.Subscription{Hashtags: []string{"devconf"}, Cursor: `{"time_us":1}`}, 3)
	for _, it := range items {
		if it.Kind != wall.ItemCursor {
			t.Fatalf("item = %+v", it)
		}
	}
}

func TestNewWallBackfillsFromSearch(t *testing.T) {
	exp := time.Now().Add(2 * time.Hour).Unix()
	jwt := "eyJhbGciOiJIUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(`{"exp":`+strconv.FormatInt(exp, 10)+`}`)) + ".sig"
	var mu sync.Mutex
	var logins, searches int
	pds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/xrpc/com.atproto.server.createSession":
			var body map[string]string
			json.NewDecoder(r.Body).Decode(&body)
			if r.Method != http.MethodPost || body["identifier"] != "wall.bsky.example" || body["password"] != "abcd-efgh-ijkl-mnop" {
				w.WriteHeader(401)
				io.WriteString(w, `{"error":"AuthenticationRequired","message":"Invalid identifier or password"}`)
				return
			}
			logins++
			fmt.Fprintf(w, `{"accessJwt":%q,"refreshJwt":"refresh","handle":"wall.bsky.example","did":"did:plc:wall"}`, jwt)
		case "/xrpc/app.bsky.feed.searchPosts":
			if r.Header.Get("Authorization") != "Bearer "+jwt || r.URL.Query().Get("q") != "#devconf" || r.URL.Query().Get("sort") != "latest" {
				w.WriteHeader(401)
				io.WriteString(w, `{"error":"AuthMissing"}`)
				return
			}
			searches++
			w.Write(sourcetest.Fixture(t, "search.json"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer pds.Close()
	js := httptest.NewServer(&fakeJetstream{})
	defer js.Close()
	s := New(Config{Name: "bsky", Jetstream: []string{wsURL(js.URL)}, PDS: pds.URL, AppView: "http://127.0.0.1:1",
		Identifier: "wall.bsky.example", AppPassword: "abcd-efgh-ijkl-mnop", UserAgent: "test"}, nil, sourcetest.Quiet)
	items := collect(t, s, wall.Subscription{Hashtags: []string{"devconf"}}, 3)
	if items[0].Kind != wall.ItemCursor {
		t.Errorf("first item = %+v, want the starting cursor", items[0])
	}
	if items[1].Post.NativeID != "did:plc:olderrrrrrrrrrrrrrrrrrrr:3lbpolder" || items[2].Post.Author.Handle != "@newer.bsky.example" {
		t.Errorf("backfill = %+v / %+v", items[1].Post, items[2].Post)
	}
	// A second run reuses the session: no second login.
	s.backfill(context.Background(), wall.Subscription{Hashtags: []string{"devconf"}}, nil, func(context.Context, wall.Item) error { return nil })
	if logins != 1 || searches != 2 {
		t.Errorf("logins = %d searches = %d", logins, searches)
	}
}

func TestRateLimitedAppView(t *testing.T) {
	reset := time.Now().Add(40 * time.Second).Unix()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("RateLimit-Limit", "30")
		w.Header().Set("RateLimit-Remaining", "0")
		w.Header().Set("RateLimit-Reset", strconv.FormatInt(reset, 10))
		w.WriteHeader(429)
		io.WriteString(w, `{"error":"RateLimitExceeded","message":"Rate Limit Exceeded"}`)
	}))
	defer srv.Close()
	s := newTestSource(nil, srv.URL)
	err := s.fetchProfiles(context.Background(), []string{"did:plc:x"})
	var ra *upstream.RetryAfterError
	if !asRetry(err, &ra) || ra.After < 35*time.Second || ra.After > 42*time.Second {
		t.Errorf("err = %v, want retry at the reset time", err)
	}
}

func TestRichTextRejectsBadOffsets(t *testing.T) {
	text := "é #tag"
	f := func(start, end int) facet {
		var fc facet
		fc.Index.ByteStart, fc.Index.ByteEnd = start, end
		fc.Features = append(fc.Features, struct {
			Type string `json:"$type"`
			Tag  string `json:"tag"`
			URI  string `json:"uri"`
			DID  string `json:"did"`
		}{Type: tagFeature, Tag: "tag"})
		return fc
	}
	cases := map[string]facet{
		"splits é":     f(1, 3),
		"past the end": f(3, 99),
		"empty":        f(3, 3),
	}
	for name, fc := range cases {
		if got := richText(text, []facet{fc}); got != "<p>é #tag</p>" {
			t.Errorf("%s: %s", name, got)
		}
	}
	if got := richText(text, []facet{f(3, 7)}); got != `<p>é <a href="https://bsky.app/hashtag/tag">#tag</a></p>` {
		t.Errorf("good facet: %s", got)
	}
}

func asRetry(err error, target **upstream.RetryAfterError) bool {
	for err != nil {
		if r, ok := err.(*upstream.RetryAfterError); ok {
			*target = r
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// BenchmarkFilter measures the cost of one firehose message that no wall
// wants (the common case), and of the whole fixture mix.
func BenchmarkFilter(b *testing.B) {
	s := newTestSource(nil, "")
	m := newMatcher([]string{"devconf", "devconf2026"}, nil)
	miss := []byte(`{"did":"did:plc:z72i7hdynmk6r22z27h6tvur","time_us":1764064800123456,"kind":"commit","commit":{"rev":"3lbqzzzz2k2","operation":"create","collection":"app.bsky.feed.post","rkey":"3lbqzzzzzz2k2","record":{"$type":"app.bsky.feed.post","createdAt":"2026-11-25T10:00:00.000Z","langs":["en"],"text":"Watching the game tonight with friends, can't wait for the second half. Who else is tuned in? This season has been wild so far and I think the final will be close.","facets":[{"index":{"byteStart":0,"byteEnd":8},"features":[{"$type":"app.bsky.richtext.facet#tag","tag":"football"}]}]},"cid":"bafyreib2rxk3rh6kzwq3a5d4mvpq3xr6kgv5h6wfmhq6rgm2zj7nq"}}`)
	b.Run("non-matching-post", func(b *testing.B) {
		b.SetBytes(int64(len(miss)))
		for i := 0; i < b.N; i++ {
			s.handle(miss, m)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
	hit := bytes.Replace(miss, []byte(`"tag":"football"`), []byte(`"tag":"devconf"`), 1)
	b.Run("matching-post", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			s.handle(hit, m)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
}

// TestOversizedMessageDropsTheConnection: a Jetstream message past the
// 4 MiB read limit ends the connection with an error (the supervisor
// reconnects from the cursor), instead of growing memory.
func TestOversizedMessageDropsTheConnection(t *testing.T) {
	big := append([]byte(`{"did":"did:plc:x","time_us":1,"kind":"commit","commit":{"record":{"text":"`), make([]byte, 5<<20)...)
	js := &fakeJetstream{msgs: [][]byte{big}}
	jsrv := httptest.NewServer(js)
	defer jsrv.Close()
	done := make(chan error, 1)
	go func() {
		done <- newTestSource([]string{wsURL(jsrv.URL)}, "http://127.0.0.1:1").Run(context.Background(),
			wall.Subscription{Hashtags: []string{"devconf"}}, func(context.Context, wall.Item) error { return nil })
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "read limited at") {
			t.Errorf("err = %v, want the read limit", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the source kept reading an oversized message")
	}
}
