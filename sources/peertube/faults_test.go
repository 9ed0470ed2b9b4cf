package peertube

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

// liveTube serves the feed's posts as videos tagged devconf.
func liveTube(feed *sourcetest.Feed) http.Handler {
	vid := func(i int) map[string]any {
		return map[string]any{"uuid": fmt.Sprintf("00000000-0000-4000-8000-%012d", i), "shortUUID": fmt.Sprint("s", i), "name": "Talk " + strconv.Itoa(i),
			"description": sourcetest.FaultText(i), "publishedAt": feed.Time(i).UTC().Format(time.RFC3339Nano), "tags": []string{"devconf"},
			"account": map[string]any{"name": "ana", "host": "tube.example", "displayName": "Ana"}, "previewPath": "/p.jpg", "files": []any{}}
	}
	write := func(w http.ResponseWriter, v any) {
		b, _ := json.Marshal(v)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		half := len(b) / 2 // chunked, in two writes
		w.Write(b[:half])
		w.(http.Flusher).Flush()
		w.Write(b[half:])
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := strings.CutPrefix(r.URL.Path, "/api/v1/videos/"); ok {
			n, _ := strconv.Atoi(id[len(id)-12:])
			if n < 1 || n > feed.Len() {
				http.NotFound(w, r)
				return
			}
			write(w, vid(n))
			return
		}
		start, _ := strconv.Atoi(r.URL.Query().Get("start"))
		var data []any
		for i := feed.Len() - start; i >= 1 && len(data) < 50; i-- {
			data = append(data, vid(i))
		}
		write(w, map[string]any{"total": feed.Len(), "data": data})
	})
}

// TestFaults: a poll that broke is read again from the stored time.
func TestFaults(t *testing.T) {
	sourcetest.RunFaults(t, sourcetest.Network{
		Upstream: liveTube,
		Open: func(base string, client *http.Client) wall.Source {
			return New(Config{Name: "tube", Instance: base, PollInterval: 20 * time.Millisecond}, client, sourcetest.Quiet)
		},
		Sub:   wall.Subscription{Hashtags: []string{"devconf"}},
		Stall: time.Second,
	})
}
