package mastodon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wallcast/wallcast/sources/sourcetest"
	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// cousin is a server that speaks the Mastodon API with the differences
// its documentation gives: which streaming it has, whether it needs a
// token, whether it honours min_id, how its ids look.
type cousin struct {
	name      string
	token     string // required on every call when set (GoToSocial)
	ws        bool   // has the WebSocket streaming API (Akkoma, Pleroma)
	wsRefuses bool   // answers a hashtag stream with an error message (GoToSocial)
	minID     bool   // honours min_id (older Pixelfed does not)
	ids       []string

	mu   sync.Mutex
	reqs []string
}

func (c *cousin) log() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.reqs, "\n")
}

// status is a status with the nulls these servers send.
func (c *cousin) status(id string) string {
	b, _ := json.Marshal(map[string]any{"id": id, "created_at": "2026-12-03T10:00:00.000000Z", "in_reply_to_id": nil, "sensitive": false,
		"spoiler_text": nil, "language": nil, "visibility": "public", "uri": "https://" + c.name + ".example/p/" + id, "url": "https://" + c.name + ".example/p/" + id,
		"content": "<p>" + c.name + " " + id + " #devconf</p>", "reblog": nil, "emojis": []any{}, "tags": []any{map[string]any{"name": "devconf", "url": "https://x/tags/devconf"}},
		"media_attachments": []any{map[string]any{"id": "m" + id, "type": "image", "url": "https://" + c.name + ".example/m/" + id + ".jpg", "preview_url": "https://" + c.name + ".example/m/" + id + "_t.jpg", "remote_url": nil, "description": nil}},
		"account":           map[string]any{"id": "1", "username": "ana", "acct": "ana", "display_name": "", "url": "https://" + c.name + ".example/ana", "avatar": "https://" + c.name + ".example/a.png", "avatar_static": "https://" + c.name + ".example/a.png", "created_at": "2024-01-01T00:00:00.000Z", "emojis": []any{}}})
	return string(b)
}

func (c *cousin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.reqs = append(c.reqs, r.URL.Path+"?"+r.URL.Query().Get("stream")+" min_id="+r.URL.Query().Get("min_id"))
	c.mu.Unlock()
	auth := r.Header.Get("Authorization") == "Bearer "+c.token || r.URL.Query().Get("access_token") == c.token
	if c.token != "" && !auth {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":"Unauthorized: token not supplied"}`)
		return
	}
	switch r.URL.Path {
	case "/api/v1/timelines/tag/devconf":
		minID := r.URL.Query().Get("min_id")
		var page []string
		for i := len(c.ids) - 1; i >= 0 && len(page) < 40; i-- { // newest first
			if c.minID && minID != "" && !upstream.NewerID(c.ids[i], minID) {
				break
			}
			page = append(page, c.status(c.ids[i]))
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, "["+strings.Join(page, ",")+"]")
	case "/api/v1/streaming":
		if !c.ws {
			http.NotFound(w, r)
			return
		}
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		ctx := conn.CloseRead(r.Context())
		if c.wsRefuses {
			conn.Write(ctx, websocket.MessageText, []byte(`{"error":"stream type hashtag not supported"}`))
			<-ctx.Done()
			return
		}
		if r.URL.Query().Get("stream") != "hashtag" || r.URL.Query().Get("tag") != "devconf" {
			conn.Close(websocket.StatusPolicyViolation, "bad stream")
			return
		}
		payload, _ := json.Marshal(c.status("AbCdEfGhIjKlMnOp99"))
		conn.Write(ctx, websocket.MessageText, []byte(`{"stream":["hashtag","devconf"],"event":"update","payload":`+string(payload)+`}`))
		conn.Write(ctx, websocket.MessageText, []byte(`{"stream":["hashtag","devconf"],"event":"delete","payload":"AbCdEfGhIjKlMnOp01"}`))
		<-ctx.Done()
	default:
		http.NotFound(w, r) // no SSE streaming on any of them
	}
}

// TestCousins: Akkoma (WebSocket streaming only, flake ids), GoToSocial
// (a token for everything, no hashtag stream: polled), Pixelfed (no
// streaming, min_id ignored, nulls where Mastodon has strings).
func TestCousins(t *testing.T) {
	pixel := make([]string, 45)
	for i := range pixel {
		pixel[i] = fmt.Sprint(700000000000000000 + i)
	}
	for _, tc := range []struct {
		c      *cousin
		token  string
		posts  int    // posts to see
		polls  int    // timeline reads to wait for
		expect string // in the request log
	}{
		{&cousin{name: "akkoma", ws: true, minID: true, ids: []string{"AbCdEfGhIjKlMnOp01", "AbCdEfGhIjKlMnOp02"}}, "", 3, 2, "/api/v1/streaming?hashtag"},
		{&cousin{name: "gotosocial", token: "gts", ws: true, wsRefuses: true, minID: true, ids: []string{"01HZ00000000000000000000A1", "01HZ00000000000000000000A2"}}, "gts", 2, 4, "/api/v1/streaming?hashtag"},
		{&cousin{name: "pixelfed", ids: pixel}, "", 40, 4, "/api/v1/streaming/hashtag?"},
	} {
		t.Run(tc.c.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.c)
			defer srv.Close()
			s := New(Config{Name: tc.c.name, Instance: srv.URL, AccessToken: tc.token, Stream: true, PollInterval: 20 * time.Millisecond, Ping: 50 * time.Millisecond}, srv.Client(), sourcetest.Quiet)
			var mu sync.Mutex
			seen := map[string]int{}
			deleted := map[string]bool{}
			emit := func(_ context.Context, it wall.Item) error {
				mu.Lock()
				defer mu.Unlock()
				switch it.Kind {
				case wall.ItemPost:
					seen[it.Post.NativeID]++
					if len(it.Post.Media) != 1 || it.Post.Media[0].Type != "image" || it.Post.Author.Name != "ana" {
						t.Errorf("post %s: media %+v, author %+v", it.Post.NativeID, it.Post.Media, it.Post.Author)
					}
				case wall.ItemDelete:
					deleted[it.Post.NativeID] = true
				}
				return nil
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- s.Run(ctx, wall.Subscription{Hashtags: []string{"devconf"}}, emit) }()
			sourcetest.Until(t, tc.c.name+": its posts and polls", func() bool {
				mu.Lock()
				n := len(seen)
				gone := tc.c.name != "akkoma" || deleted["AbCdEfGhIjKlMnOp01"] // the stream's delete comes after its update
				mu.Unlock()
				return n >= tc.posts && gone && strings.Count(tc.c.log(), "/api/v1/timelines/tag/devconf") >= tc.polls
			})
			cancel()
			<-done
			mu.Lock()
			defer mu.Unlock()
			for id, n := range seen {
				if n > 1 {
					t.Errorf("%s emitted %d times", id, n)
				}
			}
			if tc.c.name == "akkoma" && !deleted["AbCdEfGhIjKlMnOp01"] {
				t.Errorf("the stream's delete was lost: %v", deleted)
			}
			if !strings.Contains(tc.c.log(), tc.expect) {
				t.Errorf("requests lack %q:\n%s", tc.expect, tc.c.log())
			}
		})
	}

	// A server that ignores min_id answers a fill with its newest page:
	// one read, nothing new, no paging through the same page again.
	px := &cousin{name: "pixelfed", ids: pixel}
	psrv := httptest.NewServer(px)
	defer psrv.Close()
	ps := New(Config{Name: "px", Instance: psrv.URL}, psrv.Client(), sourcetest.Quiet)
	ps.since = map[string]string{"devconf": pixel[len(pixel)-1]}
	tls, _ := ps.timelines(context.Background(), []string{"devconf"})
	if err := ps.fill(context.Background(), tls[0], func(context.Context, wall.Item) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(px.log(), "/api/v1/timelines/tag/devconf"); n != 1 {
		t.Errorf("a fill read the timeline %d times, want 1", n)
	}

	// GoToSocial without a token: stopped, with what to do.
	srv := httptest.NewServer(&cousin{name: "gotosocial", token: "gts"})
	defer srv.Close()
	s := New(Config{Name: "gts", Instance: srv.URL, Stream: true, PollInterval: time.Second}, srv.Client(), sourcetest.Quiet)
	err := s.Run(context.Background(), wall.Subscription{Hashtags: []string{"devconf"}}, func(context.Context, wall.Item) error { return nil })
	var perm *upstream.PermanentError
	if !errors.As(err, &perm) || !strings.Contains(err.Error(), "add access_token") {
		t.Errorf("GoToSocial without a token: %v", err)
	}
}
