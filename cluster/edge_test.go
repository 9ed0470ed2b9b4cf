package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/wall"
)

// edgeWith is an edge holding one wall: a snapshot at head and the
// events given as (seq, prev) pairs, without NATS.
func edgeWith(head int64, evs ...[2]int64) *Edge {
	e := NewEdge(&Node{cfg: &config.Cluster{Window: 100}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}, nil, nil)
	e.aheadWait = 20 * time.Millisecond
	e.serve([]config.Wall{{Slug: "w"}})
	m := e.mirror("w")
	m.snap.Head = head
	for _, v := range evs {
		p, _ := json.Marshal(wall.Post{ID: fmt.Sprint("p", v[0])})
		m.events = append(m.events, held{wall.Event{Seq: v[0], Wall: "w", Type: wall.EventPost, Data: p}, v[1]})
	}
	return e
}

// TestEdgeReplay: an edge resumes a screen only when it holds every event
// since the screen's id; otherwise the screen resets.
func TestEdgeReplay(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name  string
		e     *Edge
		after int64
		ok    bool
		n     int
	}{
		{"inside the held events", edgeWith(10, [2]int64{12, 10}, [2]int64{15, 12}, [2]int64{18, 15}), 12, true, 2},
		{"at the event before the first held", edgeWith(10, [2]int64{12, 10}, [2]int64{15, 12}), 10, true, 2},
		{"between the first's prev and it", edgeWith(0, [2]int64{12, 9}, [2]int64{15, 12}), 11, true, 2},
		{"older than the window", edgeWith(0, [2]int64{12, 9}, [2]int64{15, 12}), 8, false, 0},
		{"at the head", edgeWith(10, [2]int64{12, 10}), 12, true, 0},
		{"ahead of the head", edgeWith(10, [2]int64{12, 10}), 13, false, 0},
		{"at the snapshot's head, no events", edgeWith(10), 10, true, 0},
		{"before the snapshot, no events", edgeWith(10), 9, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			evs, ok, err := tc.e.Replay(ctx, "w", tc.after, 100)
			if err != nil || ok != tc.ok || len(evs) != tc.n {
				t.Errorf("Replay(after %d) = %d events, %v, %v; want %d, %v", tc.after, len(evs), ok, err, tc.n, tc.ok)
			}
			for _, ev := range evs {
				if ev.Seq <= tc.after {
					t.Errorf("event %d is not after %d", ev.Seq, tc.after)
				}
			}
		})
	}
}

// TestEdgeReplayWaitsForTheStream: a screen that moved from an edge a
// moment further along the stream (its id is ahead of this edge's head)
// is resumed once the events arrive, not reset: a reset would bring back
// only the newest posts, and the ones between would be lost to it.
func TestEdgeReplayWaitsForTheStream(t *testing.T) {
	e := edgeWith(10, [2]int64{12, 10})
	e.aheadWait = 10 * time.Second
	got := make(chan []wall.Event, 1)
	go func() {
		evs, ok, err := e.Replay(context.Background(), "w", 13, 100)
		if !ok || err != nil {
			evs = nil
		}
		got <- evs
	}()
	e.mu.Lock()
	m := e.walls["w"]
	for _, v := range [][2]int64{{13, 12}, {14, 13}} {
		p, _ := json.Marshal(wall.Post{ID: fmt.Sprint("p", v[0])})
		m.events = append(m.events, held{wall.Event{Seq: v[0], Wall: "w", Type: wall.EventPost, Data: p}, v[1]})
	}
	close(e.news)
	e.news = make(chan struct{})
	e.mu.Unlock()
	if evs := <-got; len(evs) != 1 || evs[0].Seq != 14 {
		t.Fatalf("a screen ahead of the edge got %v, want event 14", evs)
	}
}

// TestEdgeSnapshot: the snapshot comes with the held events after it and
// the head of the last; a snapshot that the held events do not join up
// with is not served.
func TestEdgeSnapshot(t *testing.T) {
	e := edgeWith(10, [2]int64{8, 5}, [2]int64{12, 10}, [2]int64{15, 12})
	snap, whole := e.snapshot("w", 30)
	if !whole || snap.Head != 15 || len(snap.Events) != 2 || snap.Events[0].Seq != 12 {
		t.Errorf("snapshot: head %d, %d events, whole %v", snap.Head, len(snap.Events), whole)
	}
	gap := edgeWith(10, [2]int64{14, 13}, [2]int64{15, 14})
	if _, whole := gap.snapshot("w", 30); whole {
		t.Error("a snapshot at 10 with held events from 14 (after 13) was taken as whole")
	}
}

// TestNewest keeps pinned posts and the newest others, in order.
func TestNewest(t *testing.T) {
	posts := []wall.Post{{ID: "a"}, {ID: "b"}, {ID: "c", Pinned: true}, {ID: "d"}}
	var ids []string
	for _, p := range newest(posts, 2) {
		ids = append(ids, p.ID)
	}
	if fmt.Sprint(ids) != "[b c d]" {
		t.Errorf("newest 2 = %v, want [b c d]", ids)
	}
}
