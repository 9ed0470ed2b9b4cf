package x

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

// liveX is the X API v2 with a growing #devconf: the rules, recent search
// by since_id, and the filtered stream, one JSON object per line with
// "\r\n" keep-alives.
type liveX struct{ feed *sourcetest.Feed }

const liveBase = 1861000000000000000

func liveTweet(feed *sourcetest.Feed, i int) map[string]any {
	return map[string]any{"id": strconv.Itoa(liveBase + i), "text": sourcetest.FaultText(i) + " #devconf", "author_id": "2244994945",
		"created_at": feed.Time(i).UTC().Format("2006-01-02T15:04:05.000Z"), "lang": "fr", "possibly_sensitive": false,
		"edit_history_tweet_ids": []string{strconv.Itoa(liveBase + i)},
		"entities":               map[string]any{"hashtags": []any{map[string]any{"start": len([]rune(sourcetest.FaultText(i))) + 1, "end": len([]rune(sourcetest.FaultText(i))) + 9, "tag": "devconf"}}}}
}

var liveUsers = map[string]any{"users": []any{map[string]any{"id": "2244994945", "name": "Ana", "username": "ana_dev", "profile_image_url": "https://pbs.twimg.com/profile_images/1/ana_normal.jpg"}}}

func (l liveX) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-rate-limit-limit", "450")
	w.Header().Set("x-rate-limit-remaining", "449")
	w.Header().Set("x-rate-limit-reset", strconv.FormatInt(time.Now().Add(15*time.Minute).Unix(), 10))
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	switch {
	case r.URL.Path == "/2/tweets/search/stream/rules" && r.Method == http.MethodGet:
		fmt.Fprint(w, `{"data":[{"id":"1","value":"#devconf","tag":"wallcast:devconf"}],"meta":{"sent":"2026-11-25T09:00:00.000Z","result_count":1}}`)
	case r.URL.Path == "/2/tweets/search/recent":
		n := l.feed.Len()
		from := max(1, n-9) // without since_id: the ten newest
		if id, err := strconv.Atoi(r.URL.Query().Get("since_id")); err == nil {
			from = id - liveBase + 1
		}
		data := []any{}
		for i := n; i >= from; i-- {
			data = append(data, liveTweet(l.feed, i))
		}
		res := map[string]any{"data": data, "includes": liveUsers, "meta": map[string]any{"result_count": len(data)}}
		if len(data) == 0 {
			res = map[string]any{"meta": map[string]any{"result_count": 0}}
		}
		json.NewEncoder(w).Encode(res)
	case r.URL.Path == "/2/tweets/search/stream":
		w.Header().Set("Transfer-Encoding", "chunked")
		w.WriteHeader(http.StatusOK)
		fl := w.(http.Flusher)
		fl.Flush()
		sent := l.feed.Len()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			for n := l.feed.Len(); sent < n; sent++ {
				b, _ := json.Marshal(map[string]any{"data": liveTweet(l.feed, sent+1), "includes": liveUsers,
					"matching_rules": []any{map[string]string{"id": "1", "tag": "wallcast:devconf"}}})
				w.Write(append(b, '\r', '\n'))
				fl.Flush()
			}
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
				w.Write([]byte("\r\n"))
				fl.Flush()
			case <-l.feed.Beyond(sent):
			}
		}
	default:
		http.NotFound(w, r)
	}
}

// TestFaults: between X and the adapter, every fault of the matrix;
// recent search fills what a broken stream missed.
func TestFaults(t *testing.T) {
	sourcetest.RunFaults(t, sourcetest.Network{
		Upstream: func(f *sourcetest.Feed) http.Handler { return liveX{f} },
		Open: func(base string, client *http.Client) wall.Source {
			return New(Config{Name: "x", BearerToken: "tok", APIBase: base, Stream: true, PollInterval: time.Second, UserAgent: "test"}, client, sourcetest.Quiet)
		},
		Sub:   wall.Subscription{Walls: []wall.WallWants{{Slug: "devconf", Hashtags: []string{"devconf"}}}},
		Stall: time.Second,
	})
}
