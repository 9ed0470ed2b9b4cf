package mastodon

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"testing"

	"github.com/coder/websocket"

	"github.com/wallcast/wallcast/sources/sourcetest"
	"github.com/wallcast/wallcast/wall"
)

// liveServer is a Mastodon server whose #devconf timeline grows: REST
// pages by min_id, and a hashtag stream that sends what is published
// while it is open, with ":thump" heartbeats as Mastodon sends them.
// With ws, it streams over the WebSocket API only (as Akkoma does).
type liveServer struct {
	feed *sourcetest.Feed
	ws   bool
}

func liveStatus(feed *sourcetest.Feed, i int) []byte {
	b, _ := json.Marshal(map[string]any{
		"id": strconv.Itoa(1000 + i), "uri": fmt.Sprintf("https://social.example/users/ada/statuses/%d", 1000+i),
		"url": fmt.Sprintf("https://social.example/@ada/%d", 1000+i), "created_at": feed.Time(i).UTC().Format(time.RFC3339Nano),
		"content":      fmt.Sprintf(`<p>%s <a href="https://social.example/tags/devconf" class="mention hashtag" rel="tag">#<span>devconf</span></a></p>`, sourcetest.FaultText(i)),
		"spoiler_text": "", "sensitive": false, "language": "fr", "in_reply_to_id": nil, "reblog": nil, "visibility": "public",
		"account":           map[string]any{"id": "1", "username": "ada", "acct": "ada", "display_name": "Ada", "url": "https://social.example/@ada", "avatar_static": "https://social.example/a.png", "created_at": "2020-01-01T00:00:00.000Z", "bot": false, "emojis": []any{}},
		"media_attachments": []any{}, "tags": []any{map[string]string{"name": "devconf", "url": "https://social.example/tags/devconf"}}, "emojis": []any{},
	})
	return b
}

func (l liveServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/api/v1/timelines/tag/devconf", "/api/v1/timelines/list/42":
		n := l.feed.Len()
		from := 1
		if id, err := strconv.Atoi(r.URL.Query().Get("min_id")); err == nil {
			from = id - 1000 + 1
		}
		// min_id pages go up from the cursor; the page is newest first.
		to := min(n, from+39)
		if r.URL.Query().Get("min_id") == "" {
			from = max(1, n-39)
		}
		page := []json.RawMessage{}
		for i := to; i >= from; i-- {
			page = append(page, liveStatus(l.feed, i))
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("X-RateLimit-Limit", "300")
		w.Header().Set("X-RateLimit-Remaining", "299")
		w.Header().Set("X-RateLimit-Reset", time.Now().Add(5*time.Minute).UTC().Format("2006-01-02T15:04:05.000Z"))
		json.NewEncoder(w).Encode(page)
	case "/api/v1/streaming":
		if !l.ws {
			http.NotFound(w, r)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := c.CloseRead(r.Context())
		for sent := l.feed.Len(); ; {
			for n := l.feed.Len(); sent < n; sent++ {
				payload, _ := json.Marshal(string(liveStatus(l.feed, sent+1)))
				if c.Write(ctx, websocket.MessageText, []byte(`{"stream":["hashtag","devconf"],"event":"update","payload":`+string(payload)+`}`)) != nil {
					return
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-l.feed.Beyond(sent):
			}
		}
	case "/api/v1/streaming/hashtag", "/api/v1/streaming/list":
		if l.ws || (r.URL.Query().Get("tag") != "devconf" && r.URL.Query().Get("list") != "42") {
			http.NotFound(w, r)
			return
		}
		if false {
			http.Error(w, `{"error":"No such tag"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "private, no-store")
		w.Header().Set("Transfer-Encoding", "chunked")
		w.WriteHeader(http.StatusOK)
		fl := w.(http.Flusher)
		fmt.Fprint(w, ":)\n")
		fl.Flush()
		sent := l.feed.Len() // the stream sends only what comes next
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			for n := l.feed.Len(); sent < n; sent++ {
				fmt.Fprintf(w, "event: update\ndata: %s\n\n", liveStatus(l.feed, sent+1))
				fl.Flush()
			}
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
				fmt.Fprint(w, ":thump\n")
				fl.Flush()
			case <-l.feed.Beyond(sent):
			}
		}
	default:
		http.NotFound(w, r)
	}
}

// TestFaults: between Mastodon and the adapter, every fault of the matrix;
// the stream recovers by itself and the timeline fills what it missed.
func TestFaults(t *testing.T) {
	for _, mode := range []string{"stream", "poll", "websocket", "list"} {
		t.Run(mode, func(t *testing.T) {
			n := sourcetest.Network{
				Upstream: func(f *sourcetest.Feed) http.Handler { return liveServer{feed: f, ws: mode == "websocket"} },
				Open: func(base string, client *http.Client) wall.Source {
					cfg := Config{Name: "masto", Instance: base, Stream: mode != "poll", PollInterval: 50 * time.Millisecond, UserAgent: "test", Ping: 200 * time.Millisecond}
					if mode == "list" {
						cfg.Lists, cfg.AccessToken = []string{"42"}, "tok"
					}
					return New(cfg, client, sourcetest.Quiet)
				},
				Sub:   wall.Subscription{Hashtags: []string{"devconf"}},
				Stall: time.Second,
			}
			if mode == "websocket" {
				n.Skip = map[string]string{"cut mid-chunk": "a WebSocket has frames, not chunks"}
				n.StrikeAnyConn = true // the posts come on the WebSocket, the second connection
			}
			sourcetest.RunFaults(t, n)
		})
	}
}
