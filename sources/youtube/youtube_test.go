package youtube

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallcast/wallcast/sources/sourcetest"
	"github.com/wallcast/wallcast/sources/supervisor"
	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

const chatID = "KicKGFVDc3RyZWFtY2hhdDAwMDAwMDAwMDAwMBILc3RyZWFtMDAwMDE"

type collect struct {
	mu    sync.Mutex
	items []wall.Item
}

func (c *collect) emit(_ context.Context, it wall.Item) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.items = append(c.items, it)
	return nil
}

func (c *collect) all() []wall.Item {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]wall.Item(nil), c.items...)
}

func run(t *testing.T, f *fakeAPI, cfg Config, cursor string) (*collect, chan error, context.CancelFunc) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg.Name, cfg.APIBase, cfg.APIKey = "yt", srv.URL, f.key
	if cfg.MinInterval == 0 {
		cfg.MinInterval = 10 * time.Millisecond
	}
	if cfg.LookEvery == 0 {
		cfg.LookEvery = 20 * time.Millisecond
	}
	s := New(cfg, srv.Client(), sourcetest.Quiet)
	c := &collect{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, wall.Subscription{Cursor: cursor}, c.emit) }()
	t.Cleanup(func() { cancel(); <-done })
	return c, done, cancel
}

func TestChatPolled(t *testing.T) {
	f := newFakeAPI()
	f.live["stream00001"] = chatID
	fixture := string(sourcetest.Fixture(t, "messages.json"))
	f.messages = func(chat, page string) (int, string) {
		switch page {
		case "":
			return 200, fixture
		case "GOCd5tfF1pEDIKTb8YfF1pED":
			return 200, emptyPage("p2", 150, false)
		}
		return 200, emptyPage(page, 150, false)
	}
	c, _, _ := run(t, f, Config{VideoID: "stream00001"}, "")
	sourcetest.Until(t, "three polls", func() bool { return len(f.requests("liveChat/messages")) >= 3 })

	var got []string
	for _, it := range c.all() {
		p := it.Post
		switch it.Kind {
		case wall.ItemPost:
			got = append(got, fmt.Sprintf("post %s %s|%s|%s|%s|%s", p.NativeID, p.Author.Name, p.Author.Handle, p.HTML, p.URL, p.CreatedAt.Format(time.RFC3339Nano)))
		case wall.ItemDelete:
			got = append(got, fmt.Sprintf("delete %s sweep=%v known=%v %s", p.NativeID, it.Sweep, it.IfKnown, p.Author.Handle))
		case wall.ItemCursor:
			got = append(got, "cursor "+it.Cursor)
		}
	}
	want := []string{
		"post " + chatID + "/LCC.CjgKDQoLc3RyZWFtMDAwMDEqJwoYVUNTT01FQ0hBTk5FTElEMDAwMDAwMDASCzAwMDAwMDAwMDAx Ana Lima|UCanaAnaAnaAnaAnaAnaAna1|<p>Great talk! &lt;3 #DevConf</p>|https://www.youtube.com/watch?v=stream00001|2026-12-03T10:00:01.123456Z",
		"post " + chatID + "/LCC.super-chat-0001 Bob|UCbobBobBobBobBobBobBob2|<p><strong>€5.00</strong> Thanks for the stream</p>|https://www.youtube.com/watch?v=stream00001|2026-12-03T10:00:02Z",
		"post " + chatID + "/LCC.super-sticker-0001 Zoë|UCzoeZoeZoeZoeZoeZoeZoe3|<p><strong>$2.00</strong> Clapping hands</p>|https://www.youtube.com/watch?v=stream00001|2026-12-03T10:00:03Z",
		"delete " + chatID + "/LCC.super-chat-0001 sweep=false known=true ",
		"delete " + chatID + "/ sweep=true known=false UCzoeZoeZoeZoeZoeZoeZoe3",
		`cursor {"chat":"` + chatID + `","video":"stream00001","page":"GOCd5tfF1pEDIKTb8YfF1pED"}`,
		`cursor {"chat":"` + chatID + `","video":"stream00001","page":"p2"}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("items:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Each poll waits at least the interval the API asked for.
	reqs := f.requests("liveChat/messages")
	if gap := reqs[1].At.Sub(reqs[0].At); gap < 120*time.Millisecond {
		t.Errorf("second poll %v after the first; the API asked for 120ms", gap)
	}
	if gap := reqs[2].At.Sub(reqs[1].At); gap < 150*time.Millisecond {
		t.Errorf("third poll %v after the second; the API asked for 150ms", gap)
	}
	if p := reqs[1].Query["pageToken"]; len(p) != 1 || p[0] != "GOCd5tfF1pEDIKTb8YfF1pED" {
		t.Errorf("second poll's pageToken = %v", p)
	}
}

// A restart goes on from the saved page of the same chat.
func TestResumesFromItsPage(t *testing.T) {
	f := newFakeAPI()
	f.live["stream00001"] = chatID
	f.messages = func(chat, page string) (int, string) { return 200, emptyPage(page, 50, false) }
	run(t, f, Config{VideoID: "stream00001"}, `{"chat":"`+chatID+`","video":"stream00001","page":"saved-page"}`)
	sourcetest.Until(t, "a poll", func() bool { return len(f.requests("liveChat/messages")) >= 1 })
	if p := f.requests("liveChat/messages")[0].Query.Get("pageToken"); p != "saved-page" {
		t.Errorf("first poll after a restart asked for page %q", p)
	}
}

// A channel's broadcasts, one after the other: the first ends, the
// source finds the next and follows its chat.
func TestChannelFollowsBroadcasts(t *testing.T) {
	f := newFakeAPI()
	f.uploads["UUchannelChannelChannel0"] = []string{"stream00002", "stream00001"}
	f.live["stream00001"] = "chat-one"
	f.live["stream00002"] = ""
	var mu sync.Mutex
	polls := map[string]int{}
	f.messages = func(chat, page string) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		polls[chat]++
		if chat == "chat-one" && polls[chat] == 2 {
			f.mu.Lock()
			f.ended["stream00001"] = true
			f.live["stream00002"] = "chat-two"
			f.mu.Unlock()
			return 403, googleError(403, "liveChatEnded", "The live chat is no longer live.")
		}
		return 200, fmt.Sprintf(`{"pollingIntervalMillis": 20, "nextPageToken": "%s-%d", "items": [{"id": "m%d", "snippet": {"type": "textMessageEvent", "publishedAt": "2026-12-03T10:00:00Z", "textMessageDetails": {"messageText": "hello from %s"}}, "authorDetails": {"channelId": "UCa", "displayName": "A"}}]}`, chat, polls[chat], polls[chat], chat)
	}
	c, _, _ := run(t, f, Config{ChannelID: "UCchannelChannelChannel0"}, "")
	sourcetest.Until(t, "a post from the second broadcast", func() bool {
		for _, it := range c.all() {
			if it.Kind == wall.ItemPost && strings.HasPrefix(it.Post.NativeID, "chat-two/") && it.Post.URL == "https://www.youtube.com/watch?v=stream00002" {
				return true
			}
		}
		return false
	})
	for _, r := range f.requests("playlistItems") {
		if r.Query.Get("playlistId") != "UUchannelChannelChannel0" {
			t.Errorf("uploads playlist = %q", r.Query.Get("playlistId"))
		}
	}
}

// Quota spent: the health says so, and the source waits for midnight
// Pacific time; a refused key stops the source until the config is fixed.
func TestQuotaAndKey(t *testing.T) {
	f := newFakeAPI()
	f.live["stream00001"] = chatID
	f.messages = func(chat, page string) (int, string) {
		return 403, `{"error": {"code": 403, "message": "The request cannot be completed because you have exceeded your quota.", "errors": [{"message": "The request cannot be completed because you have exceeded your quota.", "domain": "youtube.quota", "reason": "quotaExceeded"}]}}`
	}
	_, done, _ := run(t, f, Config{VideoID: "stream00001"}, "")
	err := <-done
	done <- nil
	var ra *upstream.RetryAfterError
	if !errors.As(err, &ra) || !ra.Exact || ra.After <= 0 || ra.After > 25*time.Hour || !strings.Contains(err.Error(), "quota") {
		t.Fatalf("quota spent: %v", err)
	}

	g := newFakeAPI()
	g.live["stream00001"] = chatID
	srv := httptest.NewServer(g)
	defer srv.Close()
	s := New(Config{Name: "yt", VideoID: "stream00001", APIKey: "wrong", APIBase: srv.URL}, srv.Client(), sourcetest.Quiet)
	err = s.Run(context.Background(), wall.Subscription{}, (&collect{}).emit)
	var perm *upstream.PermanentError
	if !errors.As(err, &perm) || !strings.Contains(err.Error(), "api_key") {
		t.Fatalf("a refused key: %v", err)
	}
	sup := supervisor.New(nil, sourcetest.Quiet)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); sup.Wait() }()
	sup.Start(ctx, supervisor.Spec{Name: "yt", Type: "youtube", Source: s, Emit: (&collect{}).emit})
	sourcetest.Until(t, "stopped with the error", func() bool { h := sup.Health(); return len(h) == 1 && h[0].State == wall.StateError })
	if h := sup.Health()[0]; strings.Contains(h.LastError, "wrong") {
		t.Errorf("the health shows the key: %q", h.LastError)
	}
}

func TestQuotaResetIsMidnightPacific(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC) // 04:00 in California
	if d := untilQuotaReset(now); d < 19*time.Hour+59*time.Minute || d > 20*time.Hour+time.Minute {
		t.Errorf("until the reset: %v, want 20h", d)
	}
}

var _ http.Handler = newFakeAPI()
