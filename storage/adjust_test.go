package storage

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wallcast/wallcast/wall"
)

// TestAdjust: hiding, blurring and an alt text change how a post's media
// shows on every wall that has it, not what the author wrote; an author's
// own alt text is theirs; the audit keeps before and after.
func TestAdjust(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "w.db"))
	ctx := context.Background()
	p := post("m", "1", "look")
	p.Media = []wall.Media{{Type: "image", URL: "https://m.example/a.jpg"}, {Type: "image", URL: "https://m.example/b.jpg", Alt: "the author's"}}
	held := write("m", p, "b")
	held.Targets[0].Status = wall.StatusPending
	apply(t, db, write("m", p, "a"), held)
	yes, alt := true, "A stage with three speakers"
	events, err := db.Adjust(ctx, "a", "m:1", wall.Adjustment{Media: 0, Blur: &yes, Alt: &alt}, "mo")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range events {
		kinds = append(kinds, e.Wall+":"+string(e.Type))
	}
	if strings.Join(kinds, " ") != "a:update b:pending" {
		t.Errorf("events = %v", kinds)
	}
	snap, _ := db.Snapshot(ctx, "a", 10)
	m := snap.Posts[0].Media[0]
	if !m.Blur || m.Hidden || m.Alt != alt || !m.AltByModerator || snap.Posts[0].Text != "look" {
		t.Errorf("after the adjustment: %+v", snap.Posts[0])
	}
	if _, err := db.Adjust(ctx, "a", "m:1", wall.Adjustment{Media: 1, Hide: &yes}, "mo"); err != nil {
		t.Fatal(err)
	}
	snap, _ = db.Snapshot(ctx, "a", 10)
	if !snap.Posts[0].Media[1].Hidden {
		t.Errorf("not hidden: %+v", snap.Posts[0].Media[1])
	}
	other := "mine now"
	if _, err := db.Adjust(ctx, "a", "m:1", wall.Adjustment{Media: 1, Alt: &other}, "mo"); !errors.Is(err, wall.ErrConflict) {
		t.Errorf("replacing the author's alt text: %v", err)
	}
	if _, err := db.Adjust(ctx, "a", "m:1", wall.Adjustment{Media: 5, Hide: &yes}, "mo"); !errors.Is(err, wall.ErrConflict) {
		t.Errorf("media 5: %v", err)
	}
	q, _ := db.Queue(ctx, "a", 10)
	var adjust []string
	for _, e := range q.Audit {
		if e.Action == "adjust" {
			adjust = append(adjust, e.Detail)
		}
	}
	if len(adjust) != 2 || !strings.Contains(adjust[1], `media 0: {"type":"image","url":"https://m.example/a.jpg"} -> {`) || !strings.Contains(adjust[1], `"blur":true`) {
		t.Errorf("audit = %q", adjust)
	}
}
