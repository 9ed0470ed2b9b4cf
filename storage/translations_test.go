package storage

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/wallcast/wallcast/wall"
)

// TestTranslated: a translation is kept with its post and sent to the
// walls that show it (an update) or hold it (a pending event for the
// console); one of HTML the post no longer has is dropped; an edit of the
// post drops its translations.
func TestTranslated(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "w.db"))
	ctx := context.Background()
	p := post("m", "1", "hola")
	w := write("m", p, "shown", "held")
	w.Targets[1].Status = wall.StatusPending
	apply(t, db, w)
	tr := wall.Translation{HTML: "<p>hello</p>", Text: "hello", From: "es"}
	ev, err := db.Translated(ctx, p.ID, p.HTML, "en", tr)
	if err != nil || len(ev) != 2 {
		t.Fatalf("%v %v", ev, err)
	}
	types := map[string]wall.EventType{}
	for _, e := range ev {
		types[e.Wall] = e.Type
		var shown wall.Post
		var held wall.QueueItem
		json.Unmarshal(e.Data, &shown)
		json.Unmarshal(e.Data, &held)
		got := shown.Translations
		if held.Post != nil {
			got = held.Post.Translations
		}
		if got["en"] != tr {
			t.Fatalf("%s event %s", e.Type, e.Data)
		}
	}
	if types["shown"] != wall.EventUpdate || types["held"] != wall.EventPending {
		t.Fatalf("events %v", types)
	}
	snap, _ := db.Snapshot(ctx, "shown", 10)
	if snap.Posts[0].Translations["en"] != tr {
		t.Fatalf("snapshot %+v", snap.Posts[0])
	}
	if ev, _ := db.Translated(ctx, p.ID, "<p>an older text</p>", "fr", tr); len(ev) != 0 {
		t.Fatal("a translation of another text was kept")
	}
	edited := p
	edited.HTML, edited.Text = "<p>hola, editado</p>", "hola, editado"
	apply(t, db, wall.Write{Source: "m", Item: wall.Item{Kind: wall.ItemUpdate, Post: edited}, Targets: []wall.Target{{Wall: "shown", Status: wall.StatusVisible}}})
	snap, _ = db.Snapshot(ctx, "shown", 10)
	if len(snap.Posts[0].Translations) != 0 {
		t.Fatalf("the edit kept the old translation: %+v", snap.Posts[0].Translations)
	}
}
