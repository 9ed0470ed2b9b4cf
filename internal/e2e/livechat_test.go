package e2e

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wallcast/wallcast/sources/twitch/twitchtest"
	"github.com/wallcast/wallcast/wall"
)

// TestLiveChatOnScreen: a wall with no hashtags fed by a Twitch chat (a
// fake of Twitch's WebSocket IRC): each chat line reaches the screen as a
// post, its emotes as images; a moderator's ban removes that user's lines
// from the screen, and the clear of the chat removes the rest.
func TestLiveChatOnScreen(t *testing.T) {
	chat := twitchtest.New()
	srv := httptest.NewServer(chat)
	defer srv.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	os.WriteFile(path, []byte(fmt.Sprintf(`server: {listen: "127.0.0.1:0"}
storage: {path: %q}
sources:
  - {name: chat, type: twitch, channels: [devconf], server: %q}
walls:
  - slug: devconf
    sources: [chat]
`, filepath.Join(dir, "w.db"), "ws"+strings.TrimPrefix(srv.URL, "http"))), 0o600)
	a := startFile(t, path)
	defer a.Shutdown()
	<-chat.Joined
	screen := openTab(t, a.Addr(), "")
	screen.until(t, wall.EventReady)

	line := func(id, user, text, emotes string) string {
		return fmt.Sprintf("@badge-info=;badges=;color=;display-name=%s;emotes=%s;id=%s;room-id=1;tmi-sent-ts=1764759600000;user-id=%s :%s!%s@%s.tmi.twitch.tv PRIVMSG #devconf :%s",
			strings.ToUpper(user[:1])+user[1:], emotes, id, user, user, user, user, text)
	}
	chat.Send(line("00000000-0000-4000-8000-000000000001", "ana", "Kappa hello stage", "25:0-4"),
		line("00000000-0000-4000-8000-000000000002", "troll", "buy followers", ""),
		line("00000000-0000-4000-8000-000000000003", "bob", "great talk", ""))
	evs := screen.posts(t, 3)
	byUser := map[string]wall.Post{}
	for _, ev := range evs {
		if ev.Type == string(wall.EventPost) {
			var p wall.Post
			json.Unmarshal([]byte(ev.Data), &p)
			byUser[p.Author.Handle] = p
		}
	}
	ana := byUser["ana"]
	if ana.Network != "twitch" || !strings.Contains(ana.HTML, `<img class="emoji" src="https://static-cdn.jtvnw.net/emoticons/v2/25/default/dark/2.0" alt="Kappa"`) || ana.URL != "https://www.twitch.tv/devconf" {
		t.Fatalf("ana's line on screen: %+v", ana)
	}
	chat.Send("@room-id=1;target-user-id=troll;tmi-sent-ts=1764759660000 :tmi.twitch.tv CLEARCHAT #devconf :troll")
	evs = screen.until(t, wall.EventRemove)
	if got := evs[len(evs)-1].Data; got != `{"id":"`+byUser["troll"].ID+`"}` {
		t.Fatalf("the ban removed %s, want the troll's line", got)
	}
	chat.Send("@room-id=1;tmi-sent-ts=1764759670000 :tmi.twitch.tv CLEARCHAT #devconf")
	removed := map[string]bool{}
	for len(removed) < 2 {
		evs = screen.until(t, wall.EventRemove)
		var r struct{ ID string }
		json.Unmarshal([]byte(evs[len(evs)-1].Data), &r)
		removed[r.ID] = true
	}
	if !removed[ana.ID] || !removed[byUser["bob"].ID] {
		t.Fatalf("the cleared chat removed %v", removed)
	}
}
