package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallcast/wallcast/sse"
)

// stuckYAML gives screens a long queue, so that only the kernel's send
// buffer and write_timeout can notice a screen that stopped reading.
const stuckYAML = `
server: {write_timeout: 2s, subscriber_queue: 4096}
sources: [{name: s, type: demo}]
walls:
  - {slug: devconf, hashtags: [devconf], sources: [s], display: {max_posts: 200}}
`

// TestStuckScreenClosedInTime: a screen that opens a stream with a tiny
// receive buffer and never reads again is closed within write_timeout of
// its (small) send buffer filling, though everything posted would fit in
// a send buffer the kernel autotunes; twenty screens that read keep their
// latency; the stuck one resumes from its Last-Event-ID when it comes back.
func TestStuckScreenClosedInTime(t *testing.T) { onBothPaths(t, stuckYAML, stuckScreen) }

func stuckScreen(t *testing.T, e *env) {
	const normal, posts = 20, 85 // 85 posts of 10 KB (text and html): 850 KB
	type arrival struct {
		id string
		at time.Time
	}
	got := make([][]arrival, normal)
	var wg sync.WaitGroup
	for i := 0; i < normal; i++ {
		s := e.open("/walls/devconf/events")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for len(got[i]) < posts {
				ev, err := s.Next()
				if err != nil {
					return
				}
				if ev.Type == "post" {
					got[i] = append(got[i], arrival{ev.ID, time.Now()})
				}
			}
		}()
	}

	br := e.openStuck()
	waitFor(t, "all screens connected", func() bool { return e.srv.Connections() == normal+1 })

	big := strings.Repeat("x", 5<<10)
	sent := map[string]time.Time{}
	var lastSeq int64
	for i := 0; i < posts; i++ {
		ev := e.post(fmt.Sprint(i, big))
		sent[fmt.Sprint(ev.Seq)] = time.Now()
		lastSeq = ev.Seq
		time.Sleep(2 * time.Millisecond) // a busy wall, not one burst
	}
	waitFor(t, "the stuck screen closed", func() bool { return e.srv.Connections() == normal })
	wg.Wait()
	for i, g := range got {
		if len(g) != posts {
			t.Fatalf("screen %d got %d posts, want %d", i, len(g), posts)
		}
		for _, a := range g {
			// Held up by the stuck screen, a screen would wait a whole
			// write_timeout (2 s) for a post, one after another; the bound
			// leaves room for a loaded CI machine (the browser tests run
			// beside this one).
			if d := a.at.Sub(sent[a.id]); d >= 2*time.Second {
				t.Fatalf("screen %d got post %s after %v: held up by the stuck screen", i, a.id, d)
			}
		}
	}

	// The stuck screen comes back: what reached it, then the rest from its
	// Last-Event-ID.
	r := sse.NewReader(br)
	var last string
	seen := 0
	for {
		ev, err := r.Next()
		if err != nil {
			break
		}
		if ev.Type == "post" {
			last = ev.ID
			seen++
		}
	}
	if seen >= posts {
		t.Fatalf("the stuck screen had all %d posts queued for it: nothing was held back", seen)
	}
	req, _ := http.NewRequest("GET", e.url+"/walls/devconf/events", nil)
	req.Header.Set("Last-Event-ID", last)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rr := sse.NewReader(resp.Body)
	for seen < posts {
		ev, err := rr.Next()
		if err != nil {
			t.Fatalf("resume from %s after %d posts: %v (%s)", last, seen, err, resp.Header)
		}
		if ev.Type == "reset" {
			t.Fatalf("resume from %s was reset", last)
		}
		if ev.Type == "post" {
			seen++
			last = ev.ID
		}
	}
	if last != fmt.Sprint(lastSeq) {
		t.Errorf("resumed up to %s, want %d", last, lastSeq)
	}
}

// waitFor polls cond until it holds, for at most 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
