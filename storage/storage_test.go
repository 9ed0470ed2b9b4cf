package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/wallcast/wallcast/wall"
)

func open(t testing.TB, path string) *DB {
	t.Helper()
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func post(source, id, text string) wall.Post {
	return wall.Post{ID: wall.PostID(source, id), Source: source, NativeID: id, Network: "rss",
		HTML: "<p>" + text + "</p>", Text: text, CreatedAt: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)}
}

func write(source string, p wall.Post, walls ...string) wall.Write {
	w := wall.Write{Source: source, Item: wall.Item{Kind: wall.ItemPost, Post: p}}
	for _, s := range walls {
		w.Targets = append(w.Targets, wall.Target{Wall: s, Status: wall.StatusVisible})
	}
	return w
}

func apply(t testing.TB, db *DB, ws ...wall.Write) []wall.Event {
	t.Helper()
	ev, err := db.Apply(context.Background(), ws)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestDedupAndSequence(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "w.db"))
	ev := apply(t, db,
		write("blog", post("blog", "1", "one"), "a", "b"),
		write("blog", post("blog", "2", "two"), "a"),
		write("blog", post("blog", "1", "one again"), "a", "b"), // duplicate
		write("news", post("news", "1", "same native id, other source"), "a"),
	)
	if len(ev) != 4 {
		t.Fatalf("events = %d, want 4 (dup dropped): %+v", len(ev), ev)
	}
	var last int64
	for _, e := range ev {
		if e.Seq <= last {
			t.Fatalf("seq not increasing: %d after %d", e.Seq, last)
		}
		last = e.Seq
	}
	// A repeat in a later batch is still a duplicate.
	if ev := apply(t, db, write("blog", post("blog", "2", "two"), "a")); len(ev) != 0 {
		t.Fatalf("repeat produced events: %+v", ev)
	}
	snap, err := db.Snapshot(context.Background(), "a", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Posts) != 3 || snap.Head != ev4(t, db, "a") {
		t.Fatalf("snapshot = %d posts head %d", len(snap.Posts), snap.Head)
	}
	if snap.Posts[0].Text != "one" || snap.Posts[2].Source != "news" {
		t.Errorf("snapshot order = %q, %q", snap.Posts[0].Text, snap.Posts[2].Source)
	}
}

func ev4(t testing.TB, db *DB, w string) int64 {
	var head int64
	db.read.QueryRow(`SELECT MAX(id) FROM wall_events WHERE wall = ?`, w).Scan(&head)
	return head
}

func TestReplayAfterReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.db")
	db := open(t, path)
	for i := 0; i < 5; i++ {
		apply(t, db, write("s", post("s", fmt.Sprint(i), fmt.Sprint("post ", i)), "w"))
	}
	db.Close()

	db = open(t, path)
	events, ok, err := db.Replay(context.Background(), "w", 0, 100)
	if err != nil || !ok {
		t.Fatalf("replay: ok=%v err=%v", ok, err)
	}
	if len(events) != 5 {
		t.Fatalf("replayed %d events, want 5", len(events))
	}
	events, _, _ = db.Replay(context.Background(), "w", events[2].Seq, 100)
	if len(events) != 2 {
		t.Fatalf("replay after the 3rd: %d events, want 2", len(events))
	}
	var p wall.Post
	json.Unmarshal(events[0].Data, &p)
	if p.Text != "post 3" || events[0].Type != wall.EventPost {
		t.Errorf("first replayed = %s %q", events[0].Type, p.Text)
	}
	// An id from the future (a screen that knew another database) resets.
	if _, ok, _ := db.Replay(context.Background(), "w", 1<<40, 100); ok {
		t.Error("replay from an unknown future id should ask for a reset")
	}
}

func TestDeleteLeavesTombstone(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "w.db"))
	p := post("s", "7", "hello")
	apply(t, db, write("s", p, "w"))
	ev := apply(t, db, wall.Write{Source: "s", Item: wall.Item{Kind: wall.ItemDelete, Post: wall.Post{ID: p.ID, NativeID: "7"}}})
	if len(ev) != 1 || ev[0].Type != wall.EventRemove || string(ev[0].Data) != `{"id":"s:7"}` {
		t.Fatalf("delete events = %+v", ev)
	}
	// Upstream repeats the deleted post: it stays gone.
	if ev := apply(t, db, write("s", p, "w")); len(ev) != 0 {
		t.Fatalf("a deleted post came back: %+v", ev)
	}
	// A replay from the start never shows it: its post event is skipped.
	events, _, _ := db.Replay(context.Background(), "w", 0, 100)
	for _, e := range events {
		if e.Type == wall.EventPost {
			t.Fatalf("replay resurrected the deleted post: %s", e.Data)
		}
	}
	snap, _ := db.Snapshot(context.Background(), "w", 10)
	if len(snap.Posts) != 0 {
		t.Fatalf("snapshot shows a deleted post")
	}
	// A delete of a post never seen leaves a tombstone too.
	q := post("s", "8", "late")
	apply(t, db, wall.Write{Source: "s", Item: wall.Item{Kind: wall.ItemDelete, Post: wall.Post{ID: q.ID, NativeID: "8"}}})
	if ev := apply(t, db, write("s", q, "w")); len(ev) != 0 {
		t.Fatalf("a post deleted before it arrived was shown: %+v", ev)
	}
}

func TestUpdatePendingAndCursor(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "w.db"))
	p := post("s", "1", "first")
	w := write("s", p, "shown")
	w.Targets = append(w.Targets, wall.Target{Wall: "held", Status: wall.StatusPending})
	w.Item.Cursor = "c1"
	ev := apply(t, db, w)
	if len(ev) != 2 || ev[0].Type != wall.EventPost || ev[1].Type != wall.EventPending {
		t.Fatalf("events = %+v", ev)
	}
	p.Text = "edited"
	up := write("s", p, "shown")
	up.Item.Kind = wall.ItemUpdate
	ev = apply(t, db, up)
	if len(ev) != 1 || ev[0].Type != wall.EventUpdate {
		t.Fatalf("update events = %+v", ev)
	}
	if c, _ := db.Cursor(context.Background(), "s"); c != "c1" {
		t.Errorf("cursor = %q", c)
	}
	// The pending post is not on the held wall's display stream.
	events, _, _ := db.Replay(context.Background(), "held", 0, 10)
	if len(events) != 0 {
		t.Errorf("pending post reached the display: %+v", events)
	}
	posts, _, _ := db.Posts(context.Background(), "shown", 0, 10)
	if len(posts) != 1 || posts[0].Text != "edited" {
		t.Errorf("posts = %+v", posts)
	}
}

func TestPruneAsksForReset(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "w.db"))
	ev := apply(t, db, write("s", post("s", "1", "old"), "w"))
	if _, _, err := db.Prune(context.Background(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := db.Replay(context.Background(), "w", ev[0].Seq-1, 10); ok {
		t.Error("replay from a pruned id should ask for a reset")
	}
	ev2 := apply(t, db, write("s", post("s", "2", "new"), "w"))
	events, ok, _ := db.Replay(context.Background(), "w", ev[0].Seq, 10)
	if !ok || len(events) != 1 || events[0].Seq != ev2[0].Seq {
		t.Errorf("replay after the pruned head: ok=%v %+v", ok, events)
	}
}

func TestPostsPaging(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "w.db"))
	for i := 0; i < 25; i++ {
		apply(t, db, write("s", post("s", fmt.Sprint(i), fmt.Sprint(i)), "w"))
	}
	var seen []string
	var before int64
	for {
		page, next, err := db.Posts(context.Background(), "w", before, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page {
			seen = append(seen, p.Text)
		}
		if next == 0 {
			break
		}
		before = next
	}
	if len(seen) != 25 || seen[0] != "24" || seen[24] != "0" {
		t.Errorf("paged %d posts, first %q last %q", len(seen), seen[0], seen[len(seen)-1])
	}
}

// BenchmarkApply measures the store alone: posts committed per second in
// batches of 256, each post on one wall.
func BenchmarkApply(b *testing.B) {
	db := open(b, filepath.Join(b.TempDir(), "w.db"))
	const batch = 256
	ws := make([]wall.Write, batch)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range ws {
			id := fmt.Sprint(i*batch + j)
			ws[j] = write("s", post("s", id, "benchmark post #devconf"), "w")
		}
		if _, err := db.Apply(context.Background(), ws); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "posts/s")
}

func TestDeleteIfKnownLeavesNoTombstone(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "w.db"))
	q := post("s", "9", "later")
	apply(t, db, wall.Write{Source: "s", Item: wall.Item{Kind: wall.ItemDelete, IfKnown: true, Post: wall.Post{ID: q.ID, NativeID: "9"}}})
	var n int
	db.read.QueryRow(`SELECT COUNT(*) FROM posts`).Scan(&n)
	if n != 0 {
		t.Fatalf("a delete of an unknown firehose post left %d rows", n)
	}
	if ev := apply(t, db, write("s", q, "w")); len(ev) != 1 {
		t.Fatalf("post after an unknown delete: %+v", ev)
	}
}

// A post already stored reaches a wall it was not on (a wall added to the
// config): that wall gets it, with the event's id as the post's place, and
// the wall that had it gets nothing.
func TestKnownPostOnANewWall(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "w.db"))
	apply(t, db, write("blog", post("blog", "1", "one"), "a"))
	ev := apply(t, db, write("blog", post("blog", "1", "one"), "a", "c"))
	if len(ev) != 1 || ev[0].Wall != "c" || ev[0].Type != wall.EventPost {
		t.Fatalf("events = %+v, want one post event on c", ev)
	}
	var seq int64
	if err := db.read.QueryRow(`SELECT seq FROM wall_posts WHERE wall = 'c' AND post_id = ?`, wall.PostID("blog", "1")).Scan(&seq); err != nil {
		t.Fatal(err)
	}
	if seq != ev[0].Seq {
		t.Errorf("wall_posts.seq = %d, want the event's id %d", seq, ev[0].Seq)
	}
}

// TestSnapshotsAtOnce: more screens connecting at once than the database
// has readers each read a whole snapshot (posts, announcements, show,
// poll, display) in one read transaction; none waits for a second reader
// while holding one (a storm of screens once deadlocked the pool so).
func TestSnapshotsAtOnce(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "w.db"))
	apply(t, db, write("s", post("s", "1", "hello"), "w"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := make(chan error, 64)
	for range cap(errs) {
		go func() {
			snap, err := db.Snapshot(ctx, "w", 10)
			if err == nil && len(snap.Posts) != 1 {
				err = fmt.Errorf("%d posts", len(snap.Posts))
			}
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// A sweep removes a chat user's messages in one channel (a ban), or the
// whole channel's (a chat cleared), and nothing else.
func TestSweepByAuthorAndChannel(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "w.db"))
	mk := func(source, id, handle string) wall.Write {
		p := post(source, id, "hi "+id)
		p.Author.Handle = handle
		return write(source, p, "w")
	}
	apply(t, db, mk("tw", "devconf/1", "troll"), mk("tw", "devconf/2", "fan"), mk("tw", "devconf/3", "Troll"),
		mk("tw", "other/4", "troll"), mk("yt", "devconf/5", "troll"), mk("tw", "devconf0/6", "troll"))
	removed := func(ev []wall.Event) []string {
		var out []string
		for _, e := range ev {
			if e.Type == wall.EventRemove {
				var q struct{ ID string }
				json.Unmarshal(e.Data, &q)
				out = append(out, q.ID)
			}
		}
		return out
	}
	ban := wall.Write{Source: "tw", Item: wall.Item{Kind: wall.ItemDelete, Sweep: true, Post: wall.Post{NativeID: "devconf/", Author: wall.Author{Handle: "troll"}}}}
	if got := removed(apply(t, db, ban)); fmt.Sprint(got) != "[tw:devconf/1 tw:devconf/3]" {
		t.Fatalf("ban removed %v", got)
	}
	clear := wall.Write{Source: "tw", Item: wall.Item{Kind: wall.ItemDelete, Sweep: true, Post: wall.Post{NativeID: "devconf/"}}}
	if got := removed(apply(t, db, clear)); fmt.Sprint(got) != "[tw:devconf/2]" {
		t.Fatalf("clear removed %v", got)
	}
	snap, _ := db.Snapshot(context.Background(), "w", 10)
	if len(snap.Posts) != 3 {
		t.Fatalf("%d posts left, want other/4, yt's and devconf0/6", len(snap.Posts))
	}
}
