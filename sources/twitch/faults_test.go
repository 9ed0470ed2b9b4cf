package twitch

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wallcast/wallcast/sources/sourcetest"
	"github.com/wallcast/wallcast/sources/twitch/twitchtest"
	"github.com/wallcast/wallcast/wall"
)

// liveChat is the fake chat saying the feed's posts as they come, to the
// connections joined at that moment: like Twitch, it has no history.
func liveChat(feed *sourcetest.Feed) http.Handler {
	f := twitchtest.New()
	f.Joined = make(chan *websocket.Conn, 100)
	f.OnClose = func(c *websocket.Conn) { feed.Dropped(c) }
	f.OnJoin = func(ctx context.Context, c *websocket.Conn) {
		n := feed.Len()
		for {
			select {
			case <-ctx.Done():
				return
			case <-feed.Beyond(n):
			}
			for n < feed.Len() {
				n++
				line := fmt.Sprintf("@badge-info=;badges=;color=;display-name=Ana;emotes=;id=%08d-0000-4000-8000-000000000000;room-id=1337;tmi-sent-ts=%d;user-id=5 :ana!ana@ana.tmi.twitch.tv PRIVMSG #devconf :%s\r\n",
					n, feed.Time(n).UnixMilli(), sourcetest.FaultText(n))
				feed.Sent(c, n)
				if c.Write(ctx, websocket.MessageText, []byte(line)) != nil {
					feed.Dropped(c)
					return
				}
			}
		}
	}
	return f
}

// TestFaults: chat through every fault of the matrix. What goes out on a
// connection that breaks is lost (chat has no history); the matrix asks
// for everything else, nothing twice, and the stretch in the health note.
func TestFaults(t *testing.T) {
	sourcetest.RunFaults(t, sourcetest.Network{
		Upstream: func(f *sourcetest.Feed) http.Handler { return liveChat(f) },
		Open: func(base string, client *http.Client) wall.Source {
			return New(Config{Name: "tw", Channels: []string{"devconf"}, Server: "ws" + strings.TrimPrefix(base, "http"), Ping: 200 * time.Millisecond}, client, sourcetest.Quiet)
		},
		Stall:    time.Second,
		Live:     true,
		AwayNote: "was not seen: Twitch keeps no history",
		Skip:     map[string]string{"cut mid-chunk": "a WebSocket has frames, not chunks: cut mid-event and mid-UTF-8 cut inside a frame"},
	})
}
