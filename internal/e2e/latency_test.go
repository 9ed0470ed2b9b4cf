package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// fakeMastodon streams statuses that the benchmark pushes, in Mastodon's
// wire format, and serves an empty hashtag timeline for the gap fill.
type fakeMastodon struct {
	push chan string
}

func (f *fakeMastodon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v1/streaming/hashtag" {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, "[]")
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	io.WriteString(w, ":)\n")
	w.(http.Flusher).Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case id := <-f.push:
			fmt.Fprintf(w, "event: update\ndata: {\"id\":%q,\"created_at\":\"2026-11-25T10:00:00.000Z\",\"content\":\"<p>Live from the hall <a href=\\\"https://m.example/tags/devconf\\\" class=\\\"mention hashtag\\\">#<span>devconf</span></a></p>\",\"url\":\"https://m.example/@ana/%s\",\"account\":{\"acct\":\"ana\",\"username\":\"ana\",\"display_name\":\"Ana\",\"url\":\"https://m.example/@ana\",\"avatar\":\"https://m.example/a.png\"},\"tags\":[{\"name\":\"devconf\"}],\"media_attachments\":[],\"emojis\":[]}\n\n", id, id)
			w.(http.Flusher).Flush()
		}
	}
}

// BenchmarkUpstreamToScreen measures the time from a Mastodon streaming
// event leaving the (fake) upstream to the post's SSE event being read by a
// screen, through the whole server: parse, route, sanitise, commit, fan-out.
func BenchmarkUpstreamToScreen(b *testing.B) {
	up := &fakeMastodon{push: make(chan string)}
	us := httptest.NewServer(up)
	defer us.Close()
	dir := b.TempDir()
	path := filepath.Join(dir, "config.yaml")
	os.WriteFile(path, []byte(fmt.Sprintf(`server: {listen: "127.0.0.1:0"}
storage: {path: %q}
sources: [{name: m, type: mastodon, instance: %q}]
walls: [{slug: devconf, hashtags: [devconf], sources: [m]}]
`, filepath.Join(dir, "w.db"), us.URL)), 0o600)
	a := startFile(b, path)
	defer a.Shutdown()
	r := openStream(b, "http://"+a.Addr()+"/walls/devconf/events", "")
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		up.push <- fmt.Sprint(1000 + i)
		for {
			ev, err := r.Next()
			if err != nil {
				b.Fatal(err)
			}
			if ev.Type == "post" {
				break
			}
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
