package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wallcast/wallcast/wall"
)

// TestRoomsAndKeys: a new room code is one room event and the snapshot's
// room; the same code again is nothing; the install's key is made once
// and kept across a reopen.
func TestRoomsAndKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.db")
	db := open(t, path)
	ctx := context.Background()
	room := wall.Room{Code: "K7Q2XM", URL: "https://wall.example/walls/w/post?code=K7Q2XM"}
	ev, err := db.SetRoom(ctx, "w", room)
	if err != nil || len(ev) != 1 || ev[0].Type != wall.EventRoom {
		t.Fatalf("first code: %v %v", ev, err)
	}
	var got wall.Room
	json.Unmarshal(ev[0].Data, &got)
	if got != room {
		t.Fatalf("event %s", ev[0].Data)
	}
	if ev, err := db.SetRoom(ctx, "w", room); err != nil || len(ev) != 0 {
		t.Fatalf("the same code again: %v %v", ev, err)
	}
	next := wall.Room{Code: "B3C4D5", URL: "https://wall.example/walls/w/post?code=B3C4D5"}
	if ev, err := db.SetRoom(ctx, "w", next); err != nil || len(ev) != 1 {
		t.Fatalf("a new code: %v %v", ev, err)
	}
	snap, err := db.Snapshot(ctx, "w", 10)
	if err != nil || snap.Room == nil || *snap.Room != next {
		t.Fatalf("snapshot room %+v %v", snap.Room, err)
	}
	if snap, _ := db.Snapshot(ctx, "other", 10); snap.Room != nil {
		t.Fatal("a wall without uploads has a room")
	}
	// The wall stops taking posts from phones: screens are told once.
	if ev, err := db.SetRoom(ctx, "w", wall.Room{}); err != nil || len(ev) != 1 || string(ev[0].Data) != "{}" {
		t.Fatalf("no more room: %v %v", ev, err)
	}
	if ev, _ := db.SetRoom(ctx, "w", wall.Room{}); len(ev) != 0 {
		t.Fatal("told twice")
	}
	if snap, _ := db.Snapshot(ctx, "w", 10); snap.Room != nil {
		t.Fatalf("snapshot room %+v after the end", snap.Room)
	}

	k1, err := db.Key(ctx, "install")
	if err != nil || len(k1) != 32 {
		t.Fatalf("key %x %v", k1, err)
	}
	if k2, _ := db.Key(ctx, "other"); bytes.Equal(k1, k2) {
		t.Fatal("two keys are the same")
	}
	db.Close()
	db = open(t, path)
	if k, _ := db.Key(ctx, "install"); !bytes.Equal(k, k1) {
		t.Fatal("the key changed across a reopen")
	}
}

// TestEraseAnUpload: its sender's delete takes the post off the wall and
// leaves nothing of it in the database (not its text, not its picture's
// name), nor in the wall's log; the picture is no longer in use; a repeat
// of it is not stored.
func TestEraseAnUpload(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "w.db"))
	ctx := context.Background()
	pic := "/media/" + strings.Repeat("cd", 32) + ".jpg"
	p := post("phones", "abc", "my secret line")
	p.Network = "upload"
	p.Media = []wall.Media{{Type: "image", URL: pic}}
	apply(t, db, write("phones", p, "w"))
	if live, _ := db.MediaInUse(ctx); !live[strings.TrimPrefix(pic, "/media/")] {
		t.Fatal("the picture of a live upload is not in use")
	}
	ev := apply(t, db, wall.Write{Source: "phones", Item: wall.Item{Kind: wall.ItemDelete, Post: wall.Post{ID: p.ID, NativeID: "abc"}, Erase: true}})
	if len(ev) != 1 || ev[0].Type != wall.EventRemove {
		t.Fatalf("events %v", ev)
	}
	var n int
	db.read.QueryRow(`SELECT (SELECT COUNT(*) FROM posts WHERE data LIKE '%secret%' OR data LIKE '%/media/%')
		+ (SELECT COUNT(*) FROM wall_events WHERE data LIKE '%secret%' OR data LIKE '%/media/%')
		+ (SELECT COUNT(*) FROM wall_posts)`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d rows still hold the post", n)
	}
	if live, _ := db.MediaInUse(ctx); len(live) != 0 {
		t.Fatalf("in use after the delete: %v", live)
	}
	if ev := apply(t, db, write("phones", p, "w")); len(ev) != 0 {
		t.Fatal("a repeat of an erased post was stored")
	}
}
