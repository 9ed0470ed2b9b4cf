package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wallcast/wallcast/sources/sourcetest"
	"github.com/wallcast/wallcast/wall"
)

// runningWith starts a webhook source whose emit is the test's.
func runningWith(t *testing.T, cfg Config, emit wall.Emit) (*Source, string) {
	t.Helper()
	hooks := NewHooks()
	srv := httptest.NewServer(hooks)
	t.Cleanup(srv.Close)
	cfg.Name = "hook"
	if cfg.MaxBody == 0 {
		cfg.MaxBody = 1 << 20
	}
	if cfg.MaxPostsPerMinute == 0 {
		cfg.MaxPostsPerMinute = 100
	}
	s := New(cfg, hooks, sourcetest.Quiet)
	s.commitWait = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, wall.Subscription{}, emit) }()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(5 * time.Second)
	for {
		hooks.mu.RLock()
		ok := hooks.m["hook"] != nil
		hooks.mu.RUnlock()
		if ok {
			return s, srv.URL + "/hooks/hook"
		}
		if time.Now().After(deadline) {
			t.Fatal("the webhook never registered")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestAnsweredOnlyOnceCommitted: a push is answered 2xx only after ingest
// acknowledges its posts as committed; busy, failed or slow commits get
// 503 with Retry-After, and the sender's retry of the same request is
// not taken for a replay.
func TestAnsweredOnlyOnceCommitted(t *testing.T) {
	acks := make(chan func(error), 10)
	var mode string // what the fake ingest does: hold, busy, fail, never
	emit := func(_ context.Context, it wall.Item) error {
		switch mode {
		case "busy":
			return wall.ErrBusy
		case "fail":
			it.Ack(errors.New("disk I/O error"))
		case "never":
		default:
			acks <- it.Ack
		}
		return nil
	}
	_, u := runningWith(t, Config{Flavor: "wallcast", Secret: "s3cret"}, emit)
	body := []byte(`{"id":"p1","author":{"name":"A"},"text":"hi #devconf"}`)
	headers := signedNow("s3cret", body)

	for _, m := range []string{"busy", "fail", "never"} {
		mode = m
		req, _ := http.NewRequest("POST", u, strings.NewReader(string(body)))
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s: %s, Retry-After %q; want 503 with Retry-After", m, resp.Status, resp.Header.Get("Retry-After"))
		}
	}

	// The same request, retried: it waits for the commit, then 200.
	mode = "hold"
	answered := make(chan int, 1)
	go func() {
		code, _ := post(t, u, body, headers...)
		answered <- code
	}()
	ack := <-acks
	select {
	case code := <-answered:
		t.Fatalf("answered %d before the commit", code)
	case <-time.After(50 * time.Millisecond):
	}
	ack(nil)
	if code := <-answered; code != 200 {
		t.Errorf("after the commit: %d, want 200", code)
	}
	// Accepted now, so remembered: the same request again (a sender
	// whose 2xx was lost) is told it was stored, and nothing is emitted.
	if code, reason := post(t, u, body, headers...); code != 200 || !strings.Contains(reason, `"repeat":true`) {
		t.Errorf("repeat after acceptance: %d %q", code, reason)
	}
	select {
	case <-acks:
		t.Error("the repeat was emitted again")
	default:
	}
}

// TestReplayMemory: the replay check holds whatever the case of the hex,
// the timestamp is signed, and a request refused for its rate is not
// remembered as used.
func TestReplayMemory(t *testing.T) {
	out := &sink{}
	s, u := runningWith(t, Config{Flavor: "wallcast", Secret: "s3cret", MaxPostsPerMinute: 1}, out.emit)
	clock := time.Now()
	s.now = func() time.Time { return clock }

	first := []byte(`{"id":"a","author":{"name":"A"},"text":"one #devconf"}`)
	h := signedAt("s3cret", first, clock)
	if code, _ := post(t, u, first, h...); code != 200 {
		t.Fatalf("first: %d", code)
	}
	upper := []string{h[0], "v1=" + strings.ToUpper(strings.TrimPrefix(h[1], "v1=")), h[2], h[3]}
	if code, reason := post(t, u, first, upper...); code != 200 || !strings.Contains(reason, `"repeat":true`) || out.count() != 1 {
		t.Errorf("upper-case replay: %d %q, %d items", code, reason, out.count())
	}
	moved := []string{h[0], h[1], h[2], strconv.FormatInt(clock.Unix()+1, 10)}
	if code, _ := post(t, u, first, moved...); code != 401 {
		t.Errorf("a changed timestamp with the old signature: %d, want 401", code)
	}

	second := []byte(`{"id":"b","author":{"name":"A"},"text":"two #devconf"}`)
	h2 := signedAt("s3cret", second, clock)
	if code, _ := post(t, u, second, h2...); code != 429 {
		t.Fatalf("over the rate: %d, want 429", code)
	}
	clock = clock.Add(61 * time.Second)
	if code, reason := post(t, u, second, h2...); code != 200 {
		t.Errorf("honest retry after 429: %d %q, want 200", code, reason)
	}
	if out.count() != 2 {
		t.Errorf("items = %d, want 2", out.count())
	}
}

// TestOldSignatureSchemeStillRead: a sender still on the body-only
// sha256= signature is accepted for one release.
func TestOldSignatureSchemeStillRead(t *testing.T) {
	out := &sink{}
	_, u := runningWith(t, Config{Flavor: "wallcast", Secret: "s3cret"}, out.emit)
	body := []byte(`{"id":"a","author":{"name":"A"},"text":"one #devconf"}`)
	if code, _ := post(t, u, body, "X-Wallcast-Signature", hubSig("s3cret", body), "X-Wallcast-Timestamp", now()); code != 200 {
		t.Errorf("old scheme: %d", code)
	}
}

func TestEmptySecretNeverVerifies(t *testing.T) {
	m := hmac.New(sha256.New, nil)
	m.Write([]byte("body"))
	if validMAC(sha256.New, "", []byte("body"), hex.EncodeToString(m.Sum(nil))) != nil {
		t.Error("a MAC under the empty key verified")
	}
}

// TestWebSubTakesOnlyItsOwnSubscription: deliveries need a verified
// subscription; verifications are echoed only for the subscription
// Wallcast asked for, and a lease is clamped.
func TestWebSubTakesOnlyItsOwnSubscription(t *testing.T) {
	out := &sink{}
	s, u := runningWith(t, Config{Flavor: "websub", Secret: "shh", Topic: "https://blog.example/feed.atom",
		Poll: &pollRecorder{ran: make(chan struct{})}}, out.emit)
	feed := sourcetest.Fixture(t, "websub.atom")
	if code, reason := post(t, u, feed, "X-Hub-Signature", hubSig("shh", feed)); code != 401 || !strings.Contains(reason, "no verified subscription") {
		t.Errorf("delivery without a subscription: %d %q", code, reason)
	}
	get := func(mode, lease string) int {
		q := url.Values{"hub.mode": {mode}, "hub.topic": {"https://blog.example/feed.atom"}, "hub.challenge": {"c"}, "hub.lease_seconds": {lease}}
		resp, err := http.Get(u + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("unsubscribe", ""); code != 404 {
		t.Errorf("a stranger's unsubscribe: %d, want 404", code)
	}
	if code := get("subscribe", "1"); code != 404 {
		t.Errorf("a verification nobody asked for: %d, want 404", code)
	}
	s.mu.Lock()
	s.pending = true // as subscribe() sets it before asking the hub
	s.mu.Unlock()
	start := time.Now()
	if code := get("subscribe", "1"); code != 200 {
		t.Errorf("the verification of our own request: %d, want 200", code)
	}
	if lease := <-s.lease; lease != minLease {
		t.Errorf("lease = %v, want it clamped to %v", lease, minLease)
	}
	s.mu.Lock()
	until := s.until
	s.mu.Unlock()
	if until.Sub(start) < minLease {
		t.Errorf("subscription valid until %v, want at least %v", until.Sub(start), minLease)
	}
	if code := get("subscribe", "864000"); code != 404 {
		t.Errorf("a second verification: %d, want 404", code)
	}
	if code, reason := post(t, u, feed, "X-Hub-Signature", hubSig("shh", feed)); code != 200 {
		t.Errorf("delivery with a verified subscription: %d %q", code, reason)
	}
}
