package twitch

import (
	"context"
	"errors"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallcast/wallcast/sources/sourcetest"
	"github.com/wallcast/wallcast/sources/twitch/twitchtest"
	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// collect gathers emitted items.
type collect struct {
	mu    sync.Mutex
	items []wall.Item
	more  chan struct{}
}

func newCollect() *collect { return &collect{more: make(chan struct{}, 100)} }

func (c *collect) emit(_ context.Context, it wall.Item) error {
	c.mu.Lock()
	c.items = append(c.items, it)
	c.mu.Unlock()
	c.more <- struct{}{}
	return nil
}

func (c *collect) wait(t *testing.T, n int) []wall.Item {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		c.mu.Lock()
		if len(c.items) >= n {
			out := append([]wall.Item(nil), c.items...)
			c.mu.Unlock()
			return out
		}
		c.mu.Unlock()
		select {
		case <-c.more:
		case <-deadline:
			t.Fatalf("only %d of %d items", len(c.items), n)
		}
	}
}

func start(t *testing.T, f *twitchtest.Chat, cfg Config) (*Source, chan error, *collect) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg.Name, cfg.Server = "tw", "ws"+strings.TrimPrefix(srv.URL, "http")
	if cfg.Channels == nil {
		cfg.Channels = []string{"DevConf", "#speakers"}
	}
	s := New(cfg, srv.Client(), sourcetest.Quiet)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	c := newCollect()
	go func() { done <- s.Run(ctx, wall.Subscription{}, c.emit) }()
	t.Cleanup(func() { cancel(); <-done })
	return s, done, c
}

func TestChatBecomesPosts(t *testing.T) {
	f := twitchtest.New()
	_, _, c := start(t, f, Config{})
	<-f.Joined
	f.Send(strings.Split(strings.TrimRight(string(sourcetest.Fixture(t, "chat.irc")), "\r\n"), "\r\n")...)
	items := c.wait(t, 9)

	sent := strings.Join(f.Lines(), "\n")
	if !regexp.MustCompile(`(?m)^CAP REQ :twitch.tv/tags twitch.tv/commands\nNICK justinfan\d+\nJOIN #devconf,#speakers$`).MatchString(sent) {
		t.Errorf("handshake:\n%s", sent)
	}
	if strings.Contains(sent, "PASS") {
		t.Errorf("anonymous read sent a PASS:\n%s", sent)
	}

	cdn := "https://static-cdn.jtvnw.net/emoticons/v2/"
	want := []struct {
		kind           wall.ItemKind
		sweep          bool
		id, name, html string
		handle         string
	}{
		{wall.ItemPost, false, "devconf/b34ccfc7-4977-403a-8a94-33c6bac34fb8", "Ada L.",
			`<p><img class="emoji" src="` + cdn + `25/default/dark/2.0" alt="Kappa" title="Kappa"> <img class="emoji" src="` + cdn + `1902/default/dark/2.0" alt="Keepo" title="Keepo"> <img class="emoji" src="` + cdn + `25/default/dark/2.0" alt="Kappa" title="Kappa"></p>`, "ada_l"},
		{wall.ItemPost, false, "devconf/2f1d9a4e-1c0b-4a51-9d8e-6f1f0a7a2b11", "Zoë",
			`<p>héllo 🎉 <img class="emoji" src="` + cdn + `25/default/dark/2.0" alt="Kappa" title="Kappa"> &lt;b&gt;bold&lt;/b&gt; #DevConf</p>`, "zoe"},
		{wall.ItemPost, false, "devconf/9c2c5f7e-0b44-4d3c-8a64-3f6f2a1c7d20", "Bob", `<p><em>waves at the stage</em></p>`, "bob"},
		{wall.ItemPost, false, "speakers/4b7e2d19-5f3a-4c8e-a1b2-c3d4e5f60718", `Back\slash;semi`, `<p>questions for the panel?</p>`, "backslash"},
		{wall.ItemPost, false, "devconf/0e0f1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b", "Eve", `<p>first</p>`, "eve"},
		{wall.ItemDelete, false, "devconf/b34ccfc7-4977-403a-8a94-33c6bac34fb8", "", "", ""},
		{wall.ItemDelete, true, "devconf/", "", "", "zoe"},
		{wall.ItemDelete, true, "devconf/", "", "", "bob"},
		{wall.ItemDelete, true, "speakers/", "", "", ""},
	}
	if len(items) != len(want) {
		t.Fatalf("%d items, want %d", len(items), len(want))
	}
	for i, w := range want {
		it := items[i]
		p := it.Post
		if it.Kind != w.kind || it.Sweep != w.sweep || p.NativeID != w.id || p.Author.Name != w.name || p.HTML != w.html || p.Author.Handle != w.handle {
			t.Errorf("item %d = kind %d sweep %v %q %q %q %q\nwant %+v", i, it.Kind, it.Sweep, p.NativeID, p.Author.Name, p.Author.Handle, p.HTML, w)
		}
	}
	first := items[0].Post
	if first.Network != "twitch" || first.URL != "https://www.twitch.tv/devconf" || first.Author.URL != "https://www.twitch.tv/ada_l" ||
		!first.CreatedAt.Equal(time.UnixMilli(1764759600000)) || first.Text != "Kappa Keepo Kappa" {
		t.Errorf("first post = %+v", first)
	}
	if !items[5].IfKnown {
		t.Errorf("a deleted message unknown to the wall would leave a tombstone")
	}
}

func TestPingReconnectAndLogin(t *testing.T) {
	f := twitchtest.New()
	_, done, _ := start(t, f, Config{})
	<-f.Joined
	f.Send("PING :tmi.twitch.tv")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(strings.Join(f.Lines(), "\n"), "PONG :tmi.twitch.tv") {
		if time.Now().After(deadline) {
			t.Fatalf("no PONG: %q", f.Lines())
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.Send(":tmi.twitch.tv RECONNECT")
	err := <-done
	var ra *upstream.RetryAfterError
	if !errors.As(err, &ra) || !ra.Exact || ra.After != 0 || !errors.Is(err, errReconnect) {
		t.Fatalf("after RECONNECT: %v, want a reconnect at once", err)
	}
	done <- nil // for the cleanup

	// A user with a token the server refuses: stopped until fixed.
	g := twitchtest.New()
	g.Token = "good"
	_, done2, _ := start(t, g, Config{Username: "WallBot", OAuthToken: "oauth:bad"})
	err = <-done2
	done2 <- nil
	var perm *upstream.PermanentError
	if !errors.As(err, &perm) || !strings.Contains(err.Error(), "oauth_token") {
		t.Fatalf("refused login: %v", err)
	}
	if l := strings.Join(g.Lines(), "\n"); !strings.Contains(l, "PASS oauth:bad\nNICK wallbot") {
		t.Errorf("login lines: %q", l)
	}
	if strings.Contains(err.Error(), "bad") {
		t.Errorf("the error holds the token: %v", err)
	}
}

// The source pings on its own; the answer keeps a quiet chat alive.
func TestOwnPing(t *testing.T) {
	f := twitchtest.New()
	start(t, f, Config{Ping: 20 * time.Millisecond})
	<-f.Joined
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(strings.Join(f.Lines(), "\n"), "PING :wallcast") {
		if time.Now().After(deadline) {
			t.Fatalf("no PING from the source: %q", f.Lines())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestParseLine(t *testing.T) {
	for _, tc := range []struct {
		in   string
		cmd  string
		args []string
		tags map[string]string
	}{
		{"PING :tmi.twitch.tv", "PING", []string{"tmi.twitch.tv"}, nil},
		{":tmi.twitch.tv 001 justinfan1 :Welcome, GLHF!", "001", []string{"justinfan1", "Welcome, GLHF!"}, nil},
		{`@a=b\sc;d=\:\\x\;e :n!n@n PRIVMSG #c :hi there`, "PRIVMSG", []string{"#c", "hi there"}, map[string]string{"a": "b c", "d": `;\x`, "e": ""}},
		{":tmi.twitch.tv CLEARCHAT #c", "CLEARCHAT", []string{"#c"}, nil},
	} {
		m, ok := parseLine(tc.in)
		if !ok || m.Command != tc.cmd || strings.Join(m.Params, "|") != strings.Join(tc.args, "|") {
			t.Errorf("%q: %v %q %q", tc.in, ok, m.Command, m.Params)
		}
		for k, v := range tc.tags {
			if m.Tags[k] != v {
				t.Errorf("%q: tag %s = %q, want %q", tc.in, k, m.Tags[k], v)
			}
		}
	}
	for _, bad := range []string{"", "@tags-only", ":prefix-only", "   "} {
		if _, ok := parseLine(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzLine(f *testing.F) {
	for _, l := range strings.Split(string(sourcetest.Fixture(f, "chat.irc")), "\r\n") {
		f.Add(l)
	}
	s := New(Config{Name: "f"}, nil, sourcetest.Quiet)
	f.Fuzz(func(t *testing.T, line string) {
		m, ok := parseLine(line)
		if !ok {
			return
		}
		if p, ok := s.post(m); ok && strings.Contains(p.HTML, "<script") {
			t.Fatalf("unescaped html: %q", p.HTML)
		}
	})
}
