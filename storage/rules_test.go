package storage

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wallcast/wallcast/wall"
)

// TestAddRuleRemovesWhatItCatches: a rule is stored, listed, and takes
// off the wall the posts it catches, with a remove event each and an
// audit entry.
func TestAddRuleRemovesWhatItCatches(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "w.db"))
	ctx := context.Background()
	if _, err := db.Apply(ctx, []wall.Write{write("s", post("s", "1", "fine"), "w"), write("s", post("s", "2", "spam spam"), "w")}); err != nil {
		t.Fatal(err)
	}
	rule := wall.Rule{Wall: "w", Kind: wall.RuleWord, Value: "spam"}
	events, changes, added, err := db.AddRule(ctx, rule, "ana", func(p wall.Post) bool { return strings.Contains(p.Text, "spam") })
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Type != wall.EventRemove || !strings.Contains(string(events[0].Data), "s:2") {
		t.Fatalf("events = %+v", events)
	}
	if !added || len(changes) != 1 || changes[0] != (wall.Change{Wall: "w", ID: "s:2", From: wall.StatusVisible}) {
		t.Fatalf("added %v, changes %+v", added, changes)
	}
	rules, err := db.Rules(ctx)
	if err != nil || len(rules) != 1 || rules[0] != rule {
		t.Errorf("rules = %+v %v", rules, err)
	}
	snap, _ := db.Snapshot(ctx, "w", 10)
	if len(snap.Posts) != 1 || snap.Posts[0].ID != "s:1" {
		t.Errorf("on the wall: %+v", snap.Posts)
	}
	q, _ := db.Queue(ctx, "w", 10)
	if len(q.Audit) == 0 || q.Audit[0].Action != "block-word" || q.Audit[0].User != "ana" {
		t.Errorf("audit = %+v", q.Audit)
	}
	// Undone: the rule goes and the post is back.
	if _, err := db.Undo(ctx, "w", changes, &rule, "ana"); err != nil {
		t.Fatal(err)
	}
	if rules, _ := db.Rules(ctx); len(rules) != 0 {
		t.Errorf("rules after the undo: %+v", rules)
	}
	if snap, _ := db.Snapshot(ctx, "w", 10); len(snap.Posts) != 2 {
		t.Errorf("after the undo: %d posts on the wall", len(snap.Posts))
	}
	// The same rule again, when it exists, is not new: its undo keeps it.
	db.AddRule(ctx, rule, "ana", func(wall.Post) bool { return false })
	if _, _, added, _ := db.AddRule(ctx, rule, "ana", func(wall.Post) bool { return false }); added {
		t.Error("an existing rule reported as new")
	}
}
