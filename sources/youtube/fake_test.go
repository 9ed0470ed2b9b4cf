package youtube

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// fakeAPI is the YouTube Data API v3 as far as a live chat needs it:
// videos, playlistItems and liveChat/messages, keys checked, errors in
// Google's JSON shape.
type fakeAPI struct {
	key string

	mu       sync.Mutex
	live     map[string]string   // video id -> its active live chat ("": not live)
	ended    map[string]bool     // video id -> the broadcast ended
	uploads  map[string][]string // playlist id -> video ids, newest first
	messages func(chat, page string) (status int, body string)
	log      []request
}

type request struct {
	Path  string
	Query url.Values
	At    time.Time
}

func newFakeAPI() *fakeAPI {
	return &fakeAPI{key: "k3y", live: map[string]string{}, ended: map[string]bool{}, uploads: map[string][]string{}}
}

func (f *fakeAPI) requests(path string) []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []request
	for _, r := range f.log {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// googleError is the body of an API error.
func googleError(code int, reason, msg string) string {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": code, "message": msg,
		"errors": []any{map[string]any{"message": msg, "domain": "youtube.liveChat", "reason": reason}}}})
	return string(b)
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	path := strings.TrimPrefix(r.URL.Path, "/youtube/v3/")
	f.mu.Lock()
	f.log = append(f.log, request{Path: path, Query: q, At: time.Now()})
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	if q.Get("key") != f.key {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, googleError(400, "keyInvalid", "API key not valid. Please pass a valid API key."))
		return
	}
	switch path {
	case "videos":
		var items []any
		f.mu.Lock()
		for _, id := range strings.Split(q.Get("id"), ",") {
			chat, ok := f.live[id]
			if !ok {
				continue
			}
			details := map[string]any{"actualStartTime": "2026-12-03T09:00:00Z", "concurrentViewers": "312"}
			content := "live"
			if chat != "" && !f.ended[id] {
				details["activeLiveChatId"] = chat
			} else {
				content = "none"
				details["actualEndTime"] = "2026-12-03T11:00:00Z"
			}
			items = append(items, map[string]any{"kind": "youtube#video", "id": id,
				"snippet":              map[string]any{"channelId": "UCchannelChannelChannel0", "title": "DevConf live " + id, "liveBroadcastContent": content},
				"liveStreamingDetails": details})
		}
		f.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"kind": "youtube#videoListResponse", "items": items, "pageInfo": map[string]int{"totalResults": len(items), "resultsPerPage": len(items)}})
	case "playlistItems":
		f.mu.Lock()
		ids := f.uploads[q.Get("playlistId")]
		f.mu.Unlock()
		if ids == nil {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, googleError(404, "playlistNotFound", "The playlist identified with the request's playlistId parameter cannot be found."))
			return
		}
		var items []any
		for _, id := range ids {
			items = append(items, map[string]any{"kind": "youtube#playlistItem", "contentDetails": map[string]any{"videoId": id}})
		}
		json.NewEncoder(w).Encode(map[string]any{"kind": "youtube#playlistItemListResponse", "items": items})
	case "liveChat/messages":
		if q.Get("part") != "snippet,authorDetails" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, googleError(400, "invalidPart", "part"))
			return
		}
		status, body := f.messages(q.Get("liveChatId"), q.Get("pageToken"))
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, googleError(404, "notFound", "Not Found"))
	}
}

// emptyPage is a page with no message.
func emptyPage(next string, interval int, offline bool) string {
	m := map[string]any{"kind": "youtube#liveChatMessageListResponse", "pollingIntervalMillis": interval, "nextPageToken": next, "items": []any{}}
	if offline {
		m["offlineAt"] = "2026-12-03T11:00:00Z"
	}
	b, _ := json.Marshal(m)
	return string(b)
}
