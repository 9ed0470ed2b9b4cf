package bluesky

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wallcast/wallcast/sources/sourcetest"
	"github.com/wallcast/wallcast/wall"
)

// liveJetstream is a Jetstream instance and an AppView: the stream
// replays from the cursor (time_us) and then sends what is published,
// between other posts of the firehose that match nothing.
type liveJetstream struct{ feed *sourcetest.Feed }

func jetstreamPost(did string, timeUS int64, rkey, text string) []byte {
	rec := map[string]any{"$type": "app.bsky.feed.post", "text": text, "createdAt": time.UnixMicro(timeUS).UTC().Format("2006-01-02T15:04:05.000Z"), "langs": []string{"fr"}}
	if i := strings.Index(text, "#devconf"); i >= 0 {
		rec["facets"] = []any{map[string]any{"$type": "app.bsky.richtext.facet",
			"index":    map[string]int{"byteStart": i, "byteEnd": i + len("#devconf")},
			"features": []any{map[string]string{"$type": "app.bsky.richtext.facet#tag", "tag": "devconf"}}}}
	}
	b, _ := json.Marshal(map[string]any{"did": did, "time_us": timeUS, "kind": "commit", "commit": map[string]any{
		"rev": rkey, "operation": "create", "collection": "app.bsky.feed.post", "rkey": rkey, "record": rec, "cid": "bafyrei" + rkey}})
	return b
}

func (l liveJetstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/xrpc/app.bsky.actor.getProfiles":
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("RateLimit-Limit", "3000")
		w.Header().Set("RateLimit-Remaining", "2999")
		fmt.Fprint(w, `{"profiles":[{"did":"did:plc:anaaaaaaaaaaaaaaaaaaaaaa","handle":"ana.bsky.example","displayName":"Ana","labels":[]}]}`)
		return
	case "/subscribe":
	default:
		http.NotFound(w, r)
		return
	}
	cursor, _ := strconv.ParseInt(r.URL.Query().Get("cursor"), 10, 64)
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := c.CloseRead(r.Context())
	sent := 0
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for noise := 0; ; noise++ {
		for n := l.feed.Len(); sent < n; sent++ {
			t := l.feed.Time(sent + 1).UnixMicro()
			if t < cursor {
				continue
			}
			msg := jetstreamPost("did:plc:anaaaaaaaaaaaaaaaaaaaaaa", t, fmt.Sprintf("3lfault%04d", sent+1), sourcetest.FaultText(sent+1)+" #devconf")
			if c.Write(ctx, websocket.MessageText, msg) != nil {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			msg := jetstreamPost("did:plc:zzzzzzzzzzzzzzzzzzzzzzzz", time.Now().UnixMicro(), fmt.Sprintf("3lnoise%04d", noise), "just a normal day")
			if c.Write(ctx, websocket.MessageText, msg) != nil {
				return
			}
		case <-l.feed.Beyond(sent):
		}
	}
}

// TestFaults: between Jetstream and the adapter, every fault of the
// matrix; the cursor replays what a broken connection missed.
func TestFaults(t *testing.T) {
	sourcetest.RunFaults(t, sourcetest.Network{
		Upstream: func(f *sourcetest.Feed) http.Handler { return liveJetstream{f} },
		Open: func(base string, client *http.Client) wall.Source {
			ws := "ws" + strings.TrimPrefix(base, "http") + "/subscribe"
			return New(Config{Name: "bsky", Jetstream: []string{ws}, AppView: base, UserAgent: "test", CursorEvery: 50 * time.Millisecond}, client, sourcetest.Quiet)
		},
		Sub:   wall.Subscription{Hashtags: []string{"devconf"}},
		Stall: time.Second,
	})
}
