package fanout

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/wallcast/wallcast/sse"
	"github.com/wallcast/wallcast/wall"
)

// racingReader is a wall's log whose snapshot is read while events are
// committed: event 2 commits before the read sees the head, event 3
// after, and both are published live meanwhile.
type racingReader struct{ hub *Hub }

func (rr racingReader) Replay(context.Context, string, int64, int) ([]wall.Event, bool, error) {
	return nil, false, nil
}

func (rr racingReader) Snapshot(context.Context, string, int) (wall.Snapshot, error) {
	p, _ := json.Marshal(wall.Post{ID: "p2"})
	two := wall.Event{Seq: 2, Wall: "w", Type: wall.EventPost, Data: p}
	p, _ = json.Marshal(wall.Post{ID: "p3"})
	three := wall.Event{Seq: 3, Wall: "w", Type: wall.EventPost, Data: p}
	rr.hub.Publish([]wall.Event{two})
	rr.hub.Publish([]wall.Event{three})
	return wall.Snapshot{Head: 2, Posts: []wall.Post{{ID: "p2"}}}, nil
}

// TestServeNoGapNoRepeat: events committed while a screen's catch-up is
// read reach the screen once: what the catch-up holds is not sent again
// live, what it does not hold is; on the goroutine path and the engine's.
func TestServeNoGapNoRepeat(t *testing.T) {
	paths := []string{"goroutine"}
	if runtime.GOOS == "linux" {
		paths = append(paths, "engine")
	}
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			hub := NewHub(64, 0)
			if path == "engine" && !hub.EnableEngine(time.Second) {
				t.Fatal("no engine on linux")
			}
			defer hub.Close()
			released := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hub.Serve(w, r, Stream{Wall: "w", Reader: racingReader{hub}, MaxPosts: 10, Retry: time.Second, WriteTimeout: time.Second,
					Trailer: []byte("event: screen\ndata: {}\n\n"), Release: func() { close(released) },
					Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
			}))
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			r := sse.NewReader(resp.Body)
			var got []string
			for len(got) < 4 {
				ev, err := r.Next()
				if err != nil {
					t.Fatalf("after %v: %v", got, err)
				}
				got = append(got, ev.Type+":"+ev.ID)
			}
			want := []string{"post:", "ready:2", "screen:2", "post:3"}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("got %v, want %v", got, want)
				}
			}
			resp.Body.Close()
			select {
			case <-released:
			case <-time.After(5 * time.Second):
				t.Error("the stream's slot was not released when it ended")
			}
		})
	}
}
