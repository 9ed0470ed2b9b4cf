package bluesky

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

	"github.com/coder/websocket"

	"github.com/wallcast/wallcast/sources/sourcetest"
	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// peopleNetwork is an AppView (handles, author feeds) and a Jetstream that
// honours wantedDids; the handle ana.example.com moves when told.
type peopleNetwork struct {
	mu     sync.Mutex
	anaDID string
	wanted [][]string // wantedDids of each Jetstream connection
	send   chan []byte
}

func (n *peopleNetwork) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	switch r.URL.Path {
	case "/xrpc/com.atproto.identity.resolveHandle":
		n.mu.Lock()
		did := n.anaDID
		n.mu.Unlock()
		switch q.Get("handle") {
		case "ana.example.com":
			fmt.Fprintf(w, `{"did":%q}`, did)
		default:
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"InvalidRequest","message":"Unable to resolve handle"}`)
		}
	case "/xrpc/app.bsky.feed.getAuthorFeed":
		did := q.Get("actor")
		fmt.Fprintf(w, `{"feed":[
 {"post":{"uri":"at://did:plc:someoneelsexxxxxxxxxxxxx/app.bsky.feed.post/3lrepost","cid":"bafy1","author":{"did":"did:plc:someoneelsexxxxxxxxxxxxx","handle":"x.example.com"},"record":{"$type":"app.bsky.feed.post","text":"a repost","createdAt":"2026-12-03T09:59:00.000Z"},"indexedAt":"2026-12-03T09:59:00.000Z"},
  "reason":{"$type":"app.bsky.feed.defs#reasonRepost","by":{"did":%q,"handle":"ana.example.com"},"indexedAt":"2026-12-03T10:00:00.000Z"}},
 {"post":{"uri":"at://%s/app.bsky.feed.post/3lown","cid":"bafy2","author":{"did":%q,"handle":"ana.example.com","displayName":"Ana"},"record":{"$type":"app.bsky.feed.post","text":"my talk is at 11","createdAt":"2026-12-03T09:00:00.000Z"},"indexedAt":"2026-12-03T09:00:00.000Z"}}
],"cursor":"x"}`, did, did, did)
	case "/xrpc/app.bsky.actor.getProfiles":
		fmt.Fprint(w, `{"profiles":[]}`)
	case "/subscribe":
		n.mu.Lock()
		n.wanted = append(n.wanted, q["wantedDids"])
		n.mu.Unlock()
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := c.CloseRead(r.Context())
		for {
			select {
			case <-ctx.Done():
				return
			case msg := <-n.send:
				if c.Write(ctx, websocket.MessageText, msg) != nil {
					return
				}
			}
		}
	default:
		http.NotFound(w, r)
	}
}

// TestPeople: accounts by handle become Jetstream's wantedDids; a new wall
// starts with their own latest posts; every post of theirs is taken,
// tagged or not; when an account changes its handle, the handles are
// resolved again and a moved one is followed at its new DID.
func TestPeople(t *testing.T) {
	const ana, ana2 = "did:plc:anaaaaaaaaaaaaaaaaaaaaaa", "did:plc:anotheranaaaaaaaaaaaaaaa"
	n := &peopleNetwork{anaDID: ana, send: make(chan []byte, 10)}
	srv := httptest.NewServer(n)
	defer srv.Close()
	s := New(Config{Name: "people", Jetstream: []string{"ws" + strings.TrimPrefix(srv.URL, "http") + "/subscribe"}, AppView: srv.URL,
		Accounts: []string{"@ana.example.com", "did:plc:bobbbbbbbbbbbbbbbbbbbbbb"}}, srv.Client(), sourcetest.Quiet)
	var mu sync.Mutex
	var posts []string
	emit := func(_ context.Context, it wall.Item) error {
		if it.Kind == wall.ItemPost {
			mu.Lock()
			posts = append(posts, it.Post.NativeID)
			mu.Unlock()
		}
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background(), wall.Subscription{Hashtags: []string{"devconf"}}, emit) }()
	n.send <- jetstreamPost(ana, time.Now().UnixMicro(), "3llive", "no hashtag at all")
	sourcetest.Until(t, "the feeds' and the stream's posts", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(posts) >= 3
	})
	mu.Lock()
	if fmt.Sprint(posts) != "["+ana+":3lown did:plc:bobbbbbbbbbbbbbbbbbbbbbb:3lown "+ana+":3llive]" {
		t.Errorf("posts = %v", posts)
	}
	mu.Unlock()
	n.mu.Lock()
	if fmt.Sprint(n.wanted) != "[["+ana+" did:plc:bobbbbbbbbbbbbbbbbbbbbbb]]" {
		t.Errorf("wantedDids = %v", n.wanted)
	}
	n.anaDID = ana2 // the handle now belongs to another account
	n.mu.Unlock()
	n.send <- []byte(`{"did":"` + ana + `","time_us":` + fmt.Sprint(time.Now().UnixMicro()) + `,"kind":"identity","identity":{"did":"` + ana + `","handle":"ana.other.example","seq":1,"time":"2026-12-03T10:00:00.000Z"}}`)
	err := <-done
	var ra *upstream.RetryAfterError
	if !errors.Is(err, errMoved) || !errors.As(err, &ra) || ra.After != 0 {
		t.Fatalf("after the handle moved: %v", err)
	}
	if dids, _ := s.resolveAccounts(context.Background()); fmt.Sprint(dids) != "["+ana2+" did:plc:bobbbbbbbbbbbbbbbbbbbbbb]" {
		t.Errorf("the next connection would follow %v", dids)
	}

	// A handle that resolves to nobody stops the source with the fix.
	bad := New(Config{Name: "people", AppView: srv.URL, Accounts: []string{"nobody.example.com"}}, srv.Client(), sourcetest.Quiet)
	var perm *upstream.PermanentError
	if err := bad.Run(context.Background(), wall.Subscription{}, emit); !errors.As(err, &perm) || !strings.Contains(err.Error(), "check accounts") {
		t.Errorf("unknown handle: %v", err)
	}
}
