package web_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wallcast/wallcast/wall"
)

// TestResumeFromZeroIsABackfill: Last-Event-ID: 0 on a wall with 10,000
// events, none of them from the screen's past, costs what a fresh screen
// costs (reset, then max_posts posts), not a replay of the whole log, in
// bytes sent and in memory.
func TestResumeFromZeroIsABackfill(t *testing.T) { onBothPaths(t, testYAML, resumeFromZero) } // max_posts: 3

func resumeFromZero(t *testing.T, e *env) {
	const n = 10000
	body := strings.Repeat("y", 1000)
	batch := make([]wall.Write, 0, 500)
	for i := 0; i < n; i++ {
		p := wall.Post{ID: fmt.Sprintf("s:%d", i), Source: "s", NativeID: fmt.Sprint(i), Network: "demo",
			Text: body, HTML: "<p>" + body + "</p>", CreatedAt: time.Now().UTC()}
		batch = append(batch, wall.Write{Source: "s", Item: wall.Item{Kind: wall.ItemPost, Post: p},
			Targets: []wall.Target{{Wall: "devconf", Status: wall.StatusVisible}}})
		if len(batch) == cap(batch) {
			if _, err := e.db.Apply(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	c, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /walls/devconf/events HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 0\r\n\r\n")
	// Read until the backfill's resume point (a bare id line).
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var got strings.Builder
	for {
		line, err := br.ReadString('\n')
		got.WriteString(line)
		if err != nil {
			t.Fatalf("stream: %v after %d bytes", err, got.Len())
		}
		if line == "event: ready\n" && strings.Contains(got.String(), "event: reset") {
			break
		}
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	stream := got.String()
	if posts := strings.Count(stream, "event: post"); posts != 3 {
		t.Errorf("posts sent = %d, want the backfill's 3", posts)
	}
	// The log holds 10,000 posts of 2 KB; the backfill three.
	if got.Len() > 16<<10 {
		t.Errorf("sent %d bytes for a resume from 0: more than a backfill", got.Len())
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("the server allocated %d bytes for a resume from 0: the log was read", alloc)
	}
}
