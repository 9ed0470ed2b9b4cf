package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallcast/wallcast/sources/sourcetest"
	"github.com/wallcast/wallcast/wall"
)

type sink struct {
	mu    sync.Mutex
	items []wall.Item
}

// emit takes an item and acknowledges it as committed, as ingest does.
func (s *sink) emit(_ context.Context, it wall.Item) error {
	s.mu.Lock()
	s.items = append(s.items, it)
	s.mu.Unlock()
	if it.Ack != nil {
		it.Ack(nil)
	}
	return nil
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.items)
}

// running starts a webhook source behind an httptest server, emitting
// into a sink that acknowledges every item.
func running(t *testing.T, cfg Config) (*Source, *sink, string) {
	t.Helper()
	out := &sink{}
	s, u := runningWith(t, cfg, out.emit)
	return s, out, u
}

func post(t *testing.T, u string, body []byte, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func now() string { return strconv.FormatInt(time.Now().Unix(), 10) }

// signedAt is the headers of a push signed (v1) with a timestamp of at.
func signedAt(secret string, body []byte, at time.Time) []string {
	ts := strconv.FormatInt(at.Unix(), 10)
	return []string{"X-Wallcast-Signature", Sign(secret, ts, body), "X-Wallcast-Timestamp", ts}
}

// signedNow is the headers of a push signed (v1) now.
func signedNow(secret string, body []byte) []string { return signedAt(secret, body, time.Now()) }

// hubSig is the sha256= signature of a body, as Meta and WebSub hubs send it.
func hubSig(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func TestWallcastFlavor(t *testing.T) {
	_, out, u := running(t, Config{Flavor: "wallcast", Secret: "s3cret", MaxBody: 4096, MaxPostsPerMinute: 4})
	one := sourcetest.Fixture(t, "post.json")
	oneSigned := signedNow("s3cret", one)
	cases := []struct {
		name   string
		body   []byte
		header []string
		code   int
		reason string
		items  int // total accepted so far
	}{
		{"good signature", one, oneSigned, 200, `{"accepted":1}`, 1},
		{"the same request again", one, oneSigned, 200, `{"accepted":1,"repeat":true}`, 1},
		{"wrong secret", one, signedNow("other", one), 401, "wrong X-Wallcast-Signature", 1},
		{"no signature", one, []string{"X-Wallcast-Timestamp", now()}, 401, "X-Wallcast-Signature", 1},
		{"stale timestamp", sourcetest.Fixture(t, "batch.json"), signedAt("s3cret", sourcetest.Fixture(t, "batch.json"), time.Now().Add(-6*time.Minute)), 401, "outside the 5-minute window", 1},
		{"batch", sourcetest.Fixture(t, "batch.json"), signedNow("s3cret", sourcetest.Fixture(t, "batch.json")), 200, `{"accepted":3}`, 4},
		{"a bad post spoils the batch", sourcetest.Fixture(t, "bad_batch.json"), signedNow("s3cret", sourcetest.Fixture(t, "bad_batch.json")), 400, "post 1 has no id", 4},
		{"oversized", bytes.Repeat([]byte("x"), 5000), signedNow("s3cret", bytes.Repeat([]byte("x"), 5000)), 413, "larger than 4096", 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := post(t, u, c.body, c.header...)
			if code != c.code || !strings.Contains(body, c.reason) {
				t.Errorf("got %d %q, want %d containing %q", code, body, c.code, c.reason)
			}
			if n := out.count(); n != c.items {
				t.Errorf("items = %d, want %d", n, c.items)
			}
		})
	}
	p := out.items[0].Post
	if p.NativeID != "cms-4711" || p.Author.Name != "DevConf Live Blog" || len(p.Media) != 1 || p.CreatedAt.IsZero() {
		t.Errorf("post = %+v", p)
	}
	if it := out.items[3]; it.Kind != wall.ItemDelete || it.Post.NativeID != "form-0" {
		t.Errorf("delete = %+v", it)
	}
	// 4 posts are in the last minute: the limit is reached.
	body := []byte(`{"id":"x9","author":{"name":"A"},"text":"one more #devconf"}`)
	code, reason := post(t, u, body, signedNow("s3cret", body)...)
	if code != 429 || !strings.Contains(reason, "posts per minute") {
		t.Errorf("rate limit: %d %q", code, reason)
	}
}

func TestMetaFlavor(t *testing.T) {
	_, out, u := running(t, Config{Flavor: "meta", Secret: "app-secret", VerifyToken: "tok"})
	get := func(q url.Values) (int, string) {
		resp, err := http.Get(u + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	if code, body := get(url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {"tok"}, "hub.challenge": {"1158201444"}}); code != 200 || body != "1158201444" {
		t.Errorf("challenge: %d %q", code, body)
	}
	if code, _ := get(url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {"nope"}, "hub.challenge": {"1"}}); code != 403 {
		t.Errorf("wrong verify token: %d", code)
	}
	ig := sourcetest.Fixture(t, "meta_instagram.json")
	if code, _ := post(t, u, ig, "X-Hub-Signature-256", "sha256=00"); code != 401 {
		t.Errorf("bad signature: %d", code)
	}
	if code, body := post(t, u, ig, "X-Hub-Signature-256", hubSig("app-secret", ig)); code != 200 || body != `{"accepted":2}` {
		t.Errorf("instagram: %d %q", code, body)
	}
	pg := sourcetest.Fixture(t, "meta_page.json")
	if code, body := post(t, u, pg, "X-Hub-Signature-256", hubSig("app-secret", pg)); code != 200 || body != `{"accepted":1}` {
		t.Errorf("page: %d %q", code, body)
	}
	got := []string{}
	for _, it := range out.items {
		got = append(got, it.Post.Network+":"+it.Post.NativeID+":"+it.Post.Author.Name)
	}
	want := "instagram:ig-17865799348089039:ana.photos instagram:ig-17887498072083521:Instagram facebook:fb-106480950913523_123456789:Bo Jensen"
	if strings.Join(got, " ") != want {
		t.Errorf("items = %v", got)
	}
}

// fakeHub is a WebSub hub: it takes a subscription, verifies intent
// against the callback, and can then deliver content.
type fakeHub struct {
	t    *testing.T
	mu   sync.Mutex
	subs []url.Values
}

func (h *fakeHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	h.mu.Lock()
	h.subs = append(h.subs, r.PostForm)
	h.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
	go func(f url.Values) { // verification of intent, as a hub does, asynchronously
		q := url.Values{"hub.mode": {"subscribe"}, "hub.topic": {f.Get("hub.topic")}, "hub.challenge": {"ch4ll"}, "hub.lease_seconds": {"3600"}}
		resp, err := http.Get(f.Get("hub.callback") + "?" + q.Encode())
		if err != nil {
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "ch4ll" {
			h.t.Errorf("callback did not echo the challenge: %q", b)
		}
	}(r.PostForm)
}

func TestWebSub(t *testing.T) {
	hub := &fakeHub{t: t}
	hs := httptest.NewServer(hub)
	defer hs.Close()
	hooks := NewHooks()
	cb := httptest.NewServer(hooks)
	defer cb.Close()
	s := New(Config{Name: "hook", Flavor: "websub", Secret: "shh", Hub: hs.URL, Topic: "https://blog.example/feed.atom",
		Callback: cb.URL + "/hooks/hook", MaxBody: 1 << 20, MaxPostsPerMinute: 100}, hooks, sourcetest.Quiet)
	s.public = func(string) bool { return true } // the test's callback is on loopback
	out := &sink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, wall.Subscription{}, out.emit) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		hub.mu.Lock()
		n := len(hub.subs)
		hub.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no subscription reached the hub")
		}
		time.Sleep(time.Millisecond)
	}
	f := hub.subs[0]
	if f.Get("hub.mode") != "subscribe" || f.Get("hub.topic") != "https://blog.example/feed.atom" || f.Get("hub.secret") != "shh" || f.Get("hub.callback") != cb.URL+"/hooks/hook" {
		t.Errorf("subscription = %v", f)
	}
	// The hub verifies intent (asynchronously); deliveries are taken
	// from then on.
	for !s.subscribed() {
		if time.Now().After(deadline) {
			t.Fatal("the subscription was never verified")
		}
		time.Sleep(time.Millisecond)
	}
	// Content distribution, signed with the secret.
	feed := sourcetest.Fixture(t, "websub.atom")
	m := hmac.New(sha1.New, []byte("shh"))
	m.Write(feed)
	if code, body := post(t, cb.URL+"/hooks/hook", feed, "X-Hub-Signature", "sha1="+hex.EncodeToString(m.Sum(nil))); code != 200 {
		t.Fatalf("delivery: %d %s", code, body)
	}
	if out.count() != 1 || out.items[0].Post.NativeID != "urn:uuid:entry-1" {
		t.Errorf("items = %+v", out.items)
	}
	if code, _ := post(t, cb.URL+"/hooks/hook", feed, "X-Hub-Signature", "sha1=deadbeef"); code != 401 {
		t.Errorf("unsigned delivery: %d", code)
	}
	// A verification for another topic is refused.
	resp, _ := http.Get(cb.URL + "/hooks/hook?hub.mode=subscribe&hub.topic=https://evil.example/&hub.challenge=x")
	if resp.StatusCode != 404 {
		t.Errorf("foreign topic: %s", resp.Status)
	}
	resp.Body.Close()
}

type pollRecorder struct{ ran chan struct{} }

func (p *pollRecorder) Run(ctx context.Context, _ wall.Subscription, _ wall.Emit) error {
	close(p.ran)
	<-ctx.Done()
	return nil
}

func TestWebSubWithoutPublicAddressPolls(t *testing.T) {
	rec := &pollRecorder{ran: make(chan struct{})}
	s := New(Config{Name: "hook", Flavor: "websub", Hub: "https://hub.example/", Topic: "https://blog.example/feed.atom",
		Callback: "http://localhost:8080/hooks/hook", Poll: rec}, NewHooks(), sourcetest.Quiet)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx, wall.Subscription{}, func(context.Context, wall.Item) error { return nil })
	select {
	case <-rec.ran:
	case <-time.After(5 * time.Second):
		t.Fatal("did not fall back to polling")
	}
	for u, want := range map[string]bool{"http://localhost:8080/x": false, "http://127.0.0.1/x": false, "http://192.168.1.4/x": false, "https://wall.example.org/hooks/x": true} {
		if public(u) != want {
			t.Errorf("public(%s) = %v", u, !want)
		}
	}
}

// TestHooksWhileStarting: a configured webhook source that is not taking
// pushes yet (or again) answers 503 with Retry-After, which senders
// retry; one not configured answers 404.
func TestHooksWhileStarting(t *testing.T) {
	hooks := NewHooks()
	srv := httptest.NewServer(hooks)
	defer srv.Close()
	status := func() (int, string) {
		resp, err := http.Post(srv.URL+"/hooks/hook", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	if c, _ := status(); c != http.StatusNotFound {
		t.Errorf("unknown source: %d", c)
	}
	hooks.Expect("hook")
	if c, ra := status(); c != http.StatusServiceUnavailable || ra != "1" {
		t.Errorf("starting source: %d, Retry-After %q", c, ra)
	}
	unregister := hooks.Register("hook", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) }))
	if c, _ := status(); c != http.StatusAccepted {
		t.Errorf("running source: %d", c)
	}
	unregister()
	if c, _ := status(); c != http.StatusServiceUnavailable {
		t.Errorf("restarting source: %d", c)
	}
	hooks.Forget("hook")
	if c, _ := status(); c != http.StatusNotFound {
		t.Errorf("removed source: %d", c)
	}
}
