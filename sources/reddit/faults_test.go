package reddit

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wallcast/wallcast/sources/sourcetest"
	"github.com/wallcast/wallcast/wall"
)

// liveReddit is Reddit's OAuth API with a growing r/devconf: the
// client-credentials token, and /new listings newest first, "before" a
// fullname, with the rate-limit headers Reddit sends.
type liveReddit struct{ feed *sourcetest.Feed }

func liveName(i int) string { return "t3_f" + strconv.FormatInt(int64(1000+i), 36) }

func (l liveReddit) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/api/v1/access_token":
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		fmt.Fprint(w, `{"access_token": "tok", "token_type": "bearer", "expires_in": 86400, "scope": "*"}`)
		return
	case "/r/devconf/new":
	default:
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Authorization") != "Bearer tok" {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"message": "Unauthorized", "error": 401}`)
		return
	}
	n := l.feed.Len()
	from := max(1, n-24)
	if b := r.URL.Query().Get("before"); b != "" {
		v, _ := strconv.ParseInt(strings.TrimPrefix(b, "t3_f"), 36, 64)
		from = int(v) - 1000 + 1
	}
	kids := []any{}
	for i := n; i >= from; i-- {
		kids = append(kids, map[string]any{"kind": "t3", "data": map[string]any{
			"name": liveName(i), "title": sourcetest.FaultText(i), "selftext_html": nil, "url": "https://devconf.example/" + strconv.Itoa(i),
			"permalink": fmt.Sprintf("/r/devconf/comments/%s/fault/", liveName(i)[3:]), "author": "quietcompiler", "subreddit": "devconf",
			"created_utc": float64(l.feed.Time(i).Unix()), "over_18": false, "spoiler": false, "score": 1, "is_self": false,
			"domain": "devconf.example", "subreddit_name_prefixed": "r/devconf"}})
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("X-Ratelimit-Used", "4")
	w.Header().Set("X-Ratelimit-Remaining", "996.0")
	w.Header().Set("X-Ratelimit-Reset", "412")
	json.NewEncoder(w).Encode(map[string]any{"kind": "Listing", "data": map[string]any{"after": nil, "before": nil, "dist": len(kids), "children": kids}})
}

// TestFaults: between Reddit and the adapter, every fault of the matrix;
// the next poll "before" the last seen post brings what a broken one missed.
func TestFaults(t *testing.T) {
	sourcetest.RunFaults(t, sourcetest.Network{
		Upstream: func(f *sourcetest.Feed) http.Handler { return liveReddit{f} },
		Open: func(base string, client *http.Client) wall.Source {
			return New(Config{Name: "reddit", ClientID: "cid", ClientSecret: "csecret", UserAgent: ua, Subreddits: []string{"devconf"},
				TokenURL: base + "/api/v1/access_token", APIBase: base, Interval: 50 * time.Millisecond}, client, sourcetest.Quiet)
		},
		Stall: time.Second,
	})
}
