package youtube

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/wallcast/wallcast/sources/sourcetest"
	"github.com/wallcast/wallcast/wall"
)

// liveAPI serves the feed's posts as the chat's messages: the page token
// is how many messages the client has had, so a poll that broke is asked
// again and loses nothing.
func liveAPI(feed *sourcetest.Feed) http.Handler {
	f := newFakeAPI()
	f.live["stream00001"] = chatID
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/youtube/v3/liveChat/messages" {
			f.ServeHTTP(w, r)
			return
		}
		from, _ := strconv.Atoi(r.URL.Query().Get("pageToken"))
		n := feed.Len()
		var items []any
		for i := from + 1; i <= n; i++ {
			items = append(items, map[string]any{"kind": "youtube#liveChatMessage", "id": fmt.Sprintf("LCC.fault-%d", i),
				"snippet": map[string]any{"type": "textMessageEvent", "liveChatId": chatID, "publishedAt": feed.Time(i).UTC().Format(time.RFC3339Nano),
					"textMessageDetails": map[string]any{"messageText": sourcetest.FaultText(i)}},
				"authorDetails": map[string]any{"channelId": "UCanaAnaAnaAnaAnaAnaAna1", "displayName": "Ana"}})
		}
		body, _ := json.Marshal(map[string]any{"kind": "youtube#liveChatMessageListResponse", "pollingIntervalMillis": 30, "nextPageToken": strconv.Itoa(n), "items": items})
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		// Two writes: the body goes out chunked, as Google's does.
		half := len(body) / 2
		w.Write(body[:half])
		w.(http.Flusher).Flush()
		w.Write(body[half:])
	})
}

// TestFaults: the chat's page token replays what a broken poll missed.
func TestFaults(t *testing.T) {
	sourcetest.RunFaults(t, sourcetest.Network{
		Upstream: liveAPI,
		Open: func(base string, client *http.Client) wall.Source {
			return New(Config{Name: "yt", VideoID: "stream00001", APIKey: "k3y", APIBase: base, MinInterval: 10 * time.Millisecond}, client, sourcetest.Quiet)
		},
		Stall: time.Second,
	})
}
